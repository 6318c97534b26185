//! `llmbench history` at scale, and the change-point test's error rates.
//!
//! Default: writes 1,000 runs × 100 cells (summary.json, manifest.json and
//! plan.json each, cells cloned from the report fixture's with values varied by
//! noise and a 10 % shift in one cell from run 600), then times reading and
//! analysing them as `llmbench history` does and prints the peak RSS of
//! that part (VmHWM, reset before it). `-- --runs N --cells M` for other
//! sizes.
//!
//! `-- --calibrate`: false-alarm rate on pure-noise series and detection
//! rate of a 10 % shift, 1,000 series each, at several noise levels and
//! lengths (the figures in docs/history.md).
//!
//! Run: `cargo bench --bench history` (release build).

#[path = "support/mod.rs"]
mod support;

use llmbench::history::changepoint::{detect, simulated_series, Settings};
use llmbench::history::{analyse, collect::collect};
use std::path::Path;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    if args.iter().any(|a| a == "--calibrate") {
        calibrate();
        return;
    }
    scale(value("--runs", 1000), value("--cells", 100));
}

fn calibrate() {
    let settings = Settings::default();
    let trials = 1000u64;
    println!("noise cv | runs | false alarms (no shift) | 10 % shift found within ±1 run");
    for cv in [0.01, 0.03, 0.05] {
        for n in [10usize, 20, 40] {
            let alarms = (0..trials)
                .filter(|&s| {
                    !detect(&simulated_series(n, cv, 0, 0.0, s), &settings, false, s).is_empty()
                })
                .count();
            let found = (0..trials)
                .filter(|&s| {
                    let series = simulated_series(n, cv, n / 2, 0.10, s + 1_000_000);
                    detect(&series, &settings, false, s)
                        .iter()
                        .any(|c| c.index.abs_diff(n / 2) <= 1)
                })
                .count();
            println!(
                "{:>7.0} % | {n:>4} | {:>5.1} % ({alarms}/{trials}) | {:>5.1} % ({found}/{trials})",
                cv * 100.0,
                100.0 * alarms as f64 / trials as f64,
                100.0 * found as f64 / trials as f64
            );
        }
    }
}

fn scale(runs: usize, cells: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("bench");
    let started = Instant::now();
    write_runs(&root, runs, cells);
    println!(
        "wrote {runs} runs × {cells} cells in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let started = Instant::now();
    let collected = collect(&[root]);
    let read = started.elapsed();
    let history = analyse(collected, &Settings::default());
    let total = started.elapsed();
    println!(
        "history: read {:.2} s, analysed {:.2} s, total {:.2} s; {} series, {} change points; peak RSS {} MB{}",
        read.as_secs_f64(),
        (total - read).as_secs_f64(),
        total.as_secs_f64(),
        history.series.len(),
        history.change_points.len(),
        support::status_kb("VmHWM:") / 1024,
        if reset { "" } else { " (not reset: includes writing)" }
    );
}

/// Writes `runs` run directories of `cells` cells each under `root/exp/`.
fn write_runs(root: &Path, runs: usize, cells: usize) {
    let model = llmbench::report::fixture::model();
    let template = serde_json::to_value(&model.cells[0]).expect("cell JSON");
    let models = serde_json::to_value(&model.models).expect("models JSON");
    let mut manifest =
        serde_json::to_value(llmbench::report::fixture::manifest()).expect("manifest JSON");
    let mut plan = serde_json::to_value(llmbench::report::fixture::plan()).expect("plan JSON");
    let plan_cell = plan["cells"][0].clone();
    plan["cells"] = (0..cells)
        .map(|c| {
            let mut cell = plan_cell.clone();
            cell["id"] = format!("m.p{c}.{c:08x}").into();
            cell
        })
        .collect();
    let plan = serde_json::to_vec(&plan).expect("JSON");
    manifest["git"] = serde_json::Value::Null;
    for run in 0..runs {
        let run_dir = root.join("exp").join(format!("run-{run:05}"));
        std::fs::create_dir_all(&run_dir).expect("run dir");
        manifest["run_id"] = format!("{run:06x}").into();
        manifest["started_at"] = format!("2026-01-01T{:02}:{:02}:00Z", run / 60, run % 60).into();
        let cells: Vec<serde_json::Value> = (0..cells)
            .map(|c| {
                let mut cell = template.clone();
                cell["id"] = format!("m.p{c}.{c:08x}").into();
                let shift = if c == 0 && run >= runs * 6 / 10 {
                    1.1
                } else {
                    1.0
                };
                vary(&mut cell["metrics"], (run * 1000 + c) as u64, shift);
                cell
            })
            .collect();
        let summary = serde_json::json!({ "cells": cells, "models": models });
        std::fs::write(
            run_dir.join("summary.json"),
            serde_json::to_vec(&summary).expect("JSON"),
        )
        .expect("write");
        std::fs::write(
            run_dir.join("manifest.json"),
            serde_json::to_vec(&manifest).expect("JSON"),
        )
        .expect("write");
        std::fs::write(run_dir.join("plan.json"), &plan).expect("write");
    }
}

/// Multiplies every number under `metrics` by `shift` and 2 % noise.
fn vary(metrics: &mut serde_json::Value, seed: u64, shift: f64) {
    let noise = simulated_series(1, 0.02, 0, 0.0, seed)[0] / 100.0;
    if let Some(map) = metrics.as_object_mut() {
        for summary in map.values_mut() {
            for key in ["p50", "p95", "mean"] {
                if let Some(v) = summary[key].as_f64() {
                    summary[key] = (v * noise * shift).into();
                }
            }
        }
    }
}
