//! Reading one stored run as `history` and `export` need it: the manifest
//! (through the store's one stored-run reader, `store::StoredRun`) and the
//! cell and model summaries of its summary.json.

use crate::aggregate::{CellSummary, GroupSummary};
use crate::store::{RunManifest, MANIFEST_FILE, SUMMARY_FILE};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A stored run: where it is, its manifest and its summaries.
#[derive(Debug, Clone)]
pub(crate) struct StoredRun {
    pub dir: PathBuf,
    pub manifest: RunManifest,
    pub cells: Vec<CellSummary>,
    pub models: Vec<GroupSummary>,
}

/// The part of summary.json read here (serde skips the rest).
#[derive(Deserialize)]
struct SummaryFile {
    cells: Vec<CellSummary>,
    #[serde(default)]
    models: Vec<GroupSummary>,
}

/// Why a run cannot be one point of a history.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HistoryError {
    /// Its manifest or plan cannot be read.
    #[error(transparent)]
    Run(#[from] crate::store::StoreError),
    #[error("{source} (run `llmbench report {}` to write the summary)", dir.display())]
    NoSummary {
        dir: std::path::PathBuf,
        #[source]
        source: crate::store::StoreError,
    },
}

/// Reads `dir`'s manifest, plan and summary.json; the message names the file.
pub(crate) fn read_run(dir: &Path) -> Result<StoredRun, HistoryError> {
    let run = crate::store::StoredRun::open(dir)?;
    let summary: SummaryFile =
        run.dir
            .read_json(SUMMARY_FILE)
            .map_err(|source| HistoryError::NoSummary {
                dir: dir.to_path_buf(),
                source,
            })?;
    Ok(StoredRun {
        dir: dir.to_path_buf(),
        manifest: run.manifest,
        cells: summary.cells,
        models: summary.models,
    })
}

/// Whether `dir` holds a run (a manifest.json).
pub(crate) fn is_run_dir(dir: &Path) -> bool {
    dir.join(MANIFEST_FILE).is_file()
}
