//! Stage 4, post-process: what is done once nothing is timed any more.
//! The token counts go to tokens.jsonl, the managed server is stopped, the
//! quality checks are scored into checks.jsonl, and the manifest gets its
//! final status (`partial` when a `[server.matrix]` point's server did not
//! start), the monitor's and the counters' facts.

use super::open::OpenRun;
use super::server::stop_server;
use super::{tokens, Executed};
use crate::error::AppError;
use crate::exec::ExecOutcome;
use crate::quality::PendingCheck;
use crate::scale::part;
use crate::store::{RunDir, RunStatus, MANIFEST_FILE};
use tokio::sync::watch;

impl OpenRun<'_> {
    /// Post-processes an executed run; returns its outcome (the responses
    /// kept for checks handed over). An error marks the run `failed`.
    pub async fn post_process(&mut self, executed: Executed) -> Result<ExecOutcome, AppError> {
        // Nobody can cancel through a channel whose sender is gone.
        let (_, never) = watch::channel(false);
        self.post_process_until(executed, never).await
    }

    /// [`OpenRun::post_process`], stopping the checks when `cancel` turns true
    /// (the run is then `interrupted`).
    pub(crate) async fn post_process_until(
        &mut self,
        executed: Executed,
        cancel: watch::Receiver<bool>,
    ) -> Result<ExecOutcome, AppError> {
        let result = self.post_process_inner(executed, cancel).await;
        self.fail_on_error(result)
    }

    async fn post_process_inner(
        &mut self,
        executed: Executed,
        cancel: watch::Receiver<bool>,
    ) -> Result<ExecOutcome, AppError> {
        let Executed {
            mut outcome,
            counted,
            monitor,
        } = executed;
        self.manifest.monitor = monitor;
        // A resumed run adds to what the killed process stored.
        let resumed = self.resumed.is_some();
        let counted = part::with_stored_tokens(&self.dir, resumed, counted)?;
        if !counted.is_empty() {
            self.dir.write_tokens(&counted)?;
        }
        stop_server(self.managed.as_mut(), &mut self.manifest);
        let pending = std::mem::take(&mut outcome.pending_checks);
        let pending = part::with_unscored(&self.dir, &self.plan, resumed, pending)?;
        outcome.interrupted |= !score_responses(&self.dir, pending, resumed, cancel).await?;
        let manifest = &mut self.manifest;
        manifest.tokenizers = tokens::describe(&self.counters);
        manifest.loaded_models = outcome.loaded.clone();
        manifest.stopped_cells = outcome.stopped_cells.clone();
        manifest.finished_at = Some(jiff::Timestamp::now().to_string());
        let points_failed = manifest
            .managed_server
            .as_ref()
            .is_some_and(|facts| facts.failed_points().next().is_some());
        manifest.status = if outcome.interrupted {
            RunStatus::Interrupted
        } else if points_failed {
            RunStatus::Partial
        } else {
            RunStatus::Complete
        };
        self.dir.write_json(MANIFEST_FILE, &self.manifest)?;
        Ok(outcome)
    }
}

/// Runs the quality checks of the measured responses, now that nothing is
/// being timed, and stores the results in checks.jsonl (with a resumed
/// run's stored ones). False when a signal stopped them (nothing is stored
/// then).
async fn score_responses(
    run: &RunDir,
    pending: Vec<PendingCheck>,
    resumed: bool,
    cancel: watch::Receiver<bool>,
) -> Result<bool, AppError> {
    if pending.is_empty() {
        return Ok(!*cancel.borrow());
    }
    eprintln!("checking {} responses ...", pending.len());
    let parallel = std::thread::available_parallelism().map_or(1, |n| n.get());
    let Some(checks) = crate::quality::score_until(pending, parallel, cancel).await else {
        eprintln!("checks stopped; checks.jsonl not written");
        return Ok(false);
    };
    let checks = part::with_stored_checks(run, resumed, checks)?;
    run.write_checks(&checks)?;
    Ok(true)
}
