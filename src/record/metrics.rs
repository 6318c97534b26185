//! Computing a request's metrics from its record (pure): the definitions
//! are the glossary's (`metrics::glossary`), so code and documentation say
//! the same thing.

use super::Record;
use crate::metrics::RequestMetrics;

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

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
