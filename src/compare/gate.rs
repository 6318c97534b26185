//! Checking thresholds: on one run's cell summaries (`[thresholds]` of an
//! experiment, [`check_cells`]) or on a comparison (`--fail-on`,
//! [`check_comparison`]: changes from A to B, absolute limits on B). A value
//! that cannot be found (the metric was not measured in a cell, or all its
//! requests failed) fails the gate: a gate that cannot see must not pass.
//! A change fails only when it is beyond its limit *and* the comparison's
//! Mann–Whitney test calls it significant, unless the gate is strict: a
//! gate must not fail on noise either. Each threshold's outcome (cells
//! checked, failed, beyond the limit but not significant) is kept in a
//! [`ThresholdResult`] so reports can say why a job passed or failed.

use super::{change_pct, CellComparison, CellRef, Comparison, SideCounts};
use crate::aggregate::CellSummary;
use crate::metrics::threshold::{Limit, Target, Threshold};
use crate::stats::Summary;
use serde::{Deserialize, Serialize};

pub use crate::report::{ThresholdResult, Violation};

/// A gate's outcome: per threshold, and each failure.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GateOutcome {
    pub results: Vec<ThresholdResult>,
    /// Thresholds that failed, per cell; the gate fails when this is not empty.
    pub violations: Vec<Violation>,
    /// Changes beyond a limit that the test did not call significant.
    pub not_significant: Vec<Violation>,
}

impl GateOutcome {
    fn tally(&mut self, threshold: &Threshold, checked: usize, before: (usize, usize)) {
        let failed = self.violations.len() - before.0;
        self.results.push(ThresholdResult {
            threshold: threshold.text.clone(),
            limit: threshold.limit_text(),
            checked,
            failed,
            not_significant: self.not_significant.len() - before.1,
            passed: failed == 0,
        });
    }

    fn marks(&self) -> (usize, usize) {
        (self.violations.len(), self.not_significant.len())
    }
}

/// What a threshold reads from one cell of one run.
struct Side<'a> {
    counts: &'a SideCounts,
    throughput: Option<f64>,
    request_rate: Option<f64>,
    stat: &'a dyn Fn(&str) -> Option<&'a Summary>,
}

fn stat_value(summary: &Summary, stat: &str) -> Option<f64> {
    match stat {
        "mean" => Some(summary.mean),
        "p50" => Some(summary.p50),
        "p90" => Some(summary.p90),
        "p95" => Some(summary.p95),
        "p99" => Some(summary.p99),
        "min" => Some(summary.min),
        "max" => Some(summary.max),
        "stddev" => summary.stddev,
        "cv" => summary.cv,
        "count" => Some(summary.count as f64),
        _ => None,
    }
}

fn read(side: &Side<'_>, target: &Target) -> Option<f64> {
    match target {
        Target::Stat { metric, stat } => (side.stat)(metric).and_then(|s| stat_value(s, stat)),
        Target::ErrorRate => (side.counts.measured > 0).then_some(side.counts.error_rate),
        Target::ErrorCount => Some(side.counts.failed as f64),
        Target::Throughput => side.throughput,
        Target::RequestRate => side.request_rate,
    }
}

fn violation(
    threshold: &Threshold,
    cell: &CellRef,
    value: Option<f64>,
    shown: String,
) -> Violation {
    let label = cell.name();
    let limit = threshold.limit_text();
    Violation {
        threshold: threshold.text.clone(),
        metric: threshold.name.clone(),
        cell: cell.id.clone(),
        label: label.clone(),
        value,
        message: format!(
            "{} of {label} ({}): {shown}, {limit}",
            threshold.name, cell.id
        ),
        limit,
        p_value: None,
    }
}

/// Checks absolute thresholds against one run's cells; change limits are
/// skipped (they need two runs).
pub fn check_cells(cells: &[CellSummary], thresholds: &[Threshold]) -> Vec<Violation> {
    gate_cells(cells, thresholds).violations
}

/// [`check_cells`] with each threshold's outcome, threshold by threshold.
pub fn gate_cells(cells: &[CellSummary], thresholds: &[Threshold]) -> GateOutcome {
    let mut gate = GateOutcome::default();
    for threshold in thresholds
        .iter()
        .filter(|t| matches!(t.limit, Limit::Absolute(_)))
    {
        let before = gate.marks();
        check_cells_on(cells, threshold, &mut gate.violations);
        gate.tally(threshold, cells.len(), before);
    }
    gate
}

