//! The per-request record: everything measured about one request, as stored
//! one JSON object per line in requests.jsonl. Times are milliseconds from t0
//! (the moment the request was handed to the connection), read from a
//! monotonic clock.

use crate::backend::ServerStats;

mod metrics;
pub(crate) use metrics::fill_request_metrics;
pub use metrics::request_metrics;
use serde::{Deserialize, Serialize};

/// One request, as measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Cell id (see `plan::cell_id`).
    pub cell: String,
    pub model: String,
    pub prompt: String,
    /// 0-based; warmups and measured requests are numbered separately.
    pub repetition: u32,
    /// Warmup requests are stored but never enter statistics.
    pub warmup: bool,
    /// Cold-start requests (the model was unloaded first) have statistics
    /// of their own, never mixed with warm ones.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cold: bool,
    /// Wall-clock time of t0, RFC 3339 UTC.
    pub started_at: String,
    /// t0 relative to the start of the run, ms (orders requests on one clock).
    pub run_offset_ms: f64,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Resends after a kept-alive connection turned out closed (at most 1);
    /// the timing is of the resend.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    pub timing: Timing,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// What the server reported (counts, durations).
    pub server: ServerStats,
    /// Characters of generated content and of reasoning.
    pub output_chars: u64,
    pub reasoning_chars: u64,
    /// Token counts used for the metrics, with their source.
    pub tokens: TokenCounts,
    /// `[run] prompt_nonce`: the nonce this request's first message started
    /// with, so none of its prompt could come from a server's cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_nonce: Option<String>,
    /// `[run] retry`: the attempts before this one, when the request was
    /// sent more than once. Everything else in the record (`started_at`,
    /// `run_offset_ms`, `http_status`, `timing`) is of the final attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retries>,
}

/// The attempts of a request sent again under `[run] retry`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retries {
    /// Attempts made, the final one included (2 = one retry).
    pub attempts: u32,
    /// Each earlier attempt, in order.
    pub failed: Vec<FailedAttempt>,
    /// First attempt's send, from the start of the run, ms.
    pub first_offset_ms: f64,
    /// From the first attempt's send to the end of the final one, ms: the
    /// latency the caller saw, waits included (absent when the final
    /// attempt has no end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_ms: Option<f64>,
    /// Σ waits between attempts, ms.
    pub waited_ms: f64,
}

/// One attempt that was answered with a retried status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedAttempt {
    pub http_status: u16,
    /// The server's Retry-After, seconds, when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// The wait before the next attempt, ms.
    pub wait_ms: f64,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// A cell stopped before its end (the server seemed gone), and why; listed
/// in manifest.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoppedCell {
    pub cell: String,
    pub reason: String,
}

/// Outcome of a request. Failed requests are data: they are counted by kind
/// and never enter latency statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Error { kind: ErrorKind, message: String },
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No connection could be made.
    Connect,
    /// The request ran past the backend's timeout.
    Timeout,
    /// A non-2xx status before streaming began.
    Http,
    /// The server sent an error inside a 200 stream.
    Stream,
    /// The body ended without the protocol's end marker (`done:true`, `[DONE]`).
    Truncated,
    /// The body did not follow the protocol.
    Protocol,
    /// Stopped by the user (Ctrl-C) while in flight.
    Cancelled,
    /// Open loop: not sent, the in-flight cap was reached at its scheduled time.
    Dropped,
}

impl ErrorKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Http => "http",
            ErrorKind::Stream => "stream",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Dropped => "dropped",
        }
    }
}

/// Client-side timestamps of one request, ms after t0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Response headers received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb_ms: Option<f64>,
    /// First chunk carrying generated text (content or reasoning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// First chunk carrying answer content (not reasoning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_content_ms: Option<f64>,
    /// End of the response: the protocol's end marker, else the last text chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_ms: Option<f64>,
    /// Arrival of every text-bearing chunk.
    #[serde(default)]
    pub chunk_offsets_ms: Vec<f64>,
    /// Characters of text in each of those chunks (same order).
    #[serde(default)]
    pub chunk_chars: Vec<u32>,
    /// Every decoded event, text-bearing or not.
    pub events: u32,
    /// Open loop: t0 − the scheduled time (how late the request went out).
    /// Latency from the schedule is this plus the client figure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_lag_ms: Option<f64>,
}

