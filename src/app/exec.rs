//! `llmbench exec`: load every experiment file first (a typo in the third
//! file should not surface after the first two have run for an hour), then
//! run each through the pipeline (`crate::pipeline`), stopping at Ctrl-C.
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
use std::io::IsTerminal;
use tokio::sync::watch;

pub async fn exec(args: ExecArgs) -> Result<u8, AppError> {
    if let Some(dir) = &args.resume {
        let continuation = resume::open(dir)?;
        let path = resume::experiment_path(&continuation, &args.files)?;
        let overrides = continuation.manifest.overrides.clone();
        let experiment = crate::experiment::load(&path, &overrides)?;
        let cancel = cancel_on_ctrl_c();
        return run_one(&experiment, &args, cancel, Some(continuation)).await;
    }
    let files = expand_files(&args.files)?;
    let experiments = files
        .iter()
        .map(|file| crate::experiment::load(file, &args.set))
        .collect::<Result<Vec<_>, _>>()?;
    let cancel_rx = cancel_on_ctrl_c();
    let mut code = exit::OK;
    for experiment in &experiments {
        let this = run_one(experiment, &args, cancel_rx.clone(), None).await?;
        if code == exit::OK {
            code = this;
        }
        if this == exit::INTERRUPTED {
            break;
        }
    }
    Ok(code)
}

/// A channel that turns true on Ctrl-C.
fn cancel_on_ctrl_c() -> watch::Receiver<bool> {
    let (cancel_tx, cancel_rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping: no new requests; requests in flight are recorded as cancelled");
            let _ = cancel_tx.send(true);
        }
    });
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
        progress: !args.quiet && std::io::stderr().is_terminal(),
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
