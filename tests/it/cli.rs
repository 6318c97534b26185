//! The binary's commands and exit codes: plan, validate, report, and the
//! shipped experiments.

use crate::support::{free_port, json, ollama_experiment, records, Workspace};
use assert_cmd::Command;

fn llmbench() -> Command {
    Command::cargo_bin("llmbench").expect("binary")
}

fn repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn shipped_experiments_validate() {
    let output = llmbench()
        .args(["validate", &repo("experiments/*.toml")])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("quickstart.toml") && stdout.contains("coding.toml"),
        "{stdout}"
    );
}

#[test]
fn plan_of_the_coding_experiment_counts_cells_and_requests() {
    let output = llmbench()
        .args(["plan", &repo("experiments/coding.toml"), "--json"])
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).expect("plan JSON");
    let cells = plan["cells"].as_array().expect("cells");
    let models: std::collections::BTreeSet<&str> =
        cells.iter().filter_map(|c| c["model"].as_str()).collect();
    let prompts: std::collections::BTreeSet<&str> =
        cells.iter().filter_map(|c| c["prompt"].as_str()).collect();
    assert!(models.len() >= 3, "{models:?}");
    assert!(prompts.len() >= 12, "{prompts:?}");
    assert_eq!(cells.len(), models.len() * prompts.len());
    let reps =
        cells[0]["repetitions"].as_u64().unwrap_or(0) + cells[0]["warmup"].as_u64().unwrap_or(0);
    assert_eq!(
        plan["total_requests"].as_u64(),
        Some(cells.len() as u64 * reps)
    );

    let table = llmbench()
        .args(["plan", &repo("experiments/coding.toml")])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("qwen2.5-coder:1.5b") || text.contains("Qwen2.5-Coder"),
        "{text}"
    );
    assert!(text.contains(&format!("{} cells", cells.len())), "{text}");
}

#[test]
fn coding_without_ollama_says_which_url_and_what_to_do() {
    let port = free_port();
    let ws = Workspace::new();
    let output = llmbench()
        .args([
            "exec",
            &repo("experiments/coding.toml"),
            "--out",
            &ws.path("runs").display().to_string(),
        ])
        .args(["--set", &format!("backend.url=http://127.0.0.1:{port}")])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("http://127.0.0.1:{port}")) && stderr.contains("ollama serve"),
        "{stderr}"
    );
    assert!(ws.runs().is_empty());
}

#[test]
fn validate_stops_on_a_bad_file_with_exit_2() {
    let ws = Workspace::new();
    let bad = ws.write(
        "bad.toml",
        &ollama_experiment("http://127.0.0.1:1", "m", "repetitons = 3"),
    );
    let output = llmbench()
        .args(["validate", &bad.display().to_string()])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("repetitions"),
        "{stderr}"
    );
}

#[test]
fn report_rerenders_a_stored_run_with_a_user_template() {
    let server = mock_ollama::spawn_blocking(mock_ollama::MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    let file = ws.write(
        "e.toml",
        &ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 2"),
    );
    // `llmbench report` renders the formats the run's experiment asks for
    // (with its --set overrides): here csv too, for requests.csv.
    let formats = r#"report.formats=["markdown", "json", "csv"]"#;
    assert_eq!(ws.exec(&file, &["--set", formats]), 0);
    let run = ws.run();
    std::fs::remove_file(run.join("report.md")).expect("remove report");
    std::fs::remove_file(run.join("requests.csv")).expect("remove requests.csv");
    let template = ws.write(
        "cells.csv.hbs",
        "model,prompt,ok,ttft_p50_ms\n{{#each cells}}{{model}},{{prompt}},{{counts.ok}},{{fmt metrics.ttft_ms.p50 3}}\n{{/each}}",
    );
    let output = llmbench()
        .args([
            "report",
            &run.display().to_string(),
            "--template",
            &template.display().to_string(),
        ])
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        run.join("report.md").is_file(),
        "built-in report re-rendered"
    );
    let csv = std::fs::read_to_string(run.join("cells.csv")).expect("user report");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].starts_with("qwen3:0.6b,hello,2,"), "{csv}");
    // requests.csv is streamed a row per record while the run is read back:
    // the same text as the whole-file writer gives for the stored records.
    let rows = std::fs::read_to_string(run.join("requests.csv")).expect("requests.csv");
    let records = records(&run);
    assert_eq!(records.len(), 4, "2 prompts × 2 repetitions");
    assert_eq!(rows, llmbench::report::requests_csv(&records));
}

