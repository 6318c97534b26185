//! Handlebars helpers available to every template (documented, with
//! examples, in docs/templates.md):
//! formatting — `fmt` (number, 1 or N decimals), `pct` (a 0..1 rate),
//! `ms` (a duration in ms: "812 ms", "1.23 s"), `bytes` ("1.5 GiB"),
//! `change` (a signed percentage), `pvalue`, `with_unit` (a value in the unit
//! its metric name implies); escaping for the output's language — `csv` (one
//! CSV field), `xml` (XML/HTML text and attributes), `latex`, `json` (any
//! value as JSON: a string comes out quoted and escaped); `setting` (a
//! cell's load level and matrix values); collections — `sort_by`, `group_by`,
//! `distinct`, `table` (see `collections`); charts — `svg_box_plot`,
//! `svg_bars`, `svg_cdf`, `svg_xy`, `svg_timeline`, `svg_scatter` (inline
//! SVG, see `charts` and `charts_xy`).
//!
//! A missing or null value prints as "–". In strict mode (user templates) a
//! *missing* field is an error naming its path, except a metric statistic
//! (`metrics.<known metric>.<statistic>`): a metric is absent from a cell
//! when the server did not report what it needs, which is data, not a typo.

use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, RenderErrorReason,
    ScopedJson,
};
use serde_json::Value;

pub(crate) use crate::util::{format_ms, MISSING};

/// Metric names a cell may lack.
pub(super) use crate::aggregate::METRIC_NAMES as METRICS;

/// Fields of a metric's statistics (`stats::Summary`).
const STATS: [&str; 15] = [
    "count",
    "mean",
    "stddev",
    "cv",
    "min",
    "p50",
    "p90",
    "p95",
    "p99",
    "max",
    "ci95_mean",
    "ci95_p50",
    "ci95_p95",
    "outliers",
    "notes",
];

/// Validity figures that are statistics, absent when a cell has no data for
/// them (dispatch lag outside open loop, chunk counts without chunks).
const VALIDITY_SUMMARIES: [&str; 3] = ["chunks_per_request", "tokens_per_chunk", "dispatch_lag_ms"];

/// Whether `path` names a figure that may be absent as data, not as a typo:
/// a statistic of a known metric, a statistic of a validity figure, or a
/// field of a cell's `monitor` (absent in runs without monitoring).
pub(super) fn is_optional_metric(path: &str) -> bool {
    let parts: Vec<&str> = path.split('.').collect();
    if let Some(at) = parts.iter().position(|p| *p == "monitor") {
        return parts.len() == at + 2;
    }
    if let Some(at) = parts.iter().position(|p| *p == "validity") {
        return match parts[at + 1..] {
            [name] => VALIDITY_SUMMARIES.contains(&name),
            [name, stat] => VALIDITY_SUMMARIES.contains(&name) && STATS.contains(&stat),
            _ => false,
        };
    }
    let Some(at) = parts.iter().position(|p| *p == "metrics") else {
        return false;
    };
    match parts[at + 1..] {
        [name] => METRICS.contains(&name),
        [name, stat] => METRICS.contains(&name) && STATS.contains(&stat),
        [name, "ci95_mean" | "ci95_p50" | "ci95_p95", "low" | "high" | "level"] => {
            METRICS.contains(&name)
        }
        _ => false,
    }
}

/// Parameter `index` of `h`: `None` when missing or null. In strict mode a
/// missing value is an error naming its path (unless an optional metric).
pub(super) fn optional_param<'a>(
    h: &'a Helper<'_>,
    r: &Handlebars<'_>,
    index: usize,
    helper: &'static str,
) -> Result<Option<&'a Value>, RenderError> {
    let param = h
        .param(index)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex(helper, index))?;
    if param.is_value_missing() {
        let path = param.relative_path();
        if r.strict_mode() && !path.is_some_and(|p| is_optional_metric(p)) {
            return Err(RenderErrorReason::MissingVariable(path.cloned()).into());
        }
        return Ok(None);
    }
    Ok(Some(param.value()).filter(|v| !v.is_null()))
}

/// A finite number, or `None`.
pub(super) fn finite(value: Option<&Value>) -> Option<f64> {
    value.and_then(Value::as_f64).filter(|x| x.is_finite())
}

/// `x` with `decimals` decimals, "–" when missing.
pub(crate) fn format_number(value: Option<f64>, decimals: usize) -> String {
    value.map_or(MISSING.to_string(), |x| format!("{x:.decimals$}"))
}

/// A byte count in binary units: "512 B", "1.5 KiB", "1.5 GiB"; "–" when missing.
pub(crate) fn format_bytes(value: Option<f64>) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let Some(mut size) = value else {
        return MISSING.to_string();
    };
    let mut unit = 0;
    while size.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{size:.0} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

