//! Per-request metrics derived from a `Record` (pure). The definitions are the
//! ones in the report glossary (`glossary()`), so code and documentation say
//! the same thing.

pub(crate) mod registry;

use crate::record::Record;
use serde::Serialize;

/// Metrics of one successful request. `None` where the inputs are missing
/// (e.g. no token count, or fewer than two tokens for a per-token figure).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestMetrics {
    pub ttfb_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub ttft_content_ms: Option<f64>,
    pub e2e_ms: Option<f64>,
    pub tpot_ms: Option<f64>,
    pub decode_tps: Option<f64>,
    pub server_decode_tps: Option<f64>,
    pub prompt_tps: Option<f64>,
    /// `prompt_tps` divides the whole prompt (Ollama's prompt_eval_count) by
    /// a prefill time that covers only the part not cached, and nothing
    /// says how much was cached: it may be a cache artefact.
    pub prompt_tps_cache_unknown: bool,
    pub load_ms: Option<f64>,
    pub output_tokens: Option<f64>,
    pub prompt_tokens: Option<f64>,
    pub chunk_gaps_ms: Vec<f64>,
    /// Per-token gaps: each chunk's gap spread over the tokens it completed
    /// (empty unless tokens were attributed to chunks).
    pub token_gaps_ms: Vec<f64>,
}

/// Computes the metrics of one record.
pub fn request_metrics(record: &Record) -> RequestMetrics {
    let mut metrics = RequestMetrics::default();
    fill_request_metrics(record, &mut metrics);
    metrics
}

/// [`request_metrics`] into `out`, reusing its gap buffers: aggregating a
/// million records then allocates nothing per record.
pub(crate) fn fill_request_metrics(record: &Record, out: &mut RequestMetrics) {
    let mut chunk_gaps_ms = std::mem::take(&mut out.chunk_gaps_ms);
    let mut token_gaps_ms = std::mem::take(&mut out.token_gaps_ms);
    let t = &record.timing;
    chunk_gaps_into(&t.chunk_offsets_ms, &mut chunk_gaps_ms);
    token_gaps_into(
        &t.chunk_offsets_ms,
        &record.tokens.per_chunk,
        &mut token_gaps_ms,
    );
    let output = record.tokens.output;
    let decode_window = match (t.ttft_ms, t.e2e_ms) {
        (Some(ttft), Some(e2e)) if e2e > ttft => Some(e2e - ttft),
        _ => None,
    };
    let intervals = output.filter(|&n| n >= 2).map(|n| (n - 1) as f64);
    *out = RequestMetrics {
        ttfb_ms: t.ttfb_ms,
        ttft_ms: t.ttft_ms,
        ttft_content_ms: t.ttft_content_ms,
        e2e_ms: t.e2e_ms,
        tpot_ms: decode_window.zip(intervals).map(|(w, n)| w / n),
        decode_tps: decode_window.zip(intervals).map(|(w, n)| n / (w / 1e3)),
        server_decode_tps: per_second(
            record.server.completion_tokens,
            record.server.eval_duration_ns,
        ),
        prompt_tps: prompt_tps(record).map(|(tps, _)| tps),
        prompt_tps_cache_unknown: prompt_tps(record).is_some_and(|(_, exact)| !exact),
        load_ms: record.server.load_duration_ns.map(|ns| ns as f64 / 1e6),
        output_tokens: output.map(|n| n as f64),
        prompt_tokens: record.tokens.prompt.map(|n| n as f64),
        chunk_gaps_ms,
        token_gaps_ms,
    };
}

