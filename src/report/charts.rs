//! Chart helpers over summaries (`cells` or `models`), drawn as inline SVG:
//!
//! - `{{{svg_box_plot models "ttft_ms"}}}`: one row per item — whiskers min
//!   to max, a box from p25 to p75 when the statistics have quartiles, else
//!   from p50 to p90 (the legend says which), a median line and a mean dot;
//! - `{{{svg_bars cells "decode_tps"}}}`: one bar per item (statistic `mean`
//!   unless `stat="p50"`…), with the 95% interval of the mean as an error bar;
//! - `{{{svg_cdf cells "e2e_ms"}}}`: a step curve per item through min,
//!   p50, p90, p95, p99 and max (the share holds at a level until the next
//!   percentile is reached, so no value is claimed between them).
//!
//! Every helper takes `title="…"`. Items are labelled with their full
//! setting — "label × prompt · c4 server.parallel=4" — when they have a
//! prompt, so cells that differ only in load or server settings are told
//! apart; colours follow `model` (or `name`) so one model keeps its colour
//! across charts. Items without the metric are left out.

use super::collections::{list_param, lookup, str_param};
use super::svg::{axis_ticks, clip, empty, Scale, Svg, Unit, LEFT, RIGHT};
use handlebars::{Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, ScopedJson};
use serde_json::Value;

/// One item's label and series (colour) index.
pub(super) struct Item<'a> {
    pub label: String,
    pub series: usize,
    pub value: &'a Value,
}

/// Labels and colours of `items` (colour by `model`, else `name`, else position).
pub(super) fn items(list: &[Value]) -> Vec<Item<'_>> {
    let mut keys: Vec<String> = Vec::new();
    list.iter()
        .enumerate()
        .map(|(i, value)| {
            let text = |path| lookup(value, path).and_then(Value::as_str);
            let key = text("model")
                .or(text("name"))
                .map_or(format!("#{i}"), str::to_string);
            let series = keys.iter().position(|k| *k == key).unwrap_or_else(|| {
                keys.push(key);
                keys.len() - 1
            });
            let base = text("label").or(text("name")).unwrap_or("?");
            let label = match text("prompt") {
                Some(prompt) => with_setting(format!("{base} × {prompt}"), &setting(value, true)),
                None => base.to_string(),
            };
            Item {
                label,
                series,
                value,
            }
        })
        .collect()
}

/// A cell's setting in words: its load level (when `with_load`) and matrix
/// values, e.g. "c4 server.parallel=4"; empty for items without them.
pub(super) fn setting(cell: &Value, with_load: bool) -> String {
    let empty = serde_json::Map::new();
    let (concurrency, rate) = if with_load {
        (
            lookup(cell, "load.concurrency").and_then(Value::as_u64),
            lookup(cell, "load.rate").and_then(Value::as_f64),
        )
    } else {
        (None, None)
    };
    let matrix = lookup(cell, "matrix")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    super::table::setting_text(concurrency, rate, matrix.iter())
}

/// `base · setting`, or `base` alone when the setting is empty.
pub(super) fn with_setting(base: String, setting: &str) -> String {
    if setting.is_empty() {
        base
    } else {
        format!("{base} · {setting}")
    }
}

/// Whether `cells` differ in load level or matrix values: then pooling
/// them (per model) would mix settings, and charts go per cell.
pub(crate) fn settings_vary(cells: &[Value]) -> bool {
    let first = cells.first().map(|c| setting(c, true));
    cells.iter().any(|c| Some(setting(c, true)) != first)
}

/// A number at `path` under `value`.
pub(super) fn number(value: &Value, path: &str) -> Option<f64> {
    lookup(value, path)
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite())
}

/// Statistics of one item for the box plot.
struct Spread {
    min: f64,
    low: f64,
    p50: f64,
    high: f64,
    max: f64,
    mean: f64,
}

fn spread(stats: &Value) -> Option<(Spread, bool)> {
    let get = |name| number(stats, name);
    let quartiles = get("p25").zip(get("p75"));
    let (low, high) = quartiles.or(get("p50").zip(get("p90")))?;
    let spread = Spread {
        min: get("min")?,
        low,
        p50: get("p50")?,
        high,
        max: get("max")?,
        mean: get("mean")?,
    };
    Some((spread, quartiles.is_some()))
}

/// Height of one row of a horizontal chart: a label line, then the mark.
const ROW: f64 = 44.0;