fn check_cells_on(cells: &[CellSummary], threshold: &Threshold, out: &mut Vec<Violation>) {
    for cell in cells {
        let counts = SideCounts {
            measured: cell.counts.measured,
            ok: cell.counts.ok,
            failed: cell.counts.failed,
            error_rate: cell.counts.error_rate,
        };
        let lookup = |name: &str| cell.metrics.get(name).map(|m| &m.summary);
        let side = Side {
            counts: &counts,
            throughput: cell.throughput_tps,
            request_rate: cell.request_rate,
            stat: &lookup,
        };
        let id = CellRef {
            id: cell.id.clone(),
            model: cell.model.clone(),
            label: cell.label.clone(),
            prompt: cell.prompt.clone(),
            setting: crate::report::setting_text(
                cell.load.concurrency.map(u64::from),
                cell.load.rate,
                cell.matrix.iter(),
            ),
        };
        check_absolute(threshold, &side, &id, out);
    }
}

fn check_absolute(
    threshold: &Threshold,
    side: &Side<'_>,
    cell: &CellRef,
    out: &mut Vec<Violation>,
) {
    match read(side, &threshold.target) {
        Some(value) if !threshold.fails(value) => {}
        Some(value) => out.push(violation(
            threshold,
            cell,
            Some(value),
            threshold.target.format(value),
        )),
        None => out.push(violation(threshold, cell, None, "not measured".into())),
    }
}

/// Checks `--fail-on` thresholds against a comparison: a change limit on
/// the change from A to B (failing only when significant, unless
/// `strict`), an absolute limit on B's value.
pub fn check_comparison(
    comparison: &Comparison,
    thresholds: &[Threshold],
    strict: bool,
) -> GateOutcome {
    let mut gate = GateOutcome::default();
    for threshold in thresholds {
        let before = gate.marks();
        for cell in &comparison.cells {
            check_cell(threshold, cell, strict, &mut gate);
        }
        gate.tally(threshold, comparison.cells.len(), before);
    }
    gate
}

/// Whether the comparison's test calls the change of `target` significant
/// (`None` when the target has no test: error counts).
fn significance(cell: &CellComparison, target: &Target) -> Option<(bool, Option<f64>)> {
    let Target::Stat { metric, .. } = target else {
        return None;
    };
    let found = cell.metrics.iter().find(|m| &m.metric == metric)?;
    Some((found.significant, found.p_value))
}

fn check_cell(threshold: &Threshold, cell: &CellComparison, strict: bool, gate: &mut GateOutcome) {
    let summary_of = |pick_b: bool| {
        move |name: &str| {
            cell.metrics
                .iter()
                .find(|m| m.metric == name)
                .and_then(|m| if pick_b { m.b.as_ref() } else { m.a.as_ref() })
        }
    };
    let (lookup_a, lookup_b) = (summary_of(false), summary_of(true));
    let side_a = Side {
        counts: &cell.a,
        throughput: None,
        request_rate: None,
        stat: &lookup_a,
    };
    let side_b = Side {
        counts: &cell.b,
        throughput: None,
        request_rate: None,
        stat: &lookup_b,
    };
    match threshold.limit {
        Limit::Absolute(_) => check_absolute(threshold, &side_b, &cell.cell, &mut gate.violations),
        Limit::Change(_) => {
            let a = read(&side_a, &threshold.target);
            let b = read(&side_b, &threshold.target);
            match a
                .zip(b)
                .and_then(|(a, b)| change_pct(a, b).map(|c| (a, b, c)))
            {
                Some((_, _, change)) if !threshold.fails(change) => {}
                Some((a, b, change)) => {
                    let shown = format!(
                        "{change:+.1}% ({} → {})",
                        threshold.target.format(a),
                        threshold.target.format(b)
                    );
                    let mut found = violation(threshold, &cell.cell, Some(change), shown);
                    match significance(cell, &threshold.target) {
                        Some((false, p)) if !strict => {
                            found.p_value = p;
                            found.message.push_str(&format!(
                                ", but not significant (p {}), so it does not fail (--strict fails it)",
                                p.map_or("–".to_string(), |p| format!("{p:.3}"))
                            ));
                            gate.not_significant.push(found);
                        }
                        Some((_, p)) => {
                            found.p_value = p;
                            gate.violations.push(found);
                        }
                        None => gate.violations.push(found),
                    }
                }
                None => gate.violations.push(violation(
                    threshold,
                    &cell.cell,
                    None,
                    "not measured in both runs".into(),
                )),
            }
        }
    }
}
