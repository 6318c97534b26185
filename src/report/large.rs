//! Reports of runs with very many cells. summary.json and cells.csv always
//! hold every cell; the other reports (and the table printed at the end)
//! of a run with more than [`FULL_TABLE_CELLS`] cells show a selection: the
//! [`SHOWN_EACH_END`] fastest and slowest cells by median end-to-end
//! latency, with a note saying so. A page of 100,000 rows is neither
//! readable nor cheap to render (each template sees the whole model as one
//! JSON value: ~50 KB of memory per cell). cells.csv is rendered a chunk of
//! cells at a time, so its memory does not grow with the run either.

use super::{render, ReportModel, Template};
use crate::aggregate::CellSummary;
use serde::Serialize;
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

/// Orders `cells` by median e2e latency (cells without one last) and
/// keeps the fastest and slowest [`SHOWN_EACH_END`], in plan order.
pub(crate) fn select_cells(cells: &[CellSummary]) -> (Vec<CellSummary>, CellSelection) {
    let e2e = |c: &CellSummary| c.metrics.get("e2e_ms").map(|m| m.p50);
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by(|&a, &b| match (e2e(&cells[a]), e2e(&cells[b])) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(&b),
    });
    let ends = SHOWN_EACH_END.min(order.len());
    let mut keep: Vec<usize> = order[..ends].to_vec();
    keep.extend(&order[order.len().saturating_sub(SHOWN_EACH_END).max(ends)..]);
    keep.sort_unstable();
    let shown: Vec<CellSummary> = keep.iter().map(|&i| cells[i].clone()).collect();
    let selection = CellSelection {
        total: cells.len(),
        shown: shown.len(),
        note: format!(
            "{} cells: this report shows the {SHOWN_EACH_END} fastest and the {SHOWN_EACH_END} \
             slowest by median end-to-end latency (cells without one count as slowest); \
             every cell is in cells.csv and summary.json.",
            cells.len()
        ),
    };
    (shown, selection)
}

/// Renders `templates` for a run of many cells: cells.csv a chunk of cells
/// at a time from every cell, the others from a selection (the model's
/// `cells` is replaced by it, and `cell_selection` says so). Returns the
/// files written and the errors, as `write_reports` does.
pub(crate) fn write_large_reports(
    dir: &Path,
    templates: &[Template],
    model: &mut ReportModel,
) -> (Vec<PathBuf>, Vec<String>) {
    let mut written = Vec::new();
    let mut errors = Vec::new();
    let all = std::mem::take(&mut model.cells);
    let (shown, selection) = select_cells(&all);
    for template in templates.iter().filter(|t| t.output == CELLS_CSV) {
        match write_in_chunks(dir, template, model, &all) {
            Ok(path) => written.push(path),
            Err(e) => errors.push(e),
        }
    }
    drop(all);
    model.cells = shown;
    model.cell_selection = Some(selection);
    for group in &mut model.warning_groups {
        shorten(group);
    }
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
    cells: &[CellSummary],
) -> Result<PathBuf, String> {
    let path = dir.join(&template.output);
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io)?);
    for (i, chunk) in cells.chunks(CSV_CHUNK).enumerate() {
        model.cells = chunk.to_vec();
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
        let (shown, selection) = select_cells(&model.cells);
        assert_eq!((selection.total, selection.shown), (1_200, 100));
        let ids: Vec<&str> = shown.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids[0], "cell-0");
        assert_eq!(ids[49], "cell-49");
        assert_eq!(ids[50], "cell-1150");
        assert_eq!(ids[99], "cell-1199");
        assert!(
            selection.note.starts_with("1200 cells"),
            "{}",
            selection.note
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
        let (written, errors) = write_large_reports(dir.path(), &templates, &mut model);
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
