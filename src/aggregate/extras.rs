//! What joins the summary from outside requests.jsonl (pure): quality scores
//! from checks.jsonl, per cell and per model, and resource figures from the
//! monitor's samples, per cell window and for the whole run.

use super::RunSummary;
use crate::monitor::{summarize_window, Sample, WindowSummary};
use crate::quality::{pass_rate, CheckRecord};
use crate::record::Record;
use std::collections::BTreeMap;

/// Fills `quality` of every cell and model that has check results.
pub fn attach_quality(summary: &mut RunSummary, checks: &[CheckRecord]) {
    let mut by_cell: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
    for check in checks {
        by_cell
            .entry(check.cell.as_str())
            .or_default()
            .push(check.passed);
    }
    for cell in &mut summary.cells {
        cell.quality = by_cell
            .get(cell.id.as_str())
            .map(|passed| pass_rate(passed));
    }
    for model in &mut summary.models {
        let passed: Vec<bool> = summary
            .cells
            .iter()
            .filter(|c| c.model == model.name)
            .filter_map(|c| by_cell.get(c.id.as_str()))
            .flatten()
            .copied()
            .collect();
        model.quality = (!passed.is_empty()).then(|| pass_rate(&passed));
    }
}

/// Fills `monitor` of every cell from the samples inside its window (first
/// send to last completion of its measured requests) and returns the
/// whole run's figures.
pub fn attach_resources(
    summary: &mut RunSummary,
    records: &[Record],
    samples: &[Sample],
) -> Option<WindowSummary> {
    if samples.is_empty() {
        return None;
    }
    let mut windows: BTreeMap<&str, (f64, f64, u64)> = BTreeMap::new();
    for record in records.iter().filter(|r| !r.warmup && !r.cold) {
        let end = record.run_offset_ms + record.timing.e2e_ms.unwrap_or(0.0);
        let entry = windows
            .entry(record.cell.as_str())
            .or_insert((record.run_offset_ms, end, 0));
        entry.0 = entry.0.min(record.run_offset_ms);
        entry.1 = entry.1.max(end);
        entry.2 += record.tokens.output.unwrap_or(0);
    }
    for cell in &mut summary.cells {
        if let Some(&(start, end, tokens)) = windows.get(cell.id.as_str()) {
            cell.monitor = Some(summarize_window(
                samples,
                start,
                end,
                Some(tokens).filter(|t| *t > 0),
            ));
        }
    }
    let first = samples.first().map_or(0.0, |s| s.t_ms);
    let last = samples.last().map_or(0.0, |s| s.t_ms);
    let tokens: u64 = records
        .iter()
        .filter(|r| !r.warmup)
        .filter_map(|r| r.tokens.output)
        .sum();
    Some(summarize_window(
        samples,
        first,
        last,
        Some(tokens).filter(|t| *t > 0),
    ))
}

/// Fills each model's `tokens`: which source its output counts came from and
/// how often the server's count and llmbench's own count disagree.
pub fn attach_token_agreement(summary: &mut RunSummary, records: &[Record]) {
    for model in &mut summary.models {
        let mine: Vec<&Record> = records
            .iter()
            .filter(|r| r.model == model.name && r.outcome.is_ok())
            .collect();
        let mut sources: Vec<String> = mine
            .iter()
            .filter_map(|r| r.tokens.output_source.clone())
            .collect();
        sources.dedup();
        let pairs: Vec<(u64, u64)> = mine
            .iter()
            .filter_map(|r| {
                let text_and_end = r.tokens.local.map(|n| n + end_token(r));
                r.server.completion_tokens.zip(text_and_end)
            })
            .collect();
        let mismatches = pairs
            .iter()
            .filter(|(server, local)| server != local)
            .count();
        let mean_abs_diff = (!pairs.is_empty()).then(|| {
            pairs
                .iter()
                .map(|(s, l)| s.abs_diff(*l) as f64)
                .sum::<f64>()
                / pairs.len() as f64
        });
        model.tokens = Some(TokenAgreement {
            output_source: sources.first().cloned(),
            local_source: mine.iter().find_map(|r| r.tokens.local_source.clone()),
            compared: pairs.len(),
            mismatches,
            mismatch_rate: (!pairs.is_empty()).then(|| mismatches as f64 / pairs.len() as f64),
            mean_abs_diff,
        });
    }
}

/// A response that ended on the model's end-of-generation token: servers
/// count that token (llama.cpp's usage and Ollama's eval_count do) but it adds
/// no text, so a count of the text is one short of the server's.
fn end_token(record: &Record) -> u64 {
    u64::from(matches!(
        record.finish_reason.as_deref(),
        Some("stop" | "eos")
    ))
}

/// Where a model's token counts came from, and how well two sources agree.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TokenAgreement {
    /// The source of the output token counts used in the figures.
    pub output_source: Option<String>,
    /// llmbench's own counter, when one counted.
    pub local_source: Option<String>,
    /// Responses with both a server count and a local count.
    pub compared: usize,
    /// Of those, how many differ (beyond the end-of-generation token, which
    /// the server counts and the text does not show).
    pub mismatches: usize,
    pub mismatch_rate: Option<f64>,
    /// Mean |server − local| in tokens.
    pub mean_abs_diff: Option<f64>,
}
