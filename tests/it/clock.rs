//! One clock per request: runs against a zero-delay mock (where a stamp
//! read on another clock shows at once) at concurrency 1 and 64 give
//! records whose stamps meet every invariant, and the report counts none.

use crate::support::{assert_timing_invariants, json, ollama_experiment, records, Workspace};
use mock_ollama::MockConfig;

fn run_at(concurrency: u32, repetitions: u32) {
    let server = mock_ollama::spawn_blocking(MockConfig {
        response_tokens: 256,
        ..MockConfig::default()
    })
    .expect("mock server starts");
    let ws = Workspace::new();
    let run = format!("repetitions = {repetitions}\nwarmup = 0\nconcurrency = {concurrency}");
    let text = ollama_experiment(&server.url(), "qwen3:0.6b", &run)
        .replace("max_tokens = 16", "max_tokens = 256")
        .replace("save_responses = true", "save_responses = false");
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    let records = records(&run);
    assert_eq!(records.len(), 2 * repetitions as usize);
    assert_timing_invariants(&records);
    for record in &records {
        let t = &record.timing;
        assert_eq!(t.chunk_offsets_ms.len(), 256, "every chunk stamped");
        assert!(t.ttfb_ms.is_some() && t.ttft_ms.is_some() && t.e2e_ms.is_some());
    }
    let summary = json(&run.join("summary.json"));
    for cell in summary["cells"].as_array().expect("cells") {
        assert_eq!(cell["validity"]["timing_violations"], 0, "{cell}");
    }
}

#[test]
fn every_stamp_of_every_request_is_on_one_clock_at_concurrency_1() {
    run_at(1, 50);
}

#[test]
fn every_stamp_of_every_request_is_on_one_clock_at_concurrency_64() {
    run_at(64, 400);
}
