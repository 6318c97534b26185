//! `llmbench merge`: one run from the shard runs of a launch (built by
//! `scale::merge`), then its reports, rendered as for any run.

use super::report::{finish_run, RenderOptions};
use super::{expand_files, AppError};
use crate::cli::MergeArgs;
use crate::experiment::ReportFormat;

pub fn merge(args: MergeArgs) -> Result<u8, AppError> {
    let dirs = expand_files(&args.runs)?;
    let merged = crate::scale::merge::merge(&dirs, &args.out, args.partial)?;
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
    Ok(finish_run(&merged.run, &merged.manifest, &options)?.code)
}
