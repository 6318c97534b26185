//! Comparing two runs (`llmbench compare RUN_A RUN_B`): cells are matched by
//! id (the id hashes model, backend, prompt and settings, so equal ids mean
//! comparable cells; the others are listed as unmatched). For each metric the
//! comparison holds both runs' statistics, the change in percent, and a
//! verdict from the per-request values: "faster" or "slower" only when the
//! median moved by at least the noise threshold (2% by default) *and* a
//! two-sided Mann–Whitney U test says p < alpha (0.05); otherwise "no change".
//! Thresholds (`metrics::threshold`) turn it into a gate (`gate`); output goes through
//! the report templates (`render`). See docs/compare.md.

mod data;
mod gate;
mod mannwhitney;
mod render;

pub use crate::metrics::threshold::{
    parse_requirement, parse_threshold, Limit, Op, Rule, Target, Threshold,
};
pub use data::{CellData, RunData};
pub use gate::{
    check_cells, check_comparison, gate_cells, GateOutcome, ThresholdResult, Violation,
};
pub(crate) use mannwhitney::mann_whitney_u;
pub use render::{render_comparison, CompareFormat};

use crate::metrics::registry::{lookup, MetricDef, COMPARED};
use crate::metrics::RequestMetrics;
use crate::stats::{Sample, Summary};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Bumped when a field of [`Comparison`] is renamed or removed.
pub(crate) const COMPARISON_SCHEMA_VERSION: u32 = 1;

/// How to compare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareOptions {
    /// Median changes smaller than this, in percent, are "no change" whatever the test says.
    pub noise_pct: f64,
    /// Significance level of the Mann–Whitney U test.
    pub alpha: f64,
    /// `--fail-on` thresholds, checked on the comparison.
    pub fail_on: Vec<Threshold>,
    /// Fail a change beyond its limit even when the test does not call it
    /// significant (`--strict`).
    pub strict: bool,
}

impl Default for CompareOptions {
    fn default() -> CompareOptions {
        CompareOptions {
            noise_pct: 2.0,
            alpha: 0.05,
            fail_on: Vec::new(),
            strict: false,
        }
    }
}

pub(crate) use crate::metrics::registry::Better;

/// What a comparison says about one metric of one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Run B is better beyond noise, and significantly so.
    Faster,
    /// Run B is worse beyond noise, and significantly so.
    Slower,
    /// A change within the noise threshold, or not significant.
    NoChange,
    /// Fewer than two values in a run: nothing can be said.
    Insufficient,
}

/// The run a side of the comparison comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRef {
    pub dir: String,
    pub run_id: String,
    pub experiment: String,
    pub started_at: String,
    pub status: crate::store::RunStatus,
}

/// A cell, identified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRef {
    pub id: String,
    pub model: String,
    pub label: String,
    pub prompt: String,
    /// Load level and matrix values (`c4 server.parallel=2`); empty when
    /// the run's plan cannot be read or the cell has none.
    #[serde(default)]
    pub setting: String,
}

impl CellRef {
    /// "label × prompt · setting": the cell in words, setting included so
    /// cells that differ only in load or server settings are told apart.
    pub(crate) fn name(&self) -> String {
        let base = format!("{} × {}", self.label, self.prompt);
        if self.setting.is_empty() {
            base
        } else {
            format!("{base} · {}", self.setting)
        }
    }
}

/// Request counts of one side of a cell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SideCounts {
    pub measured: u64,
    pub ok: u64,
    pub failed: u64,
    /// failed / measured, 0..1.
    pub error_rate: f64,
}

/// Changes from A to B in percent (`None` when A's value is 0 or missing).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
}

/// One metric of one matched cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    pub metric: String,
    pub better: Better,
    pub a: Option<Summary>,
    pub b: Option<Summary>,
    pub change_pct: Changes,
    /// Two-sided Mann–Whitney U p-value on the per-request values.
    pub p_value: Option<f64>,
    pub significant: bool,
    pub verdict: Verdict,
}

/// One cell present in both runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellComparison {
    #[serde(flatten)]
    pub cell: CellRef,
    pub a: SideCounts,
    pub b: SideCounts,
    pub metrics: Vec<MetricComparison>,
    /// Things that make the comparison doubtful (e.g. different output lengths).
    pub notes: Vec<String>,
}

