//! A kept-alive connection that the server closes while it is idle (as
//! llama.cpp's HTTP library does after a number of requests) must not turn
//! into a failed request: the executor resends once, with a fresh t0.

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
