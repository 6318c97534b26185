//! `fast-sse`: a zero-delay OpenAI-style streaming server, in its own process,
//! for llmbench's client-overhead benchmark (`benches/overhead.rs`,
//! docs/overhead.md). Plain tokio TCP and a hand-written HTTP/1.1 reader (no
//! axum, no hyper) so that the server costs as little CPU as possible and the
//! client is what gets measured.
//!
//! Routes:
//! - `POST /v1/chat/completions`: a `text/event-stream` reply in llama.cpp's
//!   shape (backends.md §4–5): a role-only chunk, `--chunks` content chunks
//!   (one token each, `" tok"`), a finish chunk, a `choices: []` usage chunk
//!   (with llama.cpp `timings`), then `data: [DONE]`. Each SSE event is one
//!   HTTP chunk (`Transfer-Encoding: chunked`), as real servers send them;
//!   `--content-length` sends the same body with a `Content-Length` instead.
//! - `GET /v1/models` (one model, `fast`), `GET /health`.
//! - `GET /stats`: connections accepted so far and (timing mode) the
//!   server's own scheduling error, i.e. how late each content chunk was
//!   written against its deadline, and the gaps between writes;
//!   `POST /stats/reset` clears the timing figures.
//!
//! Two modes:
//! - Throughput (default): the whole response (headers and body) is
//!   precomputed once and written with one `write_all` per request.
//! - Timing (`--ttft-ms X --itl-ms Y`): headers and the role chunk are written
//!   as soon as the request has been read; content chunk k (0-based) is
//!   written at R + X + k·Y ms, where R is the kernel's receive time of the
//!   request's last bytes (SO_TIMESTAMPNS; the read time when the kernel gave
//!   none), so the server's own wake-up and read delay is not added to the
//!   injected times (absolute deadlines: errors do not accumulate); the finish, usage and `[DONE]` events go out with the last
//!   content chunk. One dedicated thread owns every deadline of every
//!   connection: it waits on a futex with a 1 ns timer slack until shortly
//!   before the next deadline, spins the rest (`--spin-us`, default 20), takes
//!   the time and writes the chunk straight to the socket (TCP_NODELAY, one
//!   `send` per chunk). With `--stamp`, each chunk's content is
//!   `" @<write>/<deadline>/<arrival>"` (CLOCK_MONOTONIC ns, the clock Rust's
//!   `Instant` reads on Linux; `arrival` is the kernel's receive timestamp of
//!   the request's last bytes, SO_TIMESTAMPNS, 0 if unknown), so a client on
//!   the same machine can split its measured error into request send, server
//!   read, server lateness and response path.
//!
//! Nothing is logged per request. `--port 0` picks a free port; the first line
//! on stdout is always `listening http://127.0.0.1:PORT`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write as _;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const USAGE: &str = "usage: fast-sse [--port N] [--chunks N] [--threads N] [--content-length] \
[--ttft-ms X --itl-ms Y [--spin-us U] [--stamp]]";

/// Every chunk of one response shares these (llama.cpp style).
const ID: &str = "chatcmpl-fastssefastssefastssefastssef";
const CREATED: u64 = 1_787_300_102;
const FINGERPRINT: &str = "b6000-fastsse";
const MODEL: &str = "fast";
/// Prompt tokens reported in `usage` (the server does not tokenize).
const PROMPT_TOKENS: u64 = 8;

#[derive(Debug, Clone)]
struct Config {
    port: u16,
    chunks: usize,
    threads: usize,
    content_length: bool,
    /// Timing mode: (time to first token, inter-token delay), ns.
    timing: Option<(u64, u64)>,
    spin_ns: u64,
    stamp: bool,
}

