//! A fixed, deterministic run for tests, snapshots and template authors: two
//! models × two prompts, six measured requests per cell plus a warmup, one
//! failed request, made-up but plausible timings, and monitor samples (CPU,
//! memory, server, client, one GPU with its energy counter) every 250 ms. Timestamps, host details
//! and the llmbench version are placeholders, so output rendered from it
//! never changes unless a template or the model's shape does. Built from
//! JSON, so fields added later with serde defaults do not break it.

use super::ReportModel;
use crate::aggregate::{aggregate, attach_resources};
use crate::monitor::Sample;
use crate::plan::Plan;
use crate::record::Record;
use crate::store::RunManifest;
use serde_json::{json, Value};

/// (model, label, prompt, ttft ms, ms per token, tokens).
const CELLS: [(&str, &str, &str, f64, f64, u64); 4] = [
    ("qwen3:0.6b", "Qwen3 0.6B", "hello", 118.0, 21.0, 16),
    ("qwen3:0.6b", "Qwen3 0.6B", "count", 131.0, 22.5, 24),
    ("smollm2:360m", "SmolLM2 <360M>", "hello", 236.0, 34.0, 16),
    ("smollm2:360m", "SmolLM2 <360M>", "count", 251.0, 36.0, 24),
];

/// Measured requests per cell.
pub(crate) const REPETITIONS: u32 = 6;

fn cell_id(index: usize) -> String {
    let (model, _, prompt, ..) = CELLS[index];
    let model = model.split(':').next().unwrap_or(model);
    format!("{model}.{prompt}.{:08x}", 0x1a2b_3c00 + index)
}

