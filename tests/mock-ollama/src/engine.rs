//! The simulated runner: a spawned task that loads the model through the scheduler, waits
//! the configured TTFT, emits chunks with the inter-token delay, applies `num_predict`,
//! stop sequences and mid-stream faults, and finishes with metrics measured from the real
//! delays. It produces endpoint-neutral [`Event`]s on a channel; it stops as soon as the
//! receiver is dropped (client disconnect).

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::MockModel;
use crate::state::{KeepAlive, State};
use crate::text::{context_ids, natural_tokens};

/// One generation, fully validated.
#[derive(Debug, Clone)]
pub struct Job {
    pub model: MockModel,
    /// Negative = unlimited.
    pub num_predict: Option<i64>,
    /// Emit a reasoning section (thinking model with thinking on).
    pub think: bool,
    pub keep_alive: KeepAlive,
    pub num_ctx: Option<u64>,
    pub stop: Vec<String>,
    pub prompt_tokens: u64,
    /// The prompt as rendered, for the prompt cache (`MockConfig::prompt_cache`).
    pub prompt_text: String,
    /// `/api/generate` outside raw mode: attach `context` to the final record.
    pub with_context: bool,
    /// Mid-stream fault: after this many chunks, an error (`Some(message)`) or truncation.
    pub cut: Option<(usize, Option<String>)>,
    /// Handler entry, the origin of `total_duration` and `load_duration`.
    pub started: Instant,
}

/// The six metrics of a final record; zero values are omitted like Go's `omitempty`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Metrics {
    #[serde(skip_serializing_if = "is_zero")]
    pub total_duration: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub load_duration: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub prompt_eval_count: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub prompt_eval_duration: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub eval_count: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub eval_duration: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// What the runner reports, before any endpoint-specific encoding.
#[derive(Debug, Clone)]
pub enum Event {
    /// Generated text; both parts are empty for the empty-chunk quirk.
    Chunk {
        at: Timestamp,
        thinking: String,
        content: String,
    },
    Done {
        at: Timestamp,
        reason: &'static str,
        metrics: Metrics,
        context: Option<Vec<u32>>,
    },
    Error(String),
}

/// Starts the runner task for `job`.
pub fn spawn(state: Arc<State>, job: Job) -> mpsc::Receiver<Event> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let _guard = state.start_generation();
        let keep_alive = job.keep_alive;
        let model = job.model.clone();
        run(&state, job, &tx).await;
        state.release(&model, keep_alive);
    });
    rx
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

/// Sleeps `d` unless the receiver goes away first; false when it did.
async fn pause(tx: &mpsc::Sender<Event>, d: Duration) -> bool {
    if d.is_zero() {
        return !tx.is_closed();
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = tx.closed() => false,
    }
}

