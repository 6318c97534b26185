//! `history` as a terminal table, Markdown or JSON: the change points (each
//! with its commit, size, interval and direction), then what changed
//! between runs besides the code.

use super::{Change, History};
use std::fmt::Write as _;

/// "+30.2 % [+27.9, +32.5]" or, for rates, "+4.0 pp [+1.0, +8.0]".
pub(crate) fn size(change: &Change) -> String {
    let (scale, unit) = if change.absolute {
        (100.0, "pp")
    } else {
        (100.0, "%")
    };
    format!(
        "{:+.1} {unit} [{:+.1}, {:+.1}]",
        change.change * scale,
        change.change_low * scale,
        change.change_high * scale
    )
}

pub(crate) fn verdict(change: &Change) -> &'static str {
    if change.regression {
        "regression"
    } else {
        "improvement"
    }
}

/// The series a change is in: "smollm2 · hello (cell 1a2b…)" or "smollm2 (model)".
pub(crate) fn series_name(change: &Change) -> String {
    match change.kind {
        super::collect::SeriesKind::Cell => {
            format!("{} · {} ({})", change.label, change.prompt, change.id)
        }
        super::collect::SeriesKind::Model => format!("{} (model)", change.label),
    }
}

fn commit_cells(change: &Change, history: &History) -> [String; 3] {
    match &change.commit {
        Some(c) => [
            c.short.clone(),
            c.date.chars().take(10).collect(),
            c.subject.clone(),
        ],
        None => [
            history.runs[change.run].run_id.clone(),
            String::new(),
            "(no commit)".into(),
        ],
    }
}

fn value(x: f64, unit: &str) -> String {
    match unit {
        "" => format!("{:.1} %", x * 100.0),
        _ => format!("{x:.2} {unit}"),
    }
}

/// A table for the terminal.
pub(crate) fn text(history: &History) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary_line(history));
    if !history.change_points.is_empty() {
        let mut table = comfy_table::Table::new();
        table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
        table.set_header([
            "series",
            "metric",
            "commit",
            "date",
            "subject",
            "before → after",
            "change [95 %]",
            "",
        ]);
        for change in &history.change_points {
            let [short, date, subject] = commit_cells(change, history);
            table.add_row([
                series_name(change),
                change.metric.to_string(),
                short,
                date,
                subject,
                format!(
                    "{} → {}",
                    value(change.before, change.unit),
                    value(change.after, change.unit)
                ),
                size(change),
                verdict(change).to_string(),
            ]);
        }
        let _ = writeln!(out, "{table}");
    }
    notes(history, &mut out, "");
    out
}

fn summary_line(history: &History) -> String {
    let commits = history
        .runs
        .iter()
        .filter_map(|r| r.commit.as_ref().map(|c| c.hash.as_str()))
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    format!(
        "{} runs at {} commits, {} series: {} change points (p < {}, at least {} %)",
        history.runs.len(),
        commits,
        history.series.len(),
        history.change_points.len(),
        history.alpha,
        history.min_change * 100.0
    )
}

fn notes(history: &History, out: &mut String, bullet: &str) {
    for note in &history.notes {
        let _ = writeln!(
            out,
            "{bullet}at {}: {}",
            history.runs[note.run].label(),
            note.text
        );
    }
    for skipped in &history.skipped {
        let _ = writeln!(out, "{bullet}skipped {skipped}");
    }
}

/// Markdown: the same table, and the notes as a list.
pub(crate) fn markdown(history: &History) -> String {
    let mut out = String::from("# History\n\n");
    let _ = writeln!(out, "{}\n", summary_line(history));
    if !history.change_points.is_empty() {
        out.push_str(
            "| series | metric | commit | date | subject | before → after | change [95 %] | |\n",
        );
        out.push_str("|---|---|---|---|---|---|---|---|\n");
        for change in &history.change_points {
            let [short, date, subject] = commit_cells(change, history);
            let _ = writeln!(
                out,
                "| {} | {} | `{short}` | {date} | {} | {} → {} | {} | {} |",
                md_escape(&series_name(change)),
                change.metric,
                md_escape(&subject),
                value(change.before, change.unit),
                value(change.after, change.unit),
                size(change),
                verdict(change)
            );
        }
        out.push('\n');
    }
    if !history.notes.is_empty() || !history.skipped.is_empty() {
        out.push_str("## Besides the code\n\n");
        notes(history, &mut out, "- ");
    }
    out
}

fn md_escape(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The whole analysis as JSON.
pub(crate) fn json(history: &History) -> String {
    serde_json::to_string_pretty(history).unwrap_or_default() + "\n"
}