fn parse_args(args: &[String]) -> Result<Config, String> {
    let mut config = Config {
        port: 0,
        chunks: 256,
        threads: 1,
        content_length: false,
        timing: None,
        spin_ns: 20_000,
        stamp: false,
    };
    let (mut ttft, mut itl) = (None, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = |name: &str| -> Result<f64, String> {
            let v = it.next().ok_or_else(|| format!("{name} needs a value"))?;
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| format!("{name}: not a non-negative number: {v}"))
        };
        match flag.as_str() {
            "--port" => config.port = value(flag)? as u16,
            "--chunks" => config.chunks = (value(flag)? as usize).max(1),
            "--threads" => config.threads = (value(flag)? as usize).max(1),
            "--content-length" => config.content_length = true,
            "--ttft-ms" => ttft = Some((value(flag)? * 1e6) as u64),
            "--itl-ms" => itl = Some((value(flag)? * 1e6) as u64),
            "--spin-us" => config.spin_ns = (value(flag)? * 1e3) as u64,
            "--stamp" => config.stamp = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument: {other}\n{USAGE}")),
        }
    }
    match (ttft, itl) {
        (None, None) => {}
        (Some(t), Some(i)) => config.timing = Some((t, i)),
        (Some(t), None) => config.timing = Some((t, 0)),
        (None, Some(i)) => config.timing = Some((0, i)),
    }
    if config.timing.is_some() && config.content_length && config.stamp {
        return Err(
            "--content-length cannot be combined with --stamp (the length is not known in advance)"
                .into(),
        );
    }
    Ok(config)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse_args(&args) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let runtime = if config.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads)
            .enable_all()
            .build()
    };
    let runtime = runtime.unwrap_or_else(|e| {
        eprintln!("fast-sse: cannot start the runtime: {e}");
        std::process::exit(1);
    });
    runtime.block_on(serve(config));
}

/// Connections accepted so far (reported by `GET /stats`).
static CONNECTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What every connection shares.
struct Shared {
    config: Config,
    /// Throughput mode: the complete reply to a chat request.
    reply: Vec<u8>,
    /// Timing mode: the deadline thread's inbox and its statistics.
    timer: Option<mpsc::Sender<TimedStream>>,
    stats: Arc<Mutex<TimingStats>>,
}

async fn serve(config: Config) {
    let listener = match TcpListener::bind(("127.0.0.1", config.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("fast-sse: cannot listen on port {}: {e}", config.port);
            std::process::exit(1);
        }
    };
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(config.port);
    let stats = Arc::new(Mutex::new(TimingStats::default()));
    let timer = config.timing.map(|(ttft, itl)| {
        let (sender, receiver) = mpsc::channel();
        let (stats, chunks, spin, stamp) =
            (stats.clone(), config.chunks, config.spin_ns, config.stamp);
        std::thread::Builder::new()
            .name("deadlines".into())
            .spawn(move || deadline_thread(receiver, stats, chunks, ttft, itl, spin, stamp))
            .expect("spawn the deadline thread");
        sender
    });
    let reply = full_reply(config.chunks, config.content_length);
    let shared = Arc::new(Shared {
        config,
        reply,
        timer,
        stats,
    });
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening http://127.0.0.1:{port}");
        let _ = out.flush();
    }
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        CONNECTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = socket.set_nodelay(true);
        tokio::spawn(connection(socket, shared.clone()));
    }
}

// ---------------------------------------------------------------- HTTP/1.1

/// One parsed request head (the body is read and discarded).
struct Request {
    post: bool,
    path: String,
    close: bool,
}

