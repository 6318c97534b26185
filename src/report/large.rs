//! Reports of runs with very many cells. summary.json and cells.csv always
//! hold every cell; the other reports (and the table printed at the end)
//! of a run with more than [`FULL_TABLE_CELLS`] cells show a selection: the
//! [`SHOWN_EACH_END`] fastest and slowest cells by median end-to-end
//! latency, with a note saying so. A page of 100,000 rows is neither
//! readable nor cheap to render (each template sees the whole model as one
//! JSON value: ~50 KB of memory per cell). cells.csv is rendered a chunk of
//! cells at a time, so its memory does not grow with the run either.

use super::warnings::Finding;
use super::{render, MonitorView, ReportModel, Template};
use crate::aggregate::CellSummary;
use crate::aggregate::{CheckIndex, ResourceTally, RunSummary};
use crate::monitor::{Sample, WindowSummary};
use crate::plan::Plan;
use crate::quality::CheckRecord;
use crate::record::Record;
use crate::store::{RunManifest, StoreError, SUMMARY_FILE};
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Above this many cells, the reports show a selection of cells.
pub(crate) const FULL_TABLE_CELLS: usize = 1_000;

/// How many of the fastest, and of the slowest, cells a selection shows.
pub(crate) const SHOWN_EACH_END: usize = 50;

/// Findings (and cells) a warning group lists in a selection's reports.
pub(crate) const LISTED_FINDINGS: usize = 20;

/// Cells rendered at a time into cells.csv.
const CSV_CHUNK: usize = 500;

/// The output that holds every cell, rendered in chunks.
const CELLS_CSV: &str = "cells.csv";

/// What the reports show of a run's cells, when not all of them.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CellSelection {
    /// Cells in the run.
    pub(crate) total: usize,
    /// Cells in `cells`.
    pub(crate) shown: usize,
    /// The sentence the reports print above the cells.
    pub(crate) note: String,
}

/// A cell's median end-to-end latency, what the selection orders by.
fn median_e2e(cell: &CellSummary) -> Option<f64> {
    cell.metrics.get("e2e_ms").map(|m| m.p50)
}

/// The indices, in plan order, of the [`SHOWN_EACH_END`] fastest and
/// slowest of cells whose median e2e latencies are `e2e`.
fn select(e2e: &[Option<f64>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..e2e.len()).collect();
    order.sort_by(|&a, &b| match (e2e[a], e2e[b]) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(&b),
    });
    let ends = SHOWN_EACH_END.min(order.len());
    let mut keep: Vec<usize> = order[..ends].to_vec();
    keep.extend(&order[order.len().saturating_sub(SHOWN_EACH_END).max(ends)..]);
    keep.sort_unstable();
    keep
}

fn selection(total: usize, shown: usize) -> CellSelection {
    CellSelection {
        total,
        shown,
        note: format!(
            "{total} cells: this report shows the {SHOWN_EACH_END} fastest and the {SHOWN_EACH_END} \
             slowest by median end-to-end latency (cells without one count as slowest); \
             every cell is in cells.csv and summary.json."
        ),
    }
}

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
const SPILL_FILE: &str = ".cells.spill.json";

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

/// A cell's mark on the resource timeline: `{label, start_ms}`.
pub(crate) fn cell_mark(cell: &CellSummary, start_ms: f64) -> serde_json::Value {
    let setting = super::setting_text(
        cell.load.concurrency.map(u64::from),
        cell.load.rate,
        cell.matrix.iter(),
    );
    let label = format!("{} × {} {setting}", cell.label, cell.prompt);
    serde_json::json!({ "label": label, "start_ms": start_ms })
}

/// What the reports of a run of many cells need from each cell, gathered
/// as each one is summarised (and then stored in [`SpilledCells`]): its
/// pass rate, resource figures, whether its server started, its warnings
/// and its mark on the resource timeline (the thresholds are checked by
/// the caller, which may use `compare`). Only these
/// outcomes stay in memory, not the cells.
pub(crate) struct CellPass<'a> {
    manifest: &'a RunManifest,
    checks: CheckIndex<'a>,
    samples: &'a [Sample],
    resources: ResourceTally,
    /// Cell id → the first send of any of its requests, ms (with the monitor).
    starts: HashMap<String, f64>,
    /// Per cell that began: its plan index and mark on the timeline.
    marks: Vec<(usize, serde_json::Value)>,
    findings: Vec<(usize, Finding)>,
    /// Per point whose server did not start: its cells.
    not_run: Vec<usize>,
    cells: SpilledCells,
    /// The first cell that could not be stored: the rest are not tried.
    error: Option<StoreError>,
}

/// A run of many cells: everything but its cells in `model`, the cells in
/// `cells`.
pub(crate) struct ManyCells {
    pub(crate) model: ReportModel,
    pub(crate) cells: SpilledCells,
}

