//! Failures are data: errors before and during the stream, truncated streams,
//! timeouts, missing models, an unreachable server and Ctrl-C.

use crate::support::{free_port, json, ollama_experiment, records, Workspace};
use llmbench::record::{ErrorKind, Outcome};
use mock_ollama::{Fault, MockConfig};
use std::time::Duration;

fn error_kinds(run: &std::path::Path) -> Vec<Option<ErrorKind>> {
    records(run)
        .into_iter()
        .map(|r| match r.outcome {
            Outcome::Ok => None,
            Outcome::Error { kind, .. } => Some(kind),
        })
        .collect()
}

#[test]
fn http_errors_are_recorded_with_their_message_and_the_run_goes_on() {
    let fault = Fault::EveryNth {
        n: 2,
        status: 500,
        message: "model runner has unexpectedly stopped".into(),
    };
    let server = mock_ollama::spawn_blocking(MockConfig {
        fail: Some(fault),
        ..MockConfig::default()
    })
    .expect("mock");
    let ws = Workspace::new();
    let file = ws.write(
        "e.toml",
        &ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 3"),
    );
    assert_eq!(ws.exec(&file, &[]), 0, "a run with some successes exits 0");
    let run = ws.run();
    let records = records(&run);
    assert_eq!(records.len(), 6, "every request is recorded");
    let failed: Vec<_> = records.iter().filter(|r| !r.outcome.is_ok()).collect();
    assert_eq!(failed.len(), 3);
    for record in failed {
        assert_eq!(record.http_status, Some(500));
        let Outcome::Error { kind, message } = &record.outcome else {
            unreachable!()
        };
        assert_eq!(*kind, ErrorKind::Http);
        assert!(
            message.contains("HTTP 500")
                && message.contains("model runner has unexpectedly stopped"),
            "{message}"
        );
    }
    let summary = json(&run.join("summary.json"));
    assert_eq!(summary["totals"]["failed"], 3);
    assert!(summary["warnings"]
        .as_array()
        .is_some_and(|w| !w.is_empty()));
}

#[test]
fn a_mid_stream_error_is_a_stream_failure_and_all_failed_exits_4() {
    let fault = Fault::MidStream {
        after_chunks: 3,
        message: "an error was encountered while running the model".into(),
    };
    let server = mock_ollama::spawn_blocking(MockConfig {
        fail: Some(fault),
        ..MockConfig::default()
    })
    .expect("mock");
    let ws = Workspace::new();
    let file = ws.write(
        "e.toml",
        &ollama_experiment(&server.url(), "qwen3:0.6b", ""),
    );
    assert_eq!(ws.exec(&file, &[]), 4);
    let run = ws.run();
    assert_eq!(error_kinds(&run), vec![Some(ErrorKind::Stream); 2]);
    let record = &records(&run)[0];
    assert_eq!(
        record.timing.chunk_offsets_ms.len(),
        3,
        "what arrived before the error is kept"
    );
    assert!(
        run.join("report.md").is_file(),
        "reports are written even when everything failed"
    );
}

#[test]
fn a_stream_without_its_end_marker_is_truncated() {
    let fault = Fault::TruncateStream { after_chunks: 2 };
    let server = mock_ollama::spawn_blocking(MockConfig {
        fail: Some(fault),
        ..MockConfig::default()
    })
    .expect("mock");
    let ws = Workspace::new();
    for kind in ["ollama", "openai"] {
        let text = ollama_experiment(&server.url(), "qwen3:0.6b", "")
            .replace("kind = \"ollama\"", &format!("kind = \"{kind}\""));
        let file = ws.write(
            &format!("{kind}.toml"),
            &text.replace("name = \"mocked\"", &format!("name = \"{kind}\"")),
        );
        assert_eq!(ws.exec(&file, &[]), 4, "{kind}");
    }
    for run in ws.runs() {
        assert_eq!(
            error_kinds(&run),
            vec![Some(ErrorKind::Truncated); 2],
            "{}",
            run.display()
        );
    }
}

#[test]
fn a_request_past_its_timeout_is_recorded_as_timeout() {
    let server = mock_ollama::spawn_blocking(MockConfig {
        ttft: Duration::from_secs(5),
        ..MockConfig::default()
    })
    .expect("mock");
    let ws = Workspace::new();
    let text = ollama_experiment(&server.url(), "qwen3:0.6b", "")
        .replace("timeout = \"20s\"", "timeout = \"300ms\"");
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 4);
    assert_eq!(error_kinds(&ws.run()), vec![Some(ErrorKind::Timeout); 2]);
}

#[test]
fn a_missing_model_stops_the_run_before_anything_is_sent() {
    let server = mock_ollama::spawn_blocking(MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    let file = ws.write("e.toml", &ollama_experiment(&server.url(), "nope:1b", ""));
    let output = ws.exec_binary(&file);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("nope:1b") && stderr.contains("ollama pull nope:1b"),
        "{stderr}"
    );
    assert_eq!(server.generation_count(), 0, "nothing was sent");
    assert!(ws.runs().is_empty(), "no run directory");
}

#[test]
fn an_unreachable_server_is_named_with_what_to_do() {
    let port = free_port();
    let ws = Workspace::new();
    let url = format!("http://127.0.0.1:{port}");
    let file = ws.write("e.toml", &ollama_experiment(&url, "qwen3:0.6b", ""));
    let output = ws.exec_binary(&file);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&url) && stderr.contains("ollama serve"),
        "{stderr}"
    );
}

#[test]
fn ctrl_c_stops_dispatching_and_keeps_a_valid_partial_run() {
    let config = MockConfig {
        inter_token: Duration::from_millis(50),
        response_tokens: 200,
        ..MockConfig::default()
    };
    let server = mock_ollama::spawn_blocking(config).expect("mock");
    let ws = Workspace::new();
    let text = ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 50")
        .replace("max_tokens = 16", "max_tokens = 10");
    let file = ws.write("e.toml", &text);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("llmbench"))
        .args([
            "exec",
            &file.display().to_string(),
            "--out",
            &ws.path("runs").display().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(1800));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));

    let run = ws.run();
    let records = records(&run);
    assert!(
        !records.is_empty() && records.len() < 100,
        "{} records",
        records.len()
    );
    assert!(
        records.iter().filter(|r| r.outcome.is_ok()).count() >= 2,
        "finished requests are kept"
    );
    let manifest = json(&run.join("manifest.json"));
    assert_eq!(manifest["status"], "interrupted");
    assert!(run.join("report.md").is_file() && run.join("summary.json").is_file());
}
