//! The history page: one self-contained HTML file (inline SVG, no scripts
//! or fetched assets) with a line chart per metric per series: commits on
//! the x axis, each run's interval as a bar, a hover title with the hash,
//! subject and date, each point linking to its run's report.html, and the
//! change points marked with their size.

use super::render::{series_name, size, verdict};
use super::{Change, History, MetricSeries, Series};
use std::fmt::Write as _;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 48.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 56.0;

pub fn page(history: &History) -> String {
    let mut out = String::new();
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>llmbench history</title>\n<style>\n\
         body{font:14px system-ui,sans-serif;margin:2em;color:#222}h2{margin-top:2em}\
         table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}\
         .charts{display:flex;flex-wrap:wrap;gap:12px}.chart{border:1px solid #eee}\
         .reg{color:#b00020}.imp{color:#1b7f3b}svg text{font:11px system-ui,sans-serif}\n\
         </style></head><body>\n<h1>History</h1>\n",
    );
    let _ = writeln!(
        out,
        "<p>{} runs, {} series, {} change points (permutation rank test, p &lt; {}, at least {} %).</p>",
        history.runs.len(),
        history.series.len(),
        history.change_points.len(),
        history.alpha,
        history.min_change * 100.0
    );
    change_table(history, &mut out);
    notes(history, &mut out);
    for series in &history.series {
        series_section(history, series, &mut out);
    }
    out.push_str("</body></html>\n");
    out
}

fn change_table(history: &History, out: &mut String) {
    if history.change_points.is_empty() {
        return;
    }
    out.push_str("<h2>Change points</h2>\n<table><tr><th>series</th><th>metric</th><th>commit</th><th>date</th><th>subject</th><th>change [95 %]</th><th></th></tr>\n");
    for change in &history.change_points {
        let (short, date, subject) = commit_parts(history, change);
        let class = if change.regression { "reg" } else { "imp" };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td class=\"{class}\">{}</td></tr>",
            esc(&series_name(change)),
            change.metric,
            esc(&short),
            esc(&date),
            esc(&subject),
            esc(&size(change)),
            verdict(change)
        );
    }
    out.push_str("</table>\n");
}

fn notes(history: &History, out: &mut String) {
    if history.notes.is_empty() {
        return;
    }
    out.push_str("<h2>Besides the code</h2>\n<ul>\n");
    for note in &history.notes {
        let _ = writeln!(
            out,
            "<li>at <code>{}</code>: {}</li>",
            esc(&history.runs[note.run].label()),
            esc(&note.text)
        );
    }
    out.push_str("</ul>\n");
}

fn commit_parts(history: &History, change: &Change) -> (String, String, String) {
    match &change.commit {
        Some(c) => (
            c.short.clone(),
            c.date.chars().take(10).collect(),
            c.subject.clone(),
        ),
        None => (
            history.runs[change.run].run_id.clone(),
            String::new(),
            String::new(),
        ),
    }
}

fn series_section(history: &History, series: &Series, out: &mut String) {
    let title = match series.meta.kind {
        super::collect::SeriesKind::Cell => format!(
            "{} · {} <small>(cell {})</small>",
            esc(&series.meta.label),
            esc(&series.meta.prompt),
            esc(&series.meta.id)
        ),
        super::collect::SeriesKind::Model => {
            format!("{} <small>(model)</small>", esc(&series.meta.label))
        }
    };
    let _ = writeln!(out, "<h2>{title}</h2>\n<div class=\"charts\">");
    for metric in series.metrics.iter().filter(|m| m.points.len() >= 2) {
        let changes: Vec<&Change> = history
            .change_points
            .iter()
            .filter(|c| {
                c.kind == series.meta.kind && c.id == series.meta.id && c.metric == metric.metric
            })
            .collect();
        chart(history, metric, &changes, out);
    }
    out.push_str("</div>\n");
}

