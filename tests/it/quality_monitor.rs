//! Quality checks and the resource monitor inside a real run against the
//! mock server: scores per cell and model, samples.jsonl, GPU status.

use crate::support::{json, ollama_experiment, Workspace};
use mock_ollama::MockConfig;
use std::time::Duration;

#[test]
fn checks_are_scored_after_the_run_and_reported_beside_speed() {
    let server = mock_ollama::spawn_blocking(MockConfig {
        inter_token: Duration::from_millis(5),
        ..MockConfig::default()
    })
    .expect("mock");
    let ws = Workspace::new();
    let text = ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 3\nwarmup = 1")
        .replace(
            "text = \"Say hello.\"\n",
            "text = \"Say hello.\"\n[[prompts.checks]]\nkind = \"contains\"\nvalue = \"CAFÉ\"\nignore_case = true\n",
        )
        .replace(
            "text = \"Count to five.\"\n",
            "text = \"Count to five.\"\n[[prompts.checks]]\nkind = \"python\"\ntests = \"assert 1 == 2, 'never'\"\n",
        )
        .replace("[report]", "[monitor]\ninterval = \"50ms\"\n\n[report]");
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();

    let checks = std::fs::read_to_string(run.join("checks.jsonl")).expect("checks.jsonl");
    assert_eq!(
        checks.lines().count(),
        6,
        "measured responses only: 2 cells × 3"
    );
    let summary = json(&run.join("summary.json"));
    let hello = &summary["cells"][0]["quality"];
    assert_eq!(
        (hello["n"].as_u64(), hello["rate"].as_f64()),
        (Some(3), Some(1.0)),
        "{hello}"
    );
    let count = &summary["cells"][1]["quality"];
    assert_eq!(count["rate"].as_f64(), Some(0.0), "{count}");
    assert!(
        checks.contains("never") || checks.contains("SyntaxError"),
        "the failing reason is recorded: {checks}"
    );
    assert_eq!(summary["models"][0]["quality"]["rate"].as_f64(), Some(0.5));
    let report = std::fs::read_to_string(run.join("report.md")).expect("report");
    assert!(
        report.contains("quality") || report.contains("pass"),
        "the report shows quality"
    );
}

#[test]
fn the_monitor_samples_the_run_and_says_why_gpu_data_is_missing() {
    let server = mock_ollama::spawn_blocking(MockConfig {
        inter_token: Duration::from_millis(10),
        ..MockConfig::default()
    })
    .expect("mock");
    let ws = Workspace::new();
    let text = ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 3")
        .replace("[report]", "[monitor]\ninterval = \"50ms\"\n\n[report]");
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    let samples = std::fs::read_to_string(run.join("samples.jsonl")).expect("samples.jsonl");
    assert!(
        samples.lines().count() >= 5,
        "{} samples",
        samples.lines().count()
    );
    let manifest = json(&run.join("manifest.json"));
    let gpu = &manifest["monitor"]["gpu"];
    match gpu["status"].as_str() {
        Some("unavailable") => assert!(
            gpu["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{gpu}"
        ),
        Some("available") => assert!(gpu["devices"].as_array().is_some_and(|d| !d.is_empty())),
        other => panic!("unexpected GPU status {other:?}: {gpu}"),
    }
    let summary = json(&run.join("summary.json"));
    let cell = &summary["cells"][0]["monitor"];
    assert!(
        cell["samples"].as_u64().unwrap_or(0) >= 1,
        "a cell window holds samples: {cell}"
    );
    assert!(
        cell["client_cpu_mean_pct"].is_number(),
        "llmbench's own CPU: {cell}"
    );
    assert!(
        !summary["monitor"]["timeline"]
            .as_array()
            .is_none_or(|s| s.is_empty()),
        "a timeline for the charts"
    );
    assert!(
        !summary["monitor"]["windows"]
            .as_array()
            .is_none_or(|w| w.is_empty()),
        "cell boundaries"
    );
}

#[test]
fn gpu_nvml_asked_for_where_there_is_none_fails_fast() {
    if std::path::Path::new("/proc/driver/nvidia").exists() {
        return; // a machine with a driver: this check is for the others
    }
    let server = mock_ollama::spawn_blocking(MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    let text = ollama_experiment(&server.url(), "qwen3:0.6b", "")
        .replace("[report]", "[monitor]\ngpu = \"nvml\"\n\n[report]");
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 1);
    assert_eq!(server.generation_count(), 0, "nothing was sent");
}
