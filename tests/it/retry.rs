//! A kept-alive connection that the server closes while it is idle (as
//! llama.cpp's HTTP library does after a number of requests) must not turn
//! into a failed request: the executor resends once, with a fresh t0.
//! And `[run] retry`, the opt-in policy: statuses sent again after the
//! server's Retry-After or a doubling backoff, each attempt recorded
//! (driven by the byte-level fault server).

use llmbench::backend::Backend;
use llmbench::exec::{measure, Job, RequestContext};
use llmbench::experiment::{BackendConfig, BackendKind, OllamaApi, RequestSettings};
use llmbench::plan::Cell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

const BODY: &str = concat!(
    "{\"model\":\"m\",\"created_at\":\"2026-08-21T10:15:02.5Z\",\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"done\":false}\n",
    "{\"model\":\"m\",\"created_at\":\"2026-08-21T10:15:02.6Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"eval_count\":1,\"eval_duration\":1000}\n",
);

/// Reads one HTTP request (headers and a Content-Length body); false at EOF.
fn read_request(reader: &mut BufReader<TcpStream>) -> bool {
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return false;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).is_ok()
}

fn answer(stream: &mut TcpStream) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n",
        BODY.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(BODY.as_bytes());
}

/// Answers the first request, then closes that connection as soon as the
/// second request arrives on it; answers every request on later connections.
fn flaky_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for (index, stream) in listener.incoming().flatten().enumerate() {
            let mut writer = stream.try_clone().expect("clone");
            let mut reader = BufReader::new(stream);
            if read_request(&mut reader) {
                answer(&mut writer);
            }
            while read_request(&mut reader) {
                if index == 0 {
                    break; // drop the connection without a byte of response
                }
                answer(&mut writer);
            }
        }
    });
    url
}

fn cell() -> Cell {
    Cell {
        index: 0,
        id: "m.p.00000000".into(),
        model: "m".into(),
        label: "m".into(),
        backend: "default".into(),
        prompt: "p".into(),
        system: None,
        text: "hello".into(),
        settings: RequestSettings::default(),
        options: serde_json::Map::new(),
        load: llmbench::experiment::Load::Closed { concurrency: 1 },
        matrix: vec![],
        checks: vec![],
        duration_s: None,
        repetitions: 2,
        warmup: 0,
        warmup_s: None,
        variants: vec![],
        mix_seed: None,
        share: None,
    }
}

#[test]
fn a_connection_closed_while_idle_is_resent_once() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = flaky_server();
    let config = BackendConfig {
        name: "default".into(),
        kind: BackendKind::Ollama,
        url,
        timeout: Duration::from_secs(5),
        api_key_env: None,
    };
    let backend = Backend::new(&config, OllamaApi::Chat).expect("backend");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (_cancel_tx, mut cancel) = tokio::sync::watch::channel(false);
    let context = RequestContext {
        prompt_nonce: false,
        retry: None,
        client: reqwest::Client::new(),
        run_start: Instant::now(),
    };
    let cell = cell();
    let records: Vec<_> = (0..2)
        .map(|repetition| {
            let job = Job {
                cell: 0,
                repetition,
                warmup: false,
                cold: false,
                scheduled: None,
            };
            runtime
                .block_on(measure(
                    &context,
                    &backend,
                    config.timeout,
                    &cell,
                    job,
                    &mut cancel,
                ))
                .0
        })
        .collect();
    assert!(records.iter().all(|r| r.outcome.is_ok()), "{records:?}");
    assert_eq!(records[0].retries, 0);
    assert_eq!(
        records[1].retries, 1,
        "the second request met the closed connection"
    );
    assert_eq!(records[1].tokens.output, Some(1));
}

