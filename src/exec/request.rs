//! One request, measured: send, stream, stamp every decoded event with the
//! arrival time of the bytes that completed it, and turn the result into a
//! `Record`. This is the only place that reads the clock for a request, and
//! every stamp of a request is read on one clock (`clock.rs`).
//! Plain `http://` backends are streamed through the lean HTTP/1.1 client
//! (`backend::http1`: the socket is read by this task, one stamp per read);
//! https and proxied backends through reqwest. Both paths resend once when
//! a kept-alive connection turns out closed before any response byte.
//! With `[run] retry`, a request answered with a listed status is sent
//! again after a wait (`retry.rs`); the record is of the final attempt and
//! lists the earlier ones.

use super::clock::RequestClock;
use super::retry::Attempts;
use crate::backend::http1::{self, Http1};
use crate::backend::{error_message, Backend, Decoder, Event, GenRequest, ServerStats};
use crate::plan::Cell;
use crate::record::{ErrorKind, Outcome, Record, Response, Timing, TokenCounts};
use futures_util::StreamExt;
use std::borrow::Cow;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What every request of a run shares.
pub struct RequestContext {
    pub client: reqwest::Client,
    pub run_start: Instant,
    /// Start every request's first message with a nonce of its own
    /// (`[run] prompt_nonce`).
    pub prompt_nonce: bool,
    /// `[run] retry`: statuses to send again, and the waits (none: once).
    pub retry: Option<crate::experiment::RetryPolicy>,
}

/// One request to send.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    pub cell: usize,
    pub repetition: u32,
    pub warmup: bool,
    /// A cold start: the model was unloaded just before.
    pub cold: bool,
    /// Open loop: when the request was due.
    pub scheduled: Option<Instant>,
}

/// The largest error body read when a request fails (enough for any message).
const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// Sends one request and measures it. Never fails: a failure is a record
/// with an error outcome and whatever was measured before it.
pub async fn measure(
    ctx: &RequestContext,
    backend: &Backend,
    timeout: Duration,
    cell: &Cell,
    job: Job,
    cancel: &mut watch::Receiver<bool>,
) -> (Record, Response) {
    let nonce = ctx.prompt_nonce.then(new_nonce);
    let (system, prompt) = with_nonce(nonce.as_deref(), cell.system.as_deref(), &cell.text);
    let request = GenRequest {
        model: &cell.model,
        system: system.as_deref(),
        prompt: &prompt,
        settings: &cell.settings,
        options: &cell.options,
    };
    let mut attempts = Attempts::default();
    loop {
        let mut probe = Probe::new(ctx.run_start);
        probe.nonce.clone_from(&nonce);
        let outcome = attempt(ctx, backend, timeout, &request, &mut probe, cancel).await;
        attempts.started(probe.clock.t0());
        let status = probe
            .http_status
            .filter(|_| matches!(outcome, Err((ErrorKind::Http, _))));
        let wait = ctx
            .retry
            .as_ref()
            .and_then(|policy| attempts.wait(policy, status, probe.retry_after_s));
        if let (Some(wait), Some(status)) = (wait, status) {
            if !waited(wait, cancel).await {
                return probe.into_record(cell, job, outcome, attempts);
            }
            attempts.failed(status, probe.retry_after_s, wait);
            continue;
        }
        return probe.into_record(cell, job, outcome, attempts);
    }
}

/// One attempt of a request into `probe`, within `timeout`, unless cancelled.
async fn attempt(
    ctx: &RequestContext,
    backend: &Backend,
    timeout: Duration,
    request: &GenRequest<'_>,
    probe: &mut Probe,
    cancel: &mut watch::Receiver<bool>,
) -> Result<(), Failure> {
    let exchange = async {
        match backend.http1() {
            Some(http) => stream_http1(http, backend, request, probe).await,
            None => stream(backend.request(&ctx.client, request), backend, probe).await,
        }
    };
    tokio::select! {
        biased;
        _ = cancelled(cancel) => Err((ErrorKind::Cancelled, "stopped by the user (Ctrl-C) while in flight".to_string())),
        result = tokio::time::timeout(timeout, exchange) => match result {
            Ok(result) => result,
            Err(_) => Err((ErrorKind::Timeout, format!("no complete response within {}", crate::util::format_duration(timeout)))),
        },
    }
}

/// Waits `wait` before a retry; false when Ctrl-C came first (no retry).
async fn waited(wait: Duration, cancel: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        biased;
        _ = cancelled(cancel) => false,
        _ = tokio::time::sleep(wait) => true,
    }
}

