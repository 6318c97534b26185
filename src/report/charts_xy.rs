//! Chart helpers with two numeric axes, for optional sections of a report:
//!
//! - `{{{svg_xy cells x="concurrency" y="throughput_tps" series="label"}}}`:
//!   a line per series through its items' (x, y), sorted by x (throughput
//!   against concurrency where a run has that axis);
//! - `{{{svg_timeline monitor.samples x="t_ms" y="cpu_total_pct" marks=monitor.cells}}}`:
//!   one or more comma-separated y paths over time (ms shown as seconds),
//!   with a dashed line at each mark's `start_ms` labelled by its `label`
//!   (cell boundaries on resource timelines);
//! - `{{{svg_scatter cells x="metrics.decode_tps.mean" y="quality.rate"}}}`:
//!   one labelled dot per item (quality beside speed).
//!
//! Paths are dotted (`gpus.0.util_pct`); items lacking a value are skipped.

use super::charts::{items, number};
use super::collections::lookup;
use super::svg::{axis_ticks, clip, empty, Scale, Svg, Unit, RIGHT};
use handlebars::{Helper, RenderError, RenderErrorReason};
use serde_json::Value;

const PLOT_LEFT: f64 = 52.0;
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

/// Axis ticks for a unit: percentages span 0–100 at least.
fn ticks_for(unit: Unit, lo: f64, hi: f64) -> Vec<f64> {
    match unit {
        Unit::Percent => axis_ticks(lo.min(0.0), hi.max(100.0)),
        _ => axis_ticks(lo, hi),
    }
}

/// Series of (x, y) points with labels, drawn as lines with dots.
fn lines(
    kind: &'static str,
    title: &str,
    series: &[(String, Vec<(f64, f64)>)],
    (x_name, y_name): (&str, &str),
) -> String {
    let (x_unit, y_unit) = (Unit::of(x_name), Unit::of(y_name));
    let xs = series.iter().flat_map(|s| s.1.iter().map(|p| p.0));
    let ys = series.iter().flat_map(|s| s.1.iter().map(|p| p.1));
    let ((x_lo, x_hi), (y_lo, y_hi)) = (bounds(xs), bounds(ys));
    let mut svg = Svg::new(kind, title);
    let labels: Vec<String> = series.iter().map(|s| s.0.clone()).collect();
    let top = svg.legend(&labels, 40.0) + 8.0;
    let bottom = top + PLOT_HEIGHT;
    let x_ticks = axis_ticks(x_lo, x_hi);
    let y_ticks = ticks_for(y_unit, y_lo, y_hi);
    let x = Scale::over(&x_ticks, PLOT_LEFT, RIGHT);
    let y = Scale::over(&y_ticks, bottom, top);
    svg.y_axis(&y, &y_ticks, (PLOT_LEFT, RIGHT), y_unit);
    svg.x_axis(&x, &x_ticks, (top, bottom), x_unit);
    for (index, (label, points)) in series.iter().enumerate() {
        let pixels: Vec<(f64, f64)> = points.iter().map(|(a, b)| (x.at(*a), y.at(*b))).collect();
        svg.polyline(&pixels, index, "curve");
        if points.len() <= 40 {
            for ((a, b), pixel) in points.iter().zip(&pixels) {
                let tip = format!(
                    "{label}: {x_name} {} → {y_name} {}",
                    x_unit.format(*a),
                    y_unit.format(*b)
                );
                svg.dot(*pixel, 3.0, index, &tip);
            }
        }
    }
    svg.text(
        RIGHT,
        bottom + 30.0,
        "note",
        "end",
        &format!("x: {x_name} · y: {y_name}"),
    );
    svg.finish(bottom + 38.0)
}

