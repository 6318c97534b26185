//! Chart helpers with two numeric axes, for optional sections of a report:
//!
//! - `{{{svg_xy cells x="load.concurrency" y="throughput_tps" series="setting"}}}`:
//!   a line per series through its items' (x, y), sorted by x, or by
//!   `order="load.concurrency"` when x is not the sweep's axis (latency
//!   against throughput bends back past a server's knee). `series="setting"`
//!   names each line by its full setting without the load level (model ×
//!   prompt · matrix values), so a sweep over load draws one line per server
//!   and matrix point; `slo=500` draws a dashed horizontal target line. A
//!   path may list alternatives, `x="load.concurrency|load.rate"`: the
//!   first with a value is used;
//! - `{{{svg_timeline monitor.timeline y="cpu_total_pct" marks=monitor.windows}}}`:
//!   one or more comma-separated y paths over time (ms shown as seconds),
//!   with a dashed numbered line at each mark's `start_ms` (cell boundaries;
//!   a number is left out where it would overlap the previous one, and each
//!   line's tooltip names its cell);
//! - `{{{svg_scatter cells x="metrics.decode_tps.mean" y="quality.rate"}}}`:
//!   one numbered dot per item with a numbered key below (quality beside
//!   speed); a share (`quality.rate`) runs 0–100 %.
//!
//! Paths are dotted (`gpus.0.util_pct`); items lacking a value are skipped.
//! The y axis makes room for its widest tick label.

use super::charts::{items, number, setting, with_setting};
use super::collections::lookup;
use super::svg::{axis_ticks, clip, empty, esc, y_axis_room, Scale, Svg, Unit, RIGHT, SHORT_LABEL};
use handlebars::{Helper, RenderError, RenderErrorReason};
use serde_json::Value;

const PLOT_HEIGHT: f64 = 220.0;

/// A text hash argument, required.
fn hash_str<'a>(h: &'a Helper<'_>, key: &str, helper: &str) -> Result<&'a str, RenderError> {
    h.hash_get(key)
        .and_then(|v| v.value().as_str())
        .ok_or_else(|| RenderErrorReason::Other(format!("{helper}: give {key}=\"path\"")).into())
}

fn bounds(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

/// Axis ticks for a unit: percentages span 0–100 at least, shares 0–1.
fn ticks_for(unit: Unit, lo: f64, hi: f64) -> Vec<f64> {
    match unit {
        Unit::Percent => axis_ticks(lo.min(0.0), hi.max(100.0)),
        Unit::Share => vec![0.0, 0.25, 0.5, 0.75, 1.0],
        _ => axis_ticks(lo, hi),
    }
}

/// A plot area drawn: the document, its scales and its top edge.
struct Plot {
    svg: Svg,
    x: Scale,
    y: Scale,
    top: f64,
}

/// Axes for series of (x, y) points under a legend of `labels`; `extra_y`
/// (an SLO line) is kept inside the y range.
fn plot(
    kind: &'static str,
    title: &str,
    labels: &[String],
    points: &[(f64, f64)],
    (x_unit, y_unit): (Unit, Unit),
    extra_y: Option<f64>,
) -> Plot {
    let (x_lo, x_hi) = bounds(points.iter().map(|p| p.0));
    let ys = points.iter().map(|p| p.1).chain(extra_y);
    let (y_lo, y_hi) = bounds(ys);
    let mut svg = Svg::new(kind, title);
    let top = svg.legend(labels, 40.0) + 8.0;
    let bottom = top + PLOT_HEIGHT;
    let x_ticks = axis_ticks(x_lo, x_hi);
    let y_ticks = ticks_for(y_unit, y_lo, y_hi);
    let left = y_axis_room(&y_unit.tick_labels(&y_ticks));
    let x = Scale::over(&x_ticks, left, RIGHT);
    let y = Scale::over(&y_ticks, bottom, top);
    svg.y_axis(&y, &y_ticks, (left, RIGHT), y_unit);
    svg.x_axis(&x, &x_ticks, (top, bottom), x_unit);
    Plot { svg, x, y, top }
}

/// Series of (x, y) points with labels, drawn as lines with dots.
fn lines(
    kind: &'static str,
    title: &str,
    series: &[(String, Vec<(f64, f64)>)],
    (x_name, y_name): (&str, &str),
    slo: Option<f64>,
) -> Plot {
    let (x_unit, y_unit) = (Unit::of(x_name), Unit::of(y_name));
    let labels: Vec<String> = series.iter().map(|s| s.0.clone()).collect();
    let all: Vec<(f64, f64)> = series.iter().flat_map(|s| s.1.iter().copied()).collect();
    let mut plot = plot(kind, title, &labels, &all, (x_unit, y_unit), slo);
    let bottom = plot.top + PLOT_HEIGHT;
    for (index, (label, points)) in series.iter().enumerate() {
        let pixels: Vec<(f64, f64)> = points
            .iter()
            .map(|(a, b)| (plot.x.at(*a), plot.y.at(*b)))
            .collect();
        plot.svg.polyline(&pixels, index, "curve");
        if points.len() <= 40 {
            for ((a, b), pixel) in points.iter().zip(&pixels) {
                let tip = format!(
                    "{label}: {x_name} {} → {y_name} {}",
                    x_unit.format(*a),
                    y_unit.format(*b)
                );
                plot.svg.dot(*pixel, 3.0, index, &tip);
            }
        }
    }
    if let Some(target) = slo {
        let at = plot.y.at(target);
        plot.svg.push(&format!(
            "<line x1=\"{:.1}\" y1=\"{at:.1}\" x2=\"{RIGHT:.1}\" y2=\"{at:.1}\" class=\"slo\" stroke=\"#dc2626\" stroke-dasharray=\"6 3\"/>",
            plot.x.from
        ));
        let words = format!("SLO {}", y_unit.format(target));
        plot.svg
            .text(RIGHT - 2.0, at - 4.0, "slo-label", "end", &words);
    }
    plot.svg.text(
        RIGHT,
        bottom + 30.0,
        "note",
        "end",
        &format!("x: {x_name} · y: {y_name}"),
    );
    plot
}

/// The name of an item's series: a path's value, or for `setting` its full
/// setting without the load level (the x axis of a load sweep).
fn series_name(item: &Value, series_path: &str) -> String {
    if series_path == "setting" {
        let base = lookup(item, "label").and_then(Value::as_str).unwrap_or("?");
        let base = match lookup(item, "prompt").and_then(Value::as_str) {
            Some(prompt) => format!("{base} × {prompt}"),
            None => base.to_string(),
        };
        return with_setting(base, &setting(item, false));
    }
    lookup(item, series_path)
        .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
        .unwrap_or_default()
}

/// The first of `paths` (`a|b`: alternatives) with a number under `item`.
fn first_number<'p>(item: &Value, paths: &'p str) -> Option<(&'p str, f64)> {
    paths
        .split('|')
        .find_map(|path| number(item, path).map(|x| (path, x)))
}