impl<'a> CellPass<'a> {
    pub(crate) fn new(
        manifest: &'a RunManifest,
        checks: &'a [CheckRecord],
        samples: &'a [Sample],
        cells: SpilledCells,
    ) -> CellPass<'a> {
        CellPass {
            manifest,
            checks: CheckIndex::new(checks),
            samples,
            resources: ResourceTally::default(),
            starts: HashMap::new(),
            marks: Vec::new(),
            findings: Vec::new(),
            not_run: vec![0; super::server_points::unstarted_points(manifest, &mut []).len()],
            cells,
            error: None,
        }
    }

    /// Takes a record into the cell windows; before its cell is summarised.
    pub(crate) fn add_record(&mut self, record: &Record) {
        self.resources.add(record);
        if self.manifest.monitor.is_none() {
            return;
        }
        match self.starts.get_mut(record.cell.as_str()) {
            Some(start) => *start = start.min(record.run_offset_ms),
            None => {
                self.starts
                    .insert(record.cell.clone(), record.run_offset_ms);
            }
        }
    }

    /// Completes `cell` (plan index `i`) with what joins it from outside
    /// requests.jsonl, takes what the reports need, and stores it.
    pub(crate) fn take(&mut self, i: usize, mut cell: CellSummary) {
        cell.quality = self.checks.cell(&cell.id);
        cell.monitor = self.resources.take_cell(&cell.id, self.samples);
        let one = std::slice::from_mut(&mut cell);
        let points = super::server_points::unstarted_points(self.manifest, one);
        for (count, point) in self.not_run.iter_mut().zip(&points) {
            *count += point.cells;
        }
        let mut found = Vec::new();
        super::warnings::cell_findings(&cell, &mut found);
        if self.manifest.monitor.is_some() {
            let one = std::slice::from_ref(&cell);
            let cores = self.manifest.environment.cores;
            let busy =
                super::warnings::monitor_findings(one, cores, None, &serde_json::Value::Null);
            found.extend(busy);
            if let Some(start) = self.starts.remove(cell.id.as_str()) {
                self.marks.push((i, cell_mark(&cell, start)));
            }
        }
        self.findings.extend(found.into_iter().map(|f| (i, f)));
        if self.error.is_none() {
            self.error = self.cells.push(i, &cell).err();
        }
    }

    /// The model of the run, from `summary` (its totals and models; no
    /// cells) and what was taken from each cell: warnings in plan order,
    /// as for a run whose cells are all in memory. `monitor` makes the monitor's view from
    /// where each cell began on the timeline (in plan order) and the whole
    /// run's resource figures.
    pub(crate) fn finish(
        mut self,
        mut summary: RunSummary,
        plan: &Plan,
        dir: &str,
        monitor: impl FnOnce(Vec<serde_json::Value>, Option<WindowSummary>) -> Option<MonitorView>,
    ) -> Result<ManyCells, StoreError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        self.checks.attach_models(&mut summary, plan);
        self.marks.sort_by_key(|(i, _)| *i);
        let marks = self.marks.into_iter().map(|(_, mark)| mark).collect();
        let view = monitor(marks, self.resources.run_window(self.samples));
        self.findings.sort_by_key(|(i, _)| *i);
        let findings = self.findings.into_iter().map(|(_, f)| f).collect();
        let model =
            ReportModel::of_many(self.manifest, summary, dir, findings, &self.not_run, view);
        Ok(ManyCells {
            model,
            cells: self.cells,
        })
    }
}

/// Renders `templates` for a run of many cells, whose cells are in
/// `cells` (the model's own `cells` empty): cells.csv a chunk of cells at a time from every cell, the
/// others from a selection (the model's `cells` is set to it, and
/// `cell_selection` says so). Returns the files written and the errors,
/// as `write_reports` does.
pub(crate) fn write_large_reports(
    dir: &Path,
    templates: &[Template],
    model: &mut ReportModel,
    cells: &mut SpilledCells,
) -> (Vec<PathBuf>, Vec<String>) {
    let mut written = Vec::new();
    let mut errors = Vec::new();
    for group in &mut model.warning_groups {
        shorten(group);
    }
    for template in templates.iter().filter(|t| t.output == CELLS_CSV) {
        match write_in_chunks(dir, template, model, cells) {
            Ok(path) => written.push(path),
            Err(e) => errors.push(e),
        }
    }
    let keep = select(&cells.e2e);
    let shown: Result<Vec<CellSummary>, StoreError> = keep.iter().map(|&i| cells.cell(i)).collect();
    match shown {
        Ok(shown) => model.cells = shown,
        Err(e) => return (written, vec![e.to_string()]),
    }
    model.cell_selection = Some(selection(cells.len(), keep.len()));
    let rest: Vec<Template> = templates
        .iter()
        .filter(|t| t.output != CELLS_CSV)
        .cloned()
        .collect();
    let (more, failed) = super::write_reports(dir, &rest, model);
    written.extend(more);
    errors.extend(failed);
    (written, errors)
}

