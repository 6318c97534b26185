//! The summary table printed on the terminal at the end of a run.

use super::helpers::MISSING;
use crate::aggregate::CellSummary;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};

/// One row per cell: requests, ttft p50, tpot p50, decode tokens/s, e2e p50,
/// output tokens, quality (when the prompt has checks) and errors ("not
/// run" for a cell whose server did not start). When the
/// cells differ in load level or matrix values, a "setting" column says
/// which is which.
pub(crate) fn summary_table(cells: &[CellSummary]) -> String {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    let settings: Vec<String> = cells.iter().map(setting).collect();
    let varied = settings.iter().any(|s| Some(s) != settings.first());
    let mut header = vec![
        "model",
        "prompt",
        "ok/n",
        "ttft p50 ms",
        "tpot p50 ms",
        "decode tok/s",
        "e2e p50 ms",
        "out tokens",
        "quality",
        "errors",
    ];
    if varied {
        header.insert(2, "setting");
    }
    table.set_header(header);
    for (cell, setting) in cells.iter().zip(settings) {
        let metric = |name: &str, pick: fn(&crate::stats::Summary) -> f64| {
            cell.metrics
                .get(name)
                .map_or(MISSING.to_string(), |s| format!("{:.1}", pick(s)))
        };
        let errors: Vec<String> = cell
            .errors
            .iter()
            .map(|e| format!("{} {}", e.count, e.kind))
            .collect();
        let mut row = vec![
            Cell::new(&cell.label),
            Cell::new(&cell.prompt),
            Cell::new(match cell.not_run {
                Some(_) => "not run".to_string(),
                None => format!("{}/{}", cell.counts.ok, cell.counts.measured),
            }),
            Cell::new(metric("ttft_ms", |s| s.p50)),
            Cell::new(metric("tpot_ms", |s| s.p50)),
            Cell::new(metric("decode_tps", |s| s.mean)),
            Cell::new(metric("e2e_ms", |s| s.p50)),
            Cell::new(metric("output_tokens", |s| s.mean)),
            Cell::new(cell.quality.as_ref().map_or(MISSING.to_string(), |q| {
                format!("{}/{} pass", q.passed, q.n)
            })),
            Cell::new(if cell.not_run.is_some() {
                "server did not start".to_string()
            } else if errors.is_empty() {
                "-".to_string()
            } else {
                errors.join(", ")
            }),
        ];
        if varied {
            row.insert(2, Cell::new(setting));
        }
        table.add_row(row);
    }
    let first_number = if varied { 3 } else { 2 };
    for column in first_number..first_number + 7 {
        if let Some(c) = table.column_mut(column) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    table.to_string()
}

fn setting(cell: &CellSummary) -> String {
    setting_text(
        cell.load.concurrency.map(u64::from),
        cell.load.rate,
        cell.matrix.iter(),
    )
}

pub(crate) use crate::plan::setting_text;
