//! Load generation against the mock server: concurrency sweeps, open-loop
//! arrival rates (schedule kept, lag measured, drops counted), `[matrix]`
//! axes and goodput against `[slo]`.

use crate::support::{json, ollama_experiment, records, Workspace};
use llmbench::record::{ErrorKind, Outcome};
use mock_ollama::MockConfig;
use std::time::Duration;

fn one_prompt(text: &str) -> String {
    // Keep only the first prompt so each load level is one cell.
    let cut = text
        .find("[[prompts]]\nid = \"count\"")
        .unwrap_or(text.len());
    let report = text.find("[report]").unwrap_or(text.len());
    format!("{}{}", &text[..cut], &text[report..])
}

#[test]
fn a_concurrency_sweep_gives_one_cell_per_level_with_the_achieved_concurrency() {
    let config = MockConfig {
        ttft: Duration::from_millis(50),
        inter_token: Duration::from_millis(10),
        ..MockConfig::default()
    };
    let server = mock_ollama::spawn_blocking(config).expect("mock");
    let ws = Workspace::new();
    let text = one_prompt(&ollama_experiment(
        &server.url(),
        "qwen3:0.6b",
        "repetitions = 16\nconcurrency = [1, 4]",
    ));
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let summary = json(&ws.run().join("summary.json"));
    let cells = summary["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 2);
    for (cell, level) in cells.iter().zip([1.0, 4.0]) {
        assert_eq!(cell["load"]["concurrency"].as_f64(), Some(level));
        assert_eq!(cell["concurrency"].as_f64(), Some(level), "for charts");
        let achieved = cell["load"]["achieved_concurrency"].as_f64().unwrap_or(0.0);
        assert!(
            achieved > level * 0.7 && achieved < level + 0.3,
            "level {level}: achieved {achieved}"
        );
        assert_eq!(cell["counts"]["ok"], 16);
    }
    let slow = cells[0]["request_rate"].as_f64().unwrap_or(0.0);
    let fast = cells[1]["request_rate"].as_f64().unwrap_or(0.0);
    assert!(
        fast > 2.5 * slow,
        "4 in flight serve more requests per second: {slow} vs {fast}"
    );
}

#[test]
fn open_loop_keeps_the_schedule_and_measures_dispatch_lag() {
    let server = mock_ollama::spawn_blocking(MockConfig {
        inter_token: Duration::from_millis(2),
        ..MockConfig::default()
    })
    .expect("mock");
    let ws = Workspace::new();
    let run = "repetitions = 30\nrate = 25.0\narrivals = \"constant\"";
    let file = ws.write(
        "e.toml",
        &one_prompt(&ollama_experiment(&server.url(), "qwen3:0.6b", run)),
    );
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    for record in records(&run) {
        assert!(record.outcome.is_ok(), "{:?}", record.outcome);
        let lag = record
            .timing
            .dispatch_lag_ms
            .expect("open-loop records carry their dispatch lag");
        assert!((0.0..50.0).contains(&lag), "lag {lag} ms");
    }
    let cell = &json(&run.join("summary.json"))["cells"][0];
    assert_eq!(cell["load"]["rate"].as_f64(), Some(25.0));
    let achieved = cell["load"]["achieved_rate"].as_f64().unwrap_or(0.0);
    assert!(
        (18.0..30.0).contains(&achieved),
        "achieved rate {achieved}/s for 25/s asked"
    );
    assert!(cell["validity"]["dispatch_lag_ms"]["p99"]
        .as_f64()
        .is_some());
}

#[test]
fn open_loop_arrivals_beyond_the_in_flight_cap_are_dropped_and_counted() {
    let server = mock_ollama::spawn_blocking(MockConfig {
        ttft: Duration::from_millis(400),
        ..MockConfig::default()
    })
    .expect("mock");
    let ws = Workspace::new();
    let run = "repetitions = 10\nrate = 50.0\narrivals = \"constant\"\nmax_in_flight = 2";
    let file = ws.write(
        "e.toml",
        &one_prompt(&ollama_experiment(&server.url(), "qwen3:0.6b", run)),
    );
    assert_eq!(ws.exec(&file, &[]), 0);
    let records = records(&ws.run());
    assert_eq!(records.len(), 10, "dropped arrivals are recorded too");
    let dropped = records
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                Outcome::Error {
                    kind: ErrorKind::Dropped,
                    ..
                }
            )
        })
        .count();
    assert!(
        dropped >= 6,
        "10 arrivals in 200 ms against 400 ms requests and a cap of 2: {dropped} dropped"
    );
    assert_eq!(
        records.iter().filter(|r| r.outcome.is_ok()).count(),
        10 - dropped
    );
}

