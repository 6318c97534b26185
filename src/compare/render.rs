//! Output of a comparison: Markdown (the terminal default) and HTML through
//! the built-in templates templates/compare.md.hbs and compare.html.hbs
//! (the same mechanism and helpers as reports), or the `Comparison` as JSON.

use super::Comparison;
use crate::report::{render, Template, TemplateError};
use serde::{Deserialize, Serialize};

/// Output formats of `llmbench compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CompareFormat {
    /// Markdown tables (readable on a terminal).
    Md,
    /// The comparison as JSON.
    Json,
    /// A self-contained HTML page.
    Html,
}

impl CompareFormat {
    /// The built-in template of a templated format.
    pub(crate) fn template(self) -> Option<Template> {
        match self {
            CompareFormat::Md => Some(Template::embedded(
                "compare.md",
                include_str!("../../templates/compare.md.hbs"),
            )),
            CompareFormat::Html => Some(Template::embedded(
                "compare.html",
                include_str!("../../templates/compare.html.hbs"),
            )),
            CompareFormat::Json => None,
        }
    }
}

/// Renders `comparison` in `format`.
pub fn render_comparison(
    comparison: &Comparison,
    format: CompareFormat,
) -> Result<String, TemplateError> {
    match format.template() {
        Some(template) => render(&template, comparison),
        None => serde_json::to_string_pretty(comparison)
            .map(|mut text| {
                text.push('\n');
                text
            })
            .map_err(TemplateError::from),
    }
}
