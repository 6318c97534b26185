use super::*;
use crate::backend::ServerStats;
use crate::record::{Outcome, Record, Response, Timing, TokenCounts};
use std::io::Write;

fn record(cell: &str, repetition: u32) -> Record {
    Record {
        cell: cell.into(),
        model: "m".into(),
        prompt: "p".into(),
        repetition,
        warmup: false,
        cold: false,
        started_at: "2026-01-01T00:00:00Z".into(),
        run_offset_ms: 1.5,
        outcome: Outcome::Ok,
        http_status: Some(200),
        retries: 0,
        timing: Timing {
            ttft_ms: Some(3.0),
            events: 2,
            ..Default::default()
        },
        finish_reason: None,
        server: ServerStats::default(),
        output_chars: 4,
        reasoning_chars: 0,
        prompt_nonce: None,
        retry: None,
        tokens: TokenCounts::default(),
    }
}

#[test]
fn records_round_trip_and_responses_go_per_cell() {
    let root = tempfile::tempdir().unwrap();
    let run = RunDir::create(root.path(), "exp", "20260101T000000Z", "abc123", true).unwrap();
    let mut writer = RecordWriter::open(&run, true).unwrap();
    let response = Response {
        content: "héllo".into(),
        reasoning: String::new(),
    };
    writer.write(&record("c1", 0), &response).unwrap();
    writer.write(&record("c1", 1), &response).unwrap();
    writer.write(&record("c2", 0), &response).unwrap();

    let (records, unreadable) = run.read_records().unwrap();
    assert_eq!(unreadable, 0);
    assert_eq!(
        records,
        vec![record("c1", 0), record("c1", 1), record("c2", 0)]
    );
    let c1 = std::fs::read_to_string(run.file("responses/c1.jsonl")).unwrap();
    assert_eq!(c1.lines().count(), 2);
    assert!(c1.contains("héllo"));
}