pub fn xy(list: &[Value], x_path: &str, y_path: &str, series_path: &str, title: &str) -> String {
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for item in list {
        let Some(point) = number(item, x_path).zip(number(item, y_path)) else {
            continue;
        };
        let name = lookup(item, series_path)
            .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
            .unwrap_or_default();
        match series.iter_mut().find(|s| s.0 == name) {
            Some(s) => s.1.push(point),
            None => series.push((name, vec![point])),
        }
    }
    if series.is_empty() {
        return empty("chart-xy", y_path);
    }
    for s in &mut series {
        s.1.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    lines("chart-xy", title, &series, (x_path, y_path))
}

/// Resource timelines: `y_paths` over `x_path` (ms, shown in seconds), with marks.
pub fn timeline(
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
    let mut svg = lines("chart-timeline", title, &series, ("time_s", y_paths[0]));
    // Cell boundaries: dashed lines inserted before the closing tag.
    let xs = series.iter().flat_map(|s| s.1.iter().map(|p| p.0));
    let (lo, hi) = bounds(xs);
    let ticks = axis_ticks(lo, hi);
    let x = Scale::over(&ticks, PLOT_LEFT, RIGHT);
    let legend_rows = series.len().div_ceil(2) as f64;
    let top = 40.0 + legend_rows * 18.0 + 8.0;
    let mut extra = String::new();
    for (i, mark) in marks.iter().enumerate() {
        let Some(at) = number(mark, "start_ms").map(|v| v / 1e3) else {
            continue;
        };
        let px = x.at(at);
        let label = lookup(mark, "label")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let y = top + 12.0 + (i % 3) as f64 * 13.0;
        extra.push_str(&format!(
            "<line x1=\"{px:.1}\" y1=\"{top:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" class=\"mark\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n<text x=\"{:.1}\" y=\"{y:.1}\" class=\"mark-label\" fill=\"currentColor\">{}</text>\n",
            top + PLOT_HEIGHT,
            px + 3.0,
            super::svg::esc(&clip(label, 22))
        ));
    }
    if let Some(end) = svg.rfind("</svg>") {
        svg.insert_str(end, &extra);
    }
    svg
}

pub fn scatter(list: &[Value], x_path: &str, y_path: &str, title: &str) -> String {
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
    let (x_lo, x_hi) = bounds(dots.iter().map(|d| d.2));
    let (y_lo, y_hi) = bounds(dots.iter().map(|d| d.3));
    let mut svg = Svg::new("chart-scatter", title);
    let (top, bottom) = (40.0, 40.0 + PLOT_HEIGHT);
    let x_ticks = axis_ticks(x_lo, x_hi);
    let y_ticks = axis_ticks(y_lo, y_hi);
    let x = Scale::over(&x_ticks, PLOT_LEFT, RIGHT - 60.0);
    let y = Scale::over(&y_ticks, bottom, top);
    svg.y_axis(&y, &y_ticks, (PLOT_LEFT, RIGHT), y_unit);
    svg.x_axis(&x, &x_ticks, (top, bottom), x_unit);
    for (label, series, a, b) in &dots {
        let pixel = (x.at(*a), y.at(*b));
        let tip = format!("{label}: {} , {}", x_unit.format(*a), y_unit.format(*b));
        svg.dot(pixel, 4.5, *series, &tip);
        svg.text(
            pixel.0 + 7.0,
            pixel.1 - 6.0,
            "point-label",
            "start",
            &clip(label, 28),
        );
    }
    svg.text(
        RIGHT,
        bottom + 30.0,
        "note",
        "end",
        &format!("x: {x_path} · y: {y_path}"),
    );
    svg.finish(bottom + 38.0)
}

pub fn xy_helper(list: &[Value], h: &Helper<'_>, title: &str) -> Result<String, RenderError> {
    let (x, y) = (hash_str(h, "x", "svg_xy")?, hash_str(h, "y", "svg_xy")?);
    let series = h.hash_get("series").and_then(|v| v.value().as_str());
    Ok(xy(
        list,
        x,
        y,
        series.unwrap_or("label"),
        if title.is_empty() { y } else { title },
    ))
}

pub fn timeline_helper(list: &[Value], h: &Helper<'_>, title: &str) -> Result<String, RenderError> {
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

pub fn scatter_helper(list: &[Value], h: &Helper<'_>, title: &str) -> Result<String, RenderError> {
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
