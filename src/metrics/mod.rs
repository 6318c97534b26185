//! What a request's metrics are: [`RequestMetrics`], the metric registry
//! (names, units, directions, definitions), the glossary every report states,
//! and thresholds on those metrics. Computing them from a record is
//! `record::request_metrics`; this layer sits below the experiment file so
//! that `[thresholds]` are checked against the registry when it is read.

pub(crate) mod registry;
pub(crate) mod threshold;

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
