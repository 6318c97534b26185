//! Reports: the `ReportModel` and rendering it through Handlebars templates.
//! Built-in templates live in templates/ and are embedded in the binary; a
//! user template renders beside them, and one with the same output name as a
//! built-in replaces it. A broken template is reported with its name and line
//! while every other report is still written. User templates render in strict
//! mode (a missing field is an error naming it); built-ins do not, because
//! they use optional sections. Charts are inline SVG drawn by helpers
//! (`svg`, `charts`, `charts_xy`); requests.csv is written from the records
//! (`csv`), not from the model.

mod charts;
mod charts_xy;
mod collections;
mod csv;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixture;
mod helpers;
mod large;
mod liveness;
mod model;
mod outcome;
mod server_points;
#[cfg(test)]
pub(crate) mod snapshot;
mod spill;
mod svg;
mod table;
pub(crate) mod warnings;

pub use csv::{request_line, requests_csv, write_requests_csv, REQUESTS_CSV, REQUESTS_CSV_HEADER};
pub(crate) use large::{cell_mark, write_large_reports, CellPass, FULL_TABLE_CELLS};
pub(crate) use model::{MonitorView, ReportModel, TimelinePoint};
pub use outcome::{ThresholdResult, Violation};
pub(crate) use spill::SpilledCells;
pub(crate) use table::{setting_text, summary_table};

use crate::experiment::ReportFormat;
use handlebars::{Handlebars, RenderErrorReason};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A template to render: its output file name and its text.
#[derive(Debug, Clone)]
pub struct Template {
    /// Where it came from ("built-in" or a path), for error messages.
    pub origin: String,
    /// Output file name: the template's file name without `.hbs`.
    pub output: String,
    pub text: String,
    /// Strict mode: a missing field is an error that names it (user templates).
    pub strict: bool,
}

impl Template {
    /// A built-in (embedded, non-strict) template.
    pub(crate) fn embedded(output: &str, text: &str) -> Template {
        Template {
            origin: "built-in".into(),
            output: output.into(),
            text: text.into(),
            strict: false,
        }
    }
}

/// The built-in template for a format.
pub fn builtin(format: ReportFormat) -> Template {
    match format {
        ReportFormat::Markdown => {
            Template::embedded("report.md", include_str!("../../templates/report.md.hbs"))
        }
        ReportFormat::Json => Template::embedded(
            "report.json",
            include_str!("../../templates/report.json.hbs"),
        ),
        ReportFormat::Html => Template::embedded(
            "report.html",
            include_str!("../../templates/report.html.hbs"),
        ),
        ReportFormat::Csv => Template::embedded("cells.csv", &cells_csv_template()),
    }
}

/// cells.csv's template: the metric columns and fields come from the
/// metric registry, one group of statistics per metric.
fn cells_csv_template() -> String {
    use crate::metrics::registry::{csv_fields, csv_header};
    include_str!("../../templates/cells.csv.hbs")
        .replace("<<metric columns>>", &csv_header())
        .replace("<<metric fields>>", &csv_fields())
}

/// Reads a user template (strict); its output name is its file name without `.hbs`.
pub(crate) fn user_template(path: &Path) -> Result<Template, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report");
    let output = name.strip_suffix(".hbs").unwrap_or(name).to_string();
    if let Some(owner) = owned_by_llmbench(&output) {
        return Err(TemplateError::Owned {
            path: path.to_path_buf(),
            output,
            owner,
        });
    }
    Ok(Template {
        origin: path.display().to_string(),
        output,
        text,
        strict: true,
    })
}

/// Why llmbench owns the output name `output` in a run directory (raw data,
/// the run's own records, or not a file name at all); `None` when a user
/// template may write it. Built-in report names (report.md, cells.csv, …)
/// are not owned: a user template replaces them on purpose.
fn owned_by_llmbench(output: &str) -> Option<&'static str> {
    use crate::store::{
        CHECKS_FILE, EXPERIMENT_FILE, MANIFEST_FILE, PLAN_FILE, REQUESTS_FILE, RESPONSES_DIR,
        SAMPLES_FILE, SERVER_LOG, SUMMARY_FILE, TOKENS_FILE,
    };
    let raw = [
        REQUESTS_FILE,
        MANIFEST_FILE,
        PLAN_FILE,
        EXPERIMENT_FILE,
        CHECKS_FILE,
        SAMPLES_FILE,
        TOKENS_FILE,
        RESPONSES_DIR,
        SERVER_LOG,
    ];
    let lower = output.to_ascii_lowercase();
    if raw.contains(&lower.as_str()) || (lower.starts_with("server-") && lower.ends_with(".log")) {
        Some("the run's raw data")
    } else if lower == SUMMARY_FILE || lower == REQUESTS_CSV {
        Some("written from the raw data on every report")
    } else if output.is_empty() || output == "." || output == ".." || output.starts_with('.') {
        Some("not a plain file name")
    } else {
        None
    }
}

