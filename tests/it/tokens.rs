//! Token counting inside a run: the model's own tokenizer counts whole
//! responses after the run, the report says which source each figure used,
//! and disagreement with the server is measured.

use crate::support::{json, ollama_experiment, records, Workspace};
use assert_cmd::Command;
use mock_ollama::MockConfig;

/// The mock experiment for qwen3:0.6b with `tokenizer = SPEC` on the model.
fn with_tokenizer(url: &str, run: &str, spec: &str) -> String {
    ollama_experiment(url, "qwen3:0.6b", run).replace(
        "[[models]]\nname = \"qwen3:0.6b\"",
        &format!("[[models]]\nname = \"qwen3:0.6b\"\ntokenizer = \"{spec}\""),
    )
}

#[test]
fn a_written_tokenizer_counts_whole_responses_and_is_used() {
    let server = mock_ollama::spawn_blocking(MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    let text = with_tokenizer(&server.url(), "repetitions = 2", "tiktoken:cl100k_base");
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    let tokens = std::fs::read_to_string(run.join("tokens.jsonl")).expect("tokens.jsonl");
    assert_eq!(tokens.lines().count(), 4, "every successful response");
    let responses = std::fs::read_to_string(
        run.join("responses")
            .join(format!("{}.jsonl", records(&run)[0].cell)),
    )
    .expect("responses");
    let first: serde_json::Value =
        serde_json::from_str(responses.lines().next().unwrap_or("{}")).expect("json");
    let content = first["content"].as_str().unwrap_or_default();
    let expected = tiktoken_rs::cl100k_base_singleton()
        .encode_with_special_tokens(content)
        .len() as u64;
    let first_count: serde_json::Value =
        serde_json::from_str(tokens.lines().next().unwrap_or("{}")).expect("json");
    assert_eq!(
        first_count["output"].as_u64(),
        Some(expected),
        "counted on the whole text"
    );
    let summary = json(&run.join("summary.json"));
    let agreement = &summary["models"][0]["tokens"];
    assert_eq!(
        agreement["output_source"], "tiktoken:cl100k_base",
        "{agreement}"
    );
    assert!(agreement["compared"].as_u64().unwrap_or(0) >= 4);
    let tokens_mean = summary["cells"][0]["metrics"]["output_tokens"]["mean"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(
        (tokens_mean - 16.0).abs() > 0.5,
        "the local count, not the server's 16, is used: {tokens_mean}"
    );
}

#[test]
fn a_bad_tokenizer_spec_stops_the_run_before_anything_is_sent() {
    let server = mock_ollama::spawn_blocking(MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    let text = with_tokenizer(&server.url(), "", "gguf:no/such/model.gguf");
    let file = ws.write("e.toml", &text);
    let output = ws.exec_binary(&file);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("model qwen3:0.6b")
            && stderr.contains("gguf:no/such/model.gguf")
            && stderr.contains("no such file"),
        "{stderr}"
    );
    assert_eq!(server.generation_count(), 0);
}

#[test]
fn an_unknown_spec_in_the_mapping_is_pointed_at() {
    let ws = Workspace::new();
    let text = ollama_experiment("http://127.0.0.1:1", "m", "").replace(
        "[report]",
        "[tokenizers]\n\"qwen*\" = \"tiktok:cl100k_base\"\n\n[report]",
    );
    let file = ws.write("e.toml", &text);
    let output = Command::cargo_bin("llmbench")
        .expect("binary")
        .args(["validate", &file.display().to_string()])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tokenizers.\"qwen*\"") && stderr.contains("did you mean `tiktoken:"),
        "{stderr}"
    );
}

#[test]
fn tokenize_prints_the_count_and_ids() {
    let output = Command::cargo_bin("llmbench")
        .expect("binary")
        .args(["tokenize", "--tokenizer", "tiktoken:cl100k_base", "--ids"])
        .write_stdin("hello world")
        .output()
        .expect("runs");
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "2\n[15339,1917]\n");
}