pub(crate) fn box_plot(list: &[Value], metric: &str, title: &str) -> String {
    let rows: Vec<(Item, Spread, bool)> = items(list)
        .into_iter()
        .filter_map(|item| {
            let stats = lookup(item.value, &format!("metrics.{metric}"))?;
            spread(stats).map(|(s, q)| (item, s, q))
        })
        .collect();
    if rows.is_empty() {
        return empty("chart-box", metric);
    }
    let unit = Unit::of(metric);
    let lo = rows.iter().map(|r| r.1.min).fold(f64::INFINITY, f64::min);
    let hi = rows
        .iter()
        .map(|r| r.1.max)
        .fold(f64::NEG_INFINITY, f64::max);
    let ticks = axis_ticks(lo, hi);
    let scale = Scale::over(&ticks, LEFT + 4.0, RIGHT - 4.0);
    let mut svg = Svg::new("chart-box", title);
    let box_words = if rows.iter().all(|r| r.2) {
        "box p25–p75"
    } else {
        "box p50–p90"
    };
    let key = format!("{box_words} · whiskers min–max · line median · dot mean");
    svg.text(LEFT, 36.0, "note", "start", &key);
    let top = 48.0;
    for (i, (item, s, _)) in rows.iter().enumerate() {
        let y = top + i as f64 * ROW;
        let mid = y + 28.0;
        svg.text(LEFT, y + 13.0, "label", "start", &clip(&item.label, 46));
        let value = format!("p50 {}", unit.format(s.p50));
        svg.text(RIGHT, y + 13.0, "value", "end", &value);
        svg.line((scale.at(s.min), mid), (scale.at(s.max), mid), "whisker");
        svg.line(
            (scale.at(s.min), mid - 5.0),
            (scale.at(s.min), mid + 5.0),
            "whisker",
        );
        svg.line(
            (scale.at(s.max), mid - 5.0),
            (scale.at(s.max), mid + 5.0),
            "whisker",
        );
        let width = scale.at(s.high) - scale.at(s.low);
        svg.rect(
            (scale.at(s.low), mid - 7.0),
            (width, 14.0),
            item.series,
            "box",
        );
        svg.line(
            (scale.at(s.p50), mid - 8.0),
            (scale.at(s.p50), mid + 8.0),
            "median",
        );
        let tip = format!(
            "{}: min {} · p50 {} · mean {} · max {}",
            item.label,
            unit.format(s.min),
            unit.format(s.p50),
            unit.format(s.mean),
            unit.format(s.max)
        );
        svg.dot((scale.at(s.mean), mid), 3.5, item.series, &tip);
    }
    let axis_y = top + rows.len() as f64 * ROW + 4.0;
    svg.x_axis(&scale, &ticks, (top, axis_y), unit);
    svg.text(
        RIGHT,
        axis_y + 30.0,
        "note",
        "end",
        &axis_title(metric, unit),
    );
    svg.finish(axis_y + 38.0)
}

fn axis_title(metric: &str, unit: Unit) -> String {
    match unit.words() {
        "" => metric.to_string(),
        words => format!("{metric} ({words})"),
    }
}

/// A bar: its item, its value and the interval of the mean (low, high).
type Bar<'a> = (Item<'a>, f64, Option<(f64, f64)>);

pub(crate) fn bars(list: &[Value], metric: &str, stat: &str, title: &str) -> String {
    let rows: Vec<Bar> = items(list)
        .into_iter()
        .filter_map(|item| {
            let stats = lookup(item.value, &format!("metrics.{metric}"))?;
            let value = number(stats, stat)?;
            let ci = (stat == "mean")
                .then(|| number(stats, "ci95_mean.low").zip(number(stats, "ci95_mean.high")))
                .flatten();
            Some((item, value, ci))
        })
        .collect();
    if rows.is_empty() {
        return empty("chart-bars", metric);
    }
    let unit = Unit::of(metric);
    let hi = rows
        .iter()
        .map(|r| r.2.map_or(r.1, |ci| ci.1.max(r.1)))
        .fold(0.0, f64::max);
    let lo = rows.iter().map(|r| r.1).fold(0.0, f64::min);
    let ticks = axis_ticks(lo, hi);
    let scale = Scale::over(&ticks, LEFT + 4.0, RIGHT - 4.0);
    let mut svg = Svg::new("chart-bars", title);
    let key = if rows.iter().any(|r| r.2.is_some()) {
        format!("{stat} · error bar: 95% interval of the mean")
    } else {
        stat.to_string()
    };
    svg.text(LEFT, 36.0, "note", "start", &key);
    let top = 48.0;
    for (i, (item, value, ci)) in rows.iter().enumerate() {
        let y = top + i as f64 * ROW;
        let mid = y + 28.0;
        svg.text(LEFT, y + 13.0, "label", "start", &clip(&item.label, 46));
        svg.text(RIGHT, y + 13.0, "value", "end", &unit.format(*value));
        let (start, end) = (scale.at(0.0f64.max(scale.lo)), scale.at(*value));
        svg.rect(
            (start.min(end), mid - 7.0),
            ((end - start).abs(), 14.0),
            item.series,
            "bar",
        );
        if let Some((low, high)) = ci {
            svg.line((scale.at(*low), mid), (scale.at(*high), mid), "errorbar");
            svg.line(
                (scale.at(*low), mid - 4.0),
                (scale.at(*low), mid + 4.0),
                "errorbar",
            );
            svg.line(
                (scale.at(*high), mid - 4.0),
                (scale.at(*high), mid + 4.0),
                "errorbar",
            );
        }
    }
    let axis_y = top + rows.len() as f64 * ROW + 4.0;
    svg.x_axis(&scale, &ticks, (top, axis_y), unit);
    svg.text(
        RIGHT,
        axis_y + 30.0,
        "note",
        "end",
        &axis_title(metric, unit),
    );
    svg.finish(axis_y + 38.0)
}