/// Serves one keep-alive connection until the peer closes it.
async fn connection(mut socket: TcpStream, shared: Arc<Shared>) {
    let mut buffer: Vec<u8> = Vec::with_capacity(8 * 1024);
    // Timing mode: the kernel's receive time of the request's last bytes.
    let timing = shared.timer.is_some();
    if timing {
        enable_rx_timestamps(socket.as_raw_fd());
    }
    let mut arrival: u64;
    loop {
        arrival = 0;
        let request =
            match read_request(&mut socket, &mut buffer, timing.then_some(&mut arrival)).await {
                Ok(Some(r)) => r,
                _ => return,
            };
        let ok = match (request.post, request.path.as_str()) {
            (true, "/v1/chat/completions") => chat(&mut socket, &shared, arrival).await,
            (false, "/health") | (false, "/v1/health") => {
                small(&mut socket, 200, "application/json", b"{\"status\":\"ok\"}").await
            }
            (false, "/v1/models") => {
                let body = format!(
                    "{{\"object\":\"list\",\"data\":[{{\"id\":\"{MODEL}\",\"object\":\"model\",\"created\":{CREATED},\"owned_by\":\"llamacpp\"}}]}}"
                );
                small(&mut socket, 200, "application/json", body.as_bytes()).await
            }
            (false, "/stats") => {
                let body = shared.stats.lock().map(|s| s.json()).unwrap_or_default();
                small(&mut socket, 200, "application/json", body.as_bytes()).await
            }
            (true, "/stats/reset") => {
                if let Ok(mut s) = shared.stats.lock() {
                    *s = TimingStats::default();
                }
                small(&mut socket, 200, "application/json", b"{}").await
            }
            _ => {
                let body = b"{\"error\":{\"code\":404,\"message\":\"File Not Found\",\"type\":\"not_found_error\"}}";
                small(&mut socket, 404, "application/json", body).await
            }
        };
        if !ok || request.close {
            return;
        }
    }
}

/// Reads one request head and its `Content-Length` body from the connection.
/// `Ok(None)` at a clean end of stream.
async fn read_request(
    socket: &mut TcpStream,
    buffer: &mut Vec<u8>,
    mut arrival: Option<&mut u64>,
) -> std::io::Result<Option<Request>> {
    let head_end = loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            break end + 4;
        }
        if buffer.len() > 1 << 20 {
            return Ok(None);
        }
        if read_more(socket, buffer, arrival.as_deref_mut()).await? == 0 {
            return Ok(None);
        }
    };
    let head = std::str::from_utf8(&buffer[..head_end]).unwrap_or("");
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let post = first.next() == Some("POST");
    let path = first
        .next()
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_string();
    let http10 = first.next() == Some("HTTP/1.0");
    let mut length = 0usize;
    let mut close = http10;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().unwrap_or(0);
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let total = head_end + length;
    while buffer.len() < total {
        if read_more(socket, buffer, arrival.as_deref_mut()).await? == 0 {
            return Ok(None);
        }
    }
    buffer.drain(..total);
    Ok(Some(Request { post, path, close }))
}

