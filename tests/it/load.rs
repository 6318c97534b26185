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
    let mut late = 0;
    for record in records(&run) {
        assert!(record.outcome.is_ok(), "{:?}", record.outcome);
        let lag = record
            .timing
            .dispatch_lag_ms
            .expect("open-loop records carry their dispatch lag");
        assert!((0.0..50.0).contains(&lag), "lag {lag} ms");
        late += u64::from(lag > 1.0);
    }
    let cell = &json(&run.join("summary.json"))["cells"][0];
    assert_eq!(cell["validity"]["late_dispatches"].as_u64(), Some(late));
    assert_eq!(cell["validity"]["dropped"].as_u64(), Some(0));
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
    let run = ws.run();
    let records = records(&run);
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
    let cell = &json(&run.join("summary.json"))["cells"][0];
    assert_eq!(cell["validity"]["dropped"].as_u64(), Some(dropped as u64));
    let report = std::fs::read_to_string(run.join("report.md")).expect("report.md");
    assert!(report.contains("## Measurement validity"), "{report}");
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

/// `mix_prompts`: one cell per load level whose requests cycle through every
/// prompt in a seeded order; the same seed gives the same order.
#[test]
fn mixed_prompts_cycle_in_a_seeded_order_within_one_cell() {
    let server = mock_ollama::spawn_blocking(MockConfig::default()).expect("mock");
    let text = ollama_experiment(
        &server.url(),
        "qwen3:0.6b",
        "repetitions = 8\nconcurrency = 2\nmix_prompts = true\nmix_seed = 11",
    )
    .replace(
        "[report]",
        "[[prompts]]\nid = \"third\"\ntext = \"Name a colour.\"\nmax_tokens = 4\n\n[report]",
    );
    let run_with = |set: &[&str]| {
        let ws = Workspace::new();
        let file = ws.write("e.toml", &text);
        assert_eq!(ws.exec(&file, set), 0);
        let mut records = records(&ws.run());
        records.retain(|r| !r.warmup);
        records.sort_by_key(|r| r.repetition);
        let summary = json(&ws.run().join("summary.json"));
        (records, summary)
    };
    let (records, summary) = run_with(&[]);
    let first: Vec<String> = records.iter().map(|r| r.prompt.clone()).collect();
    assert_eq!(first.len(), 8);
    // Two full passes of three prompts, then two of the third pass.
    for pass in first[..6].chunks(3) {
        let mut pass = pass.to_vec();
        pass.sort();
        assert_eq!(pass, ["count", "hello", "third"], "{first:?}");
    }
    assert_eq!(
        summary["cells"].as_array().map(Vec::len),
        Some(1),
        "one mixed cell"
    );
    assert_eq!(summary["cells"][0]["counts"]["ok"], 8);
    // The third prompt's own max_tokens was sent with it.
    let third = records
        .iter()
        .find(|r| r.prompt == "third")
        .expect("third sent");
    assert!(third.tokens.output.unwrap_or(99) <= 4, "{:?}", third.tokens);

    let prompts = |records: Vec<llmbench::record::Record>| {
        records.into_iter().map(|r| r.prompt).collect::<Vec<_>>()
    };
    assert_eq!(
        prompts(run_with(&[]).0),
        first,
        "the same seed gives the same order"
    );
    assert_ne!(
        prompts(run_with(&["--set", "run.mix_seed=12"]).0),
        first,
        "another seed, another order"
    );
}

/// `warmup = "300ms"`: the cell runs unmeasured under its own load for that
/// long first; warmups are stored, never in the statistics.
#[test]
fn a_warmup_duration_runs_the_cells_load_before_measuring() {
    let server = mock_ollama::spawn_blocking(MockConfig {
        inter_token: Duration::from_millis(5),
        ..MockConfig::default()
    })
    .expect("mock");
    let ws = Workspace::new();
    let text = one_prompt(&ollama_experiment(
        &server.url(),
        "qwen3:0.6b",
        "repetitions = 4\nconcurrency = 3\nwarmup = \"300ms\"",
    ));
    let file = ws.write("e.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let records = records(&ws.run());
    let warmups: Vec<_> = records.iter().filter(|r| r.warmup).collect();
    // Each request takes ~16 × 5 ms = 80 ms; three in flight for 300 ms.
    assert!(warmups.len() >= 6, "{} warmups", warmups.len());
    let last_warmup_start = warmups.iter().map(|r| r.run_offset_ms).fold(0.0, f64::max);
    assert!(
        last_warmup_start < 400.0,
        "no warmup starts after the window"
    );
    let measured: Vec<_> = records.iter().filter(|r| !r.warmup).collect();
    assert_eq!(measured.len(), 4);
    assert!(measured.iter().all(|r| r.run_offset_ms >= 290.0));
    let summary = json(&ws.run().join("summary.json"));
    assert_eq!(
        summary["cells"][0]["counts"]["ok"], 4,
        "warmups are left out"
    );
}
