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
