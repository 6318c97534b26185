//! Helpers over lists: `sort_by` (by a dotted path, missing values last),
//! `group_by` (into `{key, items}` groups in order of first appearance),
//! `distinct` (the distinct values at a path) and `table` (rows × dotted
//! paths → a Markdown, AsciiDoc, Org or CSV table, one algorithm for all).

use super::helpers::{csv_quote, format_number, MISSING};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, RenderErrorReason,
    ScopedJson,
};
use serde_json::{json, Value};
use std::cmp::Ordering;

/// The value at a dotted path (`metrics.ttft_ms.p50`, `cells.0.label`).
pub(super) fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() || path == "this" {
        return Some(value);
    }
    path.split('.').try_fold(value, |at, key| match at {
        Value::Object(map) => map.get(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// The list parameter at `index` (an error naming the helper when it is not one).
pub(super) fn list_param<'a>(
    h: &'a Helper<'_>,
    index: usize,
    helper: &'static str,
) -> Result<&'a [Value], RenderError> {
    match h.param(index).map(|p| p.value()) {
        Some(Value::Array(items)) => Ok(items),
        Some(Value::Null) | None => Ok(&[]),
        Some(_) => Err(RenderErrorReason::Other(format!(
            "{helper}: parameter {index} must be a list"
        ))
        .into()),
    }
}

/// The string parameter at `index`.
pub(super) fn str_param<'a>(
    h: &'a Helper<'_>,
    index: usize,
    helper: &'static str,
) -> Result<&'a str, RenderError> {
    h.param(index)
        .and_then(|p| p.value().as_str())
        .ok_or_else(|| {
            RenderErrorReason::Other(format!("{helper}: parameter {index} must be a string")).into()
        })
}

/// Orders values: missing/null last, numbers by value, then text.
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let rank = |v: Option<&Value>| match v {
        None | Some(Value::Null) => 2,
        Some(Value::Number(_)) => 0,
        Some(_) => 1,
    };
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.total_cmp(&y)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// `items` sorted by the value at `path`; missing values stay last either way.
pub(crate) fn sort_by(items: &[Value], path: &str, descending: bool) -> Vec<Value> {
    let mut sorted = items.to_vec();
    sorted.sort_by(|a, b| {
        let (x, y) = (lookup(a, path), lookup(b, path));
        let missing = |v: Option<&Value>| v.is_none_or(Value::is_null);
        match (missing(x), missing(y)) {
            (false, false) if descending => compare(y, x),
            _ => compare(x, y),
        }
    });
    sorted
}

/// `items` grouped by the value at `path`: `[{key, items}]`, first-seen order.
pub(crate) fn group_by(items: &[Value], path: &str) -> Vec<Value> {
    let mut groups: Vec<(Value, Vec<Value>)> = Vec::new();
    for item in items {
        let key = lookup(item, path).cloned().unwrap_or(Value::Null);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(item.clone()),
            None => groups.push((key, vec![item.clone()])),
        }
    }
    groups
        .into_iter()
        .map(|(key, items)| json!({ "key": key, "items": items }))
        .collect()
}

/// The distinct non-null values at `path`, first-seen order.
pub(crate) fn distinct(items: &[Value], path: &str) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    for value in items.iter().filter_map(|item| lookup(item, path)) {
        if !value.is_null() && !seen.contains(value) {
            seen.push(value.clone());
        }
    }
    seen
}

/// Table styles the `table` helper writes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TableStyle {
    Markdown,
    AsciiDoc,
    Org,
    Csv,
}

impl TableStyle {
    fn parse(text: &str) -> Option<TableStyle> {
        match text {
            "markdown" | "md" => Some(TableStyle::Markdown),
            "asciidoc" | "adoc" => Some(TableStyle::AsciiDoc),
            "org" => Some(TableStyle::Org),
            "csv" => Some(TableStyle::Csv),
            _ => None,
        }
    }

