//! The small robustness fixes of issue 16 (item 13), each against a real
//! server or the real binary: `models` naming the other `--kind`, `tokenize
//! --help` agreeing with what `--url` does, `exec` over several files going
//! on past one whose server is missing, and `llmbench report` writing only
//! the formats the run asked for.

use crate::support::{free_port, ollama_experiment, Workspace};
use assert_cmd::Command;
use std::io::{Read, Write};
use std::net::TcpListener;

fn llmbench() -> Command {
    Command::cargo_bin("llmbench").expect("binary")
}

/// A server that is not Ollama: `/v1/models` answers, everything else is
/// a 404 (as vLLM answers `/api/tags`). Serves `requests` requests.
fn openai_only_server(requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests).flatten() {
            let mut stream = stream;
            let mut buffer = [0u8; 4096];
            let read = stream.read(&mut buffer).unwrap_or(0);
            let head = String::from_utf8_lossy(&buffer[..read]);
            let (status, body) = if head.starts_with("GET /v1/models ") {
                (
                    "200 OK",
                    r#"{"object":"list","data":[{"id":"m","object":"model"}]}"#,
                )
            } else {
                ("404 Not Found", "File Not Found")
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    url
}

#[test]
fn models_as_ollama_against_another_server_names_the_other_kind() {
    let url = openai_only_server(2);
    let output = llmbench()
        .args(["models", "--url", &url, "--kind", "ollama"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("HTTP 404"), "{stderr}");
    assert!(
        stderr.contains("does not look like Ollama") && stderr.contains("--kind openai"),
        "{stderr}"
    );
    let listed = llmbench()
        .args(["models", "--url", &url, "--kind", "openai"])
        .output()
        .expect("runs");
    assert_eq!(listed.status.code(), Some(0), "the suggested kind works");
}

/// `--url` is documented for what uses it, and `gguf` alone says what to
/// write instead.
#[test]
fn tokenize_help_and_url_agree() {
    let help = llmbench()
        .args(["tokenize", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let url_help = help
        .split("--url")
        .nth(1)
        .and_then(|rest| rest.split("\n  -").next())
        .unwrap_or_default()
        .to_string();
    assert!(url_help.contains("llamacpp"), "{help}");
    assert!(!url_help.contains("(and `gguf`"), "{url_help}");
    let output = llmbench()
        .args([
            "tokenize",
            "--tokenizer",
            "gguf",
            "--url",
            "http://127.0.0.1:1",
            "hi",
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("gguf:PATH"), "{stderr}");
    assert!(
        url_help.contains("gguf:PATH"),
        "the help says the same: {url_help}"
    );
}

#[test]
fn exec_over_several_files_goes_on_past_a_missing_server() {
    let server = mock_ollama::spawn_blocking(mock_ollama::MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let missing = ollama_experiment(&dead, "qwen3:0.6b", "repetitions = 1")
        .replace("name = \"mocked\"", "name = \"a-missing\"");
    let running = ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 1")
        .replace("name = \"mocked\"", "name = \"b-running\"");
    ws.write("a.toml", &missing);
    ws.write("b.toml", &running);
    let pattern = ws.path("*.toml").display().to_string();
    let output = llmbench()
        .args(["exec", &pattern, "-q", "--out"])
        .arg(ws.path("runs"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("going on with the next experiment file"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 of 2 experiment files did not run")
            && stderr.contains("a.toml (exit 3)"),
        "{stderr}"
    );
    let runs = ws.runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].display().to_string().contains("b-running"));
}

/// A stored experiment that no longer loads (here: a key this version does
/// not know) still gets only the formats its `[report]` lists.
#[test]
fn report_writes_only_the_asked_formats_when_the_experiment_no_longer_loads() {
    let server = mock_ollama::spawn_blocking(mock_ollama::MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    let text = ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 1")
        .replace("[report]\n", "[report]\nformats = [\"markdown\"]\n");
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    std::fs::remove_file(run.join("report.md")).expect("remove report.md");
    let stored = run.join("experiment.toml");
    let copy = std::fs::read_to_string(&stored).expect("experiment.toml");
    std::fs::write(&stored, format!("from_a_newer_version = 1\n{copy}")).expect("write");
    let output = llmbench()
        .args(["report", &run.display().to_string()])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the formats its [report] lists"),
        "{stderr}"
    );
    assert!(run.join("report.md").exists());
    for other in ["report.json", "report.html", "cells.csv", "requests.csv"] {
        assert!(!run.join(other).exists(), "{other} was not asked for");
    }
}
