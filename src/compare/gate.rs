//! Checking thresholds: on one run's cell summaries (`[thresholds]` of an
//! experiment, [`check_cells`]) or on a comparison (`--fail-on`,
//! [`check_comparison`]: changes from A to B, absolute limits on B). A value
//! that cannot be found (the metric was not measured in a cell, or all its
//! requests failed) fails the gate: a gate that cannot see must not pass.

use super::threshold::{Limit, Target, Threshold};
use super::{change_pct, CellComparison, CellRef, Comparison, SideCounts};
use crate::aggregate::CellSummary;
use crate::stats::Summary;
use serde::{Deserialize, Serialize};

/// A threshold that failed in one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// The threshold as written.
    pub threshold: String,
    /// The metric as written (`ttft.p95`).
    pub metric: String,
    pub cell: String,
    /// "label × prompt".
    pub label: String,
    /// The value compared (the change in percent for a change limit);
    /// `None` when it could not be measured.
    pub value: Option<f64>,
    /// The limit in words (`fails if > +10%`, `required < 800 ms`).
    pub limit: String,
    /// One line for people: metric, cell, value and limit.
    pub message: String,
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
    let label = format!("{} × {}", cell.label, cell.prompt);
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
    }
}

/// Checks absolute thresholds against one run's cells; change limits are
/// skipped (they need two runs).
pub fn check_cells(cells: &[CellSummary], thresholds: &[Threshold]) -> Vec<Violation> {
    let mut out = Vec::new();
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
        };
        for threshold in thresholds
            .iter()
            .filter(|t| matches!(t.limit, Limit::Absolute(_)))
        {
            check_absolute(threshold, &side, &id, &mut out);
        }
    }
    out
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
/// the change from A to B, an absolute limit on B's value.
pub fn check_comparison(comparison: &Comparison, thresholds: &[Threshold]) -> Vec<Violation> {
    let mut out = Vec::new();
    for cell in &comparison.cells {
        for threshold in thresholds {
            check_cell(threshold, cell, &mut out);
        }
    }
    out
}

fn check_cell(threshold: &Threshold, cell: &CellComparison, out: &mut Vec<Violation>) {
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
        Limit::Absolute(_) => check_absolute(threshold, &side_b, &cell.cell, out),
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
                    out.push(violation(threshold, &cell.cell, Some(change), shown));
                }
                None => out.push(violation(
                    threshold,
                    &cell.cell,
                    None,
                    "not measured in both runs".into(),
                )),
            }
        }
    }
}
