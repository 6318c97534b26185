//! `SpilledCells`: the cells of a run of many cells, summarised one at a
//! time and kept in a scratch file of the run directory instead of in
//! memory, and summary.json written from it: the model's text streamed
//! with the stored cells put in place of its empty `cells`, the same text
//! as the model serialised with all its cells.

use super::large::median_e2e;
use super::ReportModel;
use crate::aggregate::CellSummary;
use crate::store::{StoreError, SUMMARY_FILE};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The cells of a run of many cells, summarised one at a time and stored
/// in a scratch file of the run directory as summary.json holds them
/// (pretty JSON, indented for its `cells` array), instead of in memory:
/// per cell, memory keeps where it is and its median e2e latency (for the
/// selection). The file is removed when this is dropped.
pub(crate) struct SpilledCells {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    /// Per plan cell: offset and length of its summary in the file.
    at: Vec<(u64, usize)>,
    e2e: Vec<Option<f64>>,
    /// Bytes written.
    end: u64,
}

/// Name of the scratch file in the run directory.
pub(super) const SPILL_FILE: &str = ".cells.spill.json";

/// Indentation of a cell in summary.json's `cells` array.
const CELL_INDENT: &str = "    ";

impl SpilledCells {
    /// A scratch file in `dir` for `n` cells.
    pub(crate) fn create(dir: &Path, n: usize) -> Result<SpilledCells, StoreError> {
        let path = dir.join(SPILL_FILE);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| StoreError::new(&path, e))?;
        Ok(SpilledCells {
            path,
            out: std::io::BufWriter::new(file),
            at: vec![(0, 0); n],
            e2e: vec![None; n],
            end: 0,
        })
    }

    /// Stores `cell`, the plan's cell `i`.
    pub(crate) fn push(&mut self, i: usize, cell: &CellSummary) -> Result<(), StoreError> {
        let io = |e: std::io::Error| StoreError::new(&self.path, e);
        let text = serde_json::to_string_pretty(cell).map_err(|e| io(e.into()))?;
        let mut indented = String::with_capacity(text.len() + text.len() / 8);
        for (k, line) in text.lines().enumerate() {
            if k > 0 {
                indented.push('\n');
            }
            indented.push_str(CELL_INDENT);
            indented.push_str(line);
        }
        self.out.write_all(indented.as_bytes()).map_err(io)?;
        self.at[i] = (self.end, indented.len());
        self.e2e[i] = median_e2e(cell);
        self.end += indented.len() as u64;
        Ok(())
    }

    /// Each cell's median e2e latency, in plan order.
    pub(super) fn medians(&self) -> &[Option<f64>] {
        &self.e2e
    }

    /// Cells stored (the plan's).
    pub(crate) fn len(&self) -> usize {
        self.at.len()
    }

    /// Cell `i` as stored.
    fn raw(&mut self, i: usize) -> Result<Vec<u8>, StoreError> {
        use std::os::unix::fs::FileExt;
        let io = |e: std::io::Error| StoreError::new(&self.path, e);
        self.out.flush().map_err(io)?;
        let (offset, len) = self.at[i];
        let mut bytes = vec![0; len];
        self.out
            .get_ref()
            .read_exact_at(&mut bytes, offset)
            .map_err(io)?;
        Ok(bytes)
    }

    /// Cell `i` read back.
    pub(crate) fn cell(&mut self, i: usize) -> Result<CellSummary, StoreError> {
        let bytes = self.raw(i)?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError::new(&self.path, e.into()))
    }

    /// Writes summary.json into `dir`: `model` (its own `cells` empty)
    /// with every stored cell as its `cells`, the same text that
    /// serialising the model with all its cells gives. Written to a
    /// temporary file first, then renamed.
    pub(crate) fn write_summary(
        &mut self,
        dir: &Path,
        model: &ReportModel,
    ) -> Result<PathBuf, StoreError> {
        let target = dir.join(SUMMARY_FILE);
        let temp = dir.join(format!(".{SUMMARY_FILE}.tmp"));
        let io = |e: std::io::Error| StoreError::new(&temp, e);
        debug_assert!(model.cells.is_empty(), "the cells come from the file");
        let file = std::fs::File::create(&temp).map_err(io)?;
        let mut splice = CellsSplice {
            out: std::io::BufWriter::new(file),
            head: Some(Vec::new()),
            cells: self,
        };
        serde_json::to_writer_pretty(&mut splice, model).map_err(|e| io(e.into()))?;
        if splice.head.is_some() {
            return Err(io(std::io::Error::other("no top-level cells in the model")));
        }
        let mut out = splice.out;
        out.write_all(b"\n")
            .and_then(|()| out.flush())
            .map_err(io)?;
        drop(out);
        std::fs::rename(&temp, &target).map_err(|e| StoreError::new(&target, e))?;
        Ok(target)
    }
}

/// The model's pretty JSON on its way to summary.json, with the stored
/// cells put in place of its empty top-level `cells` (the only key
/// indented by two spaces), so that neither the model's text nor the
/// cells are ever held whole: the text up to that key (a few KB) is held
/// until it is found, the rest passes straight through.
struct CellsSplice<'c, W: Write> {
    out: W,
    /// The text so far, until the key is found.
    head: Option<Vec<u8>>,
    cells: &'c mut SpilledCells,
}

/// The model's empty top-level `cells`.
const EMPTY_CELLS: &[u8] = b"\n  \"cells\": []";

impl<W: Write> CellsSplice<'_, W> {
    /// Writes `head` with the cells in place of the `[]` at `at`.
    fn splice(&mut self, head: &[u8], at: usize) -> std::io::Result<()> {
        let io = |e: StoreError| std::io::Error::other(e.to_string());
        self.out.write_all(&head[..at])?;
        self.out.write_all(b"[\n")?;
        for i in 0..self.cells.len() {
            if i > 0 {
                self.out.write_all(b",\n")?;
            }
            self.out.write_all(&self.cells.raw(i).map_err(io)?)?;
        }
        self.out.write_all(b"\n  ]")?;
        self.out.write_all(&head[at + 2..])
    }
}

impl<W: Write> Write for CellsSplice<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let Some(head) = &mut self.head else {
            return self.out.write(buf);
        };
        let from = head.len().saturating_sub(EMPTY_CELLS.len());
        head.extend_from_slice(buf);
        let found = head[from..]
            .windows(EMPTY_CELLS.len())
            .position(|w| w == EMPTY_CELLS);
        if let Some(k) = found {
            let head = self.head.take().unwrap_or_default();
            self.splice(&head, from + k + EMPTY_CELLS.len() - 2)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl Drop for SpilledCells {
    fn drop(&mut self) {
        // Scratch only: a failure leaves a hidden file, not a wrong report.
        let _ = std::fs::remove_file(&self.path);
    }
}
