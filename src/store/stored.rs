//! `StoredRun`: the one reader of a stored run, for every command that reads
//! one back (`report`, `compare`, and whatever merges or resumes runs). It
//! opens the directory, reads the manifest and the plan, and hands out the
//! records with the after-run token counts (tokens.jsonl) already applied,
//! so that every reader computes its metrics from the same numbers; and the
//! quality checks, resource samples and summary, when the run has them.

use super::{RunDir, RunManifest, StoreError, SAMPLES_FILE};
use crate::monitor::{read_samples, Sample};
use crate::plan::Plan;
use crate::quality::CheckRecord;
use crate::record::{Record, TokenRecord};
use std::collections::HashMap;
use std::path::Path;

/// A run directory read back.
#[derive(Debug, Clone)]
pub(crate) struct StoredRun {
    pub dir: RunDir,
    pub manifest: RunManifest,
    pub plan: Plan,
    /// The after-run token counts (tokens.jsonl), applied to each record read.
    tokens: Vec<TokenRecord>,
}

impl StoredRun {
    /// Opens `path`: it must hold a manifest and a plan.
    pub(crate) fn open(path: &Path) -> Result<StoredRun, StoreError> {
        StoredRun::read(path, None)
    }

    /// Opens `path` with `plan`, the plan it was written from (a run that
    /// has just been executed: memory holds one plan, not two).
    pub(crate) fn open_with_plan(path: &Path, plan: Plan) -> Result<StoredRun, StoreError> {
        StoredRun::read(path, Some(plan))
    }

    /// The manifest first (a folder without one is not a run), then the
    /// plan unless it is given, then the token counts.
    fn read(path: &Path, plan: Option<Plan>) -> Result<StoredRun, StoreError> {
        let dir = RunDir::open(path)?;
        let manifest = dir.read_manifest()?;
        let plan = match plan {
            Some(plan) => plan,
            None => dir.read_plan()?,
        };
        let tokens = dir.read_tokens()?;
        Ok(StoredRun {
            dir,
            manifest,
            plan,
            tokens,
        })
    }

    /// Hands every complete record, with its token counts applied, to
    /// `each` in file order, one at a time (memory holds one record, not the
    /// run). Returns how many lines could not be read as a record.
    pub(crate) fn for_each_record(
        &self,
        mut each: impl FnMut(Record),
    ) -> Result<usize, StoreError> {
        let counts = TokenIndex::new(&self.tokens);
        self.dir.for_each_record(|mut record| {
            counts.apply(&mut record);
            each(record)
        })
    }

    /// Every complete record with its token counts applied, and how many
    /// lines could not be read.
    pub(crate) fn records(&self) -> Result<(Vec<Record>, usize), StoreError> {
        let mut records = Vec::new();
        let unreadable = self.for_each_record(|record| records.push(record))?;
        Ok((records, unreadable))
    }

    /// The quality check results (none when the run has no checks).
    pub(crate) fn checks(&self) -> Result<Vec<CheckRecord>, StoreError> {
        self.dir.read_checks()
    }

    /// The resource monitor's samples; none when the monitor did not run or
    /// its file cannot be read (a report without a timeline, not a failure).
    pub(crate) fn samples(&self) -> Vec<Sample> {
        read_samples(&self.dir.file(SAMPLES_FILE)).unwrap_or_default()
    }

    /// summary.json as written by the last report, if there is one.
    #[cfg(test)]
    pub(crate) fn summary(&self) -> Option<serde_json::Value> {
        self.dir.read_json(super::SUMMARY_FILE).ok()
    }

    /// Cell id → label, from the plan.
    pub(crate) fn labels(&self) -> HashMap<&str, &str> {
        let cells = self.plan.cells.iter();
        cells.map(|c| (c.id.as_str(), c.label.as_str())).collect()
    }
}

/// The after-run token counts by request (tokens.jsonl is written once the
/// run is over; requests.jsonl is never rewritten), to put on each record
/// as it is read. A later count for the same request wins.
struct TokenIndex<'a> {
    by_key: HashMap<(&'a str, u32, bool, bool), &'a TokenRecord>,
}

impl<'a> TokenIndex<'a> {
    fn new(counts: &'a [TokenRecord]) -> TokenIndex<'a> {
        let by_key = counts
            .iter()
            .map(|c| ((c.cell.as_str(), c.repetition, c.warmup, c.cold), c))
            .collect();
        TokenIndex { by_key }
    }

    fn apply(&self, record: &mut Record) {
        if self.by_key.is_empty() {
            return;
        }
        let key = (
            record.cell.as_str(),
            record.repetition,
            record.warmup,
            record.cold,
        );
        if let Some(count) = self.by_key.get(&key).copied() {
            count.apply(record);
        }
    }
}