/// A 0..1 rate as a percentage with `decimals` decimals: 0.125 → "12.5%".
pub(crate) fn format_pct(value: Option<f64>, decimals: usize) -> String {
    value.map_or(MISSING.to_string(), |x| {
        format!("{:.decimals$}%", x * 100.0)
    })
}

/// One CSV field (RFC 4180): numbers as JSON writes them, strings quoted
/// when they hold a comma, quote or line break; empty when missing.
pub(crate) fn csv_field(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => csv_quote(text),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) => csv_quote(&other.to_string()),
    }
}

/// A value as plain text for escaping: strings as they are, numbers and
/// booleans printed, nothing for a missing value.
fn plain_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// `text` safe in XML (JUnit reports, SVG) content and quoted attributes.
pub(crate) fn xml_text(text: &str) -> String {
    super::svg::esc(text)
}

/// `text` safe in LaTeX body text: the ten special characters escaped.
pub(crate) fn latex_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '<' => out.push_str("\\textless{}"),
            '>' => out.push_str("\\textgreater{}"),
            _ => out.push(c),
        }
    }
    out
}

/// Quotes `text` for CSV when it needs it.
pub(crate) fn csv_quote(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The optional decimals parameter at `index` (default `fallback`, at most 9).
fn decimals(h: &Helper<'_>, index: usize, fallback: usize) -> usize {
    h.param(index)
        .and_then(|p| p.value().as_u64())
        .map_or(fallback, |d| d.min(9) as usize)
}

/// A helper that turns its first parameter into text.
struct Format {
    name: &'static str,
    run: fn(Option<&Value>, &Helper<'_>) -> String,
}

impl HelperDef for Format {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let value = optional_param(h, r, 0, self.name)?;
        Ok(ScopedJson::Derived(Value::String((self.run)(value, h))))
    }
}

/// A change in percent with its sign: "+12.3%", "-4.0%"; "–" when missing.
pub(crate) fn format_change(value: Option<f64>) -> String {
    value.map_or(MISSING.to_string(), |x| format!("{x:+.1}%"))
}

/// A p-value: "0.012", "<0.001"; "–" when missing.
pub(crate) fn format_p(value: Option<f64>) -> String {
    match value {
        Some(p) if p < 0.001 => "<0.001".to_string(),
        Some(p) => format!("{p:.3}"),
        None => MISSING.to_string(),
    }
}

/// `{{setting this}}` on a cell: its load level and matrix values, e.g.
/// "c4 server.parallel=2 max_tokens=128".
fn cell_setting(cell: Option<&Value>) -> String {
    let Some(cell) = cell else {
        return MISSING.to_string();
    };
    let empty = serde_json::Map::new();
    super::table::setting_text(
        cell["load"]["concurrency"].as_u64(),
        cell["load"]["rate"].as_f64(),
        cell["matrix"].as_object().unwrap_or(&empty).iter(),
    )
}

/// A value in the unit its metric name implies (`_ms`, `_tps`, `_bytes`, …).
fn with_unit(value: Option<&Value>, h: &Helper<'_>) -> String {
    let metric = h
        .param(1)
        .and_then(|p| p.value().as_str())
        .unwrap_or_default();
    finite(value).map_or(MISSING.to_string(), |x| {
        super::svg::Unit::of(metric).format(x)
    })
}

const FORMATS: [Format; 12] = [
    Format {
        name: "fmt",
        run: |v, h| format_number(finite(v), decimals(h, 1, 1)),
    },
    Format {
        name: "pct",
        run: |v, h| format_pct(finite(v), decimals(h, 1, 1)),
    },
    Format {
        name: "ms",
        run: |v, _| format_ms(finite(v)),
    },
    Format {
        name: "bytes",
        run: |v, _| format_bytes(finite(v)),
    },
    Format {
        name: "change",
        run: |v, _| format_change(finite(v)),
    },
    Format {
        name: "pvalue",
        run: |v, _| format_p(finite(v)),
    },
    Format {
        name: "with_unit",
        run: with_unit,
    },
    Format {
        name: "csv",
        run: |v, _| csv_field(v),
    },
    Format {
        name: "setting",
        run: |v, _| cell_setting(v),
    },
    Format {
        name: "xml",
        run: |v, _| xml_text(&plain_text(v)),
    },
    Format {
        name: "latex",
        run: |v, _| latex_text(&plain_text(v)),
    },
    Format {
        name: "json",
        run: |v, _| serde_json::to_string_pretty(v.unwrap_or(&Value::Null)).unwrap_or_default(),
    },
];

/// Registers every helper.
pub(crate) fn register(registry: &mut Handlebars) {
    for format in FORMATS {
        registry.register_helper(format.name, Box::new(format));
    }
    super::collections::register(registry);
    super::charts::register(registry);
}