/// How an x–y chart is drawn besides its axes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct XyOptions<'a> {
    /// Path of the value that orders each line's points (default: x).
    pub order: Option<&'a str>,
    /// A target drawn as a dashed horizontal line, in y's unit.
    pub slo: Option<f64>,
}

pub(crate) fn xy(
    list: &[Value],
    (x_path, y_path): (&str, &str),
    series_path: &str,
    title: &str,
    options: XyOptions<'_>,
) -> String {
    type Series = (String, Vec<(f64, f64, f64)>);
    let mut series: Vec<Series> = Vec::new();
    let mut x_name = x_path;
    for item in list {
        let Some(((found, x), y)) = first_number(item, x_path).zip(number(item, y_path)) else {
            continue;
        };
        x_name = found;
        let key = options
            .order
            .and_then(|o| first_number(item, o))
            .map_or(x, |(_, k)| k);
        let name = series_name(item, series_path);
        match series.iter_mut().find(|s| s.0 == name) {
            Some(s) => s.1.push((key, x, y)),
            None => series.push((name, vec![(key, x, y)])),
        }
    }
    if series.is_empty() {
        return empty("chart-xy", y_path);
    }
    let ordered: Vec<(String, Vec<(f64, f64)>)> = series
        .into_iter()
        .map(|(name, mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            (name, points.into_iter().map(|p| (p.1, p.2)).collect())
        })
        .collect();
    let plot = lines("chart-xy", title, &ordered, (x_name, y_path), options.slo);
    plot.svg.finish(plot.top + PLOT_HEIGHT + 38.0)
}

/// Resource timelines: `y_paths` over `x_path` (ms, shown in seconds), with marks.
pub(crate) fn timeline(
    points: &[Value],
    x_path: &str,
    y_paths: &[&str],
    marks: &[Value],
    title: &str,
) -> String {
    let seconds = |v: f64| {
        if Unit::of(x_path) == Unit::Ms {
            v / 1e3
        } else {
            v
        }
    };
    let series: Vec<(String, Vec<(f64, f64)>)> = y_paths
        .iter()
        .map(|path| {
            let values = points
                .iter()
                .filter_map(|p| number(p, x_path).map(seconds).zip(number(p, path)))
                .collect();
            (path.to_string(), values)
        })
        .filter(|s: &(String, Vec<(f64, f64)>)| !s.1.is_empty())
        .collect();
    if series.is_empty() {
        return empty("chart-timeline", &y_paths.join(", "));
    }
    let mut plot = lines(
        "chart-timeline",
        title,
        &series,
        ("time_s", y_paths[0]),
        None,
    );
    cell_marks(&mut plot, marks);
    plot.svg.finish(plot.top + PLOT_HEIGHT + 38.0)
}

