//! Figures about how a cell was loaded and how far its numbers can be
//! trusted (pure): achieved concurrency and rate beside the requested ones,
//! goodput against `[slo]`, and the measurement-validity figures — dispatch
//! lag (open loop), chunks per request, tokens per chunk, early stops and
//! prompt-cache hits.

use super::metric::{MetricSummary, Values};
use crate::experiment::{Load, Slo};
use crate::metrics::RequestMetrics;
use crate::plan::Cell;
use crate::record::{ErrorKind, Outcome, Record};
use serde::{Deserialize, Serialize};

/// What the cell asked for and what it got.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LoadFigures {
    /// Closed loop: the requested concurrency.
    pub concurrency: Option<u32>,
    /// Open loop: the requested arrival rate, requests/s.
    pub rate: Option<f64>,
    /// Mean requests in flight: Σ request durations / (last completion − first send).
    pub achieved_concurrency: Option<f64>,
    /// Measured requests sent / (last completion − first send).
    pub achieved_rate: Option<f64>,
    /// Requests meeting every `[slo]` target per second (only with `[slo]`).
    pub goodput_rps: Option<f64>,
    /// Share of measured requests meeting every `[slo]` target, 0..1.
    pub slo_attainment: Option<f64>,
}

/// Figures that say whether a measurement can be trusted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Validity {
    /// Successful requests that ended ("stop") before max_tokens.
    pub early_stops: u64,
    /// Successful requests whose prompt was (partly) served from the cache,
    /// as the server reports it (llama.cpp cache_n, OpenAI cached_tokens;
    /// Ollama reports nothing, see `prefill_cache_unknown`).
    pub cache_hits: u64,
    /// Successful requests whose prompt_tps divides the whole prompt by a
    /// prefill time that may cover only part of it (Ollama without
    /// `[run] prompt_nonce`): the figure may be inflated by the cache.
    #[serde(default)]
    pub prefill_cache_unknown: u64,
    pub chunks_per_request: Option<MetricSummary>,
    pub tokens_per_chunk: Option<MetricSummary>,
    /// Open loop: how late requests went out after their scheduled time, ms.
    pub dispatch_lag_ms: Option<MetricSummary>,
    /// Open loop: measured requests sent more than [`LATE_DISPATCH_MS`]
    /// after their scheduled time.
    #[serde(default)]
    pub late_dispatches: u64,
    /// Open loop: measured requests never sent, the in-flight cap being
    /// reached at their scheduled time (also counted as failed, `dropped`).
    #[serde(default)]
    pub dropped: u64,
    /// Measured requests resent once because the server closed a kept-alive
    /// connection without answering: each one is a request the server
    /// dropped, hidden from the success count.
    #[serde(default)]
    pub resends: u64,
    /// `[run] retry`: measured requests sent more than once (answered with
    /// a retried status first), whatever their final outcome.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retried: u64,
    /// `[run] retry`: the retries of those requests (attempts beyond the first).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u64,
    /// `[run] retry`: Σ waits before those retries, ms.
    #[serde(default, skip_serializing_if = "is_zero_ms")]
    pub retry_wait_ms: f64,
    /// Successful measured requests whose stamps break an invariant of
    /// `Timing::violation` (ttfb ≤ ttft ≤ ttft_content ≤ e2e, chunk
    /// offsets in order): kept out of every statistic and warned about.
    #[serde(default)]
    pub timing_violations: u64,
    /// The first such request: `repetition N: what broke`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing_violation_example: Option<String>,
}

/// A dispatch later than this after its scheduled time counts as late, ms:
/// well above the scheduler's own jitter, well below a request's duration.
pub(crate) const LATE_DISPATCH_MS: f64 = 1.0;

/// What a cell's load figures and validity figures need, gathered one
/// request at a time.
#[derive(Debug, Default)]
pub(super) struct CellTally {
    /// Σ e2e of measured requests, ms (summed in record order).
    busy_ms: f64,
    measured: usize,
    /// Successful requests meeting every `[slo]` target.
    good: usize,
    early_stops: u64,
    cache_hits: u64,
    prefill_cache_unknown: u64,
    late: u64,
    dropped: u64,
    resends: u64,
    retried: u64,
    retries: u64,
    retry_wait_ms: f64,
    timing_violations: u64,
    timing_violation_example: Option<String>,
    chunks: Values,
    per_chunk: Values,
    lags: Values,
}

