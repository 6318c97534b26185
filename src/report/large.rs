//! Reports of runs with very many cells. summary.json and cells.csv always
//! hold every cell; the other reports (and the table printed at the end)
//! of a run with more than [`FULL_TABLE_CELLS`] cells show a selection: the
//! [`SHOWN_EACH_END`] fastest and slowest cells by median end-to-end
//! latency, with a note saying so. A page of 100,000 rows is neither
//! readable nor cheap to render (each template sees the whole model as one
//! JSON value: ~50 KB of memory per cell). Nor are the cells held: each
//! cell, as it is summarised, passes through [`CellPass`] (pass rate,
//! resource figures, unstarted server, warnings, timeline mark) into
//! [`SpilledCells`]; cells.csv is rendered from there a chunk of cells at a
//! time, and the reports read back only the cells they show.

use super::spill::SpilledCells;
use super::warnings::Finding;
use super::{render, MonitorView, ReportModel, Template};
use crate::aggregate::CellSummary;
use crate::aggregate::{CheckIndex, ResourceTally, RunSummary};
use crate::monitor::{Sample, WindowSummary};
use crate::plan::Plan;
use crate::quality::CheckRecord;
use crate::record::Record;
use crate::store::{RunManifest, StoreError};
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
pub(super) fn median_e2e(cell: &CellSummary) -> Option<f64> {
    cell.metrics.get("e2e_ms").map(|m| m.p50)
}

/// The indices, in plan order, of the [`SHOWN_EACH_END`] fastest and
/// slowest of cells whose median e2e latencies are `e2e`.
pub(super) fn select(e2e: &[Option<f64>]) -> Vec<usize> {
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
            Err(e) => errors.push(e.to_string()),
        }
    }
    let keep = select(cells.medians());
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
) -> Result<PathBuf, ChunkError> {
    let path = dir.join(&template.output);
    let io = |e: std::io::Error| StoreError::new(&path, e);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io)?);
    let all: Vec<usize> = (0..cells.len()).collect();
    for (i, chunk) in all.chunks(CSV_CHUNK).enumerate() {
        let read: Result<Vec<CellSummary>, StoreError> =
            chunk.iter().map(|&k| cells.cell(k)).collect();
        model.cells = read?;
        let text = render(template, model)?;
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

/// Why a report rendered in chunks could not be written: the cells could
/// not be read back or the file written, or the template failed.
#[derive(Debug, thiserror::Error)]
enum ChunkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Template(#[from] super::TemplateError),
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
    use super::super::spill::SPILL_FILE;
    use super::*;
    use crate::store::SUMMARY_FILE;

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
        // A nested empty `cells` before the top-level one is left alone.
        model.servers = serde_json::json!({ "cells": [], "default": { "cells": [] } });
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
