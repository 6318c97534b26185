//! The commands, glued from the pipeline's modules. `run` is what `main` calls
//! and what tests call in-process; every failure leaves here as an `AppError`
//! carrying its documented exit code.

mod exec;
mod export;
mod history;
mod merge;
mod models;
mod plan;
mod report;
mod tokenize;
mod tools;

use crate::cli::{exit, Cli, Command};
pub(crate) use crate::error::AppError;
use std::path::PathBuf;

/// Runs one command. Returns the exit code of a run that finished in a
/// documented non-success state (all failed, interrupted) as `Ok(code)`.
pub fn run(cli: Cli) -> Result<u8, AppError> {
    crate::util::ensure_tls_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::new(exit::ERROR, format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        match cli.command {
            Command::Exec(args) => exec::exec(args).await,
            Command::Plan(args) => plan::plan(args),
            Command::Validate(args) => plan::validate(args),
            Command::Report(args) => report::report(args),
            Command::Models(args) => models::models(args).await,
            Command::Tokenize(args) => tokenize::tokenize(args).await,
            Command::Compare(args) => report::compare(args),
            Command::Schema(args) => tools::schema(args),
            Command::Completions(args) => tools::completions(args),
            Command::Man => tools::man(),
            Command::Export(args) => export::export(args),
            Command::History(args) => history::history(args),
            Command::Merge(args) => merge::merge(args),
        }
    })
}

/// Expands glob patterns among `args` (plain paths pass through); a pattern
/// that matches nothing is an error.
pub(crate) fn expand_files(args: &[String]) -> Result<Vec<PathBuf>, AppError> {
    let mut files = Vec::new();
    for arg in args {
        if !arg.contains(['*', '?', '[']) {
            files.push(PathBuf::from(arg));
            continue;
        }
        let paths = glob::glob(arg)
            .map_err(|e| AppError::new(exit::BAD_INPUT, format!("bad pattern `{arg}`: {e}")))?;
        let matched: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        if matched.is_empty() {
            return Err(AppError::new(
                exit::BAD_INPUT,
                format!("`{arg}` matches no file"),
            ));
        }
        files.extend(matched);
    }
    Ok(files)
}