/// Percentile levels of the curve and the statistics that give them.
const LEVELS: [(f64, &str); 6] = [
    (0.0, "min"),
    (50.0, "p50"),
    (90.0, "p90"),
    (95.0, "p95"),
    (99.0, "p99"),
    (100.0, "max"),
];

pub(crate) fn cdf(list: &[Value], metric: &str, title: &str) -> String {
    let series: Vec<(Item, Vec<(f64, f64)>)> = items(list)
        .into_iter()
        .filter_map(|item| {
            let stats = lookup(item.value, &format!("metrics.{metric}"))?;
            let points: Option<Vec<(f64, f64)>> = LEVELS
                .iter()
                .map(|(level, name)| number(stats, name).map(|v| (v, *level)))
                .collect();
            points.map(|p| (item, p))
        })
        .collect();
    if series.is_empty() {
        return empty("chart-cdf", metric);
    }
    let unit = Unit::of(metric);
    let values = || series.iter().flat_map(|s| s.1.iter().map(|p| p.0));
    let lo = values().fold(f64::INFINITY, f64::min);
    let hi = values().fold(f64::NEG_INFINITY, f64::max);
    let mut svg = Svg::new("chart-cdf", title);
    let labels: Vec<String> = series.iter().map(|s| s.0.label.clone()).collect();
    let top = svg.legend(&labels, 40.0) + 8.0;
    let bottom = top + 220.0;
    let x_ticks = axis_ticks(lo, hi);
    let x = Scale::over(&x_ticks, 48.0, RIGHT);
    let y = Scale::over(&[0.0, 100.0], bottom, top);
    svg.y_axis(
        &y,
        &[0.0, 25.0, 50.0, 75.0, 90.0, 100.0],
        (48.0, RIGHT),
        Unit::Percent,
    );
    svg.x_axis(&x, &x_ticks, (top, bottom), unit);
    for (index, (item, points)) in series.iter().enumerate() {
        let pixels: Vec<(f64, f64)> = points.iter().map(|(v, l)| (x.at(*v), y.at(*l))).collect();
        svg.polyline(&steps(&pixels), index, "curve");
        for ((v, level), pixel) in points.iter().zip(&pixels) {
            let tip = format!("{}: {level:.0}% ≤ {}", item.label, unit.format(*v));
            svg.dot(*pixel, 3.0, index, &tip);
        }
    }
    svg.text(
        RIGHT,
        bottom + 30.0,
        "note",
        "end",
        &axis_title(metric, unit),
    );
    svg.text(
        LEFT,
        bottom + 30.0,
        "note",
        "start",
        "y: share of requests at or below",
    );
    svg.finish(bottom + 38.0)
}

/// The step curve through percentile points (pixels, left to right): the
/// share holds at a level until the next value is reached, then rises —
/// never the straight lines that would claim values between percentiles.
fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for pair in points.windows(2) {
        out.push(pair[0]);
        out.push((pair[1].0, pair[0].1));
    }
    if let Some(last) = points.last() {
        out.push(*last);
    }
    out
}

/// A chart helper: parameters → SVG text.
struct Chart {
    name: &'static str,
    draw: fn(&[Value], &Helper<'_>, &str) -> Result<String, RenderError>,
}

impl HelperDef for Chart {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let list = list_param(h, 0, self.name)?;
        let title = h
            .hash_get("title")
            .and_then(|t| t.value().as_str())
            .unwrap_or_default();
        (self.draw)(list, h, title).map(|svg| ScopedJson::Derived(Value::String(svg)))
    }
}

fn or_default<'a>(title: &'a str, metric: &'a str) -> &'a str {
    if title.is_empty() {
        metric
    } else {
        title
    }
}

pub(crate) fn register(registry: &mut Handlebars) {
    let charts = [
        Chart {
            name: "svg_box_plot",
            draw: |list, h, title| {
                let metric = str_param(h, 1, "svg_box_plot")?;
                Ok(box_plot(list, metric, or_default(title, metric)))
            },
        },
        Chart {
            name: "svg_bars",
            draw: |list, h, title| {
                let metric = str_param(h, 1, "svg_bars")?;
                let stat = h.hash_get("stat").and_then(|s| s.value().as_str());
                Ok(bars(
                    list,
                    metric,
                    stat.unwrap_or("mean"),
                    or_default(title, metric),
                ))
            },
        },
        Chart {
            name: "svg_cdf",
            draw: |list, h, title| {
                let metric = str_param(h, 1, "svg_cdf")?;
                Ok(cdf(list, metric, or_default(title, metric)))
            },
        },
        Chart {
            name: "svg_xy",
            draw: super::charts_xy::xy_helper,
        },
        Chart {
            name: "svg_timeline",
            draw: super::charts_xy::timeline_helper,
        },
        Chart {
            name: "svg_scatter",
            draw: super::charts_xy::scatter_helper,
        },
    ];
    for chart in charts {
        registry.register_helper(chart.name, Box::new(chart));
    }
}