async fn run(state: &State, job: Job, tx: &mpsc::Sender<Event>) {
    let cfg = &state.config;
    state.acquire(&job.model, job.num_ctx, job.keep_alive).await;
    let loaded_at = Instant::now();
    let prefill = if cfg.prompt_cache {
        let cached = state.reuse_prompt(&job.model.name, &job.prompt_text, job.prompt_tokens);
        cfg.ttft
            .mul_f64((job.prompt_tokens - cached) as f64 / job.prompt_tokens.max(1) as f64)
    } else {
        cfg.ttft
    };
    if !pause(tx, prefill).await {
        return;
    }
    let prefill_done = Instant::now();

    let mut tokens = natural_tokens(cfg.response_tokens, job.think);
    let mut reason = "stop";
    if let Some(n) = job.num_predict.and_then(|n| usize::try_from(n).ok()) {
        if n < tokens.len() {
            tokens.truncate(n);
            reason = "length";
        }
    }
    let chunks: Vec<_> = tokens.chunks(cfg.tokens_per_chunk.max(1)).collect();
    let mut eval_count = 0u64;
    let mut answer = String::new();
    for (i, chunk) in chunks.iter().enumerate() {
        if let Some((after, message)) = &job.cut {
            if i == *after {
                if let Some(m) = message {
                    let _ = tx.send(Event::Error(m.clone())).await;
                }
                return;
            }
        }
        if i > 0 && !pause(tx, cfg.inter_token).await {
            return;
        }
        if cfg.empty_chunks && !send_chunk(tx, String::new(), String::new()).await {
            return;
        }
        let thinking: String = chunk
            .iter()
            .filter(|t| t.thinking)
            .map(|t| t.text.as_str())
            .collect();
        let mut content: String = chunk
            .iter()
            .filter(|t| !t.thinking)
            .map(|t| t.text.as_str())
            .collect();
        eval_count += chunk.len() as u64;
        let stopped = cut_at_stop(&answer, &mut content, &job.stop);
        answer.push_str(&content);
        if (!thinking.is_empty() || !content.is_empty()) && !send_chunk(tx, thinking, content).await
        {
            return;
        }
        if stopped {
            reason = "stop";
            break;
        }
    }
    if let Some((after, message)) = &job.cut {
        if *after >= chunks.len() {
            if let Some(m) = message {
                let _ = tx.send(Event::Error(m.clone())).await;
            }
            return;
        }
    }
    let decode_done = Instant::now();

    let mut metrics = Metrics {
        total_duration: 0,
        load_duration: nanos(loaded_at - job.started),
        prompt_eval_count: job.prompt_tokens,
        prompt_eval_duration: nanos(prefill_done - loaded_at),
        eval_count,
        eval_duration: if eval_count > 0 {
            nanos(decode_done - prefill_done)
        } else {
            0
        },
    };
    if cfg.omit_prompt_eval_count {
        metrics.prompt_eval_count = 0;
        metrics.prompt_eval_duration = 0;
    }
    let context = job
        .with_context
        .then(|| context_ids(job.prompt_tokens + eval_count));
    let parts = metrics.load_duration + metrics.prompt_eval_duration + metrics.eval_duration;
    metrics.total_duration = nanos(job.started.elapsed()).max(parts + 1);
    let done = Event::Done {
        at: Timestamp::now(),
        reason,
        metrics,
        context,
    };
    let _ = tx.send(done).await;
}

async fn send_chunk(tx: &mpsc::Sender<Event>, thinking: String, content: String) -> bool {
    let ev = Event::Chunk {
        at: Timestamp::now(),
        thinking,
        content,
    };
    tx.send(ev).await.is_ok()
}

/// Cuts `new` where a stop sequence appears in `before + new`; true when one did.
fn cut_at_stop(before: &str, new: &mut String, stops: &[String]) -> bool {
    let full = format!("{before}{new}");
    let first = stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| full.find(s.as_str()))
        .min();
    match first {
        Some(pos) => {
            let keep = pos.saturating_sub(before.len());
            new.truncate(keep);
            true
        }
        None => false,
    }
}

/// A whole generation gathered for a `stream:false` reply.
#[derive(Debug, Default)]
pub struct Collected {
    pub thinking: String,
    pub content: String,
    /// `(created_at, done_reason, metrics, context)` of the final record.
    pub done: Option<(Timestamp, &'static str, Metrics, Option<Vec<u32>>)>,
    pub error: Option<String>,
}

/// Drains the runner, starting with an already received first event.
pub async fn collect(first: Event, rx: &mut mpsc::Receiver<Event>) -> Collected {
    let mut out = Collected::default();
    let mut next = Some(first);
    while let Some(ev) = next {
        match ev {
            Event::Chunk {
                thinking, content, ..
            } => {
                out.thinking.push_str(&thinking);
                out.content.push_str(&content);
            }
            Event::Done {
                at,
                reason,
                metrics,
                context,
            } => out.done = Some((at, reason, metrics, context)),
            Event::Error(m) => out.error = Some(m),
        }
        next = rx.recv().await;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_sequences_cut_the_answer() {
        let mut new = " two, three".to_string();
        assert!(cut_at_stop("one,", &mut new, &["three".to_string()]));
        assert_eq!(new, " two, ");
        let mut new = "x".to_string();
        assert!(!cut_at_stop("", &mut new, &[]));
    }
}
