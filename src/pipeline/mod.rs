//! The exec pipeline as a library: one experiment run from its file to its
//! reports, in five typed stages, each a function a caller can drive on its
//! own (an async caller, a test that keeps records in memory, a tool that
//! resumes or shards a run). `run_experiment` is the whole pipeline as
//! `llmbench exec` runs it; it builds no runtime, so any tokio runtime can
//! drive it.
//!
//! 1. [`prepare`] → [`Prepared`]: the plan, the HTTP client, the targets,
//!    the token counters; the `[server]` started (its log needs the run
//!    directory, so that is created here for a managed server); every
//!    backend pre-flighted (nothing is sent before the servers answer and
//!    have the models); synthetic prompts fitted to each model's tokenizer.
//! 2. [`open`] → [`OpenRun`]: the run directory with experiment.toml,
//!    plan.json and manifest.json (status `running`).
//! 3. [`OpenRun::execute`] → [`Executed`]: every `[server.matrix]` point's
//!    cells sent, each record handed to a [`RecordSink`] as it ends; token
//!    counts taken before each point's server stops; the resource monitor
//!    around it all.
//! 4. [`OpenRun::post_process`]: tokens.jsonl, the server stopped, the
//!    quality checks scored (checks.jsonl), the manifest's final status.
//! 5. [`finish`]: the stored run read back ([`crate::store::StoredRun`]),
//!    summary.json and the reports written, the thresholds checked, the
//!    exit code.
//!
//! An error after the run directory is open marks the manifest `failed`.

mod execute;
mod finish;
mod many;
mod open;
mod post;
mod prepare;
mod server;
pub(crate) mod tokens;

pub(crate) use finish::{finish, finish_run, report_violations, RenderOptions};
pub use open::{open, OpenRun};
pub use prepare::{prepare, prepare_part, Prepared};

use crate::cli::exit;
use crate::error::AppError;
use crate::exec::{ExecOutcome, Progress, RecordSink, WithProgress};
use crate::experiment::Experiment;
use crate::record::TokenRecord;
use crate::store::{MonitorFacts, RecordWriter};
use std::path::PathBuf;
use tokio::sync::watch;

/// How to run an experiment, besides the experiment itself.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Where run directories go: `<out>/<experiment>/<stamp>-<id>/`.
    pub out: PathBuf,
    /// Report templates on top of the experiment's own.
    pub templates: Vec<PathBuf>,
    /// Show progress on standard error: a bar on a terminal, else a line
    /// per cell and a heartbeat (`ProgressMode::for_stderr`).
    pub progress: bool,
}

/// What the execute stage came to.
pub struct Executed {
    pub outcome: ExecOutcome,
    /// The responses counted after each server group (tokens.jsonl).
    pub counted: Vec<TokenRecord>,
    /// What the resource monitor did, when it ran.
    pub monitor: Option<MonitorFacts>,
}

/// What a whole run came to.
#[derive(Debug)]
pub struct RunResult {
    /// The run directory.
    pub dir: PathBuf,
    pub outcome: ExecOutcome,
    /// The exit code: 0, or what went wrong (`cli::exit`).
    pub code: u8,
}

/// Runs one experiment through every stage, the way `llmbench exec` does:
/// records go to the run directory (and the progress bar).
pub async fn run_experiment(
    experiment: &Experiment,
    options: &RunOptions,
    cancel: watch::Receiver<bool>,
) -> Result<RunResult, AppError> {
    run_part(experiment, options, cancel, None).await
}

/// `run_experiment` for a part of a bigger run: a shard of the plan, or the
/// rest of a stored run (`crate::scale::part`).
pub(crate) async fn run_part(
    experiment: &Experiment,
    options: &RunOptions,
    cancel: watch::Receiver<bool>,
    part: Option<&crate::scale::part::Part>,
) -> Result<RunResult, AppError> {
    let prepared = prepare_part(experiment, &options.out, part).await?;
    let mut run = open(prepared)?;
    let executed = execute_to_files(&mut run, options, cancel.clone()).await;
    let executed = run.fail_on_error(executed)?;
    let outcome = run.post_process_until(executed, cancel).await?;
    let code = finish(&mut run, &outcome, &options.templates)?;
    Ok(RunResult {
        dir: run.dir.path.clone(),
        outcome,
        code,
    })
}

/// The execute stage with the run's own sink: the record writer and the
/// progress bar.
async fn execute_to_files(
    run: &mut OpenRun<'_>,
    options: &RunOptions,
    cancel: watch::Receiver<bool>,
) -> Result<Executed, AppError> {
    let save = run.experiment.report.save_responses;
    let total = run
        .resumed
        .as_ref()
        .map_or(run.plan.measured_requests(), |r| r.prepared.facts.to_send);
    let mode = crate::exec::ProgressMode::for_stderr(!options.progress);
    let progress = Progress::new(total, run.plan.cells.len() as u64, mode);
    let mut sink = WithProgress {
        sink: RecordWriter::open(&run.dir, save)?,
        progress,
    };
    let executed = run.execute(&mut sink as &mut dyn RecordSink, cancel).await;
    sink.progress.finish();
    executed
}

/// The exit code of a run: interrupted, the server lost or a
/// `[server.matrix]` point's server not started (3), every measured
/// request failed, or what rendering the reports came to.
pub(crate) fn exit_code(
    outcome: &ExecOutcome,
    failed_points: &[&crate::store::FailedPoint],
    report_code: u8,
) -> u8 {
    if outcome.interrupted {
        exit::INTERRUPTED
    } else if !outcome.stopped_cells.is_empty() {
        eprintln!(
            "error: {} stopped early: the server stopped answering (see stopped_cells in manifest.json)",
            crate::util::count_of(outcome.stopped_cells.len(), "cell")
        );
        exit::SERVER
    } else if !failed_points.is_empty() {
        for point in failed_points {
            let values: Vec<String> = point
                .values
                .iter()
                .map(|(k, v)| format!("{k}={}", crate::experiment::axis_text(v)))
                .collect();
            eprintln!(
                "error: the server did not start at [server.matrix] point {} ({}): {}; its cells were not run",
                point.point + 1,
                values.join(" "),
                point.error
            );
        }
        exit::SERVER
    } else if outcome.measured_ok == 0 && outcome.measured_failed > 0 {
        eprintln!("error: every measured request failed; see the errors in the report");
        exit::ALL_FAILED
    } else {
        report_code
    }
}