/// A nonce no earlier request of this or any run has used: 16 hex digits
/// from the wall clock and a counter, mixed.
fn new_nonce() -> String {
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let count = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    let mixed = crate::rng::SplitMix64::new(now ^ count.rotate_left(40)).next_u64();
    format!("{mixed:016x}")
}

/// The system prompt and prompt to send: with a nonce, the first message
/// (the system prompt when there is one, else the prompt) starts with it,
/// so a prompt cache can reuse at most the chat template's opening tokens.
fn with_nonce<'a>(
    nonce: Option<&str>,
    system: Option<&'a str>,
    prompt: &'a str,
) -> (Option<Cow<'a, str>>, Cow<'a, str>) {
    let tag = |text: &'a str| match nonce {
        Some(nonce) => Cow::Owned(format!("[{nonce}] {text}")),
        None => Cow::Borrowed(text),
    };
    match system {
        Some(system) => (Some(tag(system)), Cow::Borrowed(prompt)),
        None => (None, tag(prompt)),
    }
}

async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    // A closed channel means nobody can cancel any more: wait forever.
    if cancel.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

type Failure = (ErrorKind, String);

/// Streams the response into the probe.
async fn stream(
    builder: reqwest::RequestBuilder,
    backend: &Backend,
    probe: &mut Probe,
) -> Result<(), Failure> {
    let retry = builder.try_clone();
    probe.start();
    let response = match (builder.send().await, retry) {
        (Ok(response), _) => response,
        // A kept-alive connection the server closed while idle (llama.cpp's
        // httplib closes after a number of requests) fails before the request
        // was processed: resend once on a fresh connection, with a fresh t0.
        (Err(error), Some(retry)) if crate::backend::closed_while_idle(&error) => {
            probe.retried();
            retry.send().await.map_err(send_failure)?
        }
        (Err(error), _) => return Err(send_failure(error)),
    };
    probe.headers(response.status().as_u16(), None);
    if !response.status().is_success() {
        probe.retry_after_s = retry_after_header(&response);
        return Err(http_failure(response).await);
    }
    let mut decoder = backend.decoder();
    let mut events = Vec::with_capacity(8);
    let mut body = response.bytes_stream();
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| {
            (
                ErrorKind::Truncated,
                format!("body read failed: {}", error_chain(&e)),
            )
        })?;
        let at = probe.arrival(None);
        decoder
            .feed(&piece, &mut events)
            .map_err(|e| (ErrorKind::Protocol, e.to_string()))?;
        probe.events(&mut events, at)?;
    }
    end_of_body(decoder.as_mut(), &mut events, probe)?;
    probe.require_done()
}

/// The body has ended: whatever the decoder still holds (a last line
/// without its newline) goes to the probe, stamped with the arrival of the
/// last bytes (they carried it).
fn end_of_body(
    decoder: &mut dyn Decoder,
    events: &mut Vec<Event>,
    probe: &mut Probe,
) -> Result<(), Failure> {
    decoder
        .finish(events)
        .map_err(|e| (ErrorKind::Protocol, e.to_string()))?;
    let at = probe.clock.last();
    probe.events(events, at)
}

/// Streams the response through the lean client into the probe: one clock
/// read per socket read, every event decoded from that read stamped with it.
async fn stream_http1(
    http: &Http1,
    backend: &Backend,
    request: &GenRequest<'_>,
    probe: &mut Probe,
) -> Result<(), Failure> {
    let bytes = backend.http1_request(http, request);
    probe.start();
    let mut conn = http
        .connection()
        .await
        .map_err(|e| connect_failure(http, e))?;
    let (head, mut body) = match conn.send(&bytes).await {
        Ok(reply) => reply,
        // As with reqwest below: the server closed the kept-alive connection
        // before answering; resend once on a new connection, fresh t0.
        Err(http1::Failure::ClosedWhileIdle(_)) => {
            probe.retried();
            conn = http.connect().await.map_err(|e| connect_failure(http, e))?;
            conn.send(&bytes)
                .await
                .map_err(|e| http1_failure(http, e))?
        }
        Err(e) => return Err(http1_failure(http, e)),
    };
    probe.headers(head.status, head.received_at());
    if !(200..300).contains(&head.status) {
        probe.retry_after_s = head.retry_after_s;
        let message = http1_error_body(&mut conn, &mut body).await;
        if body.reusable(&head) {
            http.put_back(conn);
        }
        return Err((
            ErrorKind::Http,
            format!(
                "HTTP {}: {}{}",
                head.status,
                error_message(&message),
                retry_after(head.retry_after_s)
            ),
        ));
    }
    let mut decoder = backend.decoder();
    let mut events = Vec::with_capacity(64);
    while conn
        .fill(&mut body)
        .await
        .map_err(|e| http1_failure(http, e))?
    {
        let at = probe.arrival(body.received_at());
        conn.drain(&mut body, |data| decoder.feed(data, &mut events))
            .map_err(|e| http1_failure(http, e))?
            .map_err(|e| (ErrorKind::Protocol, e.to_string()))?;
        probe.events(&mut events, at)?;
    }
    end_of_body(decoder.as_mut(), &mut events, probe)?;
    if body.reusable(&head) {
        http.put_back(conn);
    }
    probe.require_done()
}

