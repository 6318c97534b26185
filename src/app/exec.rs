//! `llmbench exec`: load every experiment file first (a typo in the third
//! file should not surface after the first two have run for an hour), then
//! run each through the pipeline (`crate::pipeline`), stopping at Ctrl-C.

use super::{expand_files, AppError};
use crate::cli::{exit, ExecArgs};
use crate::pipeline::{run_experiment, RunOptions};
use tokio::sync::watch;

pub async fn exec(args: ExecArgs) -> Result<u8, AppError> {
    let files = expand_files(&args.files)?;
    let experiments = files
        .iter()
        .map(|file| crate::experiment::load(file, &args.set))
        .collect::<Result<Vec<_>, _>>()?;
    let (cancel_tx, cancel_rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping: no new requests; requests in flight are recorded as cancelled");
            let _ = cancel_tx.send(true);
        }
    });
    let options = RunOptions {
        out: args.out.clone(),
        templates: args.templates.clone(),
        progress: !args.quiet,
    };
    let mut code = exit::OK;
    for experiment in &experiments {
        let this = run_experiment(experiment, &options, cancel_rx.clone())
            .await?
            .code;
        if code == exit::OK {
            code = this;
        }
        if this == exit::INTERRUPTED {
            break;
        }
    }
    Ok(code)
}
