//! `llmbench report` (a stored run's reports rendered again) and `llmbench
//! compare` (two stored runs side by side).

use super::AppError;
use crate::cli::{exit, ReportArgs};
use crate::experiment::ReportFormat;
use crate::pipeline::{finish_run, report_violations, RenderOptions};
use crate::store::StoredRun;

pub(crate) fn report(args: ReportArgs) -> Result<u8, AppError> {
    let stored = StoredRun::open(&args.run_dir)?;
    let (formats, templates, thresholds) = match stored_experiment(&stored) {
        Ok(experiment) => (
            experiment.report.formats,
            [experiment.report.templates, args.templates].concat(),
            experiment.thresholds,
        ),
        Err(why) => {
            let (formats, which) = match stored_formats(&stored) {
                Some(formats) => (formats, "the formats its [report] lists"),
                None => (
                    vec![ReportFormat::Markdown, ReportFormat::Json],
                    "markdown and json (the default formats)",
                ),
            };
            eprintln!("note: {why}; writing {which} and checking no [thresholds]");
            (formats, args.templates, Vec::new())
        }
    };
    let options = RenderOptions {
        formats,
        templates,
        print_table: true,
        thresholds,
    };
    Ok(finish_run(&stored, &options)?.code)
}

/// The experiment as the run saw it: the stored copy of its file with the
/// run's `--set` overrides, read as if from its original place (so relative
/// prompt files and templates resolve as they did). It says which report
/// formats and `[thresholds]` `llmbench report` renders and checks.
fn stored_experiment(stored: &StoredRun) -> Result<crate::experiment::Experiment, String> {
    let file = stored.dir.file(crate::store::EXPERIMENT_FILE);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let manifest = &stored.manifest;
    let path = std::path::Path::new(&manifest.experiment_path);
    crate::experiment::load_str(path, &text, &manifest.overrides)
        .map_err(|e| format!("the run's experiment does not load again ({e})"))
}

/// The run's `[report] formats`, read from its stored experiment file as
/// plain TOML (with a `--set report.formats=…` of the run on top), for a
/// file that no longer loads as a whole. `None` when they cannot be read.
fn stored_formats(stored: &StoredRun) -> Option<Vec<ReportFormat>> {
    use serde::Deserialize;
    let file = stored.dir.file(crate::store::EXPERIMENT_FILE);
    let text = std::fs::read_to_string(file).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    let mut formats = table
        .get("report")
        .and_then(|report| report.get("formats"))
        .cloned();
    for set in &stored.manifest.overrides {
        if let Some(value) = set.strip_prefix("report.formats=") {
            let parsed: toml::Table = toml::from_str(&format!("v = {value}")).ok()?;
            formats = parsed.get("v").cloned();
        }
    }
    let listed = Vec::<ReportFormat>::deserialize(formats?).ok()?;
    (!listed.is_empty()).then_some(listed)
}

/// `llmbench compare`: the comparison on standard output; exit 6 when a
/// `--fail-on` threshold is crossed.
pub(crate) fn compare(args: crate::cli::CompareArgs) -> Result<u8, AppError> {
    let fail_on = args
        .fail_on
        .iter()
        .map(|text| {
            crate::compare::parse_threshold(text)
                .map_err(|e| AppError::new(exit::BAD_INPUT, format!("--fail-on {text:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = crate::compare::CompareOptions {
        noise_pct: args.noise,
        alpha: args.alpha,
        fail_on,
        strict: args.strict,
    };
    let comparison = crate::compare::compare_runs(&args.run_a, &args.run_b, &options)
        .map_err(|e| AppError::caused_by(exit::ERROR, e))?;
    let text = crate::compare::render_comparison(&comparison, args.format)
        .map_err(|e| AppError::caused_by(exit::TEMPLATE, e))?;
    crate::util::print(&text)?;
    if let Some(error) = comparison.gate_error() {
        return Err(AppError::new(exit::BAD_INPUT, error));
    }
    for held in &comparison.not_significant {
        eprintln!("threshold passed as noise: {}", held.message);
    }
    Ok(report_violations(&comparison.violations))
}
