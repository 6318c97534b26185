//! What a gate came to, as every report shows it: each threshold's outcome
//! and each failure. The gate itself (`compare::gate`) fills these in; the
//! report model only carries them, so it needs nothing above it.

use serde::{Deserialize, Serialize};

/// A threshold that failed in one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// The threshold as written.
    pub threshold: String,
    /// The metric as written (`ttft.p95`).
    pub metric: String,
    pub cell: String,
    /// "label × prompt · setting".
    pub label: String,
    /// The value compared (the change in percent for a change limit);
    /// `None` when it could not be measured.
    pub value: Option<f64>,
    /// The limit in words (`fails if > +10%`, `required < 800 ms`).
    pub limit: String,
    /// One line for people: metric, cell, value and limit.
    pub message: String,
    /// The comparison's p-value for a change limit's metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
}

/// What one threshold came to over all cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The threshold as written.
    pub threshold: String,
    /// The limit in words (`fails if > +10%`, `required < 800 ms`).
    pub limit: String,
    /// Cells it was checked in.
    pub checked: usize,
    /// Cells where it failed.
    pub failed: usize,
    /// Cells where a change went beyond the limit but was not significant
    /// (not failed; with `--strict` these fail).
    pub not_significant: usize,
    pub passed: bool,
}