/// Multi-token chunks: the tokens counted on the whole response are
/// attributed to the chunks that completed them, and the per-token gaps are
/// the chunk gaps spread over those tokens.
#[test]
fn tokens_are_attributed_to_multi_token_chunks() {
    let config = MockConfig {
        tokens_per_chunk: 3,
        response_tokens: 24,
        inter_token: std::time::Duration::from_millis(30),
        ..MockConfig::default()
    };
    let server = mock_ollama::spawn_blocking(config).expect("mock");
    let ws = Workspace::new();
    let text = with_tokenizer(&server.url(), "repetitions = 2", "tiktoken:cl100k_base");
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    let counts = llmbench::store::RunDir::open(&run)
        .and_then(|dir| dir.read_tokens())
        .expect("tokens.jsonl");
    for mut record in records(&run) {
        let count = counts.iter().find(|c| c.matches(&record)).expect("counted");
        count.apply(&mut record);
        let per_chunk = &record.tokens.per_chunk;
        assert_eq!(per_chunk.len(), record.timing.chunk_offsets_ms.len());
        let sum: u64 = per_chunk.iter().map(|&k| u64::from(k)).sum();
        assert_eq!(
            Some(sum),
            record.tokens.local,
            "every counted token has a chunk"
        );
        assert!(per_chunk.iter().any(|&k| k >= 2), "{per_chunk:?}");
        let gaps = llmbench::record::request_metrics(&record).token_gaps_ms;
        let chunk_gaps = llmbench::record::request_metrics(&record).chunk_gaps_ms;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        assert!(!gaps.is_empty());
        assert!(
            mean(&gaps) < mean(&chunk_gaps) * 0.75,
            "token gaps {gaps:?} vs chunk gaps {chunk_gaps:?}"
        );
    }
    let summary = json(&run.join("summary.json"));
    let cell = &summary["cells"][0]["metrics"];
    let token_gap = cell["token_gap_ms"]["p50"].as_f64().expect("token_gap_ms");
    let chunk_gap = cell["chunk_gap_ms"]["p50"].as_f64().expect("chunk_gap_ms");
    assert!(token_gap < chunk_gap, "{token_gap} vs {chunk_gap}");
    assert_eq!(
        summary["models"][0]["tokens"]["attributed"], 4,
        "warmups included"
    );
    assert_eq!(
        summary["models"][0]["tokens"]["prompt_local_source"],
        "tiktoken:cl100k_base: prompt text as sent (no chat template)"
    );
}

/// `input_tokens`: a synthetic prompt fitted with the model's own tokenizer
/// to exactly that many tokens, the same text for the same prompt id.
#[test]
fn synthetic_prompts_have_the_asked_length_in_the_models_tokens() {
    let server = mock_ollama::spawn_blocking(MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    let text = with_tokenizer(&server.url(), "repetitions = 1", "tiktoken:cl100k_base").replace(
        "[report]",
        "[[prompts]]\nid = \"long-input\"\ninput_tokens = 300\n\n[report]",
    );
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let plan = json(&ws.run().join("plan.json"));
    let cell = plan["cells"]
        .as_array()
        .and_then(|cells| cells.iter().find(|c| c["prompt"] == "long-input"))
        .expect("synthetic cell");
    let sent = cell["text"].as_str().unwrap_or_default();
    let counted = tiktoken_rs::cl100k_base_singleton()
        .encode_with_special_tokens(sent)
        .len();
    assert_eq!(counted, 300, "{sent}");
    let records = records(&ws.run());
    assert!(records
        .iter()
        .any(|r| r.prompt == "long-input" && r.outcome.is_ok()));
}

/// A server without `/tokenize` named as the token source: asked until it
/// has failed a few times, then no more (each response had asked it).
#[test]
fn a_token_source_that_cannot_answer_is_asked_no_more() {
    let server = mock_ollama::spawn_blocking(MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    let text = with_tokenizer(&server.url(), "repetitions = 30\nwarmup = 0", "llamacpp");
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    let tokens = std::fs::read_to_string(run.join("tokens.jsonl")).expect("tokens.jsonl");
    let errors: Vec<String> = tokens
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|count| count["error"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(errors.len(), 60, "every response has its line");
    let not_asked = errors.iter().filter(|e| e.starts_with("not asked")).count();
    assert!(
        not_asked >= 60 - 8 - 3,
        "at most one round of requests in flight after 3 failures: {not_asked} of 60 not asked"
    );
    assert!(
        errors.iter().all(|e| !e.is_empty()),
        "none counted: {errors:?}"
    );
}

/// `compare` reads a run the way `report` does: with the after-run token
/// counts applied, so both give the same decode rate (they once disagreed,
/// 639.6 against 337.6 tokens/s, because compare used the server's counts).
#[test]
fn compare_and_report_give_the_same_decode_rate() {
    // Tokens spaced out, so that each response has a decode rate even on a
    // loaded machine (chunks read together would leave none).
    let config = MockConfig {
        inter_token: std::time::Duration::from_millis(2),
        ..MockConfig::default()
    };
    let server = mock_ollama::spawn_blocking(config).expect("mock");
    let ws = Workspace::new();
    let text = with_tokenizer(&server.url(), "repetitions = 3", "tiktoken:cl100k_base");
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    let summary = json(&run.join("summary.json"));
    let reported = &summary["cells"][0]["metrics"]["decode_tps"];
    let options = llmbench::compare::CompareOptions::default();
    let comparison = llmbench::compare::compare_runs(&run, &run, &options).expect("compare");
    let compared = comparison.cells[0]
        .metrics
        .iter()
        .find(|m| m.metric == "decode_tps")
        .and_then(|m| m.a.clone())
        .expect("decode_tps compared");
    for (name, value) in [("mean", compared.mean), ("p50", compared.p50)] {
        let want = reported[name].as_f64().unwrap_or(f64::NAN);
        assert!(
            (value - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{name}: compare says {value}, report says {want}"
        );
    }
}