#[test]
fn matrix_axes_multiply_cells_and_set_the_request() {
    let server = mock_ollama::spawn_blocking(MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    let text = one_prompt(&ollama_experiment(
        &server.url(),
        "qwen3:0.6b",
        "repetitions = 2",
    ))
    .replace(
        "[report]",
        "[matrix]\nmax_tokens = [4, 8]\ntemperature = [0.0, 0.5]\n\n[report]",
    );
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let summary = json(&ws.run().join("summary.json"));
    let cells = summary["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 4);
    let points: Vec<(u64, f64, f64)> = cells
        .iter()
        .map(|c| {
            (
                c["matrix"]["max_tokens"].as_u64().unwrap_or(0),
                c["matrix"]["temperature"].as_f64().unwrap_or(-1.0),
                c["metrics"]["output_tokens"]["mean"]
                    .as_f64()
                    .unwrap_or(0.0),
            )
        })
        .collect();
    assert_eq!(
        points,
        [(4, 0.0, 4.0), (4, 0.5, 4.0), (8, 0.0, 8.0), (8, 0.5, 8.0)]
    );
}

#[test]
fn goodput_counts_requests_meeting_the_slo() {
    let server = mock_ollama::spawn_blocking(MockConfig {
        ttft: Duration::from_millis(120),
        ..MockConfig::default()
    })
    .expect("mock");
    let ws = Workspace::new();
    for (name, ttft, expected) in [("strict", "50ms", 0.0), ("loose", "2s", 1.0)] {
        let text = one_prompt(&ollama_experiment(
            &server.url(),
            "qwen3:0.6b",
            "repetitions = 3",
        ))
        .replace("name = \"mocked\"", &format!("name = \"{name}\""))
        .replace("[report]", &format!("[slo]\nttft = \"{ttft}\"\n\n[report]"));
        let file = ws.write(&format!("{name}.toml"), &text);
        assert_eq!(ws.exec(&file, &[]), 0);
        let run = ws
            .runs()
            .into_iter()
            .find(|r| r.to_string_lossy().contains(name))
            .expect("run");
        let load = &json(&run.join("summary.json"))["cells"][0]["load"];
        assert_eq!(
            load["slo_attainment"].as_f64(),
            Some(expected),
            "{name}: {load}"
        );
        assert!(load["goodput_rps"].is_number());
    }
}

#[test]
fn a_duration_runs_each_cell_for_that_long_instead_of_a_count() {
    let server = mock_ollama::spawn_blocking(MockConfig {
        inter_token: Duration::from_millis(10),
        ..MockConfig::default()
    })
    .expect("mock");
    let ws = Workspace::new();
    let run = "duration = \"1s\"\nconcurrency = 2";
    let file = ws.write(
        "closed.toml",
        &one_prompt(&ollama_experiment(&server.url(), "qwen3:0.6b", run)),
    );
    assert_eq!(ws.exec(&file, &[]), 0);
    let closed = records(&ws.run());
    assert!(
        (4..40).contains(&closed.len()),
        "{} requests in 1 s at concurrency 2 of ~170 ms requests",
        closed.len()
    );
    assert!(closed.iter().all(|r| r.outcome.is_ok()));
    let last_start = closed.iter().map(|r| r.run_offset_ms).fold(0.0, f64::max);
    let first_start = closed
        .iter()
        .map(|r| r.run_offset_ms)
        .fold(f64::MAX, f64::min);
    assert!(
        last_start - first_start < 1100.0,
        "no request starts after the duration"
    );

    let open = "duration = \"500ms\"\nrate = 20.0\narrivals = \"constant\"";
    let text = one_prompt(&ollama_experiment(&server.url(), "qwen3:0.6b", open))
        .replace("name = \"mocked\"", "name = \"open\"");
    let file = ws.write("open.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let open_run = ws
        .runs()
        .into_iter()
        .find(|r| r.to_string_lossy().contains("/open/"))
        .expect("open run");
    assert_eq!(records(&open_run).len(), 10, "rate × duration arrivals");
}

#[test]
fn a_jsonl_dataset_supplies_prompts() {
    let server = mock_ollama::spawn_blocking(MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    ws.write(
        "chat.jsonl",
        "{\"text\": \"First question\"}\n{\"conversations\": [{\"from\": \"human\", \"value\": \"Second question\"}, {\"from\": \"gpt\", \"value\": \"An answer\"}]}\n",
    );
    let text = one_prompt(&ollama_experiment(&server.url(), "qwen3:0.6b", "")).replace(
        "[[models]]",
        "prompt_files = [\"chat.jsonl\"]\n\n[[models]]",
    );
    // prompt_files is a top-level key: it must come before the first table.
    let text = text
        .replacen("prompt_files = [\"chat.jsonl\"]\n\n", "", 1)
        .replacen(
            "[backend]",
            "prompt_files = [\"chat.jsonl\"]\n\n[backend]",
            1,
        );
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let summary = json(&ws.run().join("summary.json"));
    let prompts: Vec<&str> = summary["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .filter_map(|c| c["prompt"].as_str())
        .collect();
    assert_eq!(prompts, ["hello", "chat-1", "chat-2"]);
    let sent: Vec<String> = server
        .requests()
        .iter()
        .filter_map(|r| r["messages"][0]["content"].as_str().map(String::from))
        .collect();
    assert!(sent.contains(&"Second question".to_string()), "{sent:?}");
}
