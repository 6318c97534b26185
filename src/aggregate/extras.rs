//! What joins the summary from outside requests.jsonl (pure): quality scores
//! from checks.jsonl, per cell and per model, and resource figures from the
//! monitor's samples, per cell window and for the whole run, and how token
//! counts agree. The record-based ones also come as tallies fed one record
//! at a time (`ResourceTally`, `TokenTally`), for a run read as a stream.

use super::RunSummary;
use crate::monitor::{summarize_window, Sample, WindowSummary};
use crate::quality::{pass_rate, CheckRecord, PassRate};
use crate::record::Record;
use std::collections::{BTreeMap, HashMap};

/// The quality checks by cell, for a run whose cells are summarised one
/// at a time: each cell's pass rate as it passes, the models' at the end.
pub(crate) struct CheckIndex<'a> {
    by_cell: HashMap<&'a str, Vec<bool>>,
}

impl<'a> CheckIndex<'a> {
    pub(crate) fn new(checks: &'a [CheckRecord]) -> CheckIndex<'a> {
        let mut by_cell: HashMap<&str, Vec<bool>> = HashMap::new();
        for check in checks {
            by_cell
                .entry(check.cell.as_str())
                .or_default()
                .push(check.passed);
        }
        CheckIndex { by_cell }
    }

    /// Cell `id`'s pass rate (none without checks).
    pub(crate) fn cell(&self, id: &str) -> Option<PassRate> {
        self.by_cell.get(id).map(|passed| pass_rate(passed))
    }

    /// Each model's pass rate over its cells (`plan`'s), as [`attach_quality`].
    pub(crate) fn attach_models(&self, summary: &mut RunSummary, plan: &crate::plan::Plan) {
        for model in &mut summary.models {
            let passed: Vec<bool> = plan
                .cells
                .iter()
                .filter(|c| c.model == model.name)
                .filter_map(|c| self.by_cell.get(c.id.as_str()))
                .flatten()
                .copied()
                .collect();
            model.quality = (!passed.is_empty()).then(|| pass_rate(&passed));
        }
    }
}

/// Fills `quality` of every cell and model that has check results.
pub(crate) fn attach_quality(summary: &mut RunSummary, checks: &[CheckRecord]) {
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
#[cfg(any(test, feature = "fixtures"))]
pub(crate) fn attach_resources(
    summary: &mut RunSummary,
    records: &[Record],
    samples: &[Sample],
) -> Option<WindowSummary> {
    let mut tally = ResourceTally::default();
    for record in records {
        tally.add(record);
    }
    tally.attach(summary, samples)
}

/// What [`attach_resources`] needs, gathered one record at a time.
#[derive(Debug, Default)]
pub(crate) struct ResourceTally {
    /// Cell id → (first send, last completion, output tokens) of its
    /// measured warm requests.
    windows: HashMap<String, (f64, f64, u64)>,
    /// Output tokens of every measured request (cold starts included).
    tokens: u64,
}

impl ResourceTally {
    pub(crate) fn add(&mut self, record: &Record) {
        if record.warmup {
            return;
        }
        self.tokens += record.tokens.output.unwrap_or(0);
        if record.cold {
            return;
        }
        let end = record.run_offset_ms + record.timing.e2e_ms.unwrap_or(0.0);
        let entry = match self.windows.get_mut(record.cell.as_str()) {
            Some(entry) => entry,
            None => {
                self.windows
                    .entry(record.cell.clone())
                    .or_insert((record.run_offset_ms, end, 0))
            }
        };
        entry.0 = entry.0.min(record.run_offset_ms);
        entry.1 = entry.1.max(end);
        entry.2 += record.tokens.output.unwrap_or(0);
    }

    /// Cell `id`'s figures over its window (once its records are all in),
    /// forgetting the window; nothing without samples.
    pub(crate) fn take_cell(&mut self, id: &str, samples: &[Sample]) -> Option<WindowSummary> {
        let (start, end, tokens) = self.windows.remove(id)?;
        (!samples.is_empty())
            .then(|| summarize_window(samples, start, end, Some(tokens).filter(|t| *t > 0)))
    }

    /// The whole run's figures; nothing without samples.
    pub(crate) fn run_window(&self, samples: &[Sample]) -> Option<WindowSummary> {
        if samples.is_empty() {
            return None;
        }
        let first = samples.first().map_or(0.0, |s| s.t_ms);
        let last = samples.last().map_or(0.0, |s| s.t_ms);
        Some(summarize_window(
            samples,
            first,
            last,
            Some(self.tokens).filter(|t| *t > 0),
        ))
    }

    /// Fills `monitor` of every cell and returns the whole run's figures;
    /// nothing without samples.
    pub(crate) fn attach(
        self,
        summary: &mut RunSummary,
        samples: &[Sample],
    ) -> Option<WindowSummary> {
        if samples.is_empty() {
            return None;
        }
        for cell in &mut summary.cells {
            if let Some(&(start, end, tokens)) = self.windows.get(cell.id.as_str()) {
                cell.monitor = Some(summarize_window(
                    samples,
                    start,
                    end,
                    Some(tokens).filter(|t| *t > 0),
                ));
            }
        }
        self.run_window(samples)
    }
}

/// Which source each model's output counts came from and how often the
/// server's count and llmbench's own count disagree, gathered one record at a time.
#[derive(Debug, Default)]
pub(crate) struct TokenTally {
    by_model: HashMap<String, ModelTokens>,
}

/// One model's successful responses (warmups and cold starts included).
#[derive(Debug, Default)]
struct ModelTokens {
    output_source: Option<String>,
    local_source: Option<String>,
    compared: usize,
    mismatches: usize,
    /// Σ |server − local|, summed in record order.
    abs_diff: f64,
    prompt_source: Option<String>,
    prompt_local_source: Option<String>,
    prompt_compared: usize,
    prompt_mismatches: usize,
    /// Responses whose tokens were attributed to their chunks.
    attributed: usize,
}

impl TokenTally {
    pub(crate) fn add(&mut self, record: &Record) {
        if !record.outcome.is_ok() {
            return;
        }
        if !self.by_model.contains_key(&record.model) {
            self.by_model
                .insert(record.model.clone(), ModelTokens::default());
        }
        let Some(model) = self.by_model.get_mut(&record.model) else {
            return;
        };
        if model.output_source.is_none() {
            model.output_source.clone_from(&record.tokens.output_source);
        }
        if model.local_source.is_none() {
            model.local_source.clone_from(&record.tokens.local_source);
        }
        let text_and_end = record.tokens.local.map(|n| n + end_token(record));
        if let Some((server, local)) = record.server.completion_tokens.zip(text_and_end) {
            model.compared += 1;
            model.mismatches += usize::from(server != local);
            model.abs_diff += server.abs_diff(local) as f64;
        }
        model.add_prompt(record);
        model.attributed += usize::from(!record.tokens.per_chunk.is_empty());
    }

    /// Fills every model's `tokens` (a model without responses gets empty figures).
    pub(crate) fn attach(self, summary: &mut RunSummary) {
        for model in &mut summary.models {
            let mine = self.by_model.get(&model.name);
            let compared = mine.map_or(0, |m| m.compared);
            let mismatches = mine.map_or(0, |m| m.mismatches);
            model.tokens = Some(TokenAgreement {
                output_source: mine.and_then(|m| m.output_source.clone()),
                local_source: mine.and_then(|m| m.local_source.clone()),
                compared,
                mismatches,
                mismatch_rate: (compared > 0).then(|| mismatches as f64 / compared as f64),
                mean_abs_diff: mine
                    .filter(|m| m.compared > 0)
                    .map(|m| m.abs_diff / m.compared as f64),
                prompt_source: mine.and_then(|m| m.prompt_source.clone()),
                prompt_local_source: mine.and_then(|m| m.prompt_local_source.clone()),
                prompt_compared: mine.map_or(0, |m| m.prompt_compared),
                prompt_mismatches: mine.map_or(0, |m| m.prompt_mismatches),
                attributed: mine.map_or(0, |m| m.attributed),
            });
        }
    }
}

impl ModelTokens {
    /// The prompt's sources, and whether llmbench's count (of the chat
    /// template where the server renders one) agrees with the server's.
    fn add_prompt(&mut self, record: &Record) {
        if self.prompt_source.is_none() {
            self.prompt_source.clone_from(&record.tokens.prompt_source);
        }
        if self.prompt_local_source.is_none() {
            self.prompt_local_source
                .clone_from(&record.tokens.prompt_local_source);
        }
        if let Some((server, local)) = record.server.prompt_tokens.zip(record.tokens.prompt_local) {
            self.prompt_compared += 1;
            self.prompt_mismatches += usize::from(server != local);
        }
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
    /// The source of the prompt token figures (`server`).
    #[serde(default)]
    pub prompt_source: Option<String>,
    /// What llmbench counted for the prompt, e.g. "llamacpp: chat template
    /// (/apply-template)" or "…: prompt text as sent (no chat template)".
    #[serde(default)]
    pub prompt_local_source: Option<String>,
    /// Responses with both prompt counts, and how many of them differ.
    #[serde(default)]
    pub prompt_compared: usize,
    #[serde(default)]
    pub prompt_mismatches: usize,
    /// Responses whose output tokens were attributed to their chunks
    /// (the basis of `token_gap_ms`).
    #[serde(default)]
    pub attributed: usize,
}
