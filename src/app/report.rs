//! Aggregation and report rendering, shared by `exec` (at the end of a run)
//! and `llmbench report` (from a stored run).

use super::AppError;
use crate::aggregate::aggregate;
use crate::cli::{exit, ReportArgs};
use crate::experiment::ReportFormat;
use crate::report::{select_templates, summary_table, user_template, write_reports, ReportModel};
use crate::store::{RunDir, RunManifest, SUMMARY_FILE};
use std::path::PathBuf;

pub struct RenderOptions {
    pub formats: Vec<ReportFormat>,
    pub templates: Vec<PathBuf>,
    pub print_table: bool,
}

/// Reads the stored records back, writes summary.json and the reports.
/// Returns whether a template failed (the other reports are still written).
pub fn finish_run(
    run: &RunDir,
    manifest: &RunManifest,
    options: &RenderOptions,
) -> Result<bool, AppError> {
    let plan = run.read_plan()?;
    let (records, unreadable) = run.read_records()?;
    let summary = aggregate(&plan, &records, unreadable);
    let model = ReportModel::new(manifest, summary, &run.path.display().to_string());
    run.write_json(SUMMARY_FILE, &model)?;

    let user = options
        .templates
        .iter()
        .map(|path| user_template(path))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AppError::new(exit::BAD_INPUT, e))?;
    let templates = select_templates(&options.formats, user);
    let (written, errors) = write_reports(&run.path, &templates, &model);
    if options.print_table {
        println!("{}", summary_table(&model.cells));
    }
    for error in &errors {
        eprintln!("error: {error}");
    }
    println!("run: {}", run.path.display());
    for path in &written {
        println!("report: {}", path.display());
    }
    Ok(!errors.is_empty())
}

pub fn report(args: ReportArgs) -> Result<u8, AppError> {
    let run = RunDir::open(&args.run_dir)?;
    let manifest = run.read_manifest()?;
    let options = RenderOptions {
        formats: vec![ReportFormat::Markdown, ReportFormat::Json],
        templates: args.templates,
        print_table: true,
    };
    let failed = finish_run(&run, &manifest, &options)?;
    Ok(if failed { exit::TEMPLATE } else { exit::OK })
}
