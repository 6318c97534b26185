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
    // A template that cannot be used is refused before anything runs.
    for path in experiments
        .iter()
        .flat_map(|e| &e.report.templates)
        .chain(&args.templates)
    {
        crate::report::user_template(path).map_err(|e| AppError::new(exit::BAD_INPUT, e))?;
    }
    let (cancel_tx, cancel_rx) = watch::channel(false);
    crate::exec::shutdown::cancel_on_signal(cancel_tx);
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
