//! `llmbench merge`: one run from the shard runs of a launch (built by
//! `scale::merge`), then its reports, rendered as for any run.

use super::{expand_files, AppError};
use crate::cli::MergeArgs;
use crate::experiment::ReportFormat;
use crate::pipeline::{finish_run, RenderOptions};
use crate::store::StoredRun;

pub(crate) fn merge(args: MergeArgs) -> Result<u8, AppError> {
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
    let stored = StoredRun::open(&merged.run.path)?;
    Ok(finish_run(&stored, &options)?.code)
}
