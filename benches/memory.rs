//! Memory that must not grow with the run (issue 13's targets; figures in
//! docs/overhead.md, "Bounded memory").
//!
//! - `report`: 10,000,000 synthetic records (100 cells × 100,000, 32 chunks
//!   each: 310 M chunk gaps) generated one at a time and fed to the
//!   `Aggregator` (what `llmbench report` and `exec` feed requests.jsonl
//!   to), never held: prints the time and the peak RSS (VmHWM, reset
//!   first), then regenerates the first cell's values, computes their exact
//!   percentiles and checks that the summary's are within its stated
//!   relative error (FAIL lines otherwise, and exit status 1).
//! - `exec`: the real `llmbench exec` (release binary) against `fast-sse`,
//!   `--requests` (default 200,000) requests of 256-chunk streams at c=64,
//!   the whole command (run, counting, aggregation, reports): its peak RSS
//!   (the child's ru_maxrss) and the time after the last request against
//!   the time the requests took.
//!
//! Run: `cargo bench --bench memory` (`-- --only report` or `-- --only
//! exec`, `-- --records N`, `-- --requests N`). `exec` needs
//! `cargo build --release --bin llmbench -p mock-ollama --bin fast-sse`.

#[path = "support/mod.rs"]
mod support;

use llmbench::aggregate::Aggregator;
use llmbench::record::Record;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const CHUNKS: usize = 32;
const CELLS: usize = 100;

fn main() {
    let flags = support::Flags::from_env();
    let mut ok = true;
    if flags.wants("report") {
        let records = flags
            .value("--records")
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000_000);
        ok &= report_part(records);
    }
    if flags.wants("exec") {
        let requests = flags
            .value("--requests")
            .and_then(|v| v.parse().ok())
            .unwrap_or(200_000);
        exec_part(requests);
    }
    std::process::exit(if ok { 0 } else { 1 });
}

