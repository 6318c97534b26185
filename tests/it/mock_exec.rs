//! `exec` against the mock Ollama server: records, counts, parsed server
//! statistics and measured timings within generous bounds of injected delays.

use crate::support::{json, ollama_experiment, records, Workspace};
use mock_ollama::{MockConfig, MockServer};
use std::time::Duration;

fn mock(config: MockConfig) -> MockServer {
    mock_ollama::spawn_blocking(config).expect("mock server starts")
}

#[test]
fn records_carry_counts_timings_and_server_statistics() {
    let server = mock(MockConfig {
        ttft: Duration::from_millis(150),
        inter_token: Duration::from_millis(20),
        response_tokens: 40,
        ..MockConfig::default()
    });
    let ws = Workspace::new();
    let file = ws.write(
        "e.toml",
        &ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 2\nwarmup = 1"),
    );
    assert_eq!(ws.exec(&file, &[]), 0);

    let run = ws.run();
    let records = records(&run);
    assert_eq!(records.len(), 6, "2 cells × (1 warmup + 2 measured)");
    assert_eq!(records.iter().filter(|r| r.warmup).count(), 2);
    for record in &records {
        assert!(record.outcome.is_ok(), "{:?}", record.outcome);
        assert_eq!(
            record.tokens.output,
            Some(16),
            "max_tokens bounds eval_count"
        );
        assert_eq!(record.finish_reason.as_deref(), Some("length"));
        assert_eq!(
            record.timing.chunk_offsets_ms.len(),
            16,
            "one token per chunk"
        );
        assert!(
            record.tokens.prompt.unwrap_or(0) > 0,
            "prompt_eval_count parsed"
        );
        assert!(
            record.server.eval_duration_ns.unwrap_or(0) > 0,
            "eval_duration parsed"
        );
        let ttft = record.timing.ttft_ms.unwrap_or_default();
        assert!(
            (140.0..600.0).contains(&ttft),
            "ttft {ttft} ms around the injected 150 ms"
        );
        let e2e = record.timing.e2e_ms.unwrap_or_default();
        let tpot = (e2e - ttft) / 15.0;
        assert!(
            (18.0..80.0).contains(&tpot),
            "tpot {tpot} ms around the injected 20 ms"
        );
    }

    let summary = json(&run.join("summary.json"));
    let cell = &summary["cells"][0];
    assert_eq!(cell["counts"]["ok"], 2);
    assert_eq!(cell["counts"]["warmup"], 1);
    let gap = cell["metrics"]["chunk_gap_ms"]["p50"]
        .as_f64()
        .unwrap_or_default();
    assert!((15.0..80.0).contains(&gap), "chunk gap p50 {gap}");
    let report = std::fs::read_to_string(run.join("report.md")).expect("report.md");
    assert!(
        report.contains("| qwen3:0.6b | hello |") && report.contains("| qwen3:0.6b | count |"),
        "{report}"
    );
    assert!(run.join("report.json").is_file());
    assert_eq!(
        std::fs::read_dir(run.join("responses"))
            .map(|d| d.count())
            .unwrap_or(0),
        2
    );
    assert_eq!(server.generation_count(), 6);
}

#[test]
fn the_request_carries_options_settings_and_system_prompt() {
    let server = mock(MockConfig::default());
    let ws = Workspace::new();
    let text = ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 1").replace(
        "[[models]]\nname = \"qwen3:0.6b\"",
        "[[models]]\nname = \"qwen3:0.6b\"\noptions = { num_ctx = 8192 }\nkeep_alive = \"30m\"",
    );
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let sent = server.requests();
    let count = sent
        .iter()
        .find(|r| r["messages"][1]["content"] == "Count to five.")
        .expect("count prompt sent");
    assert_eq!(
        count["messages"][0],
        serde_json::json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(count["options"]["num_ctx"], 8192);
    assert_eq!(count["options"]["num_predict"], 16);
    assert_eq!(count["options"]["temperature"], 0.0);
    assert_eq!(count["keep_alive"], "30m");
}