impl CellTally {
    /// Adds a measured request; `ok` carries its metrics when it succeeded.
    /// Returns how many more values are held exactly.
    pub(crate) fn add(
        &mut self,
        cell: &Cell,
        slo: Option<&Slo>,
        record: &Record,
        ok: Option<&RequestMetrics>,
    ) -> usize {
        self.measured += 1;
        self.resends += u64::from(record.retries);
        if let Some(retry) = &record.retry {
            self.retried += 1;
            self.retries += u64::from(retry.attempts.saturating_sub(1));
            self.retry_wait_ms += retry.waited_ms;
        }
        if let Some(e2e) = record.timing.e2e_ms {
            self.busy_ms += e2e;
        }
        let mut held = 0;
        if let Some(lag) = record.timing.dispatch_lag_ms {
            held += self.lags.extend(&[lag]);
        }
        if record
            .timing
            .dispatch_lag_ms
            .is_some_and(|lag| lag > LATE_DISPATCH_MS)
        {
            self.late += 1;
        }
        if matches!(
            record.outcome,
            Outcome::Error {
                kind: ErrorKind::Dropped,
                ..
            }
        ) {
            self.dropped += 1;
        }
        let Some(metrics) = ok else { return held };
        if slo.is_some_and(|slo| meets(slo, record, metrics)) {
            self.good += 1;
        }
        if early_stop(cell, record) {
            self.early_stops += 1;
        }
        if record.server.cached_prompt_tokens.unwrap_or(0) > 0 {
            self.cache_hits += 1;
        }
        self.prefill_cache_unknown += u64::from(metrics.prompt_tps_cache_unknown);
        let chunks = record.timing.chunk_offsets_ms.len();
        held += self.chunks.extend(&[chunks as f64]);
        if let Some(n) = record.tokens.output.filter(|_| chunks > 0) {
            held += self.per_chunk.extend(&[n as f64 / chunks as f64]);
        }
        held
    }

    /// Every store of values, for the aggregation's budget.
    pub(crate) fn stores_mut(&mut self) -> [&mut Values; 3] {
        [&mut self.chunks, &mut self.per_chunk, &mut self.lags]
    }

    /// A successful request whose stamps break an invariant: counted, and
    /// otherwise only as a measured request (no metrics).
    pub(crate) fn add_violation(
        &mut self,
        record: &Record,
        violation: crate::record::TimingViolation,
    ) {
        self.timing_violations += 1;
        self.timing_violation_example
            .get_or_insert_with(|| format!("repetition {}: {violation}", record.repetition));
    }

    /// Reserves room for `requests` successful requests.
    pub(crate) fn reserve_for(&mut self, requests: usize) {
        let requests = requests.min(super::VALUE_BUDGET / 64);
        self.chunks.reserve(requests);
        self.per_chunk.reserve(requests);
    }

    /// Load figures of the cell, from the window between its first send and
    /// last completion.
    pub(crate) fn load_figures(
        &self,
        cell: &Cell,
        slo: Option<&Slo>,
        window_s: Option<f64>,
    ) -> LoadFigures {
        let (concurrency, rate) = match cell.load {
            Load::Closed { concurrency } => (Some(concurrency), None),
            Load::Open { rate, .. } => (None, Some(rate)),
        };
        let busy_s = self.busy_ms / 1e3;
        let good = slo.map(|_| self.good);
        LoadFigures {
            concurrency,
            rate,
            achieved_concurrency: window_s.map(|w| busy_s / w),
            achieved_rate: window_s.map(|w| self.measured as f64 / w),
            goodput_rps: good.zip(window_s).map(|(g, w)| g as f64 / w),
            slo_attainment: good
                .filter(|_| self.measured > 0)
                .map(|g| g as f64 / self.measured as f64),
        }
    }

    /// The values the validity figures summarise: chunks per request,
    /// tokens per chunk, dispatch lags.
    pub(crate) fn validity_values(&self) -> [&Values; 3] {
        [&self.chunks, &self.per_chunk, &self.lags]
    }

    /// Validity figures of the cell, with the statistics of
    /// [`CellTally::validity_values`], in that order.
    pub(crate) fn validity(
        &self,
        [chunks, per_chunk, lags]: [Option<MetricSummary>; 3],
    ) -> Validity {
        Validity {
            early_stops: self.early_stops,
            cache_hits: self.cache_hits,
            prefill_cache_unknown: self.prefill_cache_unknown,
            chunks_per_request: chunks,
            tokens_per_chunk: per_chunk,
            dispatch_lag_ms: lags,
            late_dispatches: self.late,
            dropped: self.dropped,
            resends: self.resends,
            retried: self.retried,
            retries: self.retries,
            retry_wait_ms: self.retry_wait_ms,
            timing_violations: self.timing_violations,
            timing_violation_example: self.timing_violation_example.clone(),
        }
    }
}

/// True when the request meets every target that is set. A target whose
/// figure is missing (e.g. tpot of a one-token reply) is not met.
fn meets(slo: &Slo, record: &Record, m: &RequestMetrics) -> bool {
    // Open loop: latency is read from the schedule (dispatch lag included).
    let lag = record.timing.dispatch_lag_ms.unwrap_or(0.0);
    let within = |target: Option<f64>, value: Option<f64>| {
        target.is_none_or(|t| value.is_some_and(|v| v <= t))
    };
    within(slo.ttft_ms, m.ttft_ms.map(|v| v + lag))
        && within(slo.tpot_ms, m.tpot_ms)
        && within(slo.e2e_ms, m.e2e_ms.map(|v| v + lag))
}

/// A successful request that ended ("stop") before max_tokens.
fn early_stop(cell: &Cell, record: &Record) -> bool {
    matches!(record.finish_reason.as_deref(), Some("stop" | "eos"))
        && record
            .tokens
            .output
            .zip(cell.settings.max_tokens)
            .is_some_and(|(n, max)| n < u64::from(max))
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

fn is_zero_ms(value: &f64) -> bool {
    *value == 0.0
}