/// The plan of the synthetic run: `CELLS` cells of `per_cell` repetitions.
fn plan(per_cell: usize) -> llmbench::plan::Plan {
    let text = format!(
        "name = \"memory-bench\"\n[backend]\nkind = \"openai\"\nurl = \"http://127.0.0.1:9\"\n\n[[models]]\nname = \"fast\"\n\n[run]\nrepetitions = {per_cell}\n\n[[prompts]]\nid = \"p\"\ntext = \"prompt\"\n"
    );
    let mut experiment = llmbench::experiment::load_str(Path::new("memory.toml"), &text, &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let first = experiment.prompts[0].clone();
    experiment.prompts = (0..CELLS)
        .map(|i| {
            let mut p = first.clone();
            p.id = format!("p{i}");
            p.text = format!("prompt {i}");
            p
        })
        .collect();
    llmbench::plan::plan(&experiment)
}

/// Record `repetition` of cell `cell`: its values depend only on the two,
/// so a cell's values can be made again for the exact check.
fn record(template: &Record, cell: &llmbench::plan::Cell, repetition: usize) -> Record {
    let mut state = (cell.index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ repetition as u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut r = template.clone();
    r.cell.clone_from(&cell.id);
    r.prompt.clone_from(&cell.prompt);
    r.repetition = repetition as u32;
    // Stamps are whole µs, as llmbench writes them (and the invariants hold).
    let ttft = ((150.0 + 100.0 * next()) * 1e3).round() / 1e3;
    r.timing.ttft_ms = Some(ttft);
    r.timing.ttft_content_ms = Some(ttft);
    let mut at = ttft;
    let offsets: Vec<f64> = (0..CHUNKS)
        .map(|k| {
            if k > 0 {
                // Gaps from 2 to ~60 ms, skewed like real decode gaps.
                at += 2.0 + 8.0 * (-(1.0 - next()).ln());
            }
            (at * 1e3).round() / 1e3
        })
        .collect();
    r.timing.e2e_ms = offsets.last().copied();
    r.timing.chunk_offsets_ms = offsets;
    r.timing.chunk_chars = vec![4; CHUNKS];
    r
}

fn template() -> Record {
    serde_json::from_value(serde_json::json!({
        "cell": "", "model": "fast", "prompt": "p", "repetition": 0, "warmup": false,
        "started_at": "2026-01-01T00:00:00Z", "run_offset_ms": 0.0,
        "outcome": {"status": "ok"}, "http_status": 200,
        "timing": {"ttfb_ms": 1.0, "events": 36},
        "finish_reason": "stop",
        "server": {"finish_reason": "stop", "prompt_tokens": 8, "completion_tokens": 32},
        "output_chars": 128, "reasoning_chars": 0,
        "tokens": {"output": 32, "output_source": "server", "prompt": 8, "prompt_source": "server"}
    }))
    .expect("record template")
}

/// 10 M records through the aggregator; true when the check passed.
fn report_part(records: usize) -> bool {
    let per_cell = records / CELLS;
    let plan = plan(per_cell);
    let template = template();
    println!("\n## Bounded memory: {records} synthetic records ({CELLS} cells × {per_cell}, {CHUNKS} chunks each) through the Aggregator\n");
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = support::status_kb("VmHWM:");
    let started = Instant::now();
    let mut aggregator = Aggregator::new(&plan);
    for cell in &plan.cells {
        for repetition in 0..per_cell {
            aggregator.add(&record(&template, cell, repetition));
        }
    }
    let added = started.elapsed().as_secs_f64();
    let summary = aggregator.finish(0);
    let total = started.elapsed().as_secs_f64();
    let peak = support::status_kb("VmHWM:");
    println!(
        "aggregate: adding {added:.1} s, finish {:.1} s; VmHWM {:.0} MB (before: {:.0} MB)",
        total - added,
        peak as f64 / 1024.0,
        before as f64 / 1024.0
    );
    check_against_exact(&plan, &template, per_cell, &summary)
}

/// The first cell's percentiles against exact ones from its regenerated values.
fn check_against_exact(
    plan: &llmbench::plan::Plan,
    template: &Record,
    per_cell: usize,
    summary: &llmbench::aggregate::RunSummary,
) -> bool {
    let cell = &plan.cells[0];
    let mut gaps = Vec::with_capacity(per_cell * (CHUNKS - 1));
    let mut ttfts = Vec::with_capacity(per_cell);
    for repetition in 0..per_cell {
        let r = record(template, cell, repetition);
        ttfts.push(r.timing.ttft_ms.unwrap_or_default());
        gaps.extend(r.timing.chunk_offsets_ms.windows(2).map(|w| w[1] - w[0]));
    }
    let mut ok = true;
    for (name, mut values) in [("chunk_gap_ms", gaps), ("ttft_ms", ttfts)] {
        values.sort_by(f64::total_cmp);
        let Some(got) = summary.cells[0].metrics.get(name) else {
            println!("FAIL {name}: missing");
            return false;
        };
        let bound = got.relative_error.unwrap_or(0.0);
        for (p, figure) in [
            (50.0, got.p50),
            (90.0, got.p90),
            (95.0, got.p95),
            (99.0, got.p99),
        ] {
            let exact = llmbench::stats::percentile(&values, p);
            let error = (figure - exact).abs() / exact;
            let pass = error <= bound * 1.000_001 + 1e-12;
            ok &= pass;
            println!(
                "{} {name} p{p}: {figure:.4} vs exact {exact:.4} (error {:.4} %, bound {:.2} %, {} values)",
                if pass { "ok  " } else { "FAIL" },
                error * 100.0,
                bound * 100.0,
                values.len()
            );
        }
    }
    ok
}

/// The whole `llmbench exec` of `requests` 256-chunk streams at c=64.
fn exec_part(requests: usize) {
    let release = support::bin_dir();
    let scratch = std::env::temp_dir().join(format!("llmbench-memory-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let (mut server, line) = support::start_server(
        "fast-sse",
        &["--port", "0", "--chunks", "256"],
        "cargo build --release -p mock-ollama --bin fast-sse",
    );
    let url = line.trim().trim_start_matches("listening ").to_string();
    let experiment = format!(
        "name = \"memory\"\n[backend]\nkind = \"openai\"\nurl = \"{url}\"\ntimeout = \"60s\"\n\n[[models]]\nname = \"fast\"\n\n[defaults]\nmax_tokens = 256\n\n[run]\nrepetitions = {requests}\nwarmup = 0\nconcurrency = 64\n\n[monitor]\nenabled = false\n\n[[prompts]]\nid = \"p\"\ntext = \"Say something.\"\n"
    );
    let file = scratch.join("memory.toml");
    std::fs::write(&file, experiment).expect("experiment file");
    let started = Instant::now();
    let status = Command::new(release.join("llmbench"))
        .args(["exec", &file.display().to_string(), "--out"])
        .arg(scratch.join("runs"))
        .arg("-q")
        .stdout(Stdio::null())
        .status()
        .expect("llmbench (cargo build --release --bin llmbench)");
    let wall = started.elapsed().as_secs_f64();
    // SAFETY: getrusage fills the struct; RUSAGE_CHILDREN covers the
    // children waited for: llmbench (the server is still running).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let _ = server.kill();
    let _ = server.wait();
    let span = request_span(&scratch.join("runs"));
    println!("\n## Bounded memory: llmbench exec, {requests} requests of 256 chunks at c=64\n");
    println!(
        "exit {status}; wall {wall:.1} s; requests {span:.1} s (first send to last completion); after the last request ≤ {:.1} s ({:.0} % of the request time); peak RSS {:.0} MB",
        wall - span,
        (wall - span) / span * 100.0,
        usage.ru_maxrss as f64 / 1024.0
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Seconds from the first send to the last completion, from summary.json.
fn request_span(runs: &Path) -> f64 {
    let Some(run) = std::fs::read_dir(runs.join("memory"))
        .ok()
        .and_then(|mut dirs| dirs.next())
        .and_then(Result::ok)
    else {
        return 0.0;
    };
    let summary: serde_json::Value = std::fs::read_to_string(run.path().join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let cell = &summary["cells"][0];
    let ok = cell["counts"]["ok"].as_f64().unwrap_or(0.0);
    let rate = cell["request_rate"].as_f64().unwrap_or(f64::NAN);
    ok / rate
}
