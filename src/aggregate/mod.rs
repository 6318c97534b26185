//! Aggregation (pure): records → per-cell and per-model statistics. Only
//! measured, successful requests enter latency statistics; warmups are
//! counted, failures are counted by kind with an example message. Load
//! figures and measurement validity are in `load.rs`; per-metric statistics
//! (with bootstrap intervals and outliers) in `metric.rs`.

mod extras;
mod load;
mod metric;

pub use extras::{attach_quality, attach_resources, attach_token_agreement, TokenAgreement};
pub use load::{LoadFigures, Validity};
pub use metric::MetricSummary;

use crate::metrics::{request_metrics, RequestMetrics};
use crate::plan::{Cell, Plan};
use crate::record::{Outcome, Record};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Aggregates of a whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    pub totals: Counts,
    pub cells: Vec<CellSummary>,
    pub models: Vec<GroupSummary>,
    /// Records that could not be read back (a line cut short by a crash).
    pub unreadable_records: usize,
}

/// Request counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    /// Measured requests sent (ok + failed).
    pub measured: u64,
    pub ok: u64,
    pub failed: u64,
    pub warmup: u64,
    /// Failure rate among measured requests, 0..1.
    pub error_rate: f64,
}

/// One kind of failure, with how often it happened and one message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorCount {
    pub kind: String,
    pub count: u64,
    pub example: String,
}

/// Statistics of one cell.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellSummary {
    pub id: String,
    pub model: String,
    pub label: String,
    pub prompt: String,
    pub counts: Counts,
    pub errors: Vec<ErrorCount>,
    /// Metric name → statistics (names as in the glossary, with unit suffix).
    pub metrics: BTreeMap<String, MetricSummary>,
    /// Σ output tokens / (last completion − first send), tokens/s.
    pub throughput_tps: Option<f64>,
    /// Measured requests / (last completion − first send).
    pub request_rate: Option<f64>,
    /// finish_reason → count among successful measured requests.
    pub finish_reasons: BTreeMap<String, u64>,
    /// `[matrix]` axis values of this cell.
    #[serde(default)]
    pub matrix: BTreeMap<String, serde_json::Value>,
    /// Closed loop: the requested concurrency (also under `load`; here for charts).
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Requested and achieved load, goodput.
    #[serde(default)]
    pub load: LoadFigures,
    /// Dispatch lag, chunks per request, tokens per chunk, early stops, cache hits.
    #[serde(default)]
    pub validity: Validity,
    /// Share of responses passing all their checks (cells with checks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<crate::quality::PassRate>,
    /// CPU, memory, server and GPU figures over the cell's window (with a monitor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<crate::monitor::WindowSummary>,
}

/// Statistics pooled over several cells (per model).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupSummary {
    pub name: String,
    pub label: String,
    pub cells: usize,
    pub counts: Counts,
    pub metrics: BTreeMap<String, MetricSummary>,
    /// Cold starts (model unloaded first), when `[run] cold_start` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<ColdStart>,
    /// Share of the model's responses passing all their checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<crate::quality::PassRate>,
    /// Token count sources and their agreement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenAgreement>,
}

/// Cold-start measurements of one model: requests that had to load it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdStart {
    pub counts: Counts,
    pub errors: Vec<ErrorCount>,
    /// `load_ms` (server: Ollama load_duration), `ttft_ms` and `e2e_ms`
    /// (client, load included), and the other per-request metrics.
    pub metrics: BTreeMap<String, MetricSummary>,
}

fn cold_summary(cold: &[&Record]) -> ColdStart {
    let ok: Vec<&Record> = cold.iter().copied().filter(|r| r.outcome.is_ok()).collect();
    ColdStart {
        counts: counts(cold),
        errors: error_counts(cold),
        metrics: metric_summaries(&ok),
    }
}