/// Deterministic jitter in -1..1 for request `n` of cell `cell`.
fn jitter(cell: usize, n: u32) -> f64 {
    let mut x = (cell as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (u64::from(n) + 7).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 29;
    (x % 2001) as f64 / 1000.0 - 1.0
}

/// The plan of the fixed run.
pub fn plan() -> Plan {
    let cells: Vec<Value> = CELLS
        .iter()
        .enumerate()
        .map(|(index, (model, label, prompt, ..))| {
            json!({
                "index": index, "id": cell_id(index), "model": model, "label": label,
                "backend": "default", "prompt": prompt, "text": format!("Prompt {prompt}."),
                "settings": { "max_tokens": 32, "temperature": 0.0 },
                "load": { "mode": "closed", "concurrency": 1 },
                "repetitions": REPETITIONS, "warmup": 1,
            })
        })
        .collect();
    let plan = json!({ "experiment": "fixture", "cells": cells });
    serde_json::from_value(plan).expect("the fixture plan matches Plan")
}

fn record(cell: usize, n: u32, warmup: bool, offset_ms: f64) -> Record {
    let (model, _, prompt, ttft, per_token, tokens) = CELLS[cell];
    let ttft = ttft * (1.0 + 0.08 * jitter(cell, n)) + if warmup { 900.0 } else { 0.0 };
    let step = per_token * (1.0 + 0.05 * jitter(cell + 10, n));
    let offsets: Vec<f64> = (0..tokens).map(|k| ttft + k as f64 * step).collect();
    let e2e = offsets.last().copied().unwrap_or(ttft) + 2.0;
    let decode_ns = ((e2e - ttft) * 1e6) as u64;
    let value = json!({
        "cell": cell_id(cell), "model": model, "prompt": prompt, "repetition": n,
        "warmup": warmup, "started_at": "2026-01-01T00:00:00Z", "run_offset_ms": offset_ms,
        "outcome": { "status": "ok" }, "http_status": 200,
        "timing": {
            "ttfb_ms": ttft - 4.0, "ttft_ms": ttft, "ttft_content_ms": ttft, "e2e_ms": e2e,
            "chunk_offsets_ms": offsets, "chunk_chars": vec![4; tokens as usize],
            "events": tokens + 1,
        },
        "finish_reason": if prompt == "count" { "length" } else { "stop" },
        "server": {
            "prompt_tokens": 20, "completion_tokens": tokens,
            "load_duration_ns": if warmup { 850_000_000u64 } else { 2_000_000 },
            "prompt_eval_duration_ns": ((ttft - 30.0) * 1e6) as u64, "eval_duration_ns": decode_ns,
        },
        "output_chars": tokens * 4, "reasoning_chars": 0,
        "tokens": {
            "output": tokens, "output_source": "server", "prompt": 20, "prompt_source": "server",
        },
    });
    serde_json::from_value(value).expect("the fixture record matches Record")
}

/// Every record of the fixed run, in the order they were sent; the last
/// request of the second cell failed with HTTP 503.
pub fn records() -> Vec<Record> {
    let mut out = Vec::new();
    let mut offset = 0.0;
    for cell in 0..CELLS.len() {
        out.push(record(cell, 0, true, offset));
        offset += 1500.0;
        for n in 0..REPETITIONS {
            let mut r = record(cell, n, false, offset);
            offset += r.timing.e2e_ms.unwrap_or(0.0) + 10.0;
            if cell == 1 && n == REPETITIONS - 1 {
                r = failed(r);
            }
            out.push(r);
        }
    }
    out
}

/// Monitor samples every 250 ms over the whole run: the GPU busier while a
/// request is in flight than between requests, and its energy counter
/// rising by power × interval.
pub(crate) fn samples() -> Vec<Sample> {
    let records = records();
    let end = records
        .iter()
        .map(|r| r.run_offset_ms + r.timing.e2e_ms.unwrap_or(0.0))
        .fold(0.0, f64::max);
    let busy_at = |t: f64| {
        records
            .iter()
            .any(|r| r.run_offset_ms <= t && t <= r.run_offset_ms + r.timing.e2e_ms.unwrap_or(0.0))
    };
    let mut energy_mj = 1_000_000_u64;
    (1..)
        .map(|k| f64::from(k) * 250.0)
        .take_while(|t| *t <= end + 250.0)
        .enumerate()
        .map(|(k, t_ms)| {
            let busy = busy_at(t_ms);
            let power_w = if busy { 240.0 } else { 60.0 } + 10.0 * jitter(7, k as u32);
            energy_mj += (power_w * 250.0) as u64;
            let value = json!({
                "t_ms": t_ms, "at": "2026-01-01T00:00:00Z",
                "cpu_total_pct": if busy { 35.0 } else { 4.0 },
                "cpu_per_core_pct": [], "mem_used_bytes": 6_442_450_944u64 + k as u64 * 4096,
                "mem_available_bytes": 10_737_418_240u64, "swap_used_bytes": 0,
                "server": { "pid": 4242, "cpu_pct": if busy { 180.0 } else { 1.0 },
                            "rss_bytes": 1_073_741_824u64, "processes": 2 },
                "client": { "pid": 4343, "cpu_pct": if busy { 3.0 } else { 0.5 },
                            "rss_bytes": 14_680_064u64, "processes": 1 },
                "gpus": [{
                    "index": 0, "name": "GPU", "util_pct": if busy { 92.0 } else { 0.0 },
                    "mem_used_bytes": 2_147_483_648u64, "mem_total_bytes": 25_769_803_776u64,
                    "power_w": power_w, "temp_c": 50.0, "sm_clock_mhz": 1800,
                    "mem_clock_mhz": 9000, "energy_mj": energy_mj,
                }],
            });
            serde_json::from_value(value).expect("the fixture sample matches Sample")
        })
        .collect()
}

fn failed(mut record: Record) -> Record {
    let value = json!({
        "status": "error", "kind": "http", "message": "HTTP 503: server busy, try again",
    });
    record.outcome = serde_json::from_value(value).expect("an error outcome");
    record.http_status = Some(503);
    record.timing = Default::default();
    record.finish_reason = None;
    record.server = Default::default();
    record.tokens = Default::default();
    record.output_chars = 0;
    record
}

/// The manifest of the fixed run (placeholders for time and host).
pub fn manifest() -> RunManifest {
    let value = json!({
        "llmbench_version": "0.0.0-fixture", "run_id": "a1b2c3",
        "experiment": "fixture", "description": "Two small models, two prompts (a fixed test run).",
        "experiment_path": "experiments/fixture.toml", "experiment_sha256": "0".repeat(64),
        "overrides": ["run.repetitions=6"],
        "git": { "commit": "0123456789abcdef0123456789abcdef01234567", "dirty": false },
        "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:01:00Z",
        "status": "complete",
        "environment": {
            "host": "HOST", "os": "OS", "arch": "ARCH", "cpu": "CPU", "cores": 8,
            "memory_bytes": 17_179_869_184u64,
        },
        "servers": { "default": { "kind": "ollama", "version": "0.0.0" } },
    });
    serde_json::from_value(value).expect("the fixture manifest matches RunManifest")
}

/// The report model of the fixed run, with the llmbench version redacted.
pub fn model() -> ReportModel {
    let records = records();
    let mut summary = aggregate(&plan(), &records, 0);
    attach_resources(&mut summary, &records, &samples());
    let mut model = ReportModel::new(&manifest(), summary, "benchmarks/fixture/RUN");
    model.llmbench_version = "0.0.0-fixture".into();
    model
}
