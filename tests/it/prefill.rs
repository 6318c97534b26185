//! Prefill honesty against the mock in its prompt-cache mode (Ollama
//! v0.33's behaviour: the whole prompt counted, only the uncached part
//! timed, nothing said about the cache): without a nonce the report says
//! prompt_tps may be a cache artefact; with `[run] prompt_nonce = true`
//! every prompt is new and the figure is the real prefill speed.

use crate::support::{json, ollama_experiment, records, Workspace};
use mock_ollama::MockConfig;
use std::time::Duration;

fn run(nonce: bool) -> (Vec<llmbench::record::Record>, serde_json::Value, String) {
    let server = mock_ollama::spawn_blocking(MockConfig {
        ttft: Duration::from_millis(100),
        prompt_cache: true,
        ..MockConfig::default()
    })
    .expect("mock server starts");
    let ws = Workspace::new();
    let settings = format!("repetitions = 3\nwarmup = 1\nprompt_nonce = {nonce}");
    let file = ws.write(
        "e.toml",
        &ollama_experiment(&server.url(), "qwen3:0.6b", &settings),
    );
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    let report = std::fs::read_to_string(run.join("report.md")).expect("report.md");
    (records(&run), json(&run.join("summary.json")), report)
}

#[test]
fn without_a_nonce_a_cache_inflated_prefill_speed_is_flagged() {
    let (records, summary, report) = run(false);
    let repeated = records.iter().filter(|r| !r.warmup);
    for record in repeated {
        let ns = record.server.prompt_eval_duration_ns.unwrap_or(0);
        assert!(
            ns < 50_000_000,
            "the mock served the repeated prompt from its cache: {ns} ns"
        );
    }
    let cell = &summary["cells"][0];
    assert_eq!(cell["validity"]["prefill_cache_unknown"], 3, "{cell}");
    assert!(
        report.contains("prompt_tps may be inflated by the prompt cache on 3 request(s)"),
        "{report}"
    );
}

#[test]
fn with_a_nonce_every_prompt_is_evaluated_whole() {
    let (records, summary, report) = run(true);
    let nonces: std::collections::BTreeSet<_> = records
        .iter()
        .map(|r| r.prompt_nonce.clone().expect("nonce recorded"))
        .collect();
    assert_eq!(
        nonces.len(),
        records.len(),
        "a nonce of its own per request"
    );
    for record in records.iter().filter(|r| !r.warmup) {
        let ns = record.server.prompt_eval_duration_ns.unwrap_or(0);
        assert!(ns >= 80_000_000, "the whole prompt evaluated: {ns} ns");
    }
    let cell = &summary["cells"][0];
    assert_eq!(cell["validity"]["prefill_cache_unknown"], 0, "{cell}");
    let tps = cell["metrics"]["prompt_tps"]["max"]
        .as_f64()
        .unwrap_or(f64::MAX);
    let prompt = cell["metrics"]["prompt_tokens"]["max"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(
        tps <= prompt / 0.08,
        "prompt_tps {tps} is the real prefill speed"
    );
    assert!(
        !report.contains("may be inflated by the prompt cache"),
        "{report}"
    );
}