    fn cell(self, value: Option<&Value>, decimals: usize) -> String {
        let text = match value {
            None | Some(Value::Null) if self == TableStyle::Csv => String::new(),
            None | Some(Value::Null) => MISSING.to_string(),
            Some(Value::Number(n)) if n.is_f64() => format_number(n.as_f64(), decimals),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        match self {
            TableStyle::Csv => csv_quote(&text),
            _ => text.replace('|', "\\|").replace('\n', " "),
        }
    }

    fn row(self, cells: &[String]) -> String {
        match self {
            TableStyle::Markdown | TableStyle::Org => format!("| {} |", cells.join(" | ")),
            TableStyle::AsciiDoc => format!("|{}", cells.join(" |")),
            TableStyle::Csv => cells.join(","),
        }
    }
}

/// A table: one row per item, one column per path, numbers right-aligned
/// where the style can say so.
pub(crate) fn table(
    items: &[Value],
    paths: &[&str],
    headers: &[String],
    style: TableStyle,
    decimals: usize,
) -> String {
    let numeric: Vec<bool> = paths
        .iter()
        .map(|p| {
            items
                .iter()
                .any(|i| lookup(i, p).is_some_and(Value::is_number))
        })
        .collect();
    let mut lines = Vec::new();
    if style == TableStyle::AsciiDoc {
        let cols: Vec<&str> = numeric
            .iter()
            .map(|&n| if n { ">1" } else { "1" })
            .collect();
        lines.push(format!("[cols=\"{}\",options=\"header\"]", cols.join(",")));
        lines.push("|===".into());
    }
    let head: Vec<String> = headers
        .iter()
        .map(|h| style.cell(Some(&json!(h)), 0))
        .collect();
    lines.push(style.row(&head));
    match style {
        TableStyle::Markdown => {
            let rule: Vec<&str> = numeric
                .iter()
                .map(|&n| if n { "---:" } else { "---" })
                .collect();
            lines.push(format!("|{}|", rule.join("|")));
        }
        TableStyle::Org => lines.push(format!("|{}|", vec!["---"; paths.len()].join("+"))),
        TableStyle::AsciiDoc => lines.push(String::new()),
        TableStyle::Csv => {}
    }
    for item in items {
        let cells: Vec<String> = paths
            .iter()
            .map(|p| style.cell(lookup(item, p), decimals))
            .collect();
        lines.push(style.row(&cells));
    }
    if style == TableStyle::AsciiDoc {
        lines.push("|===".into());
    }
    lines.join("\n")
}

/// A helper computing a JSON value from its parameters.
struct Derive {
    name: &'static str,
    run: fn(&Helper<'_>) -> Result<Value, RenderError>,
}

impl HelperDef for Derive {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        (self.run)(h).map(ScopedJson::Derived)
    }
}

fn sort_helper(h: &Helper<'_>) -> Result<Value, RenderError> {
    let items = list_param(h, 0, "sort_by")?;
    let path = str_param(h, 1, "sort_by")?;
    let descending = h.param(2).and_then(|p| p.value().as_str()) == Some("desc");
    Ok(Value::Array(sort_by(items, path, descending)))
}

fn group_helper(h: &Helper<'_>) -> Result<Value, RenderError> {
    let items = list_param(h, 0, "group_by")?;
    Ok(Value::Array(group_by(items, str_param(h, 1, "group_by")?)))
}

fn distinct_helper(h: &Helper<'_>) -> Result<Value, RenderError> {
    let items = list_param(h, 0, "distinct")?;
    Ok(Value::Array(distinct(items, str_param(h, 1, "distinct")?)))
}

fn table_helper(h: &Helper<'_>) -> Result<Value, RenderError> {
    let items = list_param(h, 0, "table")?;
    let paths: Vec<&str> = h.params()[1..]
        .iter()
        .filter_map(|p| p.value().as_str())
        .collect();
    let headers: Vec<String> = match h.hash_get("headers").and_then(|v| v.value().as_str()) {
        Some(text) => text.split(',').map(|s| s.trim().to_string()).collect(),
        None => paths.iter().map(|p| p.to_string()).collect(),
    };
    if paths.is_empty() || headers.len() != paths.len() {
        return Err(RenderErrorReason::Other(format!(
            "table: give one or more paths, and as many headers as paths ({} paths, {} headers)",
            paths.len(),
            headers.len()
        ))
        .into());
    }
    let name = h.hash_get("style").and_then(|v| v.value().as_str());
    let style = TableStyle::parse(name.unwrap_or("markdown")).ok_or_else(|| {
        RenderErrorReason::Other(format!(
            "table: style `{}` is unknown; use markdown, asciidoc, org or csv",
            name.unwrap_or_default()
        ))
    })?;
    let decimals = h
        .hash_get("decimals")
        .and_then(|v| v.value().as_u64())
        .map_or(1, |d| d.min(9) as usize);
    Ok(Value::String(table(
        items, &paths, &headers, style, decimals,
    )))
}

pub(crate) fn register(registry: &mut Handlebars) {
    let helpers = [
        Derive {
            name: "sort_by",
            run: sort_helper,
        },
        Derive {
            name: "group_by",
            run: group_helper,
        },
        Derive {
            name: "distinct",
            run: distinct_helper,
        },
        Derive {
            name: "table",
            run: table_helper,
        },
        Derive {
            name: "settings_vary",
            run: |h| {
                let items = list_param(h, 0, "settings_vary")?;
                Ok(Value::Bool(super::charts::settings_vary(items)))
            },
        },
    ];
    for helper in helpers {
        registry.register_helper(helper.name, Box::new(helper));
    }
}