/// `[run] retry`: a 429 with Retry-After is sent again after the wait the
/// server asked for; the record is of the final attempt and lists the
/// earlier one, and the cell, summary and warnings count the retry.
#[test]
fn a_retried_429_waits_for_retry_after_and_is_recorded() {
    use crate::fault_server::{experiment, Api, FaultServer, Reply};
    use crate::support::{json, records, Workspace};
    for api in [Api::OpenAi, Api::Ollama] {
        let server = FaultServer::start(api, |n| match n {
            0 => Reply::Status {
                status: 429,
                headers: vec![("Retry-After".into(), "1".into())],
                body: r#"{"error":"too many requests"}"#.into(),
            },
            _ => Reply::ok(),
        });
        let ws = Workspace::new();
        let run = "repetitions = 2\nretry = { max = 2, on = [429, 503], max_wait = \"5s\" }";
        let file = ws.write("e.toml", &experiment(api, &server.url(), run, ""));
        assert_eq!(ws.exec(&file, &[]), 0, "{api:?}");
        assert_eq!(server.generations(), 3, "{api:?}: two requests, one retry");
        let records = records(&ws.run());
        assert!(
            records.iter().all(|r| r.outcome.is_ok()),
            "{api:?}: {records:?}"
        );
        let retried: Vec<_> = records.iter().filter_map(|r| r.retry.as_ref()).collect();
        assert_eq!(retried.len(), 1, "{api:?}");
        let retry = retried[0];
        assert_eq!(retry.attempts, 2);
        assert_eq!(retry.failed.len(), 1);
        assert_eq!(retry.failed[0].http_status, 429);
        assert_eq!(retry.failed[0].retry_after_s, Some(1));
        assert_eq!(retry.failed[0].wait_ms, 1000.0);
        let record = records.iter().find(|r| r.retry.is_some()).expect("retried");
        let e2e = record.timing.e2e_ms.expect("e2e of the final attempt");
        let total = retry.total_ms.expect("total");
        assert!(
            total >= 1000.0 + e2e,
            "{api:?}: total {total} ms, e2e {e2e} ms"
        );
        assert!(record.run_offset_ms >= retry.first_offset_ms + 1000.0);
        assert_eq!(record.http_status, Some(200), "the final attempt's status");
        let summary = json(&ws.run().join("summary.json"));
        let validity = &summary["cells"][0]["validity"];
        assert_eq!(validity["retried"], 1, "{api:?}: {validity}");
        assert_eq!(validity["retries"], 1);
        assert_eq!(summary["cells"][0]["counts"]["ok"], 2);
        let warnings = summary["warnings"].to_string();
        assert!(
            warnings.contains("sent again under [run] retry"),
            "{warnings}"
        );
    }
}

/// A status the policy lists, answered every time, is retried `max` times
/// with a doubling backoff (no Retry-After), then recorded as failed with
/// every attempt; without the policy the same server gets one attempt.
#[test]
fn retries_stop_after_max_with_a_doubling_backoff() {
    use crate::fault_server::{experiment, Api, FaultServer, Reply};
    use crate::support::{records, Workspace};
    let unavailable = |_| Reply::Status {
        status: 503,
        headers: vec![],
        body: r#"{"error":"loading"}"#.into(),
    };
    for (run, sent) in [
        ("retry = { max = 2, on = [503], backoff = \"50ms\" }", 3),
        ("", 1),
    ] {
        let server = FaultServer::start(Api::OpenAi, unavailable);
        let ws = Workspace::new();
        let text = experiment(
            Api::OpenAi,
            &server.url(),
            &format!("repetitions = 1\n{run}"),
            "",
        );
        let file = ws.write("e.toml", &text);
        ws.exec(&file, &[]);
        assert_eq!(server.generations(), sent, "{run}");
        let records = records(&ws.run());
        assert_eq!(records.len(), 1);
        assert!(!records[0].outcome.is_ok());
        assert_eq!(records[0].http_status, Some(503));
        match &records[0].retry {
            Some(retry) => {
                let waits: Vec<f64> = retry.failed.iter().map(|f| f.wait_ms).collect();
                assert_eq!((retry.attempts, waits), (3, vec![50.0, 100.0]));
            }
            None => assert_eq!(sent, 1, "only the run without a policy sends once"),
        }
    }
}
