//! Scoring a run: the checks of every measured response, run once the
//! requests are over (so check processes never compete with the server for
//! CPU while it is being measured), as records for checks.jsonl.

use super::{run_many, CheckResult, CheckSpec};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// A measured response whose prompt has checks, kept by the executor to
/// score once the run is over.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCheck {
    pub cell: String,
    pub repetition: u32,
    pub checks: Vec<CheckSpec>,
    pub response: String,
}

/// The checks of one response, as stored in checks.jsonl.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CheckRecord {
    pub cell: String,
    pub repetition: u32,
    /// Every check passed.
    pub passed: bool,
    pub results: Vec<CheckResult>,
}

/// Runs the pending checks like [`score`] until `cancel` turns true; then
/// stops them (their processes are killed) and returns `None`.
pub(crate) async fn score_until(
    pending: Vec<PendingCheck>,
    parallel: usize,
    mut cancel: watch::Receiver<bool>,
) -> Option<Vec<CheckRecord>> {
    if *cancel.borrow() {
        return None;
    }
    tokio::select! {
        records = score(pending, parallel) => Some(records),
        _ = async {
            // A closed channel means nobody can cancel any more: wait forever.
            if cancel.wait_for(|stop| *stop).await.is_err() {
                std::future::pending::<()>().await;
            }
        } => None,
    }
}

/// Runs the pending checks, at most `parallel` at once.
pub(crate) async fn score(pending: Vec<PendingCheck>, parallel: usize) -> Vec<CheckRecord> {
    let jobs = pending
        .iter()
        .enumerate()
        .map(|(i, p)| (i, p.checks.clone(), p.response.clone()))
        .collect();
    let mut results = run_many(jobs, parallel).await;
    results.sort_by_key(|(i, _)| *i);
    results
        .into_iter()
        .filter_map(|(i, results)| {
            let pending = pending.get(i)?;
            Some(CheckRecord {
                cell: pending.cell.clone(),
                repetition: pending.repetition,
                passed: !results.is_empty() && results.iter().all(|r| r.passed),
                results,
            })
        })
        .collect()
}
