//! Handlebars helpers available to every template:
//! `{{fmt x}}` / `{{fmt x 3}}` a number with 1 (or N) decimals, "–" when missing;
//! `{{pct x}}` a 0..1 rate as a percentage; `{{json x}}` pretty JSON of any value.

use handlebars::{handlebars_helper, Handlebars};
use serde_json::Value;

/// The text shown where a figure is missing.
pub const MISSING: &str = "–";

fn number(value: &Value, decimals: usize) -> String {
    match value.as_f64() {
        Some(x) if x.is_finite() => format!("{x:.decimals$}"),
        _ => MISSING.to_string(),
    }
}

handlebars_helper!(fmt: |value: Value, *args| {
    // `args` holds every parameter, the value included.
    let decimals = args.get(1).and_then(|d| d.as_u64()).unwrap_or(1) as usize;
    number(&value, decimals.min(9))
});

handlebars_helper!(pct: |value: Value| match value.as_f64() {
    Some(x) if x.is_finite() => format!("{:.1}%", x * 100.0),
    _ => MISSING.to_string(),
});

handlebars_helper!(json: |value: Value| serde_json::to_string_pretty(&value).unwrap_or_default());

pub fn register(registry: &mut Handlebars) {
    registry.register_helper("fmt", Box::new(fmt));
    registry.register_helper("pct", Box::new(pct));
    registry.register_helper("json", Box::new(json));
}
