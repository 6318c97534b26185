//! Reading a run for comparing: its identity and, per cell, the counts and
//! per-request metrics of the measured requests (warmups and cold starts
//! left out), grouped by cell id.

use super::{CellRef, RunRef, SideCounts};
use crate::metrics::RequestMetrics;
use crate::record::request_metrics;
use crate::record::Record;
use crate::store::{StoreError, StoredRun};
use std::collections::BTreeMap;
use std::path::Path;

/// One cell's measured requests, as the comparison needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct CellData {
    pub cell: CellRef,
    pub counts: SideCounts,
    /// Per-request metrics of the successful measured requests.
    pub requests: Vec<RequestMetrics>,
}

/// One run, read for comparing.
#[derive(Debug, Clone, PartialEq)]
pub struct RunData {
    pub run: RunRef,
    pub cells: Vec<CellData>,
}

impl RunData {
    /// Reads a stored run: manifest, plan (for labels) and the records
    /// with their after-run token counts, as `llmbench report` reads them.
    pub(crate) fn load(path: &Path) -> Result<RunData, StoreError> {
        let stored = StoredRun::open(path)?;
        let labels: BTreeMap<String, String> = stored
            .labels()
            .into_iter()
            .map(|(id, label)| (id.to_string(), label.to_string()))
            .collect();
        let (records, _) = stored.records()?;
        let manifest = stored.manifest;
        let run = RunRef {
            dir: path.display().to_string(),
            run_id: manifest.run_id,
            experiment: manifest.experiment,
            started_at: manifest.started_at,
            status: manifest.status,
        };
        Ok(RunData::from_records(run, &records, &labels))
    }

    /// Groups records by cell id, in order of first appearance.
    pub fn from_records(
        run: RunRef,
        records: &[Record],
        labels: &BTreeMap<String, String>,
    ) -> RunData {
        let mut cells: Vec<CellData> = Vec::new();
        for record in records.iter().filter(|r| !r.warmup && !r.cold) {
            let index = match cells.iter().position(|c| c.cell.id == record.cell) {
                Some(index) => index,
                None => {
                    let label = labels
                        .get(&record.cell)
                        .cloned()
                        .unwrap_or_else(|| record.model.clone());
                    cells.push(CellData {
                        cell: CellRef {
                            id: record.cell.clone(),
                            model: record.model.clone(),
                            label,
                            prompt: record.prompt.clone(),
                            setting: String::new(),
                        },
                        counts: SideCounts::default(),
                        requests: Vec::new(),
                    });
                    cells.len() - 1
                }
            };
            let cell = &mut cells[index];
            cell.counts.measured += 1;
            if record.outcome.is_ok() {
                cell.counts.ok += 1;
                cell.requests.push(request_metrics(record));
            } else {
                cell.counts.failed += 1;
            }
        }
        for cell in &mut cells {
            cell.counts.error_rate = cell.counts.failed as f64 / cell.counts.measured.max(1) as f64;
        }
        RunData { run, cells }
    }
}