/// A way a record's stamps can contradict each other (see
/// [`Timing::violation`]). Such a record is flagged by `llmbench report`
/// and kept out of the timing statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimingViolation {
    /// ttfb after ttft (the head came after text it carried?).
    TtfbAfterTtft,
    /// ttft after ttft_content.
    TtftAfterContent,
    /// ttft_content (or ttft) after e2e.
    TtftAfterEnd,
    /// A chunk stamped before the one before it (a negative gap).
    ChunkOutOfOrder { index: usize },
    /// A chunk outside [ttft, e2e].
    ChunkOutsideResponse { index: usize },
    /// A stamp that is negative or not a number.
    NotAnOffset,
}

impl std::fmt::Display for TimingViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimingViolation::TtfbAfterTtft => write!(f, "ttfb after ttft"),
            TimingViolation::TtftAfterContent => write!(f, "ttft after ttft_content"),
            TimingViolation::TtftAfterEnd => write!(f, "ttft after e2e"),
            TimingViolation::ChunkOutOfOrder { index } => {
                write!(f, "chunk {index} stamped before the chunk before it")
            }
            TimingViolation::ChunkOutsideResponse { index } => {
                write!(f, "chunk {index} stamped outside [ttft, e2e]")
            }
            TimingViolation::NotAnOffset => write!(f, "a stamp is negative or not a number"),
        }
    }
}

impl Timing {
    /// The first invariant the stamps break, if any: ttfb ≤ ttft ≤
    /// ttft_content ≤ e2e (over those present), chunk offsets
    /// non-decreasing (every gap ≥ 0) and within [ttft, e2e]. Every record
    /// llmbench writes meets them (one clock per request, stamps held
    /// monotonic); a record that does not is not measured data.
    pub fn violation(&self) -> Option<TimingViolation> {
        let stamps = [
            self.ttfb_ms,
            self.ttft_ms,
            self.ttft_content_ms,
            self.e2e_ms,
        ];
        let chunks = self.chunk_offsets_ms.iter().copied().map(Some);
        if stamps
            .into_iter()
            .chain(chunks)
            .flatten()
            .any(|v| v.is_nan() || v < 0.0)
        {
            return Some(TimingViolation::NotAnOffset);
        }
        let before = |a: Option<f64>, b: Option<f64>| a.zip(b).is_some_and(|(a, b)| a > b);
        if before(self.ttfb_ms, self.ttft_ms) {
            return Some(TimingViolation::TtfbAfterTtft);
        }
        if before(self.ttft_ms, self.ttft_content_ms) {
            return Some(TimingViolation::TtftAfterContent);
        }
        if before(self.ttft_content_ms.or(self.ttft_ms), self.e2e_ms) {
            return Some(TimingViolation::TtftAfterEnd);
        }
        self.chunk_violation()
    }

    fn chunk_violation(&self) -> Option<TimingViolation> {
        let offsets = &self.chunk_offsets_ms;
        if let Some(i) = offsets.windows(2).position(|w| w[1] < w[0]) {
            return Some(TimingViolation::ChunkOutOfOrder { index: i + 1 });
        }
        let low = self.ttft_ms.unwrap_or(f64::NEG_INFINITY);
        let high = self.e2e_ms.unwrap_or(f64::INFINITY);
        offsets
            .iter()
            .position(|&at| at < low || at > high)
            .map(|index| TimingViolation::ChunkOutsideResponse { index })
    }
}

/// Token counts and where they came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenCounts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_source: Option<String>,
    /// Output tokens counted by llmbench on the whole response text with the
    /// model's tokenizer (after the run; from tokens.jsonl).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_source: Option<String>,
    /// Of the locally counted output tokens, how many each text-bearing
    /// chunk completed (aligned with `timing.chunk_offsets_ms`): the basis of
    /// per-token gaps when chunks carry several tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_chunk: Vec<u32>,
    /// Prompt tokens counted by llmbench (the chat template as the server
    /// renders it where it can, else the prompt text as sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_local: Option<u64>,
    /// What `prompt_local` counted, e.g. "llamacpp: chat template (/apply-template)".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_local_source: Option<String>,
}

/// One response counted after the run, as stored in tokens.jsonl.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub cell: String,
    pub repetition: u32,
    pub warmup: bool,
    #[serde(default)]
    pub cold: bool,
    /// The counter: `gguf:PATH`, `llamacpp`, `tiktoken:…`, `heuristic`, …
    pub source: String,
    /// The heuristic's counts are estimates.
    #[serde(default)]
    pub estimate: bool,
    /// This count is the record's output token count (the model's spec was
    /// written); otherwise it cross-checks the server's.
    pub used: bool,
    pub output: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Output tokens completed by each chunk (see `TokenCounts::per_chunk`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_chunk: Vec<u32>,
    /// The cell's prompt counted locally, and what was counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_counted: Option<String>,
}

