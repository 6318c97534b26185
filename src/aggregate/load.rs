//! Figures about how a cell was loaded and how far its numbers can be
//! trusted (pure): achieved concurrency and rate beside the requested ones,
//! goodput against `[slo]`, and the measurement-validity figures — dispatch
//! lag (open loop), chunks per request, tokens per chunk, early stops and
//! prompt-cache hits.

use super::metric::MetricSummary;
use crate::experiment::{Load, Slo};
use crate::metrics::request_metrics;
use crate::plan::Cell;
use crate::record::Record;
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
    /// Successful requests whose prompt was (partly) served from the cache.
    pub cache_hits: u64,
    pub chunks_per_request: Option<MetricSummary>,
    pub tokens_per_chunk: Option<MetricSummary>,
    /// Open loop: how late requests went out after their scheduled time, ms.
    pub dispatch_lag_ms: Option<MetricSummary>,
}

/// Load figures of one cell from its measured records (`ok` ⊆ `measured`).
pub fn load_figures(
    cell: &Cell,
    measured: &[&Record],
    ok: &[&Record],
    slo: Option<&Slo>,
    window_s: Option<f64>,
) -> LoadFigures {
    let (concurrency, rate) = match cell.load {
        Load::Closed { concurrency } => (Some(concurrency), None),
        Load::Open { rate, .. } => (None, Some(rate)),
    };
    let busy_s: f64 = measured.iter().filter_map(|r| r.timing.e2e_ms).sum::<f64>() / 1e3;
    let good = slo.map(|slo| ok.iter().filter(|r| meets(slo, r)).count());
    LoadFigures {
        concurrency,
        rate,
        achieved_concurrency: window_s.map(|w| busy_s / w),
        achieved_rate: window_s.map(|w| measured.len() as f64 / w),
        goodput_rps: good.zip(window_s).map(|(g, w)| g as f64 / w),
        slo_attainment: good
            .filter(|_| !measured.is_empty())
            .map(|g| g as f64 / measured.len() as f64),
    }
}

/// True when the request meets every target that is set. A target whose
/// figure is missing (e.g. tpot of a one-token reply) is not met.
fn meets(slo: &Slo, record: &Record) -> bool {
    let m = request_metrics(record);
    // Open loop: latency is read from the schedule (dispatch lag included).
    let lag = record.timing.dispatch_lag_ms.unwrap_or(0.0);
    let within = |target: Option<f64>, value: Option<f64>| {
        target.is_none_or(|t| value.is_some_and(|v| v <= t))
    };
    within(slo.ttft_ms, m.ttft_ms.map(|v| v + lag))
        && within(slo.tpot_ms, m.tpot_ms)
        && within(slo.e2e_ms, m.e2e_ms.map(|v| v + lag))
}

/// Validity figures of one cell.
pub fn validity(cell: &Cell, measured: &[&Record], ok: &[&Record]) -> Validity {
    let early_stops = ok
        .iter()
        .filter(|r| matches!(r.finish_reason.as_deref(), Some("stop" | "eos")))
        .filter(|r| {
            r.tokens
                .output
                .zip(cell.settings.max_tokens)
                .is_some_and(|(n, max)| n < u64::from(max))
        })
        .count() as u64;
    let cache_hits = ok
        .iter()
        .filter(|r| r.server.cached_prompt_tokens.unwrap_or(0) > 0)
        .count() as u64;
    let chunks: Vec<f64> = ok
        .iter()
        .map(|r| r.timing.chunk_offsets_ms.len() as f64)
        .collect();
    let per_chunk: Vec<f64> = ok
        .iter()
        .filter(|r| !r.timing.chunk_offsets_ms.is_empty())
        .filter_map(|r| {
            r.tokens
                .output
                .map(|n| n as f64 / r.timing.chunk_offsets_ms.len() as f64)
        })
        .collect();
    let lags: Vec<f64> = measured
        .iter()
        .filter_map(|r| r.timing.dispatch_lag_ms)
        .collect();
    Validity {
        early_stops,
        cache_hits,
        chunks_per_request: MetricSummary::of(chunks),
        tokens_per_chunk: MetricSummary::of(per_chunk),
        dispatch_lag_ms: MetricSummary::of(lags),
    }
}