/// How many metric verdicts of each kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerdictCounts {
    pub faster: usize,
    pub slower: usize,
    pub no_change: usize,
    pub insufficient: usize,
}

/// The comparison of run B against run A (the baseline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub schema_version: u32,
    pub a: RunRef,
    pub b: RunRef,
    pub noise_pct: f64,
    pub alpha: f64,
    pub cells: Vec<CellComparison>,
    pub only_in_a: Vec<CellRef>,
    pub only_in_b: Vec<CellRef>,
    pub verdicts: VerdictCounts,
    /// The `--fail-on` thresholds as written.
    pub thresholds: Vec<String>,
    /// Thresholds that failed; the gate fails when this is not empty.
    pub violations: Vec<Violation>,
    /// Each threshold's outcome: cells checked, failed, not significant.
    #[serde(default)]
    pub gate: Vec<ThresholdResult>,
    /// Changes beyond a limit that the test did not call significant
    /// (they pass, unless `strict`).
    #[serde(default)]
    pub not_significant: Vec<Violation>,
    /// Whether changes failed without a significance test (`--strict`).
    #[serde(default)]
    pub strict: bool,
}

impl Comparison {
    /// Why a gate on this comparison cannot be trusted, when it cannot: it
    /// has thresholds but no cell of A matched one of B, so it checked nothing.
    pub(crate) fn gate_error(&self) -> Option<String> {
        if self.thresholds.is_empty() || !self.cells.is_empty() {
            return None;
        }
        Some(format!(
            "the gate compared nothing: none of A's {} cells matches one of B's {} (cells match by id, a hash of model, backend, prompt and settings); compare two runs of the same experiment, or runs whose models, prompts and settings agree",
            self.only_in_a.len(),
            self.only_in_b.len()
        ))
    }
}

/// Compares the runs in directories `a` (baseline) and `b`; fails only
/// when a run cannot be read (the error names the file).
pub fn compare_runs(
    a: &Path,
    b: &Path,
    options: &CompareOptions,
) -> Result<Comparison, crate::store::StoreError> {
    let (a_dir, b_dir) = (a, b);
    let mut a = RunData::load(a)?;
    let mut b = RunData::load(b)?;
    name_settings(&mut a, a_dir);
    name_settings(&mut b, b_dir);
    Ok(compare(&a, &b, options))
}

/// Puts each cell's setting (load level, matrix values) and prompt from
/// the run's plan on its reference; a plan that cannot be read leaves them empty.
fn name_settings(run: &mut RunData, dir: &Path) {
    let Ok(plan) = crate::store::RunDir::open(dir).and_then(|d| d.read_plan()) else {
        return;
    };
    for data in &mut run.cells {
        if let Some(cell) = plan.cells.iter().find(|c| c.id == data.cell.id) {
            data.cell.setting = cell.setting();
            // A mixed cell's records carry their variant's prompt; the cell's is "mixed".
            data.cell.prompt.clone_from(&cell.prompt);
        }
    }
}

/// Compares two runs already read.
pub fn compare(a: &RunData, b: &RunData, options: &CompareOptions) -> Comparison {
    let mut cells = Vec::new();
    let mut only_in_a = Vec::new();
    for cell_a in &a.cells {
        match b.cells.iter().find(|c| c.cell.id == cell_a.cell.id) {
            Some(cell_b) => cells.push(compare_cell(cell_a, cell_b, options)),
            None => only_in_a.push(cell_a.cell.clone()),
        }
    }
    let only_in_b = b
        .cells
        .iter()
        .filter(|c| !a.cells.iter().any(|x| x.cell.id == c.cell.id))
        .map(|c| c.cell.clone())
        .collect();
    let mut verdicts = VerdictCounts::default();
    for metric in cells.iter().flat_map(|c: &CellComparison| &c.metrics) {
        match metric.verdict {
            Verdict::Faster => verdicts.faster += 1,
            Verdict::Slower => verdicts.slower += 1,
            Verdict::NoChange => verdicts.no_change += 1,
            Verdict::Insufficient => verdicts.insufficient += 1,
        }
    }
    let mut comparison = Comparison {
        schema_version: COMPARISON_SCHEMA_VERSION,
        a: a.run.clone(),
        b: b.run.clone(),
        noise_pct: options.noise_pct,
        alpha: options.alpha,
        cells,
        only_in_a,
        only_in_b,
        verdicts,
        thresholds: options.fail_on.iter().map(|t| t.text.clone()).collect(),
        violations: Vec::new(),
        gate: Vec::new(),
        not_significant: Vec::new(),
        strict: options.strict,
    };
    let gate = check_comparison(&comparison, &options.fail_on, options.strict);
    comparison.violations = gate.violations;
    comparison.gate = gate.results;
    comparison.not_significant = gate.not_significant;
    comparison
}

