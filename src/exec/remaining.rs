//! What a resumed run still has to send (`llmbench exec --resume`): per
//! cell, nothing, or its warmups again and then only the measured
//! repetitions that never completed; per model, the cold starts missing.
//! Cells it does not name run whole.

use super::{jobs_for, Jobs};
use crate::plan::{Cell, Plan};
use std::collections::HashMap;
use std::sync::Arc;

/// The rest of one cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellTodo {
    /// Every measured request completed.
    Done,
    /// Warmups again (the server and connections are cold after a restart),
    /// then these measured repetitions.
    Measured(Vec<u32>),
}

/// The rest of a run, by cell id and by model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Remaining {
    pub cells: HashMap<String, CellTodo>,
    /// Cold-start repetitions still to measure, by model (absent: all).
    pub cold: HashMap<String, Vec<u32>>,
}

impl Remaining {
    /// Requests left to send, warmups and cold starts included.
    pub(crate) fn requests(&self, plan: &Plan) -> u64 {
        let cells: u64 = plan
            .cells
            .iter()
            .map(|cell| match self.cells.get(&cell.id) {
                Some(CellTodo::Done) => 0,
                Some(CellTodo::Measured(reps)) => reps.len() as u64 + u64::from(cell.warmup),
                None => u64::from(cell.repetitions) + u64::from(cell.warmup),
            })
            .sum();
        let cold: u64 = plan
            .models()
            .iter()
            .map(|model| match self.cold.get(*model) {
                Some(reps) => reps.len() as u64,
                None => u64::from(plan.cold_repetitions),
            })
            .sum();
        cells + cold
    }

    /// Whether nothing is left to send.
    #[cfg(test)]
    pub(crate) fn is_empty(&self, plan: &Plan) -> bool {
        self.requests(plan) == 0
    }
}

/// The cold-start repetitions of `model` to measure.
pub(super) fn cold(remaining: Option<&Remaining>, model: &str, repetitions: u32) -> Vec<u32> {
    match remaining.and_then(|r| r.cold.get(model)) {
        Some(reps) => reps.clone(),
        None => (0..repetitions).collect(),
    }
}

/// The batches `cell` runs: warmups, then measured requests.
pub(super) fn jobs(remaining: Option<&Remaining>, cell: &Cell) -> Vec<Jobs> {
    let whole = || vec![jobs_for(cell, true), jobs_for(cell, false)];
    match remaining.and_then(|r| r.cells.get(&cell.id)) {
        None => whole(),
        Some(CellTodo::Done) => Vec::new(),
        Some(CellTodo::Measured(reps)) => {
            let measured = Jobs {
                count: reps.len(),
                only: Some(Arc::from(reps.as_slice())),
                ..jobs_for(cell, false)
            };
            vec![jobs_for(cell, true), measured]
        }
    }
}
