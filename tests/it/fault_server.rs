//! A fault-injecting server with byte-level control, speaking just enough of
//! the OpenAI API (SSE) and of Ollama's (NDJSON) for llmbench's pre-flight
//! and generation requests. Each generation request asks a script what to do
//! (stream an answer, close without a byte, answer a status with headers and
//! a body that may echo the request's Authorization header, or go down: stop
//! listening and drop every connection, as a killed server does).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Which protocol the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    OpenAi,
    Ollama,
}

/// What the server does with one generation request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete streamed answer of `chunks` chunks, `gap` apart.
    Stream { chunks: usize, gap: Duration },
    /// Read the request, then close the connection without a byte.
    Close,
    /// This status, extra headers and body; `{auth}` in the body becomes
    /// the request's Authorization header value.
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Stop listening and drop every connection (a killed server).
    Down,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Stream {
            chunks: 3,
            gap: Duration::ZERO,
        }
    }
}

type Script = dyn Fn(usize) -> Reply + Send + Sync;

struct Shared {
    api: Api,
    script: Box<Script>,
    generations: AtomicUsize,
    down: AtomicBool,
}

/// A running fault server on 127.0.0.1; it stops with the test process.
pub struct FaultServer {
    url: String,
    shared: Arc<Shared>,
}

impl FaultServer {
    /// Starts a server whose n-th generation request (0-based) gets `script(n)`.
    pub fn start(api: Api, script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let shared = Arc::new(Shared {
            api,
            script: Box::new(script),
            generations: AtomicUsize::new(0),
            down: AtomicBool::new(false),
        });
        let state = shared.clone();
        std::thread::spawn(move || accept(listener, state));
        FaultServer { url, shared }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Generation requests read so far (answered or not).
    pub fn generations(&self) -> usize {
        self.shared.generations.load(Ordering::SeqCst)
    }
}

fn accept(listener: TcpListener, shared: Arc<Shared>) {
    // Dropping the listener when the server goes down refuses new connections.
    while !shared.down.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// One request as read: method, path, Authorization value.
struct Request {
    method: String,
    path: String,
    auth: String,
}

fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let request = loop {
            if shared.down.load(Ordering::SeqCst) {
                return;
            }
            match read_request(&mut reader) {
                Ok(Some(request)) => break request,
                Ok(None) => return,
                Err(e) if is_timeout(&e) => continue,
                Err(_) => return,
            }
        };
        if shared.down.load(Ordering::SeqCst) {
            return;
        }
        if !answer(&request, &mut writer, shared) {
            return;
        }
    }
}

fn is_timeout(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Reads one request; `None` at a clean end of the connection.
fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let (mut length, mut auth) = (0usize, String::new());
    loop {
        let mut header = String::new();
        // Once the request line is in, the rest follows: wait for it.
        while let Err(e) = reader.read_line(&mut header) {
            if !is_timeout(&e) {
                return Err(e);
            }
        }
        if header == "\r\n" || header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "authorization" => auth = value.trim().to_string(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    let mut read = 0;
    while read < length {
        match reader.read(&mut body[read..]) {
            Ok(0) => return Ok(None),
            Ok(n) => read += n,
            Err(e) if is_timeout(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(Some(Request { method, path, auth }))
}

/// Answers one request; false when the connection is to be closed.
fn answer(request: &Request, out: &mut TcpStream, shared: &Shared) -> bool {
    let json = |out: &mut TcpStream, body: &str| {
        respond(out, 200, "application/json", &[], body.as_bytes())
    };
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/v1/models") => json(
            out,
            r#"{"object":"list","data":[{"id":"m","object":"model","owned_by":"fault"}]}"#,
        ),
        ("GET", "/api/version") => json(out, r#"{"version":"0.9.0"}"#),
        ("GET", "/api/tags") => json(
            out,
            r#"{"models":[{"name":"m:latest","model":"m:latest"}]}"#,
        ),
        ("POST", "/api/show") => json(out, "{}"),
        ("GET", "/api/ps") => json(out, r#"{"models":[]}"#),
        ("POST", "/v1/chat/completions" | "/api/chat" | "/api/generate") => {
            let n = shared.generations.fetch_add(1, Ordering::SeqCst);
            generation((shared.script)(n), request, out, shared)
        }
        _ => respond(out, 404, "text/plain", &[], b"not found"),
    }
}

fn generation(reply: Reply, request: &Request, out: &mut TcpStream, shared: &Shared) -> bool {
    match reply {
        Reply::Stream { chunks, gap } => stream(shared.api, chunks, gap, out),
        Reply::Close => false,
        Reply::Status {
            status,
            headers,
            body,
        } => {
            let body = body.replace("{auth}", &request.auth);
            respond(out, status, "application/json", &headers, body.as_bytes())
        }
        Reply::Down => {
            shared.down.store(true, Ordering::SeqCst);
            false
        }
    }
}

fn respond(
    out: &mut TcpStream,
    status: u16,
    content_type: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> bool {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes()).is_ok() && out.write_all(body).is_ok()
}

/// A chunked streaming answer: SSE events or NDJSON lines, one per chunk.
fn stream(api: Api, chunks: usize, gap: Duration, out: &mut TcpStream) -> bool {
    let content_type = match api {
        Api::OpenAi => "text/event-stream",
        Api::Ollama => "application/x-ndjson",
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    if out.write_all(head.as_bytes()).is_err() {
        return false;
    }
    for index in 0..=chunks {
        if index > 0 {
            std::thread::sleep(gap);
        }
        let piece = event(api, index, chunks);
        let framed = format!("{:x}\r\n{piece}\r\n", piece.len());
        if out.write_all(framed.as_bytes()).is_err() {
            return false;
        }
    }
    out.write_all(b"0\r\n\r\n").is_ok()
}

/// The `index`-th piece of an answer of `chunks` words (the last: the end).
fn event(api: Api, index: usize, chunks: usize) -> String {
    let last = index == chunks;
    match (api, last) {
        (Api::OpenAi, false) => format!(
            "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{index} \"}},\"finish_reason\":null}}]}}\n\n"
        ),
        (Api::OpenAi, true) => format!(
            "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}],\"usage\":{{\"prompt_tokens\":5,\"completion_tokens\":{chunks},\"total_tokens\":{}}}}}\n\ndata: [DONE]\n\n",
            chunks + 5
        ),
        (Api::Ollama, false) => format!(
            "{{\"model\":\"m\",\"created_at\":\"2026-01-01T00:00:00Z\",\"message\":{{\"role\":\"assistant\",\"content\":\"word{index} \"}},\"done\":false}}\n"
        ),
        (Api::Ollama, true) => format!(
            "{{\"model\":\"m\",\"created_at\":\"2026-01-01T00:00:00Z\",\"message\":{{\"role\":\"assistant\",\"content\":\"\"}},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":5,\"eval_count\":{chunks},\"eval_duration\":1000}}\n"
        ),
    }
}

/// An experiment for `api` at `url` (model `m`), with `run` lines and
/// `extra` TOML appended.
pub fn experiment(api: Api, url: &str, run: &str, extra: &str) -> String {
    let kind = match api {
        Api::OpenAi => "openai",
        Api::Ollama => "ollama",
    };
    format!(
        r#"name = "faults"
[backend]
kind = "{kind}"
url = "{url}"
timeout = "20s"

[[models]]
name = "m"

[defaults]
max_tokens = 8

[run]
{run}

[[prompts]]
id = "hello"
text = "Say hello."

[report]
save_responses = true
{extra}
"#
    )
}