impl TokenRecord {
    /// Applies this count to its record.
    pub fn apply(&self, record: &mut Record) {
        record.tokens.local = self.output;
        record.tokens.local_source = Some(self.source.clone());
        record.tokens.per_chunk.clone_from(&self.per_chunk);
        record.tokens.prompt_local = self.prompt;
        record
            .tokens
            .prompt_local_source
            .clone_from(&self.prompt_counted);
        if self.used && self.output.is_some() {
            record.tokens.output = self.output;
            record.tokens.output_source = Some(self.source.clone());
        }
    }

    /// Whether this count belongs to `record`.
    pub fn matches(&self, record: &Record) -> bool {
        self.cell == record.cell
            && self.repetition == record.repetition
            && self.warmup == record.warmup
            && self.cold == record.cold
    }
}

impl TokenCounts {
    /// Counts as the server reported them (Ollama eval_count, OpenAI usage).
    pub(crate) fn from_server(stats: &ServerStats) -> TokenCounts {
        let source = |v: Option<u64>| v.map(|_| "server".to_string());
        TokenCounts {
            output: stats.completion_tokens,
            output_source: source(stats.completion_tokens),
            prompt: stats.prompt_tokens,
            prompt_source: source(stats.prompt_tokens),
            local: None,
            local_source: None,
            per_chunk: Vec::new(),
            prompt_local: None,
            prompt_local_source: None,
        }
    }
}

impl Record {
    /// The record of a request that was never sent (so nothing was measured).
    pub(crate) fn unsent(cell: &crate::plan::Cell, repetition: u32, outcome: Outcome) -> Record {
        Record {
            cell: cell.id.clone(),
            model: cell.model.clone(),
            prompt: cell.prompt.clone(),
            repetition,
            warmup: false,
            cold: false,
            started_at: jiff::Timestamp::now().to_string(),
            run_offset_ms: 0.0,
            outcome,
            http_status: None,
            retries: 0,
            timing: Timing::default(),
            finish_reason: None,
            server: ServerStats::default(),
            output_chars: 0,
            reasoning_chars: 0,
            prompt_nonce: None,
            retry: None,
            tokens: TokenCounts::default(),
        }
    }
}

/// The text of a response, kept apart from the record (it can be large and is
/// written to responses/ only when the experiment asks for it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub content: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reasoning: String,
}

#[cfg(test)]
mod tests {
    use super::{Timing, TimingViolation};

    fn timing(ttfb: f64, ttft: f64, content: f64, e2e: f64, chunks: &[f64]) -> Timing {
        Timing {
            ttfb_ms: Some(ttfb),
            ttft_ms: Some(ttft),
            ttft_content_ms: Some(content),
            e2e_ms: Some(e2e),
            chunk_offsets_ms: chunks.to_vec(),
            ..Timing::default()
        }
    }

    #[test]
    fn stamps_in_order_meet_every_invariant() {
        assert_eq!(
            timing(1.0, 2.0, 2.0, 5.0, &[2.0, 3.0, 3.0, 5.0]).violation(),
            None
        );
        assert_eq!(Timing::default().violation(), None, "nothing measured");
    }

    #[test]
    fn each_broken_invariant_is_named() {
        use TimingViolation::*;
        let cases = [
            (timing(11.9, 0.16, 0.16, 5.0, &[0.16]), TtfbAfterTtft),
            (timing(1.0, 3.0, 2.0, 5.0, &[]), TtftAfterContent),
            (timing(1.0, 2.0, 6.0, 5.0, &[]), TtftAfterEnd),
            (
                timing(1.0, 2.0, 2.0, 5.0, &[2.0, 3.0, 2.966]),
                ChunkOutOfOrder { index: 2 },
            ),
            (
                timing(1.0, 2.0, 2.0, 5.0, &[2.0, 5.5]),
                ChunkOutsideResponse { index: 1 },
            ),
            (timing(-1.0, 2.0, 2.0, 5.0, &[]), NotAnOffset),
            (timing(f64::NAN, 2.0, 2.0, 5.0, &[]), NotAnOffset),
        ];
        for (timing, expected) in cases {
            assert_eq!(timing.violation(), Some(expected), "{timing:?}");
        }
    }
}
