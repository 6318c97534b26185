//! A minimal raw HTTP/1.1 client for the mock's tests: it writes a hand-made request and
//! decodes the reply itself (chunked or not), keeping every transfer-encoding chunk and its
//! arrival time, so tests can check framing and timing without a client library.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A decoded reply.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Body chunks as framed by the server, with arrival times.
    pub chunks: Vec<(Instant, Vec<u8>)>,
    /// When the request was written.
    pub sent: Instant,
    /// The body ended properly (terminating chunk, full length, or EOF without length).
    pub complete: bool,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body(&self) -> Vec<u8> {
        self.chunks.iter().flat_map(|(_, c)| c.clone()).collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body()).expect("body is UTF-8")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body()).expect("body is JSON")
    }

    /// NDJSON records.
    pub fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("line is JSON"))
            .collect()
    }

    /// SSE `data:` payloads, in order (`[DONE]` kept as a string).
    pub fn events(&self) -> Vec<String> {
        let text = self.text();
        assert!(
            text.is_empty() || text.ends_with("\n\n"),
            "SSE body ends mid-event: {text:?}"
        );
        text.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| e.strip_prefix("data: ").expect("data: event").to_string())
            .collect()
    }

    /// Time from sending to the first body chunk.
    pub fn first_chunk_after(&self) -> Duration {
        self.chunks[0].0 - self.sent
    }
}

/// An open exchange whose body is read chunk by chunk.
pub struct Exchange {
    reader: BufReader<TcpStream>,
    pub reply: Reply,
    chunked: bool,
    remaining: Option<usize>,
    head_only: bool,
}

pub async fn open(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Exchange {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let sent = Instant::now();
    tcp.write_all(req.as_bytes()).await.expect("write request");
    let mut reader = BufReader::new(tcp);
    let mut line = String::new();
    // A connection closed before any reply reads as status 0 with an incomplete body.
    let _ = reader.read_line(&mut line).await;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut headers = Vec::new();
    if status != 0 {
        loop {
            line.clear();
            reader.read_line(&mut line).await.expect("header line");
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').expect("header");
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut reply = Reply {
        status,
        headers,
        chunks: Vec::new(),
        sent,
        complete: false,
    };
    let chunked = reply
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let remaining = reply.header("content-length").and_then(|v| v.parse().ok());
    let head_only = method == "HEAD" || status == 0;
    if method == "HEAD" {
        reply.complete = true;
    }
    Exchange {
        reader,
        reply,
        chunked,
        remaining,
        head_only,
    }
}

impl Exchange {
    /// The next body chunk, or `None` at the end (or on a broken connection).
    pub async fn next_chunk(&mut self) -> Option<Vec<u8>> {
        if self.reply.complete {
            return None;
        }
        let data = if self.chunked {
            let mut size_line = String::new();
            if self.reader.read_line(&mut size_line).await.ok()? == 0 {
                return None;
            }
            let size = usize::from_str_radix(size_line.trim(), 16).ok()?;
            let mut data = vec![0; size + 2];
            self.reader.read_exact(&mut data).await.ok()?;
            data.truncate(size);
            if size == 0 {
                self.reply.complete = true;
                return None;
            }
            data
        } else if let Some(n) = self.remaining {
            let mut data = vec![0; n];
            self.reader.read_exact(&mut data).await.ok()?;
            self.reply.complete = true;
            data
        } else {
            let mut data = Vec::new();
            self.reader.read_to_end(&mut data).await.ok()?;
            self.reply.complete = true;
            data
        };
        self.reply.chunks.push((Instant::now(), data.clone()));
        Some(data)
    }

    /// Reads the rest of the body.
    pub async fn finish(mut self) -> Reply {
        if !self.head_only {
            while self.next_chunk().await.is_some() {}
        }
        self.reply
    }
}

pub async fn call(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Reply {
    tokio::time::timeout(
        Duration::from_secs(10),
        open(addr, method, path, body).await.finish(),
    )
    .await
    .expect("reply within 10 s")
}

pub async fn post(addr: SocketAddr, path: &str, body: &str) -> Reply {
    call(addr, "POST", path, Some(body)).await
}

pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    call(addr, "GET", path, None).await
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