/// Dashed lines where each cell began, numbered 1, 2, … in mark order. A
/// number that would run into the previous one is left out (the line
/// stays, and its tooltip names the cell).
fn cell_marks(plot: &mut Plot, marks: &[Value]) {
    let mut free_from = f64::NEG_INFINITY;
    for (i, mark) in marks.iter().enumerate() {
        let Some(at) = number(mark, "start_ms").map(|v| v / 1e3) else {
            continue;
        };
        let px = plot.x.at(at);
        let label = lookup(mark, "label")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let number = (i + 1).to_string();
        plot.svg.push(&format!(
            "<line x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" class=\"mark\" stroke=\"#888\" stroke-dasharray=\"4 3\"><title>{} {}</title></line>",
            plot.top,
            plot.top + PLOT_HEIGHT,
            number,
            esc(label)
        ));
        if px + 2.0 >= free_from {
            plot.svg
                .text(px + 2.0, plot.top + 11.0, "mark-label", "start", &number);
            free_from = px + 2.0 + number.len() as f64 * 7.0 + 4.0;
        }
    }
}

pub(crate) fn scatter(list: &[Value], x_path: &str, y_path: &str, title: &str) -> String {
    let dots: Vec<(String, usize, f64, f64)> = items(list)
        .into_iter()
        .filter_map(|i| {
            let point = number(i.value, x_path).zip(number(i.value, y_path))?;
            Some((i.label, i.series, point.0, point.1))
        })
        .collect();
    if dots.is_empty() {
        return empty("chart-scatter", y_path);
    }
    let (x_unit, y_unit) = (Unit::of(x_path), Unit::of(y_path));
    let points: Vec<(f64, f64)> = dots.iter().map(|d| (d.2, d.3)).collect();
    let mut plot = plot("chart-scatter", title, &[], &points, (x_unit, y_unit), None);
    let bottom = plot.top + PLOT_HEIGHT;
    for (n, (label, series, a, b)) in dots.iter().enumerate() {
        let pixel = (plot.x.at(*a), plot.y.at(*b));
        let tip = format!(
            "{}. {label}: {} , {}",
            n + 1,
            x_unit.format(*a),
            y_unit.format(*b)
        );
        plot.svg.dot(pixel, 4.5, *series, &tip);
        let number = (n + 1).to_string();
        plot.svg.text(
            pixel.0 + 6.0,
            pixel.1 - 5.0,
            "point-label",
            "start",
            &number,
        );
    }
    plot.svg.text(
        RIGHT,
        bottom + 30.0,
        "note",
        "end",
        &format!("x: {x_path} · y: {y_path}"),
    );
    // The key: one line per numbered dot, in two columns when short.
    let key_top = bottom + 52.0;
    let long = dots.iter().any(|d| d.0.chars().count() > SHORT_LABEL);
    let (columns, chars) = if long { (1, 58) } else { (2, SHORT_LABEL) };
    let half = dots.len().div_ceil(columns);
    for (n, (label, ..)) in dots.iter().enumerate() {
        let (column, row) = (n / half.max(1), n % half.max(1));
        let x = 12.0 + column as f64 * 232.0;
        let text = format!("{}. {}", n + 1, clip(label, chars));
        plot.svg
            .text(x, key_top + row as f64 * 16.0, "legend", "start", &text);
    }
    plot.svg.finish(key_top + half as f64 * 16.0)
}

pub(crate) fn xy_helper(
    list: &[Value],
    h: &Helper<'_>,
    title: &str,
) -> Result<String, RenderError> {
    let (x, y) = (hash_str(h, "x", "svg_xy")?, hash_str(h, "y", "svg_xy")?);
    let series = h.hash_get("series").and_then(|v| v.value().as_str());
    let options = XyOptions {
        order: h.hash_get("order").and_then(|v| v.value().as_str()),
        slo: h.hash_get("slo").and_then(|v| v.value().as_f64()),
    };
    Ok(xy(
        list,
        (x, y),
        series.unwrap_or("label"),
        if title.is_empty() { y } else { title },
        options,
    ))
}

pub(crate) fn timeline_helper(
    list: &[Value],
    h: &Helper<'_>,
    title: &str,
) -> Result<String, RenderError> {
    let x = h
        .hash_get("x")
        .and_then(|v| v.value().as_str())
        .unwrap_or("t_ms");
    let y = hash_str(h, "y", "svg_timeline")?;
    let paths: Vec<&str> = y
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let marks = match h.hash_get("marks").map(|m| m.value()) {
        Some(Value::Array(marks)) => marks.as_slice(),
        _ => &[],
    };
    Ok(timeline(
        list,
        x,
        &paths,
        marks,
        if title.is_empty() { y } else { title },
    ))
}

pub(crate) fn scatter_helper(
    list: &[Value],
    h: &Helper<'_>,
    title: &str,
) -> Result<String, RenderError> {
    let (x, y) = (
        hash_str(h, "x", "svg_scatter")?,
        hash_str(h, "y", "svg_scatter")?,
    );
    Ok(scatter(
        list,
        x,
        y,
        if title.is_empty() { y } else { title },
    ))
}