/// Renders `template` over `cells` [`CSV_CHUNK`] at a time into one file:
/// the first chunk whole, the later ones without their first line (the
/// header).
fn write_in_chunks(
    dir: &Path,
    template: &Template,
    model: &mut ReportModel,
    cells: &mut SpilledCells,
) -> Result<PathBuf, String> {
    let path = dir.join(&template.output);
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io)?);
    let all: Vec<usize> = (0..cells.len()).collect();
    for (i, chunk) in all.chunks(CSV_CHUNK).enumerate() {
        let read: Result<Vec<CellSummary>, StoreError> =
            chunk.iter().map(|&k| cells.cell(k)).collect();
        model.cells = read.map_err(|e| e.to_string())?;
        let text = render(template, model).map_err(|e| e.to_string())?;
        let body = if i == 0 {
            text.as_str()
        } else {
            text.split_once('\n').map_or("", |(_, rows)| rows)
        };
        out.write_all(body.as_bytes()).map_err(io)?;
    }
    model.cells.clear();
    out.flush().map_err(io)?;
    Ok(path)
}

/// Keeps the first [`LISTED_FINDINGS`] of a warning group's cells and
/// findings, and says how many more summary.json has.
fn shorten(group: &mut super::warnings::WarningGroup) {
    group.cells.truncate(LISTED_FINDINGS);
    let more = group.details.len().saturating_sub(LISTED_FINDINGS);
    if more > 0 {
        group.details.truncate(LISTED_FINDINGS);
        group
            .details
            .push(format!("… and {more} more (every one is in summary.json)."));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture's first cell copied `n` times, cell `i` with median e2e `i` ms.
    fn many(n: usize) -> ReportModel {
        let mut model = super::super::fixture::model();
        let first = model.cells[0].clone();
        model.cells = (0..n)
            .map(|i| {
                let mut cell = first.clone();
                cell.id = format!("cell-{i}");
                if let Some(e2e) = cell.metrics.get_mut("e2e_ms") {
                    e2e.summary.p50 = i as f64;
                }
                cell
            })
            .collect();
        model
    }

    #[test]
    fn a_selection_keeps_the_fastest_and_slowest_in_plan_order() {
        let model = many(1_200);
        let e2e: Vec<Option<f64>> = model.cells.iter().map(median_e2e).collect();
        let keep = select(&e2e);
        assert_eq!(keep.len(), 100);
        let ids: Vec<&str> = keep.iter().map(|&i| model.cells[i].id.as_str()).collect();
        assert_eq!(ids[0], "cell-0");
        assert_eq!(ids[49], "cell-49");
        assert_eq!(ids[50], "cell-1150");
        assert_eq!(ids[99], "cell-1199");
        let selection = selection(1_200, keep.len());
        assert!(
            selection.note.starts_with("1200 cells"),
            "{}",
            selection.note
        );
    }

    /// `model`'s cells moved into a scratch file in `dir`, in reverse
    /// order (the order cells close in need not be the plan's).
    fn spill(dir: &Path, model: &mut ReportModel) -> SpilledCells {
        let all = std::mem::take(&mut model.cells);
        let mut cells = SpilledCells::create(dir, all.len()).expect("scratch file");
        for (i, cell) in all.iter().enumerate().rev() {
            cells.push(i, cell).expect("stored");
        }
        cells
    }

    #[test]
    fn summary_json_from_stored_cells_is_the_model_serialised_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut model = many(1_100);
        let whole = serde_json::to_string_pretty(&model).expect("serialises") + "\n";
        let mut cells = spill(dir.path(), &mut model);
        assert_eq!(cells.cell(7).expect("read back").id, "cell-7");
        cells.write_summary(dir.path(), &model).expect("written");
        let written = std::fs::read_to_string(dir.path().join(SUMMARY_FILE)).expect("summary");
        assert!(
            written == whole,
            "summary.json differs from the model serialised whole"
        );
        drop(cells);
        assert!(
            !dir.path().join(SPILL_FILE).exists(),
            "scratch file removed"
        );
    }

    #[test]
    fn large_reports_show_a_selection_and_cells_csv_every_cell() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut model = many(1_234);
        let templates = [
            super::super::builtin(crate::experiment::ReportFormat::Csv),
            super::super::builtin(crate::experiment::ReportFormat::Markdown),
            super::super::builtin(crate::experiment::ReportFormat::Html),
        ];
        let mut cells = spill(dir.path(), &mut model);
        let (written, errors) = write_large_reports(dir.path(), &templates, &mut model, &mut cells);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(written.len(), 3);
        let csv = std::fs::read_to_string(dir.path().join("cells.csv")).expect("cells.csv");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 1_234, "one header, a row per cell");
        assert!(lines[0].starts_with("cell,model"));
        assert_eq!(lines.iter().filter(|l| l.starts_with("cell,")).count(), 1);
        assert!(lines[1_234].starts_with("cell-1233,"));
        let md = std::fs::read_to_string(dir.path().join("report.md")).expect("report.md");
        assert!(md.contains("> 1234 cells: this report shows the 50 fastest"));
        let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
        assert!(html.contains("<p class=\"selection\"><strong>1234 cells: this report shows"));
        assert_eq!(model.cells.len(), 100);
    }
}
