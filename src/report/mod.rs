//! Reports: the `ReportModel` and rendering it through Handlebars templates.
//! Built-in templates live in templates/ and are embedded in the binary; a
//! user template renders beside them, and one with the same output name as a
//! built-in replaces it. A broken template is reported with its name and line
//! while every other report is still written.

mod helpers;
mod model;
mod table;

pub use model::{ExperimentInfo, MonitorView, ReportModel, RunInfo, REPORT_SCHEMA_VERSION};
pub use table::summary_table;

use crate::experiment::ReportFormat;
use handlebars::Handlebars;
use std::path::{Path, PathBuf};

/// A template to render: its output file name and its text.
#[derive(Debug, Clone)]
pub struct Template {
    /// Where it came from ("built-in" or a path), for error messages.
    pub origin: String,
    /// Output file name: the template's file name without `.hbs`.
    pub output: String,
    pub text: String,
}

/// The built-in template for a format.
pub fn builtin(format: ReportFormat) -> Template {
    let (output, text) = match format {
        ReportFormat::Markdown => ("report.md", include_str!("../../templates/report.md.hbs")),
        ReportFormat::Json => (
            "report.json",
            include_str!("../../templates/report.json.hbs"),
        ),
    };
    Template {
        origin: "built-in".into(),
        output: output.into(),
        text: text.into(),
    }
}

/// Reads a user template; its output name is its file name without `.hbs`.
pub fn user_template(path: &Path) -> Result<Template, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("template {}: {e}", path.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report");
    let output = name.strip_suffix(".hbs").unwrap_or(name).to_string();
    Ok(Template {
        origin: path.display().to_string(),
        output,
        text,
    })
}

/// Built-ins for `formats`, then user templates; a user template whose output
/// name matches a built-in replaces it.
pub fn select_templates(formats: &[ReportFormat], user: Vec<Template>) -> Vec<Template> {
    let mut templates: Vec<Template> = formats.iter().map(|f| builtin(*f)).collect();
    for template in user {
        templates.retain(|t| t.output != template.output);
        templates.push(template);
    }
    templates
}

/// Renders one template against the model. Output ending in `.html`/`.htm`
/// is HTML-escaped; every other format is written as is.
pub fn render(template: &Template, model: &ReportModel) -> Result<String, String> {
    let mut registry = Handlebars::new();
    helpers::register(&mut registry);
    if !template.output.ends_with(".html") && !template.output.ends_with(".htm") {
        registry.register_escape_fn(handlebars::no_escape);
    }
    let place = |line: Option<usize>| {
        let at = line.map_or(String::new(), |l| format!(", line {l}"));
        format!("template {} ({}{at})", template.output, template.origin)
    };
    registry
        .register_template_string(&template.output, &template.text)
        .map_err(|e| format!("{}: {}", place(e.pos().map(|(line, _)| line)), e.reason()))?;
    registry
        .render(&template.output, model)
        .map_err(|e| format!("{}: {}", place(e.line_no), e.reason()))
}

/// Renders every template into `dir`. Returns the files written and the
/// errors of templates that failed (the others are still written).
pub fn write_reports(
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
            Err(e) => errors.push(e),
        }
    }
    (written, errors)
}

#[cfg(test)]
mod tests;