#[test]
fn several_tokens_per_chunk_and_split_writes_keep_counts_right() {
    let server = mock(MockConfig {
        tokens_per_chunk: 4,
        split_writes: true,
        empty_chunks: true,
        ..MockConfig::default()
    });
    let ws = Workspace::new();
    let file = ws.write(
        "e.toml",
        &ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 2"),
    );
    assert_eq!(ws.exec(&file, &[]), 0);
    for record in records(&ws.run()) {
        assert!(record.outcome.is_ok(), "{:?}", record.outcome);
        assert_eq!(record.tokens.output, Some(16));
        assert_eq!(
            record.timing.chunk_offsets_ms.len(),
            4,
            "16 tokens in chunks of 4; empty chunks are not text"
        );
        assert!(
            record.timing.events > 4,
            "empty chunks are still counted as events"
        );
    }
}

#[test]
fn a_missing_prompt_eval_count_is_unknown_not_zero() {
    let server = mock(MockConfig {
        omit_prompt_eval_count: true,
        ..MockConfig::default()
    });
    let ws = Workspace::new();
    let file = ws.write(
        "e.toml",
        &ollama_experiment(&server.url(), "qwen3:0.6b", ""),
    );
    assert_eq!(ws.exec(&file, &[]), 0);
    for record in records(&ws.run()) {
        assert_eq!(record.tokens.prompt, None);
        assert_eq!(record.server.prompt_tokens, None);
        assert_eq!(record.tokens.output, Some(16));
    }
}

#[test]
fn generate_endpoint_works_like_chat() {
    let server = mock(MockConfig::default());
    let ws = Workspace::new();
    let file = ws.write(
        "e.toml",
        &ollama_experiment(&server.url(), "qwen3:0.6b", "ollama_api = \"generate\""),
    );
    assert_eq!(ws.exec(&file, &[]), 0);
    assert!(server
        .requests()
        .iter()
        .all(|r| r.get("prompt").is_some() && r.get("messages").is_none()));
    let records = records(&ws.run());
    assert!(records
        .iter()
        .all(|r| r.outcome.is_ok() && r.tokens.output == Some(16)));
}

#[test]
fn thinking_text_counts_for_ttft_but_not_for_ttft_content() {
    let server = mock(MockConfig {
        inter_token: Duration::from_millis(5),
        ..MockConfig::default()
    });
    let ws = Workspace::new();
    let file = ws.write(
        "e.toml",
        &ollama_experiment(&server.url(), "thinker:1b", "")
            .replace("max_tokens = 16", "max_tokens = 40"),
    );
    assert_eq!(ws.exec(&file, &[]), 0);
    for record in records(&ws.run()) {
        assert!(record.reasoning_chars > 0, "reasoning captured");
        let (ttft, content) = (
            record.timing.ttft_ms.unwrap_or_default(),
            record.timing.ttft_content_ms.unwrap_or_default(),
        );
        assert!(
            content > ttft,
            "answer text comes after the thinking: {ttft} < {content}"
        );
    }
}

#[test]
fn openai_mode_streams_sse_with_usage() {
    let server = mock(MockConfig::default());
    let ws = Workspace::new();
    let text = ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 2")
        .replace("kind = \"ollama\"", "kind = \"openai\"");
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let sent = server.requests();
    assert!(sent
        .iter()
        .all(|r| r["stream_options"]["include_usage"] == true && r["max_tokens"] == 16));
    for record in records(&ws.run()) {
        assert!(record.outcome.is_ok(), "{:?}", record.outcome);
        assert_eq!(record.tokens.output, Some(16), "usage.completion_tokens");
        assert_eq!(record.timing.chunk_offsets_ms.len(), 16);
    }
}