/// Reads an error reply's body (up to `ERROR_BODY_LIMIT`; what could be read).
async fn http1_error_body(conn: &mut http1::Conn, body: &mut http1::Body) -> Vec<u8> {
    let mut text = Vec::new();
    while text.len() < ERROR_BODY_LIMIT && matches!(conn.fill(body).await, Ok(true)) {
        let collect = |data: &[u8]| {
            text.extend_from_slice(data);
            Ok::<(), ()>(())
        };
        if !matches!(conn.drain(body, collect), Ok(Ok(()))) {
            break;
        }
    }
    text
}

fn connect_failure(http: &Http1, error: std::io::Error) -> Failure {
    (
        ErrorKind::Connect,
        format!("cannot connect to {}: {error}", http.url()),
    )
}

fn http1_failure(http: &Http1, failure: http1::Failure) -> Failure {
    match failure {
        http1::Failure::ClosedWhileIdle(message)
        | http1::Failure::Send(message)
        | http1::Failure::Head(message) => (ErrorKind::Http, format!("{}: {message}", http.url())),
        http1::Failure::Body(message) => {
            (ErrorKind::Truncated, format!("body read failed: {message}"))
        }
    }
}

fn send_failure(error: reqwest::Error) -> Failure {
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_connect() {
        ErrorKind::Connect
    } else {
        ErrorKind::Http
    };
    (kind, error_chain(&error))
}

/// reqwest's Display hides the cause ("error sending request"); the chain says why.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The server's `Retry-After` (on a 429 or 503), as noted in the error
/// message; llmbench waits for it only under `[run] retry`.
fn retry_after(seconds: Option<u64>) -> String {
    seconds.map_or(String::new(), |s| format!(" (Retry-After: {s} s)"))
}

async fn http_failure(mut response: reqwest::Response) -> Failure {
    let status = response.status();
    let wait = retry_after_header(&response);
    let mut body = Vec::new();
    while let Ok(Some(piece)) = response.chunk().await {
        body.extend_from_slice(&piece);
        if body.len() >= ERROR_BODY_LIMIT {
            break;
        }
    }
    (
        ErrorKind::Http,
        format!(
            "HTTP {}: {}{}",
            status.as_u16(),
            error_message(&body),
            retry_after(wait)
        ),
    )
}

