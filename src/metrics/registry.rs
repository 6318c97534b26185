//! The metric registry: every per-request metric defined once — its name in
//! summaries (`ttft_ms`), its short name (`ttft`, what thresholds, `[slo]`
//! and the glossary say), unit, which direction is better, how to read it
//! from a request's metrics, its definition and how exact it is. The
//! aggregation's tables, compare's lookup, the threshold names, the cells.csv
//! columns and the glossary are all derived from [`METRICS`], so adding a
//! metric touches this file (and `RequestMetrics`) only.

use super::RequestMetrics;
use serde::{Deserialize, Serialize};

/// Whether lower or higher values are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Lower,
    Higher,
}

/// How far a metric's value can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exactness {
    /// Taken on llmbench's monotonic clock.
    Measured,
    /// As the server reports it (its own clock or counter).
    ServerReported,
    /// A token count, or a figure computed from one: exact with the model's
    /// own tokenizer or the server's count, an estimate with the heuristic.
    Counted,
}

impl Exactness {
    /// The word the glossary gives.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Exactness::Measured => "measured",
            Exactness::ServerReported => "server",
            Exactness::Counted => "counted",
        }
    }
}

/// Reads one value of a metric from a request's metrics.
pub(crate) type Getter = fn(&RequestMetrics) -> Option<f64>;

/// Where a metric's values come from in one request's metrics.
#[derive(Clone, Copy)]
pub(crate) enum Values {
    /// One value per request (or none).
    Scalar(Getter),
    /// Several values per request, pooled over requests (gaps).
    Pooled(fn(&RequestMetrics) -> &[f64]),
}

/// One metric.
#[derive(Clone, Copy)]
pub(crate) struct MetricDef {
    /// The key in summaries, reports and cells.csv (`ttft_ms`).
    pub name: &'static str,
    /// The short name (`ttft`): thresholds and the glossary use it.
    pub short: &'static str,
    pub unit: &'static str,
    pub better: Better,
    pub values: Values,
    /// The glossary's definition.
    pub definition: &'static str,
    pub exactness: Exactness,
}

impl MetricDef {
    /// This metric's value of one request, for a scalar metric; the mean of
    /// its values for a pooled one (so each request counts once).
    pub(crate) fn per_request(&self, metrics: &RequestMetrics) -> Option<f64> {
        match self.values {
            Values::Scalar(get) => get(metrics),
            Values::Pooled(get) => {
                let values = get(metrics);
                (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
            }
        }
    }

    /// Every value of this metric in one request (one for a scalar metric).
    pub(crate) fn extend_values(&self, metrics: &RequestMetrics, out: &mut Vec<f64>) {
        match self.values {
            Values::Scalar(get) => out.extend(get(metrics)),
            Values::Pooled(get) => out.extend_from_slice(get(metrics)),
        }
    }

    pub(crate) fn is_pooled(&self) -> bool {
        matches!(self.values, Values::Pooled(_))
    }
}

const fn scalar(
    name: &'static str,
    short: &'static str,
    unit: &'static str,
    better: Better,
    get: Getter,
    exactness: Exactness,
    definition: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        short,
        unit,
        better,
        values: Values::Scalar(get),
        definition,
        exactness,
    }
}

use Better::{Higher, Lower};
use Exactness::{Counted, Measured, ServerReported};

/// Every per-request metric, in report order (the order of cells.csv's
/// column groups). A `const` so that other constants can be derived from it.
pub(crate) const METRICS: [MetricDef; 13] = [
    scalar("ttfb_ms", "ttfb", "ms", Lower, |m| m.ttfb_ms, Measured,
        "First bytes of the response head received − t0 (on the request's one clock: the kernel's receive stamp where the socket gives one)."),
    scalar("ttft_ms", "ttft", "ms", Lower, |m| m.ttft_ms, Measured,
        "First chunk carrying generated text (content or reasoning) − t0. Role-only and empty chunks do not count."),
    scalar("ttft_content_ms", "ttft_content", "ms", Lower, |m| m.ttft_content_ms, Measured,
        "First chunk carrying answer content (not reasoning) − t0; differs from ttft only for reasoning models."),
    scalar("e2e_ms", "e2e", "ms", Lower, |m| m.e2e_ms, Measured,
        "End of the response (the protocol's end marker: Ollama done:true, OpenAI [DONE]) − t0."),
    scalar("tpot_ms", "tpot", "ms", Lower, |m| m.tpot_ms, Counted,
        "(e2e − ttft) / (output_tokens − 1), per request. vLLM calls this TPOT; AIPerf calls it inter-token latency (ITL)."),
    MetricDef {
        name: "chunk_gap_ms",
        short: "chunk_gap",
        unit: "ms",
        better: Lower,
        values: Values::Pooled(|m| &m.chunk_gaps_ms),
        definition: "Time between successive text-bearing chunks, pooled over requests. vLLM calls this ITL; AIPerf inter-chunk latency (ICL). A chunk may carry several tokens.",
        exactness: Measured,
    },
    MetricDef {
        name: "token_gap_ms",
        short: "token_gap",
        unit: "ms",
        better: Lower,
        values: Values::Pooled(|m| &m.token_gaps_ms),
        definition: "Time between successive output tokens, pooled over requests: tokens are counted on the whole response with the model's tokenizer and attributed to the chunk that delivered their last byte; a chunk completing k tokens Δ after the previous one gives k gaps of Δ/k. Needs a local or llama.cpp tokenizer; with one token per chunk it equals chunk_gap. AIPerf's and vLLM's per-token ITL.",
        exactness: Counted,
    },
    scalar("decode_tps", "decode_tps", "tokens/s", Higher, |m| m.decode_tps, Counted,
        "(output_tokens − 1) / (e2e − ttft), client side."),
    scalar("server_decode_tps", "server_decode_tps", "tokens/s", Higher, |m| m.server_decode_tps, ServerReported,
        "Server-measured decode speed: Ollama eval_count / eval_duration; llama.cpp completion tokens / predicted_ms."),
    scalar("prompt_tps", "prompt_tps", "tokens/s", Higher, |m| m.prompt_tps, ServerReported,
        "Prefill speed: prompt tokens the server evaluated / its prefill time. llama.cpp: timings.prompt_n / prompt_ms (tokens reused from the cache are not evaluated and not counted, so with a cache hit it is the speed of a shorter prefill). Ollama: prompt_eval_count / prompt_eval_duration, where the count includes cached tokens but the time does not — flagged as possibly inflated unless [run] prompt_nonce = true kept the cache out."),
    scalar("load_ms", "load", "ms", Lower, |m| m.load_ms, ServerReported,
        "Ollama load_duration: model load plus scheduler wait (tiny when the model is already loaded)."),
    scalar("output_tokens", "output_tokens", "tokens", Higher, |m| m.output_tokens, Counted,
        "Generated tokens as the server reports them (Ollama eval_count, OpenAI usage.completion_tokens); reasoning tokens included."),
    scalar("prompt_tokens", "prompt_tokens", "tokens", Lower, |m| m.prompt_tokens, Counted,
        "Prompt tokens as the server reports them (Ollama prompt_eval_count, OpenAI usage.prompt_tokens), or as the model's tokenizer counts the prompt."),
];

