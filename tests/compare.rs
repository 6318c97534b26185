//! `compare` on runs made in-process against the mock Ollama server with
//! different injected delays: the slower run is flagged, equal runs are not,
//! and thresholds (`--fail-on` changes, `[thresholds]` limits) report their
//! violations. Timing bounds are generous: the mock's delays are far apart,
//! and the tests run one at a time so they do not slow each other down.

use clap::Parser;
use llmbench::aggregate::CellSummary;
use llmbench::compare::{
    check_cells, compare_runs, parse_requirement, parse_threshold, render_comparison,
    CompareFormat, CompareOptions, Verdict,
};
use mock_ollama::{MockConfig, MockServer};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Runs made at the same time would share two cores and disturb each other's timings.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn mock(ttft_ms: u64) -> MockServer {
    mock_ollama::spawn_blocking(MockConfig {
        ttft: Duration::from_millis(ttft_ms),
        inter_token: Duration::from_millis(25),
        ..MockConfig::default()
    })
    .expect("mock server starts")
}

/// Runs one experiment against `server`; returns the run directory.
fn run(server: &MockServer, out: &Path) -> PathBuf {
    let file = out.join(format!(
        "e-{}.toml",
        server.url().replace([':', '/', '.'], "_")
    ));
    let experiment = format!(
        r#"name = "compared"
[backend]
kind = "ollama"
url = "{}"
timeout = "20s"

[[models]]
name = "qwen3:0.6b"

[defaults]
max_tokens = 6
temperature = 0.0

[run]
repetitions = 8
warmup = 1

[[prompts]]
id = "hello"
text = "Say hello."
"#,
        server.url()
    );
    std::fs::write(&file, experiment).expect("write experiment");
    let runs = out.join("runs");
    let before = run_dirs(&runs);
    let args = [
        "llmbench",
        "exec",
        &file.display().to_string(),
        "--out",
        &runs.display().to_string(),
        "-q",
    ];
    let code = match llmbench::app::run(llmbench::cli::Cli::parse_from(args)) {
        Ok(code) => code,
        Err(error) => panic!("llmbench exec failed: {error}"),
    };
    assert_eq!(code, 0, "exec exit code");
    let made: Vec<PathBuf> = run_dirs(&runs)
        .into_iter()
        .filter(|d| !before.contains(d))
        .collect();
    assert_eq!(made.len(), 1, "one new run directory: {made:?}");
    made.into_iter().next().unwrap_or_default()
}

fn run_dirs(root: &Path) -> Vec<PathBuf> {
    let experiments = std::fs::read_dir(root).into_iter().flatten().flatten();
    let mut runs: Vec<PathBuf> = experiments
        .flat_map(|e| std::fs::read_dir(e.path()).into_iter().flatten().flatten())
        .map(|r| r.path())
        .collect();
    runs.sort();
    runs
}

fn cells(run: &Path) -> Vec<CellSummary> {
    let text = std::fs::read_to_string(run.join("summary.json")).expect("summary.json");
    let summary: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    serde_json::from_value(summary["cells"].clone()).expect("cells read back")
}

#[test]
fn the_slower_run_is_flagged_and_equal_runs_are_not() {
    let _serial = serial();
    let out = tempfile::tempdir().expect("temp dir");
    let (fast_server, slow_server) = (mock(100), mock(300));
    let fast = run(&fast_server, out.path());
    let again = run(&fast_server, out.path());
    let slow = run(&slow_server, out.path());

    let options = CompareOptions {
        fail_on: vec![parse_threshold("ttft.p50 > +10%").expect("parses")],
        ..CompareOptions::default()
    };
    let comparison = compare_runs(&fast, &slow, &options).expect("compares");
    assert_eq!(
        comparison.cells.len(),
        1,
        "cells match by id across servers"
    );
    assert!(comparison.only_in_a.is_empty() && comparison.only_in_b.is_empty());
    let ttft = &comparison.cells[0].metrics[0];
    assert_eq!(ttft.metric, "ttft_ms");
    assert_eq!(ttft.verdict, Verdict::Slower, "{ttft:?}");
    assert!(ttft.p_value.is_some_and(|p| p < 0.01), "{ttft:?}");
    assert!(ttft.change_pct.p50.is_some_and(|c| c > 100.0), "{ttft:?}");
    assert_eq!(
        comparison.violations.len(),
        1,
        "{:?}",
        comparison.violations
    );
    let message = &comparison.violations[0].message;
    assert!(
        message.starts_with("ttft.p50 of qwen3:0.6b × hello ("),
        "{message}"
    );
    assert!(message.ends_with("fails if > +10%"), "{message}");
    let text = render_comparison(&comparison, CompareFormat::Md).expect("renders");
    assert!(
        text.contains("| ttft_ms |") && text.contains("**slower**"),
        "{text}"
    );

    // The other way round the same change is an improvement and passes the gate.
    let back = compare_runs(&slow, &fast, &options).expect("compares");
    assert_eq!(back.cells[0].metrics[0].verdict, Verdict::Faster);
    assert!(back.violations.is_empty(), "{:?}", back.violations);

    // Two runs of the same server: jitter only. The noise threshold is wider
    // than the default: on a CI machine running other jobs, sleeps of a few
    // tens of ms overshoot by a few ms more in one run than in the next.
    let noisy_ci = CompareOptions {
        noise_pct: 15.0,
        ..options
    };
    let equal = compare_runs(&fast, &again, &noisy_ci).expect("compares");
    let flagged: Vec<_> = equal.cells[0]
        .metrics
        .iter()
        .filter(|m| matches!(m.verdict, Verdict::Slower | Verdict::Faster))
        .collect();
    assert!(flagged.is_empty(), "{flagged:#?}");
    assert!(equal.violations.is_empty(), "{:?}", equal.violations);
}

#[test]
fn absolute_thresholds_check_one_run() {
    let _serial = serial();
    let out = tempfile::tempdir().expect("temp dir");
    let slow = run(&mock(300), out.path());
    let thresholds = [
        parse_requirement("ttft.p95", "< 200ms").expect("parses"),
        parse_requirement("errors.rate", "< 1%").expect("parses"),
        parse_requirement("decode_tps.mean", "> 1").expect("parses"),
    ];
    let violations = check_cells(&cells(&slow), &thresholds);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].metric, "ttft.p95");
    assert!(
        violations[0]
            .value
            .is_some_and(|v| (290.0..3000.0).contains(&v)),
        "{violations:?}"
    );
    assert!(
        violations[0].message.ends_with("required < 200 ms"),
        "{}",
        violations[0].message
    );
    let fast = run(&mock(50), out.path());
    assert!(check_cells(&cells(&fast), &thresholds).is_empty());
}

#[test]
fn a_directory_that_is_not_a_run_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let error = compare_runs(dir.path(), dir.path(), &CompareOptions::default())
        .expect_err("fails")
        .to_string();
    assert!(error.contains("not a run directory"), "{error}");
}