/// Built-ins for `formats`, then user templates; a user template whose output
/// name matches a built-in replaces it.
pub(crate) fn select_templates(formats: &[ReportFormat], user: Vec<Template>) -> Vec<Template> {
    let mut templates: Vec<Template> = formats.iter().map(|f| builtin(*f)).collect();
    for template in user {
        templates.retain(|t| t.output != template.output);
        templates.push(template);
    }
    templates
}

/// Renders one template against `model` (a `ReportModel`, or any serialisable
/// value such as a run comparison). Output ending in `.html`/`.htm` is
/// HTML-escaped; every other format is written as is.
pub fn render(template: &Template, model: &impl Serialize) -> Result<String, TemplateError> {
    let mut registry = Handlebars::new();
    helpers::register(&mut registry);
    registry.set_strict_mode(template.strict);
    if !template.output.ends_with(".html") && !template.output.ends_with(".htm") {
        registry.register_escape_fn(handlebars::no_escape);
    }
    let place = |line: Option<usize>| Place {
        output: template.output.clone(),
        origin: template.origin.clone(),
        line,
    };
    if let Some(line) = too_deep(&template.text) {
        return Err(TemplateError::TooDeep(place(Some(line))));
    }
    registry
        .register_template_string(&template.output, &template.text)
        .map_err(|source| TemplateError::Parse {
            place: place(source.pos().map(|(line, _)| line)),
            source: Box::new(source),
        })?;
    registry
        .render(&template.output, model)
        .map_err(|source| TemplateError::Render {
            place: place(source.line_no),
            reason: describe(source.reason()),
            source: Box::new(source),
        })
}

/// Which template, and where in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub output: String,
    pub origin: String,
    pub line: Option<usize>,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template {} ({}", self.output, self.origin)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        f.write_str(")")
    }
}

/// Why a template could not be used or rendered; each message names the
/// template and, where known, the line.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "template {}: its output would be {output}, which llmbench writes itself ({owner}); \
         rename the template (e.g. my-{output}.hbs)",
        path.display()
    )]
    Owned {
        path: PathBuf,
        output: String,
        owner: &'static str,
    },
    #[error(
        "{0}: blocks nested more than {MAX_BLOCK_DEPTH} deep; flatten the template (use partials \
         or fewer nested #if/#each)"
    )]
    TooDeep(Place),
    #[error("{place}: {}", source.reason())]
    Parse {
        place: Place,
        #[source]
        source: Box<handlebars::TemplateError>,
    },
    #[error("{place}: {reason}")]
    Render {
        place: Place,
        reason: String,
        #[source]
        source: Box<handlebars::RenderError>,
    },
    /// A comparison written as JSON.
    #[error("comparison as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Deepest block nesting (`{{#if}}` inside `{{#each}}` …) a template may
/// have: the template engine parses and renders blocks recursively, and a
/// deeper template would overflow the stack.
pub(crate) const MAX_BLOCK_DEPTH: usize = 64;

/// The line where `text` opens a block deeper than [`MAX_BLOCK_DEPTH`].
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut line = 1;
    let mut rest = text;
    while let Some(at) = rest.find("{{") {
        line += rest[..at].matches('\n').count();
        let tag = rest[at + 2..].trim_start_matches(['{', '~']);
        if tag.starts_with('#') {
            depth += 1;
            if depth > MAX_BLOCK_DEPTH {
                return Some(line);
            }
        } else if tag.starts_with('/') {
            depth = depth.saturating_sub(1);
        }
        rest = &rest[at + 2..];
    }
    None
}

/// A render error in words; a missing field names its path.
fn describe(reason: &RenderErrorReason) -> String {
    match reason {
        RenderErrorReason::MissingVariable(Some(path)) => format!(
            "missing field `{path}` (strict mode: check the name against summary.json, or guard it with {{{{#if {path}}}}})"
        ),
        RenderErrorReason::MissingVariable(None) => "missing field (strict mode)".to_string(),
        other => other.to_string(),
    }
}

/// Renders every template into `dir`. Returns the files written and the
/// errors of templates that failed (the others are still written).
pub(crate) fn write_reports(
    dir: &Path,
    templates: &[Template],
    model: &ReportModel,
) -> (Vec<PathBuf>, Vec<String>) {
    let mut written = Vec::new();
    let mut errors = Vec::new();
    for template in templates {
        let path = dir.join(&template.output);
        match render(template, model) {
            Ok(text) => match std::fs::write(&path, text) {
                Ok(()) => written.push(path),
                Err(e) => errors.push(format!("{}: {e}", path.display())),
            },
            Err(e) => errors.push(e.to_string()),
        }
    }
    (written, errors)
}

#[cfg(test)]
mod tests;