/// Aggregates `records` along `plan`'s cells.
pub fn aggregate(plan: &Plan, records: &[Record], unreadable_records: usize) -> RunSummary {
    // Cold starts are summarised per model, apart from the warm cells.
    let mut by_cell: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
    for record in records.iter().filter(|r| !r.cold) {
        by_cell
            .entry(record.cell.as_str())
            .or_default()
            .push(record);
    }
    let cells: Vec<CellSummary> = plan
        .cells
        .iter()
        .map(|cell| {
            summarize_cell(
                plan,
                cell,
                by_cell.get(cell.id.as_str()).map_or(&[][..], Vec::as_slice),
            )
        })
        .collect();
    let mut models = summarize_models(plan, &by_cell);
    for model in &mut models {
        let cold: Vec<&Record> = records
            .iter()
            .filter(|r| r.cold && r.model == model.name)
            .collect();
        if !cold.is_empty() {
            model.cold_start = Some(cold_summary(&cold));
        }
    }
    let totals = sum_counts(cells.iter().map(|c| &c.counts));
    RunSummary {
        totals,
        cells,
        models,
        unreadable_records,
    }
}

fn summarize_cell(plan: &Plan, cell: &Cell, records: &[&Record]) -> CellSummary {
    let measured: Vec<&Record> = records.iter().copied().filter(|r| !r.warmup).collect();
    let ok: Vec<&Record> = measured
        .iter()
        .copied()
        .filter(|r| r.outcome.is_ok())
        .collect();
    let mut finish_reasons = BTreeMap::new();
    for record in &ok {
        let reason = record
            .finish_reason
            .clone()
            .unwrap_or_else(|| "unknown".into());
        *finish_reasons.entry(reason).or_insert(0) += 1;
    }
    let window = send_to_completion_seconds(&ok);
    let tokens: Option<u64> = ok.iter().map(|r| r.tokens.output).sum();
    CellSummary {
        id: cell.id.clone(),
        model: cell.model.clone(),
        label: cell.label.clone(),
        prompt: cell.prompt.clone(),
        counts: counts(records),
        errors: error_counts(&measured),
        metrics: metric_summaries(&ok),
        throughput_tps: window.zip(tokens).map(|(w, t)| t as f64 / w),
        request_rate: window.map(|w| ok.len() as f64 / w),
        finish_reasons,
        matrix: cell.matrix.iter().cloned().collect(),
        concurrency: match cell.load {
            crate::experiment::Load::Closed { concurrency } => Some(concurrency),
            crate::experiment::Load::Open { .. } => None,
        },
        load: load::load_figures(cell, &measured, &ok, plan.slo.as_ref(), window),
        validity: load::validity(cell, &measured, &ok),
        quality: None,
        monitor: None,
    }
}

fn summarize_models(plan: &Plan, by_cell: &BTreeMap<&str, Vec<&Record>>) -> Vec<GroupSummary> {
    let mut groups: Vec<GroupSummary> = Vec::new();
    for cell in &plan.cells {
        if groups.iter().any(|g| g.name == cell.model) {
            continue;
        }
        let cells: Vec<&Cell> = plan
            .cells
            .iter()
            .filter(|c| c.model == cell.model)
            .collect();
        let records: Vec<&Record> = cells
            .iter()
            .flat_map(|c| by_cell.get(c.id.as_str()).into_iter().flatten().copied())
            .collect();
        let ok: Vec<&Record> = records
            .iter()
            .copied()
            .filter(|r| !r.warmup && r.outcome.is_ok())
            .collect();
        groups.push(GroupSummary {
            name: cell.model.clone(),
            label: cell.label.clone(),
            cells: cells.len(),
            counts: counts(&records),
            metrics: metric_summaries(&ok),
            cold_start: None,
            quality: None,
            tokens: None,
        });
    }
    groups
}

fn counts(records: &[&Record]) -> Counts {
    let warmup = records.iter().filter(|r| r.warmup).count() as u64;
    let measured = records.len() as u64 - warmup;
    let ok = records
        .iter()
        .filter(|r| !r.warmup && r.outcome.is_ok())
        .count() as u64;
    finish_counts(Counts {
        measured,
        ok,
        failed: measured - ok,
        warmup,
        error_rate: 0.0,
    })
}