/// Prefill speed: prompt tokens the server evaluated / its prefill time,
/// and whether that token count is known to be right. The evaluated tokens
/// are llama.cpp's `timings.prompt_n`; else the prompt count less the
/// cached count (`cached_tokens`, `cache_n`) when the server reports one;
/// else the whole prompt count (Ollama's prompt_eval_count, which counts
/// cached tokens too while prompt_eval_duration does not time them) —
/// right only when nothing was cached, which a per-request nonce
/// (`[run] prompt_nonce`) makes sure of.
pub(crate) fn prompt_tps(record: &Record) -> Option<(f64, bool)> {
    let s = &record.server;
    let (tokens, exact) = match (s.prompt_eval_tokens, s.cached_prompt_tokens) {
        (Some(evaluated), _) => (Some(evaluated), true),
        (None, Some(cached)) => (s.prompt_tokens.map(|n| n.saturating_sub(cached)), true),
        (None, None) => (s.prompt_tokens, record.prompt_nonce.is_some()),
    };
    per_second(tokens, s.prompt_eval_duration_ns).map(|tps| (tps, exact))
}

fn per_second(count: Option<u64>, duration_ns: Option<u64>) -> Option<f64> {
    match (count, duration_ns) {
        (Some(n), Some(ns)) if n > 0 && ns > 0 => Some(n as f64 / (ns as f64 / 1e9)),
        _ => None,
    }
}

/// Gaps between successive text-bearing chunks.
#[cfg(test)]
pub(crate) fn chunk_gaps(offsets: &[f64]) -> Vec<f64> {
    let mut gaps = Vec::new();
    chunk_gaps_into(offsets, &mut gaps);
    gaps
}

fn chunk_gaps_into(offsets: &[f64], gaps: &mut Vec<f64>) {
    gaps.clear();
    gaps.extend(offsets.windows(2).map(|w| w[1] - w[0]));
}

/// Gaps between successive tokens when chunk j completed `per_chunk[j]`
/// tokens: a chunk that completes k tokens a time Δ after the previous
/// token-completing chunk gives k gaps of Δ/k. The first chunk's extra tokens
/// have no earlier chunk to measure from and give no gaps; chunks that
/// complete no token (half a character's bytes, a split word) pass their
/// time on to the next one. Empty when the two lists do not line up.
#[cfg(test)]
pub(crate) fn token_gaps(offsets: &[f64], per_chunk: &[u32]) -> Vec<f64> {
    let mut gaps = Vec::new();
    token_gaps_into(offsets, per_chunk, &mut gaps);
    gaps
}

fn token_gaps_into(offsets: &[f64], per_chunk: &[u32], gaps: &mut Vec<f64>) {
    gaps.clear();
    if per_chunk.len() != offsets.len() {
        return;
    }
    let mut previous: Option<f64> = None;
    for (&at, &tokens) in offsets.iter().zip(per_chunk) {
        if tokens == 0 {
            continue;
        }
        if let Some(before) = previous {
            let each = (at - before) / f64::from(tokens);
            gaps.extend(std::iter::repeat_n(each, tokens as usize));
        }
        previous = Some(at);
    }
}

/// One glossary entry.
#[derive(Debug, Clone, Serialize)]
pub struct Definition {
    pub metric: &'static str,
    pub unit: &'static str,
    pub definition: &'static str,
    /// How far the value can be trusted: "measured" (llmbench's clock),
    /// "server" (the server's own figure), "counted" (from a token count);
    /// empty for entries outside the registry.
    pub exactness: &'static str,
}

/// The metric definitions every report states: the request's time origin,
/// every metric of the registry, and the per-cell rates.
pub(crate) fn glossary() -> Vec<Definition> {
    let d = |metric, unit, definition| Definition {
        metric,
        unit,
        definition,
        exactness: "",
    };
    let t0 = d("t0", "", "When the request is handed to the HTTP connection (monotonic clock); every client time is measured from it.");
    let metrics = registry::METRICS.iter().map(|m| Definition {
        exactness: m.exactness.name(),
        ..d(m.short, m.unit, m.definition)
    });
    let rates = [
        d(
            "throughput",
            "tokens/s",
            "Σ output tokens of a cell's measured requests / (last completion − first send).",
        ),
        d(
            "request_rate",
            "requests/s",
            "Measured requests of a cell / (last completion − first send).",
        ),
    ];
    std::iter::once(t0).chain(metrics).chain(rates).collect()
}

#[cfg(test)]
mod tests;