/// Reads what is there into `buffer`. With `arrival`, reads with recvmsg
/// and stores the kernel's receive timestamp of those bytes (CLOCK_MONOTONIC ns).
async fn read_more(
    socket: &mut TcpStream,
    buffer: &mut Vec<u8>,
    arrival: Option<&mut u64>,
) -> std::io::Result<usize> {
    let Some(arrival) = arrival else {
        return socket.read_buf(buffer).await;
    };
    let fd = socket.as_raw_fd();
    loop {
        socket.readable().await?;
        buffer.reserve(16 * 1024);
        let len = buffer.len();
        let spare = buffer.spare_capacity_mut();
        match socket.try_io(tokio::io::Interest::READABLE, || recv_stamped(fd, spare)) {
            Ok((n, stamp)) => {
                // SAFETY: recvmsg initialised the first n bytes of the spare capacity.
                unsafe { buffer.set_len(len + n) };
                if let Some(stamp) = stamp {
                    *arrival = stamp;
                }
                return Ok(n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

fn enable_rx_timestamps(fd: RawFd) {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads one c_int.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

/// recvmsg into `spare`; the SCM_TIMESTAMPNS (CLOCK_REALTIME) of the data,
/// converted to CLOCK_MONOTONIC.
fn recv_stamped(
    fd: RawFd,
    spare: &mut [std::mem::MaybeUninit<u8>],
) -> std::io::Result<(usize, Option<u64>)> {
    let mut iov = libc::iovec {
        iov_base: spare.as_mut_ptr().cast(),
        iov_len: spare.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: fd is an open socket; msg describes valid buffers.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the CMSG macros walk the control buffer recvmsg filled in.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                let real = ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128;
                let offset = real_ns() as i128 - mono_ns() as i128;
                stamp = u64::try_from(real - offset).ok();
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, stamp))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn small(socket: &mut TcpStream, status: u16, kind: &str, body: &[u8]) -> bool {
    let reason = if status == 200 { "OK" } else { "Not Found" };
    let mut reply = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    reply.extend_from_slice(body);
    socket.write_all(&reply).await.is_ok()
}

// ---------------------------------------------------------------- SSE body

fn head(content_length: Option<usize>) -> Vec<u8> {
    let framing = match content_length {
        Some(n) => format!("Content-Length: {n}"),
        None => "Transfer-Encoding: chunked".to_string(),
    };
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n{framing}\r\n\r\n"
    )
    .into_bytes()
}

fn event(json: &str) -> String {
    format!("data: {json}\n\n")
}

fn chunk_json(choice: &str, tail: &str) -> String {
    format!(
        "{{\"choices\":[{choice}],\"created\":{CREATED},\"id\":\"{ID}\",\"model\":\"{MODEL}\",\"system_fingerprint\":\"{FINGERPRINT}\",\"object\":\"chat.completion.chunk\"{tail}}}"
    )
}

fn role_event() -> String {
    event(&chunk_json(
        "{\"finish_reason\":null,\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null}}",
        "",
    ))
}

fn content_event(text: &str) -> String {
    let choice =
        format!("{{\"finish_reason\":null,\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}");
    event(&chunk_json(&choice, ""))
}

/// Finish chunk, usage chunk (with llama.cpp `timings`) and `[DONE]`.
fn tail_events(chunks: usize) -> Vec<String> {
    let n = chunks as u64;
    let usage = format!(
        ",\"usage\":{{\"completion_tokens\":{n},\"prompt_tokens\":{PROMPT_TOKENS},\"total_tokens\":{}}},\
\"timings\":{{\"cache_n\":0,\"prompt_n\":{PROMPT_TOKENS},\"prompt_ms\":1.0,\"prompt_per_token_ms\":0.125,\"prompt_per_second\":8000.0,\
\"predicted_n\":{n},\"predicted_ms\":1.0,\"predicted_per_token_ms\":{},\"predicted_per_second\":{}}}",
        n + PROMPT_TOKENS,
        1.0 / n as f64,
        n as f64 * 1e3
    );
    vec![
        event(&chunk_json(
            "{\"finish_reason\":\"stop\",\"index\":0,\"delta\":{}}",
            "",
        )),
        event(&chunk_json("", &usage)),
        "data: [DONE]\n\n".to_string(),
    ]
}

/// Appends one HTTP chunk (or the raw bytes with Content-Length framing).
fn frame(out: &mut Vec<u8>, payload: &[u8], chunked: bool) {
    if chunked {
        let _ = write!(out, "{:x}\r\n", payload.len());
        out.extend_from_slice(payload);
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(payload);
    }
}

/// The complete reply of throughput mode.
fn full_reply(chunks: usize, content_length: bool) -> Vec<u8> {
    let mut events = vec![role_event()];
    events.extend((0..chunks).map(|_| content_event(" tok")));
    events.extend(tail_events(chunks));
    let mut body = Vec::new();
    for e in &events {
        frame(&mut body, e.as_bytes(), !content_length);
    }
    if !content_length {
        body.extend_from_slice(b"0\r\n\r\n");
    }
    let mut reply = head(content_length.then_some(body.len()));
    reply.extend_from_slice(&body);
    reply
}

async fn chat(socket: &mut TcpStream, shared: &Shared, arrival: u64) -> bool {
    let Some(timer) = &shared.timer else {
        return socket.write_all(&shared.reply).await.is_ok();
    };
    // Deadlines count from the kernel's receive time of the request when
    // known (so this server's own wake-up and read delay is not added to
    // the injected times), else from now.
    let now = mono_ns();
    let received = if arrival != 0 && arrival <= now && now - arrival < 1_000_000_000 {
        arrival
    } else {
        now
    };
    let chunked = !shared.config.content_length;
    let mut start = if chunked {
        head(None)
    } else {
        head(Some(timed_body_len(shared.config.chunks)))
    };
    frame(&mut start, role_event().as_bytes(), chunked);
    if socket.write_all(&start).await.is_err() {
        return false;
    }
    let (done, finished) = tokio::sync::oneshot::channel();
    let stream = TimedStream {
        fd: socket.as_raw_fd(),
        received,
        arrival,
        chunked,
        next: 0,
        last_write: 0,
        done: Some(done),
    };
    if timer.send(stream).is_err() {
        return false;
    }
    // The deadline thread writes the rest straight to the socket's fd; this
    // task keeps the socket open (and untouched) until it says it is done.
    matches!(finished.await, Ok(true))
}

/// Body length of a timed reply without stamps (for `--content-length`).
fn timed_body_len(chunks: usize) -> usize {
    let mut n = role_event().len() + chunks * content_event(" tok").len();
    n += tail_events(chunks).iter().map(String::len).sum::<usize>();
    n
}

// ------------------------------------------------------------ timing mode

/// CLOCK_MONOTONIC in ns: the clock `std::time::Instant` reads on Linux, so
/// a client process on the same machine can compare its times with ours.
fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes a timespec into valid memory.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn real_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes a timespec into valid memory.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A response whose content chunks the deadline thread writes.
struct TimedStream {
    fd: RawFd,
    /// Deadlines count from here: the request's kernel receive time when
    /// known, else when it had been read (ns, CLOCK_MONOTONIC).
    received: u64,
    /// When the kernel received the request's last bytes (SO_TIMESTAMPNS, as CLOCK_MONOTONIC ns; 0 if unknown).
    arrival: u64,
    chunked: bool,
    /// Index of the next content chunk.
    next: usize,
    last_write: u64,
    done: Option<tokio::sync::oneshot::Sender<bool>>,
}

/// The server's own timing error, in ns.
#[derive(Default)]
struct TimingStats {
    /// First content chunk: write time − (received + ttft).
    first_late: Vec<i64>,
    /// Every later content chunk: write time − its deadline.
    rest_late: Vec<i64>,
    /// Write time − previous write time of the same stream, minus itl.
    gap_error: Vec<i64>,
}

impl TimingStats {
    fn json(&self) -> String {
        fn summary(values: &[i64]) -> String {
            if values.is_empty() {
                return "{\"n\":0}".into();
            }
            let mut v = values.to_vec();
            v.sort_unstable();
            let n = v.len();
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
            let pct = |p: f64| {
                // Linear interpolation (numpy's default).
                let rank = p * (n - 1) as f64;
                let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
                v[lo] as f64 + (v[hi] - v[lo]) as f64 * (rank - lo as f64)
            };
            let abs_p99 = {
                let mut a: Vec<i64> = v.iter().map(|x| x.abs()).collect();
                a.sort_unstable();
                a[((0.99 * (n - 1) as f64).round() as usize).min(n - 1)]
            };
            format!(
                "{{\"n\":{n},\"mean_us\":{:.3},\"p50_us\":{:.3},\"p99_us\":{:.3},\"max_us\":{:.3},\"min_us\":{:.3},\"abs_p99_us\":{:.3}}}",
                mean / 1e3,
                pct(0.5) / 1e3,
                pct(0.99) / 1e3,
                v[n - 1] as f64 / 1e3,
                v[0] as f64 / 1e3,
                abs_p99 as f64 / 1e3
            )
        }
        format!(
            "{{\"connections\":{},\"first_chunk_late\":{},\"later_chunk_late\":{},\"gap_error\":{}}}",
            CONNECTIONS.load(std::sync::atomic::Ordering::Relaxed),
            summary(&self.first_late),
            summary(&self.rest_late),
            summary(&self.gap_error)
        )
    }
}

/// Owns every deadline: waits (futex, 1 ns timer slack) until `spin` before
/// the earliest, spins the rest, then writes that chunk.
fn deadline_thread(
    inbox: mpsc::Receiver<TimedStream>,
    stats: Arc<Mutex<TimingStats>>,
    chunks: usize,
    ttft: u64,
    itl: u64,
    spin: u64,
    stamp: bool,
) {
    // SAFETY: prctl with PR_SET_TIMERSLACK only changes this thread's timer slack.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
    let deadline_of = |s: &TimedStream| s.received + ttft + s.next as u64 * itl;
    let plain = content_event(" tok");
    let tail: String = tail_events(chunks).concat();
    let mut streams: Vec<Option<TimedStream>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    // (deadline, slot)
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let mut local = TimingStats::default();
    let add = |s: TimedStream,
               streams: &mut Vec<Option<TimedStream>>,
               free: &mut Vec<usize>,
               heap: &mut BinaryHeap<Reverse<(u64, usize)>>| {
        let deadline = deadline_of(&s);
        let slot = match free.pop() {
            Some(i) => {
                streams[i] = Some(s);
                i
            }
            None => {
                streams.push(Some(s));
                streams.len() - 1
            }
        };
        heap.push(Reverse((deadline, slot)));
    };
    loop {
        while let Ok(s) = inbox.try_recv() {
            add(s, &mut streams, &mut free, &mut heap);
        }
        let Some(&Reverse((deadline, slot))) = heap.peek() else {
            // Nothing pending: publish what was measured and wait for work.
            flush_stats(&mut local, &stats);
            match inbox.recv() {
                Ok(s) => add(s, &mut streams, &mut free, &mut heap),
                Err(_) => return,
            }
            continue;
        };
        let now = mono_ns();
        if deadline > now + spin {
            match inbox.recv_timeout(Duration::from_nanos(deadline - now - spin)) {
                Ok(s) => add(s, &mut streams, &mut free, &mut heap),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            continue;
        }
        while mono_ns() < deadline {
            std::hint::spin_loop();
        }
        heap.pop();
        let Some(stream) = streams[slot].as_mut() else {
            continue;
        };
        let write_at = mono_ns();
        let last = stream.next + 1 == chunks;
        out.clear();
        if stamp {
            let arrival = stream.arrival;
            frame(
                &mut out,
                content_event(&format!(" @{write_at}/{deadline}/{arrival}")).as_bytes(),
                stream.chunked,
            );
        } else {
            frame(&mut out, plain.as_bytes(), stream.chunked);
        }
        if last {
            frame(&mut out, tail.as_bytes(), stream.chunked);
            if stream.chunked {
                out.extend_from_slice(b"0\r\n\r\n");
            }
        }
        let ok = send_all(stream.fd, &out);
        let late = write_at as i64 - deadline as i64;
        if stream.next == 0 {
            local.first_late.push(late);
        } else {
            local.rest_late.push(late);
            local
                .gap_error
                .push(write_at as i64 - stream.last_write as i64 - itl as i64);
        }
        stream.last_write = write_at;
        stream.next += 1;
        if ok && !last {
            heap.push(Reverse((deadline_of(stream), slot)));
        } else {
            if let Some(done) = stream.done.take() {
                let _ = done.send(ok);
            }
            streams[slot] = None;
            free.push(slot);
        }
        if local.first_late.len() + local.rest_late.len() >= 4096 {
            flush_stats(&mut local, &stats);
        }
    }
}

fn flush_stats(local: &mut TimingStats, shared: &Mutex<TimingStats>) {
    if local.first_late.is_empty() && local.rest_late.is_empty() {
        return;
    }
    if let Ok(mut s) = shared.lock() {
        s.first_late.append(&mut local.first_late);
        s.rest_late.append(&mut local.rest_late);
        s.gap_error.append(&mut local.gap_error);
    }
}

/// Writes all of `bytes` to a non-blocking socket (waiting for room with
/// poll if the send buffer is full, which a reading client never lets happen
/// with chunks this small).
fn send_all(fd: RawFd, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: fd is an open socket kept alive by its connection task
        // until `done` is sent; the pointer and length describe `bytes`.
        let n = unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL) };
        if n >= 0 {
            bytes = &bytes[n as usize..];
            continue;
        }
        match std::io::Error::last_os_error().kind() {
            std::io::ErrorKind::Interrupted => {}
            std::io::ErrorKind::WouldBlock => {
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut pfd, 1, 100) };
            }
            _ => return false,
        }
    }
    true
}