/// The metric called `name`: its summary name (`ttft_ms`) or its short
/// name (`ttft`).
pub(crate) fn lookup(name: &str) -> Option<&'static MetricDef> {
    REGISTRY.iter().find(|m| m.name == name || m.short == name)
}

/// [`lookup`], with an error that lists the names there are.
pub(crate) fn require(name: &str) -> Result<&'static MetricDef, UnknownMetric> {
    lookup(name).ok_or_else(|| UnknownMetric(name.to_string()))
}

/// A name that is not in the registry; the message lists the names there are.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{name}` is not a metric; use one of {names}", name = .0, names = short_names().join(", "))]
pub struct UnknownMetric(pub String);

fn short_names() -> Vec<&'static str> {
    REGISTRY.iter().map(|m| m.short).collect()
}

/// The metrics `llmbench compare` tests between runs, in order (their direction is the registry's).
/// `load_ms` is left out: warm, it is microseconds of scheduler time whose
/// relative jitter is large and meaningless (cold starts are summarised apart).
pub(crate) const COMPARED: [&str; 8] = [
    "ttft_ms",
    "tpot_ms",
    "e2e_ms",
    "decode_tps",
    "chunk_gap_ms",
    "ttfb_ms",
    "server_decode_tps",
    "prompt_tps",
];

/// The registry as a place in memory, for `lookup`'s references.
static REGISTRY: [MetricDef; METRICS.len()] = METRICS;

/// Every summary name, in report order.
pub(crate) const NAMES: [&str; METRICS.len()] = {
    let mut names = [""; METRICS.len()];
    let mut i = 0;
    while i < METRICS.len() {
        names[i] = METRICS[i].name;
        i += 1;
    }
    names
};

/// How many metrics have one value per request.
pub(crate) const SCALAR_COUNT: usize = {
    let (mut count, mut i) = (0, 0);
    while i < METRICS.len() {
        if let Values::Scalar(_) = METRICS[i].values {
            count += 1;
        }
        i += 1;
    }
    count
};

/// The metrics with one value per request, in report order, with their getters.
pub(crate) const SCALARS: [(&str, Getter); SCALAR_COUNT] = {
    let mut scalars: [(&str, Getter); SCALAR_COUNT] = [("", |_| None); SCALAR_COUNT];
    let (mut n, mut i) = (0, 0);
    while i < METRICS.len() {
        if let Values::Scalar(get) = METRICS[i].values {
            scalars[n] = (METRICS[i].name, get);
            n += 1;
        }
        i += 1;
    }
    scalars
};

/// The statistics cells.csv has for each metric: (column suffix, template
/// path under `metrics.<name>`).
const CSV_STATS: [(&str, &str); 16] = [
    ("count", "count"),
    ("mean", "mean"),
    ("stddev", "stddev"),
    ("cv", "cv"),
    ("min", "min"),
    ("p50", "p50"),
    ("p90", "p90"),
    ("p95", "p95"),
    ("p99", "p99"),
    ("max", "max"),
    ("ci95_low", "ci95_mean.low"),
    ("ci95_high", "ci95_mean.high"),
    ("p50_ci95_low", "ci95_p50.low"),
    ("p50_ci95_high", "ci95_p50.high"),
    ("p95_ci95_low", "ci95_p95.low"),
    ("p95_ci95_high", "ci95_p95.high"),
];

/// cells.csv's metric columns: `<metric>_<stat>` for every metric and statistic.
pub(crate) fn csv_header() -> String {
    let columns = METRICS.iter().flat_map(|m| {
        CSV_STATS
            .iter()
            .map(move |(suffix, _)| format!("{}_{suffix}", m.name))
    });
    columns.collect::<Vec<_>>().join(",")
}

/// cells.csv's metric fields, as Handlebars expressions on a cell.
pub(crate) fn csv_fields() -> String {
    let fields = METRICS.iter().flat_map(|m| {
        CSV_STATS
            .iter()
            .map(move |(_, path)| format!("{{{{csv metrics.{}.{path}}}}}", m.name))
    });
    fields.collect::<Vec<_>>().join(",")
}