#[test]
fn added_records_are_written_at_flush_and_at_drop() {
    let root = tempfile::tempdir().unwrap();
    let run = RunDir::create(root.path(), "exp", "s", "id", true).unwrap();
    let mut writer = RecordWriter::open(&run, true).unwrap();
    let response = Response {
        content: "a".into(),
        reasoning: String::new(),
    };
    writer.add(&record("c1", 0), &response).unwrap();
    writer.add(&record("c1", 1), &response).unwrap();
    let lines = |name: &str| {
        std::fs::read_to_string(run.file(name))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    assert_eq!(lines(REQUESTS_FILE), 0, "buffered until flush");
    writer.flush().unwrap();
    assert_eq!(lines(REQUESTS_FILE), 2, "both in one write");
    assert_eq!(lines("responses/c1.jsonl"), 2);
    writer.add(&record("c2", 0), &response).unwrap();
    drop(writer);
    assert_eq!(lines(REQUESTS_FILE), 3, "a dropped writer loses nothing");
    assert_eq!(lines("responses/c2.jsonl"), 1);
}

#[test]
fn a_line_cut_short_is_skipped_not_fatal() {
    let root = tempfile::tempdir().unwrap();
    let run = RunDir::create(root.path(), "exp", "s", "id", false).unwrap();
    let mut writer = RecordWriter::open(&run, false).unwrap();
    writer
        .write(&record("c1", 0), &Response::default())
        .unwrap();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(run.file(REQUESTS_FILE))
        .unwrap();
    file.write_all(b"{\"cell\":\"c1\",\"mod").unwrap();
    let (records, unreadable) = run.read_records().unwrap();
    assert_eq!((records.len(), unreadable), (1, 1));
}

#[test]
fn open_rejects_a_directory_without_manifest() {
    let root = tempfile::tempdir().unwrap();
    let error = RunDir::open(root.path()).unwrap_err();
    assert!(error.to_string().contains("no manifest.json"), "{error}");
}

#[test]
fn environment_is_read_from_the_machine() {
    let env = collect_environment();
    assert!(env.cores >= 1);
    assert!(!env.arch.is_empty());
}

/// A manifest as llmbench wrote it when its typed parts were free JSON: it
/// reads into the typed manifest and writes back the same JSON.
#[test]
fn a_manifest_written_before_the_types_reads_and_writes_back_unchanged() {
    let stored = serde_json::json!({
        "llmbench_version": "0.1.0", "run_id": "a1b2c3", "experiment": "e",
        "description": null, "experiment_path": "e.toml", "experiment_sha256": "00",
        "overrides": [], "git": null,
        "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:01:00Z",
        "status": "interrupted",
        "environment": { "host": "h", "os": "linux", "arch": "x86_64", "cpu": null,
                         "cores": 2, "memory_bytes": null },
        "servers": { "default": { "kind": "openai", "url": "http://x", "version": null, "models": [] } },
        "managed_server": {
            "command": ["srv", "--parallel", "2"], "env": {}, "exited_during_run": "exit 1",
            "log": "server-1.log", "pid": 42, "point": 0,
            "points": [
                { "command": ["srv"], "env": {}, "log": "server-1.log", "pid": 42, "point": 0,
                  "ready_after_ms": 12.5, "values": { "parallel": "2" } },
                { "error": "[server] (parallel=4): did not start", "point": 1 }
            ],
            "ready_after_ms": 12.5, "values": { "parallel": "2" }
        },
        "loaded_models": { "m": { "size_vram": 1 } },
        "monitor": {
            "error": null, "gpu": { "status": "unavailable", "reason": "no NVML" },
            "interval_ms": 500.0, "missed_ticks": 0, "sampler_cpu_pct": 0.5,
            "samples": 10, "server_pid": 42
        },
        "tokenizers": { "m": { "counter": "heuristic", "note": null,
                               "used_for_output_tokens": "server (local count as a cross-check)" } }
    });
    let manifest: RunManifest = serde_json::from_value(stored.clone()).unwrap();
    assert_eq!(manifest.status, RunStatus::Interrupted);
    let facts = manifest.managed_server.as_ref().unwrap();
    assert_eq!(facts.points.len(), 2);
    assert!(matches!(
        &facts.points[1],
        ServerPointFacts::Failed(crate::store::FailedPoint { point: 1, .. })
    ));
    assert_eq!(serde_json::to_value(&manifest).unwrap(), stored);
}

#[test]
fn every_status_word_reads_and_an_unknown_one_is_an_error() {
    for (word, status) in [
        ("running", RunStatus::Running),
        ("complete", RunStatus::Complete),
        ("interrupted", RunStatus::Interrupted),
        ("failed", RunStatus::Failed),
    ] {
        let read: RunStatus = serde_json::from_value(serde_json::json!(word)).unwrap();
        assert_eq!((read, read.to_string()), (status, word.to_string()));
    }
    assert!(serde_json::from_value::<RunStatus>(serde_json::json!("done")).is_err());
}

/// `StoredRun` hands out the records with tokens.jsonl's counts applied.
#[test]
fn a_stored_run_applies_the_after_run_token_counts() {
    let root = tempfile::tempdir().unwrap();
    let run = RunDir::create(root.path(), "exp", "s", "id", false).unwrap();
    run.write_json(MANIFEST_FILE, &crate::report::fixture::manifest())
        .unwrap();
    run.write_json(PLAN_FILE, &crate::report::fixture::plan())
        .unwrap();
    let mut writer = RecordWriter::open(&run, false).unwrap();
    let response = Response {
        content: "a b c".into(),
        reasoning: String::new(),
    };
    writer.write(&record("c1", 0), &response).unwrap();
    writer.write(&record("c1", 1), &response).unwrap();
    let count = crate::record::TokenRecord {
        cell: "c1".into(),
        repetition: 1,
        warmup: false,
        cold: false,
        source: "tiktoken:cl100k_base".into(),
        estimate: false,
        used: true,
        output: Some(7),
        error: None,
        per_chunk: Vec::new(),
        prompt: None,
        prompt_counted: None,
    };
    run.write_tokens(&[count]).unwrap();

    let stored = StoredRun::open(&run.path).unwrap();
    let (records, unreadable) = stored.records().unwrap();
    assert_eq!(unreadable, 0);
    assert_eq!(records[0].tokens.local, None);
    assert_eq!(records[1].tokens.local, Some(7));
    assert_eq!(stored.manifest.run_id, "a1b2c3");
    assert!(stored.checks().unwrap().is_empty());
    assert!(stored.samples().is_empty());
    assert!(stored.summary().is_none());
}