/// One line chart: x by run position in history, y from the values and intervals.
fn chart(history: &History, metric: &MetricSeries, changes: &[&Change], out: &mut String) {
    let points = &metric.points;
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            let e = p.estimate;
            (
                lo.min(e.low.unwrap_or(e.value)).min(e.value),
                hi.max(e.high.unwrap_or(e.value)).max(e.value),
            )
        });
    // At least ±5 % of the level, so run-to-run noise does not fill the chart.
    let (mid, half) = ((lo + hi) / 2.0, (hi - lo) / 2.0 * 1.05);
    let half = half.max(mid.abs() * 0.05).max(1e-9);
    let (lo, hi) = (mid - half, mid + half);
    let runs = history.runs.len().max(2) as f64;
    let x = |run: usize| LEFT + (WIDTH - LEFT - RIGHT) * run as f64 / (runs - 1.0);
    let y = |v: f64| TOP + (HEIGHT - TOP - BOTTOM) * (hi - v) / (hi - lo);
    let _ = writeln!(
        out,
        "<svg class=\"chart\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">",
        metric.metric
    );
    let _ = writeln!(
        out,
        "<text x=\"{LEFT}\" y=\"12\">{} ({})</text>",
        metric.metric,
        esc(if metric.unit.is_empty() {
            "share"
        } else {
            metric.unit
        })
    );
    for v in [lo, (lo + hi) / 2.0, hi] {
        let _ = writeln!(out, "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><line x1=\"{LEFT}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>", LEFT - 4.0, y(v) + 4.0, tick(v), WIDTH - RIGHT, y(v), y(v));
    }
    for change in changes {
        let cx = (x(change.run) + x(change.run.saturating_sub(1))) / 2.0;
        let color = if change.regression {
            "#b00020"
        } else {
            "#1b7f3b"
        };
        let _ = writeln!(
            out,
            "<line x1=\"{cx:.1}\" x2=\"{cx:.1}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"{color}\" stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{}\" fill=\"{color}\">{} {}</text>",
            HEIGHT - BOTTOM, cx + 3.0, TOP + 10.0, verdict(change), esc(&size(change))
        );
    }
    let path: Vec<String> = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", x(p.run), y(p.estimate.value)))
        .collect();
    let _ = writeln!(
        out,
        "<polyline fill=\"none\" stroke=\"#3366cc\" stroke-width=\"1.5\" points=\"{}\"/>",
        path.join(" ")
    );
    for point in points {
        point_mark(history, point, &x, &y, metric.unit, out);
    }
    x_labels(history, &x, out);
    out.push_str("</svg>\n");
}

fn point_mark(
    history: &History,
    point: &super::Point,
    x: &dyn Fn(usize) -> f64,
    y: &dyn Fn(f64) -> f64,
    unit: &str,
    out: &mut String,
) {
    let run = &history.runs[point.run];
    let e = point.estimate;
    if let (Some(low), Some(high)) = (e.low, e.high) {
        let _ = writeln!(
            out,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{2:.1}\" stroke=\"#99b3e6\"/>",
            x(point.run),
            y(low),
            y(high)
        );
    }
    let (hash, subject, date) = match &run.commit {
        Some(c) => (c.short.as_str(), c.subject.as_str(), c.date.as_str()),
        None => (run.run_id.as_str(), "", ""),
    };
    let report = run.dir.join("report.html");
    let _ = writeln!(
        out,
        "<a href=\"{}\"><circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#3366cc\"><title>{} {} ({}) · run {}: {} {}</title></circle></a>",
        esc(&report.display().to_string()),
        x(point.run),
        y(e.value),
        esc(hash),
        esc(subject),
        esc(date),
        esc(&run.run_id),
        tick(e.value),
        esc(unit)
    );
}

/// Short hashes under the x axis, thinned to at most ~16 labels.
fn x_labels(history: &History, x: &dyn Fn(usize) -> f64, out: &mut String) {
    let every = history.runs.len().div_ceil(16).max(1);
    for (i, run) in history.runs.iter().enumerate().step_by(every) {
        let label = run.label();
        let short: String = label.chars().take(8).collect();
        let _ = writeln!(
            out,
            "<text transform=\"translate({:.1},{}) rotate(45)\">{}</text>",
            x(i),
            HEIGHT - BOTTOM + 12.0,
            esc(&short)
        );
    }
}

fn tick(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
