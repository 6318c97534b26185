//! The run directory: layout, append-only record writing (flushed per record,
//! so a crash or Ctrl-C loses nothing that finished), the typed manifest, and
//! reading a stored run back (`StoredRun`: records as a stream, one at a
//! time, with their after-run token counts).
//!
//! ```text
//! benchmarks/<experiment>/<UTC timestamp>-<short id>/
//!     experiment.toml  manifest.json  plan.json  requests.jsonl
//!     responses/<cell id>.jsonl  summary.json  report.md  report.json ...
//! ```

pub(crate) mod continuity;
mod environment;
mod manifest;
mod stored;
mod writer;

pub(crate) use environment::{collect_environment, git_info, Environment, GitInfo};
pub(crate) use manifest::{
    FailedPoint, ManagedServerFacts, MonitorFacts, RunManifest, RunStatus, ServerPointFacts,
    TokenizerFacts,
};
pub(crate) use stored::StoredRun;
pub use writer::RecordWriter;

use crate::plan::Plan;
use crate::record::Record;
use serde::{Deserialize, Serialize};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// A filesystem error with the path it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct StoreError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl StoreError {
    pub(crate) fn new(path: &Path, source: std::io::Error) -> StoreError {
        StoreError {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub(crate) const EXPERIMENT_FILE: &str = "experiment.toml";
pub(crate) const MANIFEST_FILE: &str = "manifest.json";
pub const PLAN_FILE: &str = "plan.json";
pub const REQUESTS_FILE: &str = "requests.jsonl";
pub(crate) const SUMMARY_FILE: &str = "summary.json";
pub const RESPONSES_DIR: &str = "responses";
pub(crate) const SERVER_LOG: &str = "server.log";
pub(crate) const CHECKS_FILE: &str = "checks.jsonl";
pub(crate) const SAMPLES_FILE: &str = "samples.jsonl";
pub(crate) const TOKENS_FILE: &str = "tokens.jsonl";

/// An open run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// Creates `<root>/<experiment>/<stamp>-<id>/` (and responses/ when asked).
    pub fn create(
        root: &Path,
        experiment: &str,
        stamp: &str,
        id: &str,
        responses: bool,
    ) -> Result<RunDir, StoreError> {
        let path = root.join(experiment).join(format!("{stamp}-{id}"));
        std::fs::create_dir_all(&path).map_err(|e| StoreError::new(&path, e))?;
        let run = RunDir { path };
        if responses {
            let dir = run.file(RESPONSES_DIR);
            std::fs::create_dir_all(&dir).map_err(|e| StoreError::new(&dir, e))?;
        }
        Ok(run)
    }

    /// Opens an existing run directory (for `report`).
    pub fn open(path: &Path) -> Result<RunDir, StoreError> {
        let manifest = path.join(MANIFEST_FILE);
        if !manifest.is_file() {
            let error = std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not a run directory (no manifest.json); pass a directory under benchmarks/<experiment>/",
            );
            return Err(StoreError::new(path, error));
        }
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes a whole file atomically (temp file, then rename), so a reader
    /// never sees half of it.
    pub(crate) fn write(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let target = self.file(name);
        let temp = self.file(&format!(".{name}.tmp"));
        std::fs::write(&temp, bytes).map_err(|e| StoreError::new(&temp, e))?;
        std::fs::rename(&temp, &target).map_err(|e| StoreError::new(&target, e))
    }

    /// Writes `value` as pretty JSON, serialised straight into the file
    /// (through a temporary one, renamed when complete): a run's summary
    /// is never held as one string, however many cells it has.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StoreError> {
        use std::io::Write;
        let target = self.file(name);
        let temp = self.file(&format!(".{name}.tmp"));
        let file = std::fs::File::create(&temp).map_err(|e| StoreError::new(&temp, e))?;
        let mut out = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut out, value)
            .map_err(|e| StoreError::new(&temp, e.into()))?;
        out.write_all(b"\n")
            .and_then(|()| out.flush())
            .map_err(|e| StoreError::new(&temp, e))?;
        drop(out);
        std::fs::rename(&temp, &target).map_err(|e| StoreError::new(&target, e))
    }

    pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(
        &self,
        name: &str,
    ) -> Result<T, StoreError> {
        let path = self.file(name);
        let text = std::fs::read(&path).map_err(|e| StoreError::new(&path, e))?;
        serde_json::from_slice(&text).map_err(|e| StoreError::new(&path, e.into()))
    }

    pub(crate) fn read_plan(&self) -> Result<Plan, StoreError> {
        self.read_json(PLAN_FILE)
    }

    pub(crate) fn read_manifest(&self) -> Result<RunManifest, StoreError> {
        self.read_json(MANIFEST_FILE)
    }

    /// Reads every complete record. A last line cut short by a crash is
    /// skipped (and counted), never fatal: the records before it are kept.
    pub fn read_records(&self) -> Result<(Vec<Record>, usize), StoreError> {
        let mut records = Vec::new();
        let unreadable = self.for_each_record(|record| records.push(record))?;
        Ok((records, unreadable))
    }

    /// Hands every complete record to `each`, in file order, while reading
    /// the file a buffer at a time: memory holds one record, not the run.
    /// Returns how many lines could not be read as a record (a line cut
    /// short by a crash, or not UTF-8); a missing file has no records.
    pub fn for_each_record(&self, mut each: impl FnMut(Record)) -> Result<usize, StoreError> {
        let path = self.file(REQUESTS_FILE);
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(StoreError::new(&path, e)),
        };
        let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
        let mut line = Vec::new();
        let mut unreadable = 0;
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| StoreError::new(&path, e))?;
            if read == 0 {
                return Ok(unreadable);
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice(&line) {
                Ok(record) => each(record),
                Err(_) => unreadable += 1,
            }
        }
    }
}

impl RunDir {
    /// Writes the quality check results (one line per scored response).
    pub(crate) fn write_checks(
        &self,
        checks: &[crate::quality::CheckRecord],
    ) -> Result<(), StoreError> {
        self.write_lines(CHECKS_FILE, checks)
    }

    /// Writes `items` as JSON lines, atomically.
    fn write_lines<T: Serialize>(&self, name: &str, items: &[T]) -> Result<(), StoreError> {
        let mut text = Vec::new();
        for item in items {
            serde_json::to_writer(&mut text, item)
                .map_err(|e| StoreError::new(&self.file(name), e.into()))?;
            text.push(b'\n');
        }
        self.write(name, &text)
    }

    /// Writes the after-run token counts (one line per counted response).
    pub(crate) fn write_tokens(
        &self,
        counts: &[crate::record::TokenRecord],
    ) -> Result<(), StoreError> {
        self.write_lines(TOKENS_FILE, counts)
    }

    /// The after-run token counts, if any.
    pub fn read_tokens(&self) -> Result<Vec<crate::record::TokenRecord>, StoreError> {
        read_lines(&self.file(TOKENS_FILE))
    }

    /// The quality check results, if the run has any.
    pub(crate) fn read_checks(&self) -> Result<Vec<crate::quality::CheckRecord>, StoreError> {
        read_lines(&self.file(CHECKS_FILE))
    }
}

/// Every JSON line of `path` that parses (a torn last line is skipped); none
/// when the file does not exist.
fn read_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, StoreError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(StoreError::new(path, e)),
    }
}

#[cfg(test)]
mod tests;
