//! `[server.matrix]` points whose server did not start, as reports show
//! them: each point with its setting, the error, the log's name and last
//! lines; its cells marked `not_run` (a failure, not an empty `0/0` cell);
//! and a warning ranked right after an incomplete run.

use super::warnings::{Finding, Kind};
use crate::aggregate::CellSummary;
use crate::experiment::axis_text;
use crate::plan::SERVER_AXIS_PREFIX;
use crate::store::{FailedPoint, RunManifest};
use serde::Serialize;

/// A point whose server did not start.
#[derive(Debug, Clone, Serialize)]
pub struct UnstartedPoint {
    /// Its values in the words cells use ("server.parallel=4"); "[server]"
    /// without a server matrix.
    pub point: String,
    /// Why it did not start.
    pub error: String,
    /// The server's log file in the run directory.
    pub log_file: Option<String>,
    /// The last lines of that log.
    pub log_tail: Vec<String>,
    /// How many cells were not run for it.
    pub cells: usize,
}

/// The run's points whose server did not start, with their cells marked
/// `not_run`.
pub(crate) fn unstarted_points(
    manifest: &RunManifest,
    cells: &mut [CellSummary],
) -> Vec<UnstartedPoint> {
    let Some(facts) = &manifest.managed_server else {
        return Vec::new();
    };
    facts
        .failed_points()
        .map(|point| {
            let mut count = 0;
            for cell in cells.iter_mut().filter(|c| on_point(c, point)) {
                cell.not_run = Some(format!("the server did not start: {}", point.error));
                count += 1;
            }
            UnstartedPoint {
                point: setting(point),
                error: point.error.clone(),
                log_file: point.log.clone(),
                log_tail: point.log_tail.clone(),
                cells: count,
            }
        })
        .collect()
}

/// A warning per point whose server did not start.
pub(crate) fn findings(points: &[UnstartedPoint]) -> Vec<Finding> {
    points
        .iter()
        .map(|point| Finding {
            kind: Kind::ServerNotStarted,
            cell: Some(point.point.clone()),
            text: format!(
                "The server did not start for {} ({} not run): {}.",
                point.point,
                crate::util::count_of(point.cells, "cell"),
                point.error.trim_end_matches('.')
            ),
        })
        .collect()
}

/// Whether `cell` belongs to `point` (every value of the point equal; as
/// text, so runs that stored the values as strings match too).
fn on_point(cell: &CellSummary, point: &FailedPoint) -> bool {
    point.values.iter().all(|(name, value)| {
        cell.matrix
            .get(&format!("{SERVER_AXIS_PREFIX}{name}"))
            .is_some_and(|v| axis_text(v) == axis_text(value))
    })
}

fn setting(point: &FailedPoint) -> String {
    if point.values.is_empty() {
        return "[server]".to_string();
    }
    let named: Vec<(String, serde_json::Value)> = point
        .values
        .iter()
        .map(|(k, v)| (format!("{SERVER_AXIS_PREFIX}{k}"), v.clone()))
        .collect();
    super::table::setting_text(None, None, named.iter().map(|(k, v)| (k, v)))
}