/// A reply's `Retry-After` in seconds (the delay form; an HTTP date is not read).
fn retry_after_header(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Collects the measurements of one request as events arrive.
struct Probe {
    run_start: Instant,
    clock: RequestClock,
    started_at: jiff::Timestamp,
    http_status: Option<u16>,
    ttfb: Option<Duration>,
    ttft: Option<Duration>,
    ttft_content: Option<Duration>,
    done: Option<Duration>,
    offsets: Vec<f64>,
    chars: Vec<u32>,
    events: u32,
    retries: u32,
    /// The server's Retry-After on an error reply, seconds.
    retry_after_s: Option<u64>,
    stats: ServerStats,
    response: Response,
    nonce: Option<String>,
}

impl Probe {
    fn new(run_start: Instant) -> Probe {
        Probe {
            run_start,
            clock: RequestClock::start(),
            started_at: jiff::Timestamp::now(),
            http_status: None,
            ttfb: None,
            ttft: None,
            ttft_content: None,
            done: None,
            offsets: Vec::with_capacity(256),
            chars: Vec::with_capacity(256),
            events: 0,
            retries: 0,
            retry_after_s: None,
            stats: ServerStats::default(),
            response: Response::default(),
            nonce: None,
        }
    }

    /// t0: the request is about to be written to the connection.
    fn start(&mut self) {
        self.started_at = jiff::Timestamp::now();
        self.clock = RequestClock::start();
    }

    /// The offset from t0 of bytes that arrived now, or at `kernel` (the
    /// socket's receive stamp), on the request's one clock.
    fn arrival(&mut self, kernel: Option<Duration>) -> Duration {
        self.clock.arrival(kernel)
    }

    /// The first attempt met a connection closed while idle; time the resend.
    fn retried(&mut self) {
        self.retries += 1;
        self.start();
    }

    /// The response head arrived (its first bytes at `kernel`, when known).
    fn headers(&mut self, status: u16, kernel: Option<Duration>) {
        self.ttfb = Some(self.clock.arrival(kernel));
        self.http_status = Some(status);
    }

    fn events(&mut self, events: &mut Vec<Event>, offset: Duration) -> Result<(), Failure> {
        for event in events.drain(..) {
            self.events += 1;
            match event {
                Event::Delta { content, reasoning } => self.delta(&content, &reasoning, offset),
                Event::Stats(stats) => self.stats.absorb(stats),
                Event::StreamError(message) => return Err((ErrorKind::Stream, message)),
                Event::Done => self.done = Some(offset),
            }
        }
        Ok(())
    }

    /// A stream that ended without its end marker failed.
    fn require_done(&self) -> Result<(), Failure> {
        if self.done.is_none() {
            return Err((
                ErrorKind::Truncated,
                "the stream ended without its end marker (Ollama done:true / OpenAI [DONE])".into(),
            ));
        }
        Ok(())
    }

    fn delta(&mut self, content: &str, reasoning: &str, offset: Duration) {
        if content.is_empty() && reasoning.is_empty() {
            return;
        }
        self.ttft.get_or_insert(offset);
        if !content.is_empty() {
            self.ttft_content.get_or_insert(offset);
        }
        self.offsets.push(ms(offset));
        let chars = content.chars().count() + reasoning.chars().count();
        self.chars.push(u32::try_from(chars).unwrap_or(u32::MAX));
        self.response.content.push_str(content);
        self.response.reasoning.push_str(reasoning);
    }

    fn into_record(
        self,
        cell: &Cell,
        job: Job,
        outcome: Result<(), Failure>,
        attempts: Attempts,
    ) -> (Record, Response) {
        let e2e = self.done.or_else(|| {
            self.offsets
                .last()
                .map(|&ms| Duration::from_secs_f64(ms / 1e3))
        });
        let record = Record {
            cell: cell.id.clone(),
            model: cell.model.clone(),
            prompt: cell.prompt.clone(),
            repetition: job.repetition,
            warmup: job.warmup,
            cold: job.cold,
            started_at: self.started_at.to_string(),
            run_offset_ms: ms(self.clock.t0().saturating_duration_since(self.run_start)),
            outcome: match outcome {
                Ok(()) => Outcome::Ok,
                Err((kind, message)) => Outcome::Error { kind, message },
            },
            http_status: self.http_status,
            retries: self.retries,
            timing: Timing {
                ttfb_ms: self.ttfb.map(ms),
                ttft_ms: self.ttft.map(ms),
                ttft_content_ms: self.ttft_content.map(ms),
                e2e_ms: e2e.map(ms),
                chunk_offsets_ms: self.offsets,
                chunk_chars: self.chars,
                events: self.events,
                // From the first attempt's send: a retry is not dispatch lag.
                dispatch_lag_ms: job.scheduled.map(|due| {
                    ms(attempts
                        .first_t0()
                        .unwrap_or(self.clock.t0())
                        .saturating_duration_since(due))
                }),
            },
            finish_reason: self.stats.finish_reason.clone(),
            tokens: TokenCounts::from_server(&self.stats),
            server: self.stats,
            output_chars: self.response.content.chars().count() as u64,
            reasoning_chars: self.response.reasoning.chars().count() as u64,
            prompt_nonce: self.nonce,
            retry: attempts.into_record(self.run_start, self.clock.t0(), e2e),
        };
        (record, self.response)
    }
}

/// Milliseconds rounded to the microsecond: below the clock's real
/// resolution here, and it keeps requests.jsonl short (at most three
/// decimals: an integer number of µs over 1e3 prints as such).
pub(super) fn ms(duration: Duration) -> f64 {
    let micros = (duration.as_nanos() + 500) / 1000;
    micros as f64 / 1e3
}

#[cfg(test)]
mod tests {
    use super::ms;
    use std::time::Duration;

    #[test]
    fn milliseconds_are_rounded_to_the_microsecond() {
        assert_eq!(ms(Duration::from_nanos(1_234_499)), 1.234);
        assert_eq!(ms(Duration::from_nanos(1_234_500)), 1.235);
        let text = serde_json::to_string(&ms(Duration::from_nanos(123_456_789_012))).unwrap();
        assert_eq!(text, "123456.789");
    }
}