fn sum_counts<'a>(all: impl Iterator<Item = &'a Counts>) -> Counts {
    let total = all.fold(Counts::default(), |acc, c| Counts {
        measured: acc.measured + c.measured,
        ok: acc.ok + c.ok,
        failed: acc.failed + c.failed,
        warmup: acc.warmup + c.warmup,
        error_rate: 0.0,
    });
    finish_counts(total)
}

fn finish_counts(mut counts: Counts) -> Counts {
    counts.error_rate = if counts.measured == 0 {
        0.0
    } else {
        counts.failed as f64 / counts.measured as f64
    };
    counts
}

fn error_counts(measured: &[&Record]) -> Vec<ErrorCount> {
    let mut errors: BTreeMap<&str, ErrorCount> = BTreeMap::new();
    for record in measured {
        if let Outcome::Error { kind, message } = &record.outcome {
            let entry = errors.entry(kind.as_str()).or_insert_with(|| ErrorCount {
                kind: kind.as_str().to_string(),
                count: 0,
                example: message.clone(),
            });
            entry.count += 1;
        }
    }
    errors.into_values().collect()
}

/// From the first send to the last completion among `records`, in seconds.
fn send_to_completion_seconds(records: &[&Record]) -> Option<f64> {
    let first = records.iter().map(|r| r.run_offset_ms).reduce(f64::min)?;
    let last = records
        .iter()
        .filter_map(|r| r.timing.e2e_ms.map(|e2e| r.run_offset_ms + e2e))
        .reduce(f64::max)?;
    (last > first).then(|| (last - first) / 1e3)
}

/// The metric names used in summaries, with how to pull each from a request.
type Getter = fn(&RequestMetrics) -> Option<f64>;
/// Every metric name a cell's `metrics` may hold, in report order (the
/// scalar ones below plus `chunk_gap_ms`). Thresholds and templates check
/// names against this list.
pub const METRIC_NAMES: [&str; 12] = [
    "ttfb_ms",
    "ttft_ms",
    "ttft_content_ms",
    "e2e_ms",
    "tpot_ms",
    "chunk_gap_ms",
    "decode_tps",
    "server_decode_tps",
    "prompt_tps",
    "load_ms",
    "output_tokens",
    "prompt_tokens",
];

const SCALAR_METRICS: [(&str, Getter); 11] = [
    ("ttfb_ms", |m| m.ttfb_ms),
    ("ttft_ms", |m| m.ttft_ms),
    ("ttft_content_ms", |m| m.ttft_content_ms),
    ("e2e_ms", |m| m.e2e_ms),
    ("tpot_ms", |m| m.tpot_ms),
    ("decode_tps", |m| m.decode_tps),
    ("server_decode_tps", |m| m.server_decode_tps),
    ("prompt_tps", |m| m.prompt_tps),
    ("load_ms", |m| m.load_ms),
    ("output_tokens", |m| m.output_tokens),
    ("prompt_tokens", |m| m.prompt_tokens),
];

fn metric_summaries(ok: &[&Record]) -> BTreeMap<String, MetricSummary> {
    let metrics: Vec<RequestMetrics> = ok.iter().map(|r| request_metrics(r)).collect();
    let mut out = BTreeMap::new();
    for (name, get) in SCALAR_METRICS {
        insert_summary(&mut out, name, metrics.iter().filter_map(get).collect());
    }
    let gaps = metrics
        .iter()
        .flat_map(|m| m.chunk_gaps_ms.iter().copied())
        .collect();
    insert_summary(&mut out, "chunk_gap_ms", gaps);
    out
}

fn insert_summary(out: &mut BTreeMap<String, MetricSummary>, name: &str, values: Vec<f64>) {
    // An empty or non-finite sample is left out: the report shows "n/a".
    if let Some(summary) = MetricSummary::of(values) {
        out.insert(name.to_string(), summary);
    }
}

#[cfg(test)]
mod tests;