#[test]
fn cold_starts_measure_the_load_apart_from_warm_requests() {
    let server = mock(MockConfig {
        load_delay: Duration::from_millis(300),
        ..MockConfig::default()
    });
    let ws = Workspace::new();
    let run = "repetitions = 2\nwarmup = 1\ncold_start = true\ncold_repetitions = 2";
    let file = ws.write(
        "e.toml",
        &ollama_experiment(&server.url(), "qwen3:0.6b", run),
    );
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    let records = records(&run);
    assert_eq!(
        records.len(),
        2 + 2 * 3,
        "2 cold starts, then 2 cells × (1 warmup + 2 measured)"
    );
    let (cold, warm): (Vec<_>, Vec<_>) = records.iter().partition(|r| r.cold);
    for record in &cold {
        assert!(record.outcome.is_ok(), "{:?}", record.outcome);
        let load = record.server.load_duration_ns.unwrap_or(0) as f64 / 1e6;
        assert!(
            (290.0..2000.0).contains(&load),
            "server load {load} ms around the injected 300 ms"
        );
        assert!(
            record.timing.ttft_ms.unwrap_or(0.0) >= 290.0,
            "client ttft includes the load"
        );
    }
    for record in warm.iter().filter(|r| !r.warmup) {
        assert!(
            record.server.load_duration_ns.unwrap_or(0) < 100_000_000,
            "warm requests load nothing"
        );
    }
    let unloads = server
        .requests()
        .iter()
        .filter(|r| r["keep_alive"] == 0)
        .count();
    assert_eq!(unloads, 2, "one unload per cold start");

    let summary = json(&run.join("summary.json"));
    let cold = &summary["models"][0]["cold_start"];
    assert_eq!(cold["counts"]["ok"], 2);
    assert!(cold["metrics"]["load_ms"]["mean"].as_f64().unwrap_or(0.0) >= 290.0);
    assert_eq!(
        summary["cells"][0]["counts"]["measured"], 2,
        "cold requests are not warm measurements"
    );
    let loaded = &summary["loaded_models"]["qwen3:0.6b"];
    assert!(
        loaded["size"].as_u64().unwrap_or(0) > 0,
        "/api/ps recorded: {loaded}"
    );
}

/// Runs 3 cold starts against `config`; the run directory's summary and
/// report.md.
fn cold_run(config: MockConfig) -> (Vec<llmbench::record::Record>, serde_json::Value, String) {
    let server = mock(config);
    let ws = Workspace::new();
    let run = "repetitions = 1\nwarmup = 0\ncold_start = true\ncold_repetitions = 3";
    let file = ws.write(
        "e.toml",
        &ollama_experiment(&server.url(), "qwen3:0.6b", run),
    );
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    let report = std::fs::read_to_string(run.join("report.md")).expect("report.md");
    (records(&run), json(&run.join("summary.json")), report)
}

#[test]
fn a_cold_start_waits_until_the_unloaded_model_is_gone() {
    // Ollama answers the unload before its runner is gone; sent at once,
    // the cold request found the model loaded and measured a warm start.
    let (records, summary, report) = cold_run(MockConfig {
        load_delay: Duration::from_millis(200),
        unload_lag: Duration::from_millis(300),
        ..MockConfig::default()
    });
    for record in records.iter().filter(|r| r.cold) {
        let load = record.server.load_duration_ns.unwrap_or(0) as f64 / 1e6;
        assert!(
            load >= 190.0,
            "the cold request loaded the model: {load} ms"
        );
    }
    let cold = &summary["models"][0]["cold_start"];
    assert_eq!(
        (cold["counts"]["ok"].as_u64(), cold["not_loaded"].as_u64()),
        (Some(3), Some(0))
    );
    assert!(report.contains("## Cold starts"), "{report}");
    assert!(
        report.contains("| Qwen3 0.6B | 3/3 | 0 |") || report.contains("| qwen3:0.6b | 3/3 | 0 |"),
        "{report}"
    );
}

#[test]
fn a_cold_start_that_loaded_nothing_is_flagged_and_left_out() {
    // A server that loads in no time: load_duration shows no load.
    let (_, summary, report) = cold_run(MockConfig::default());
    let cold = &summary["models"][0]["cold_start"];
    assert_eq!(cold["not_loaded"], 3, "{cold}");
    assert!(cold["metrics"].get("load_ms").is_none(), "left out: {cold}");
    assert!(
        report.contains("3 cold start(s) show no model load"),
        "{report}"
    );
}

#[test]
fn cold_start_on_an_openai_backend_is_refused_before_running() {
    let ws = Workspace::new();
    let text = ollama_experiment("http://127.0.0.1:1", "m", "cold_start = true")
        .replace("kind = \"ollama\"", "kind = \"openai\"");
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 2);
    assert!(ws.runs().is_empty());
}
