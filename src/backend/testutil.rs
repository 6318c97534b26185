//! Test helpers for the backend module: run a decoder over a body cut in every
//! possible way and check the events never change; shared request fixtures;
//! and a tiny HTTP/1.1 server on 127.0.0.1:0 that answers canned replies by
//! method and path and records what it was sent.

use super::event::{Decoder, Event, ProtocolError};
use crate::experiment::{BackendConfig, BackendKind, RequestSettings};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Feeds `pieces` in order, then finishes.
pub(crate) fn decode_pieces(
    mut decoder: Box<dyn Decoder>,
    pieces: &[&[u8]],
) -> Result<Vec<Event>, ProtocolError> {
    let mut out = Vec::new();
    for piece in pieces {
        decoder.feed(piece, &mut out)?;
    }
    decoder.finish(&mut out)?;
    Ok(out)
}

/// Decodes `body` whole, one byte at a time and split in two at every
/// offset (including inside multi-byte characters); all must agree.
pub(crate) fn decode_all(make: fn() -> Box<dyn Decoder>, body: &[u8]) -> Vec<Event> {
    let whole = decode_pieces(make(), &[body]).expect("whole body decodes");
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(
        decode_pieces(make(), &bytes).unwrap(),
        whole,
        "byte at a time"
    );
    for cut in 0..=body.len() {
        let pieces = [&body[..cut], &body[cut..]];
        assert_eq!(
            decode_pieces(make(), &pieces).unwrap(),
            whole,
            "split at {cut}"
        );
    }
    whole
}

/// Settings with every field set, and one pass-through option.
pub(crate) fn request_fixture() -> (RequestSettings, Map<String, Value>) {
    let settings = RequestSettings {
        max_tokens: Some(64),
        temperature: Some(0.0),
        top_p: Some(0.9),
        top_k: Some(40),
        seed: Some(1),
        stop: Some(vec!["\n\n".into()]),
        think: Some(false),
        keep_alive: Some("30m".into()),
    };
    let mut options = Map::new();
    options.insert("num_ctx".into(), json!(4096));
    (settings, options)
}

pub(crate) fn config(kind: BackendKind, url: &str) -> BackendConfig {
    BackendConfig {
        name: "default".into(),
        kind,
        url: url.into(),
        timeout: Duration::from_secs(60),
        api_key_env: None,
    }
}

pub(crate) fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A canned reply.
pub(crate) struct Route {
    method: &'static str,
    path: &'static str,
    status: u16,
    body: String,
}

pub(crate) fn route(
    method: &'static str,
    path: &'static str,
    status: u16,
    body: impl Into<String>,
) -> Route {
    Route {
        method,
        path,
        status,
        body: body.into(),
    }
}

/// One request the server received.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub method: String,
    pub path: String,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

pub(crate) struct TestServer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl TestServer {
    pub(crate) fn paths(&self) -> Vec<String> {
        let requests = self.requests.lock().unwrap();
        requests
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

/// Starts a server that answers each request by its method and path (404
/// `404 page not found` otherwise), one request per connection.
pub(crate) async fn serve(routes: Vec<Route>) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let routes = Arc::new(routes);
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(answer(socket, routes.clone(), log.clone()));
        }
    });
    TestServer { url, requests }
}

/// A port nothing listens on (bound, then released).
pub(crate) async fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

async fn answer(mut socket: TcpStream, routes: Arc<Vec<Route>>, log: Arc<Mutex<Vec<Recorded>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_string();
    let path = request_line.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let reply = routes.iter().find(|r| r.method == method && r.path == path);
    let (status, body_out) = match reply {
        Some(r) => (r.status, r.body.as_str()),
        None => (404, "404 page not found"),
    };
    log.lock().unwrap().push(Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    });
    let content_type = if body_out.starts_with('{') || body_out.starts_with('[') {
        "application/json; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body_out}",
        body_out.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}
