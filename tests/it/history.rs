//! `llmbench history` end to end: a git repository with a committed
//! experiment, run against the mock Ollama server ten times with a commit
//! before each run, the mock's TTFT raised by 30 % from run 6 on.

use crate::support::Workspace;
use mock_ollama::{MockConfig, MockServer};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn git(repo: &Path, args: &[&str], day: usize) {
    let date = format!("2026-01-{day:02}T12:00:00Z");
    let status = Command::new("git")
        .args(args)
        .current_dir(repo)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

fn mock(ttft_ms: u64) -> MockServer {
    mock_ollama::spawn_blocking(MockConfig {
        ttft: Duration::from_millis(ttft_ms),
        inter_token: Duration::from_millis(20),
        ..MockConfig::default()
    })
    .expect("mock starts")
}

const EXPERIMENT: &str = r#"name = "hist"
[backend]
kind = "ollama"
url = "http://127.0.0.1:1"
[[models]]
name = "qwen3:0.6b"
[defaults]
max_tokens = 6
[run]
repetitions = 5
warmup = 1
[[prompts]]
id = "hello"
text = "Say hello."
[monitor]
enabled = false
"#;

fn history_json(ws: &Workspace, extra: &[&str]) -> (serde_json::Value, Option<i32>) {
    let runs = ws.path("repo/benchmarks/hist").display().to_string();
    let mut args = vec!["history", runs.as_str(), "--format", "json"];
    args.extend(extra);
    let output = assert_cmd::Command::cargo_bin("llmbench")
        .unwrap()
        .args(&args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    (json, output.status.code())
}

#[test]
fn one_ttft_change_point_at_the_commit_that_slowed_the_server() {
    let ws = Workspace::new();
    let repo = ws.path("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q"], 1);
    std::fs::write(repo.join("hist.toml"), EXPERIMENT).unwrap();
    git(&repo, &["add", "hist.toml"], 1);
    git(&repo, &["commit", "-qm", "the experiment"], 1);
    let (fast, slow) = (mock(100), mock(130));
    let file = repo.join("hist.toml");
    let out = repo.join("benchmarks").display().to_string();
    for run in 1..=10 {
        git(
            &repo,
            &[
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                &format!("change {run}"),
            ],
            run + 1,
        );
        let server = if run < 6 { &fast } else { &slow };
        let url = format!("backend.url={}", server.url());
        let code = llmbench::app::run(clap::Parser::parse_from([
            "llmbench",
            "exec",
            &file.display().to_string(),
            "--out",
            &out,
            "-q",
            "--set",
            &url,
        ]));
        assert_eq!(code.map_err(|e| e.to_string()), Ok(0));
    }

    let (history, code) = history_json(&ws, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(history["runs"].as_array().unwrap().len(), 10);
    let changes = history["change_points"].as_array().unwrap();
    let of = |kind: &str, metric: &str| -> Vec<&serde_json::Value> {
        changes
            .iter()
            .filter(|c| c["kind"] == kind && c["metric"] == metric)
            .collect()
    };
    let ttft = of("cell", "ttft_p50");
    assert_eq!(ttft.len(), 1, "{changes:#?}");
    let change = ttft[0];
    assert_eq!(change["commit"]["subject"], "change 6", "{change:#}");
    assert_eq!(change["run"], 5);
    assert_eq!(change["regression"], true);
    let size = change["change"].as_f64().unwrap();
    assert!((0.15..0.45).contains(&size), "ttft +{size}");
    assert!(
        change["change_low"].as_f64().unwrap() <= size
            && size <= change["change_high"].as_f64().unwrap()
    );
    for still in ["tpot_p50", "tpot_p95", "decode_tps_p50", "error_rate"] {
        assert!(
            of("cell", still).is_empty() && of("model", still).is_empty(),
            "{still}: {changes:#?}"
        );
    }
    // Every run has its commit; the server's version did not change, nor the file.
    let notes = history["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .all(|n| !n["text"].as_str().unwrap().contains("experiment file")),
        "{notes:?}"
    );

    let (_, code) = history_json(&ws, &["--fail-on-regression"]);
    assert_eq!(code, Some(6));
    let (_, code) = history_json(&ws, &["--fail-on-regression", "--min-change", "60"]);
    assert_eq!(code, Some(0), "a 30 % change is below a 60 % floor");

    let page = assert_cmd::Command::cargo_bin("llmbench")
        .unwrap()
        .args([
            "history",
            &ws.path("repo/benchmarks").display().to_string(),
            "--format",
            "html",
        ])
        .output()
        .unwrap();
    let page = String::from_utf8(page.stdout).unwrap();
    assert!(page.contains("<svg") && page.contains("change 6") && page.contains("report.html"));
    assert!(!page.contains("<script") && !page.contains("http://") && !page.contains("https://"));
    if let Ok(dir) = std::env::var("LLMBENCH_HISTORY_PAGE") {
        std::fs::write(Path::new(&dir).join("history.html"), &page).unwrap();
    }
}