#[test]
fn a_broken_user_template_is_named_and_the_other_reports_are_written() {
    let server = mock_ollama::spawn_blocking(mock_ollama::MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    let file = ws.write(
        "e.toml",
        &ollama_experiment(&server.url(), "qwen3:0.6b", ""),
    );
    let template = ws.write(
        "broken.txt.hbs",
        "line one\n{{#each cells}}\nno closing tag\n",
    );
    assert_eq!(
        ws.exec(&file, &["--template", &template.display().to_string()]),
        5
    );
    let run = ws.run();
    assert!(run.join("report.md").is_file() && run.join("report.json").is_file());
    assert!(!run.join("broken.txt").exists());
    let output = llmbench()
        .args([
            "report",
            &run.display().to_string(),
            "--template",
            &template.display().to_string(),
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("broken.txt") && stderr.contains("line"),
        "{stderr}"
    );
}

#[test]
fn compare_flags_a_slower_run_and_a_threshold_exits_6() {
    let ws = Workspace::new();
    for (name, ttft) in [("fast", 20), ("slow", 120)] {
        let config = mock_ollama::MockConfig {
            ttft: std::time::Duration::from_millis(ttft),
            ..mock_ollama::MockConfig::default()
        };
        let server = mock_ollama::spawn_blocking(config).expect("mock");
        let file = ws.write(
            &format!("{name}.toml"),
            &ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 8"),
        );
        assert_eq!(ws.exec(&file, &["--set", "run.warmup=1"]), 0);
    }
    let mut runs = ws.runs();
    assert_eq!(runs.len(), 2);
    // Both runs may start within one second, so their directory names do
    // not order them: the manifest says which file each ran.
    runs.sort_by_key(|run| {
        json(&run.join("manifest.json"))["experiment_path"]
            .as_str()
            .is_some_and(|path| path.ends_with("slow.toml"))
    });
    let (first, second) = (&runs[0], &runs[1]);
    let output = llmbench()
        .args([
            "compare",
            &first.display().to_string(),
            &second.display().to_string(),
            "--fail-on",
            "ttft.p50 > +50%",
        ])
        .output()
        .expect("runs");
    assert_eq!(
        output.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("slower"), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("threshold failed") && stderr.contains("ttft.p50"),
        "{stderr}"
    );

    let same = llmbench()
        .args([
            "compare",
            &first.display().to_string(),
            &first.display().to_string(),
        ])
        .output()
        .expect("runs");
    assert_eq!(same.status.code(), Some(0));
}

#[test]
fn an_experiment_threshold_that_fails_exits_6_after_writing_reports() {
    let config = mock_ollama::MockConfig {
        ttft: std::time::Duration::from_millis(100),
        ..mock_ollama::MockConfig::default()
    };
    let server = mock_ollama::spawn_blocking(config).expect("mock");
    let ws = Workspace::new();
    let text = ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 2").replace(
        "[report]",
        "[thresholds]\n\"ttft.p95\" = \"< 50ms\"\n\n[report]",
    );
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 6);
    assert!(ws.run().join("report.md").is_file());
    let loose = ws.write(
        "loose.toml",
        &text
            .replace("< 50ms", "< 5s")
            .replace("name = \"mocked\"", "name = \"loose\""),
    );
    assert_eq!(ws.exec(&loose, &[]), 0);
}
