//! `llmbench report` (a stored run's reports rendered again) and `llmbench
//! compare` (two stored runs side by side).

use super::AppError;
use crate::cli::{exit, ReportArgs};
use crate::experiment::ReportFormat;
use crate::pipeline::{finish_run, report_violations, RenderOptions};
use crate::store::StoredRun;

pub fn report(args: ReportArgs) -> Result<u8, AppError> {
    let stored = StoredRun::open(&args.run_dir)?;
    let options = RenderOptions {
        formats: vec![
            ReportFormat::Markdown,
            ReportFormat::Json,
            ReportFormat::Html,
            ReportFormat::Csv,
        ],
        templates: args.templates,
        print_table: true,
        thresholds: Vec::new(),
    };
    Ok(finish_run(&stored, &options)?.code)
}

/// `llmbench compare`: the comparison on standard output; exit 6 when a
/// `--fail-on` threshold is crossed.
pub fn compare(args: crate::cli::CompareArgs) -> Result<u8, AppError> {
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
    };
    let comparison = crate::compare::compare_runs(&args.run_a, &args.run_b, &options)
        .map_err(|e| AppError::caused_by(exit::ERROR, e))?;
    let text = crate::compare::render_comparison(&comparison, args.format)
        .map_err(|e| AppError::new(exit::TEMPLATE, e))?;
    println!("{text}");
    Ok(report_violations(&comparison.violations))
}
