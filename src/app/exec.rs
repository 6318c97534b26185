//! `llmbench exec`: load every experiment file first (a typo in the third
//! file should not surface after the first two have run for an hour), then
//! run each through the pipeline (`crate::pipeline`), stopping at Ctrl-C,
//! SIGTERM or SIGHUP. A file that cannot run (its server missing) is said
//! and the next one runs; the exit code is the first file's that was not 0,
//! with a closing line naming the files that did not run.
//! A shard (`--shard`, a Slurm array, an Indexed Job) or a resumed run
//! (`--resume`) runs its part of the experiment (`crate::scale::part`).

use super::{expand_files, AppError};
use crate::cli::{exit, ExecArgs};
use crate::experiment::Experiment;
use crate::pipeline::{finish_run, run_part, RenderOptions, RunOptions};
use crate::plan::shard_env::ShardFlags;
use crate::scale::part::{Part, PartFlags};
use crate::scale::resume::{self, Continuation};
use crate::store::StoredRun;
use tokio::sync::watch;

pub(crate) async fn exec(args: ExecArgs) -> Result<u8, AppError> {
    if let Some(dir) = &args.resume {
        let continuation = resume::open(dir)?;
        let path = resume::experiment_path(&continuation, &args.files)?;
        let overrides = continuation.manifest.overrides.clone();
        let experiment = crate::experiment::load(&path, &overrides)?;
        check_templates(std::slice::from_ref(&experiment), &args)?;
        let cancel = cancel_on_signal();
        return run_one(&experiment, &args, cancel, Some(continuation)).await;
    }
    let files = expand_files(&args.files)?;
    let experiments = files
        .iter()
        .map(|file| crate::experiment::load(file, &args.set))
        .collect::<Result<Vec<_>, _>>()?;
    check_templates(&experiments, &args)?;
    let cancel_rx = cancel_on_signal();
    let mut code = exit::OK;
    let mut failed = Vec::new();
    for (i, experiment) in experiments.iter().enumerate() {
        let this = match run_one(experiment, &args, cancel_rx.clone(), None).await {
            Ok(this) => this,
            // One file's server missing does not cost the others their runs.
            Err(error) if experiments.len() > 1 && !*cancel_rx.borrow() => {
                let next = if i + 1 < experiments.len() {
                    "\ngoing on with the next experiment file"
                } else {
                    ""
                };
                let path = &experiment.source.path;
                eprintln!("error: {}: {error}{next}", path.display());
                failed.push((path, error.code));
                error.code
            }
            Err(error) => return Err(error),
        };
        if code == exit::OK {
            code = this;
        }
        if this == exit::INTERRUPTED {
            break;
        }
    }
    if !failed.is_empty() {
        let list: Vec<String> = failed
            .iter()
            .map(|(path, code)| format!("{} (exit {code})", path.display()))
            .collect();
        eprintln!(
            "error: {} of {} experiment files did not run: {}",
            failed.len(),
            experiments.len(),
            list.join(", ")
        );
    }
    Ok(code)
}

/// A template that cannot be used is refused before anything runs.
fn check_templates(experiments: &[Experiment], args: &ExecArgs) -> Result<(), AppError> {
    for path in experiments
        .iter()
        .flat_map(|e| &e.report.templates)
        .chain(&args.templates)
    {
        crate::report::user_template(path).map_err(|e| AppError::caused_by(exit::BAD_INPUT, e))?;
    }
    Ok(())
}

/// A channel that turns true on Ctrl-C, SIGTERM or SIGHUP (a second signal
/// exits at once: `crate::exec::shutdown`).
fn cancel_on_signal() -> watch::Receiver<bool> {
    let (cancel_tx, cancel_rx) = watch::channel(false);
    crate::exec::shutdown::cancel_on_signal(cancel_tx);
    cancel_rx
}

/// Runs this process's part of `experiment`: all of it, a shard, or the
/// rest of a stored run. A stored run with nothing left is not run again:
/// its reports are rendered again from its records (a kill while they were
/// written leaves them whole).
async fn run_one(
    experiment: &Experiment,
    args: &ExecArgs,
    cancel: watch::Receiver<bool>,
    continuation: Option<Continuation>,
) -> Result<u8, AppError> {
    let part = Part::new(experiment, &part_flags(args), continuation)?;
    if let Some(stored) = part.complete_already() {
        eprintln!(
            "{} is complete: nothing to resend (reports rendered again from its records)",
            stored.run.path.display()
        );
        let report = &experiment.report;
        let options = RenderOptions {
            formats: report.formats.clone(),
            templates: [report.templates.as_slice(), &args.templates].concat(),
            print_table: true,
            thresholds: experiment.thresholds.clone(),
        };
        return Ok(finish_run(&StoredRun::open(&stored.run.path)?, &options)?.code);
    }
    let options = RunOptions {
        out: args.out.clone(),
        templates: args.templates.clone(),
        progress: !args.quiet,
    };
    Ok(run_part(experiment, &options, cancel, Some(&part))
        .await?
        .code)
}

fn part_flags(args: &ExecArgs) -> PartFlags {
    PartFlags {
        shard: ShardFlags {
            shard: args.shard,
            shards: args.shards,
            launch: args.launch.clone(),
        },
        split: args.split,
        start_at: args.start_at.clone(),
        barrier: args.barrier.clone(),
        out: args.out.clone(),
    }
}
