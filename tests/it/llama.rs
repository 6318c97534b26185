//! End to end against the real llama.cpp server (xllamacpp) with SmolLM2-135M,
//! started here from scripts/llama_server.py with the Python named by
//! LLMBENCH_PYTHON (scripts/test.sh sets it after installing the wheels).

use crate::support::{json, records, Workspace};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The server process, stopped when dropped.
struct LlamaServer {
    child: Child,
    url: String,
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_llama() -> LlamaServer {
    let python = std::env::var("LLMBENCH_PYTHON")
        .unwrap_or_else(|_| format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR")));
    assert!(
        std::path::Path::new(&python).exists(),
        "no Python with xllamacpp at {python}: run scripts/setup-llama.sh (scripts/test.sh does) or set LLMBENCH_PYTHON"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let mut child = Command::new(&python)
        .arg(format!(
            "{}/scripts/llama_server.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(["--port", &port.to_string(), "--parallel", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start llama_server.py");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    let _ = BufReader::new(stdout).read_line(&mut line);
    let server = LlamaServer {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    assert!(
        line.starts_with("ready"),
        "llama server did not start: {line:?}"
    );
    server
}

#[test]
fn quickstart_runs_against_the_real_llama_cpp_server() {
    let server = start_llama();
    let ws = Workspace::new();
    let quickstart = format!("{}/experiments/quickstart.toml", env!("CARGO_MANIFEST_DIR"));
    let code = ws.exec(
        std::path::Path::new(&quickstart),
        &[
            "--set",
            &format!("backend.url={}", server.url),
            "--set",
            "run.repetitions=2",
        ],
    );
    assert_eq!(code, 0);

    let run = ws.run();
    let records = records(&run);
    assert_eq!(records.len(), 6, "2 prompts × (1 warmup + 2 measured)");
    for record in &records {
        assert!(record.outcome.is_ok(), "{:?}", record.outcome);
        let usage = record
            .server
            .completion_tokens
            .expect("usage.completion_tokens");
        assert_eq!(
            record.tokens.output,
            Some(usage),
            "output tokens are the server's usage"
        );
        assert!(usage > 0 && record.output_chars > 0);
        assert!(
            record.server.eval_duration_ns.is_some(),
            "llama.cpp timings parsed"
        );
        assert!(record.timing.ttft_ms.is_some_and(|t| t > 0.0));
        assert!(
            record.timing.chunk_offsets_ms.len() as u64 <= usage,
            "a chunk carries at least one token"
        );
    }
    let capital = records
        .iter()
        .find(|r| r.prompt == "capital" && !r.warmup)
        .expect("capital record");
    assert!(
        capital.server.prompt_tokens.unwrap_or(0) > 10,
        "chat template tokens counted by the server"
    );

    let summary = json(&run.join("summary.json"));
    assert_eq!(summary["totals"]["ok"], 4);
    let decode = summary["cells"][0]["metrics"]["decode_tps"]["mean"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(decode > 1.0, "decode speed measured: {decode}");
    let report = std::fs::read_to_string(run.join("report.md")).expect("report.md");
    assert!(
        report.contains("SmolLM2-135M Q4_1 | capital")
            && report.contains("SmolLM2-135M Q4_1 | reverse"),
        "{report}"
    );
    let manifest = json(&run.join("manifest.json"));
    assert_eq!(manifest["status"], "complete");
    assert!(manifest["servers"]["default"]["models"]
        .as_array()
        .is_some_and(|m| !m.is_empty()));
}