/// Values of `metric` per request; a pooled metric's (chunk gaps) are
/// pooled for the statistics (as in the report) and averaged per request
/// for the test, so each request counts once.
fn values(requests: &[RequestMetrics], metric: &MetricDef) -> (Vec<f64>, Vec<f64>) {
    let per_request: Vec<f64> = requests
        .iter()
        .filter_map(|r| metric.per_request(r))
        .collect();
    if !metric.is_pooled() {
        return (per_request.clone(), per_request);
    }
    let mut pooled = Vec::new();
    for request in requests {
        metric.extend_values(request, &mut pooled);
    }
    (pooled, per_request)
}

fn summary(values: Vec<f64>) -> Option<Summary> {
    Sample::new(values).ok().map(|s| Summary::from_sample(&s))
}

/// The change from `a` to `b` in percent.
pub(crate) fn change_pct(a: f64, b: f64) -> Option<f64> {
    (a != 0.0 && a.is_finite() && b.is_finite()).then(|| (b - a) / a.abs() * 100.0)
}

fn compare_metric(
    a: &CellData,
    b: &CellData,
    metric: &MetricDef,
    options: &CompareOptions,
) -> Option<MetricComparison> {
    let better = metric.better;
    let (stats_a, test_a) = values(&a.requests, metric);
    let (stats_b, test_b) = values(&b.requests, metric);
    let (sa, sb) = (summary(stats_a), summary(stats_b));
    if sa.is_none() && sb.is_none() {
        return None;
    }
    let pick = |f: fn(&Summary) -> f64| {
        sa.as_ref()
            .zip(sb.as_ref())
            .and_then(|(x, y)| change_pct(f(x), f(y)))
    };
    let change_pct = Changes {
        mean: pick(|s| s.mean),
        p50: pick(|s| s.p50),
        p95: pick(|s| s.p95),
    };
    let p_value = mann_whitney_u(&test_a, &test_b).map(|t| t.p);
    let significant = p_value.is_some_and(|p| p < options.alpha);
    let verdict = match change_pct.p50 {
        _ if test_a.len() < 2 || test_b.len() < 2 => Verdict::Insufficient,
        None => Verdict::Insufficient,
        Some(change) if change.abs() < options.noise_pct || !significant => Verdict::NoChange,
        Some(change) if (change > 0.0) == (better == Better::Higher) => Verdict::Faster,
        Some(_) => Verdict::Slower,
    };
    Some(MetricComparison {
        metric: metric.name.to_string(),
        better,
        a: sa,
        b: sb,
        change_pct,
        p_value,
        significant,
        verdict,
    })
}

fn compare_cell(a: &CellData, b: &CellData, options: &CompareOptions) -> CellComparison {
    let metrics = COMPARED
        .iter()
        .filter_map(|name| lookup(name))
        .filter_map(|m| compare_metric(a, b, m, options))
        .collect();
    let mut notes = Vec::new();
    let output_tokens = lookup("output_tokens");
    let tokens = |c: &CellData| {
        let values = output_tokens.map(|m| values(&c.requests, m).0);
        summary(values?).map(|s| s.mean)
    };
    if let Some((ta, tb)) = tokens(a).zip(tokens(b)) {
        if change_pct(ta, tb).is_some_and(|c| c.abs() >= 10.0) {
            notes.push(format!(
                "output lengths differ ({ta:.1} → {tb:.1} tokens on average): e2e times are not comparable"
            ));
        }
    }
    if a.counts.failed + b.counts.failed > 0 {
        notes.push(format!(
            "failed requests: {} of {} in A, {} of {} in B (left out of the statistics)",
            a.counts.failed, a.counts.measured, b.counts.failed, b.counts.measured
        ));
    }
    CellComparison {
        cell: a.cell.clone(),
        a: a.counts.clone(),
        b: b.counts.clone(),
        metrics,
        notes,
    }
}

#[cfg(test)]
mod tests;
