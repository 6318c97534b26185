//! Stage 3, execute: the plan's cells sent, server group by server group,
//! with the resource monitor sampling around them. Each `[server.matrix]`
//! point runs on its own server: the first is already up; each later point
//! stops the previous one and starts its own. Tokens are counted before a
//! server stops (llama.cpp `/tokenize` needs it). A point whose server does
//! not start (here, or in prepare for the points before the first that
//! did) is noted in the manifest with its log's last lines and skipped;
//! the others still run, and the run ends `partial` with exit code 3.

use super::open::OpenRun;
use super::server::{failed_point, managed_facts, server_exited, start_server, stop_server};
use super::{tokens, Executed};
use crate::cli::exit;
use crate::error::AppError;
use crate::exec::{execute_remaining, ExecOptions, ExecOutcome, RecordSink};
use crate::monitor::{GpuStatus, Monitor, MonitorHandle};
use crate::plan::Plan;
use crate::server::ManagedServer;
use crate::store::{MonitorFacts, ServerPointFacts, SAMPLES_FILE};
use std::time::Instant;
use tokio::sync::watch;

impl OpenRun<'_> {
    /// Sends every cell, handing each record to `sink` as it ends. Returns
    /// early (with `interrupted`) when `cancel` turns true.
    pub async fn execute(
        &mut self,
        sink: &mut dyn RecordSink,
        cancel: watch::Receiver<bool>,
    ) -> Result<Executed, AppError> {
        if let Some(part) = self.part {
            part.wait_for_start(&mut self.manifest, &self.dir).await?;
        }
        // A resumed run's records continue its first start's timeline.
        let run_start = self
            .resumed
            .as_ref()
            .map_or_else(Instant::now, |r| r.clock_origin());
        let server_pid = self.managed.as_ref().and_then(ManagedServer::pid);
        let monitor = self.start_monitor(server_pid, run_start)?;
        let options = ExecOptions {
            run_start,
            keep_texts: self.counters.counts_anything(),
        };
        let groups = self.plan.server_groups();
        let sent = self
            .run_groups(&groups, sink, monitor.as_ref(), options, cancel)
            .await;
        let monitor = monitor.map(|m| MonitorFacts::from(m.stop()));
        let (outcome, counted) = sent?;
        Ok(Executed {
            outcome,
            counted,
            monitor,
        })
    }

    async fn run_groups(
        &mut self,
        groups: &[Plan],
        sink: &mut dyn RecordSink,
        monitor: Option<&MonitorHandle>,
        options: ExecOptions,
        cancel: watch::Receiver<bool>,
    ) -> Result<(ExecOutcome, Vec<crate::record::TokenRecord>), AppError> {
        let mut total = ExecOutcome::default();
        let mut counted = Vec::new();
        // The points that did not start before the first server did.
        let mut points: Vec<ServerPointFacts> = self
            .manifest
            .managed_server
            .as_ref()
            .map(|facts| facts.points.clone())
            .unwrap_or_default();
        for (index, group) in groups.iter().enumerate() {
            if *cancel.borrow() {
                break;
            }
            if index < self.server_point {
                continue;
            }
            if index > self.server_point {
                stop_server(self.managed.as_mut(), &mut self.manifest);
                self.managed = None;
                match self.restart(index, monitor).await {
                    Ok(server) => {
                        let facts = managed_facts(self.experiment, index, &server);
                        points.push(ServerPointFacts::Started(Box::new(facts)));
                        self.managed = Some(server);
                    }
                    Err(error) => {
                        eprintln!("warning: {}; skipping its cells", error.message);
                        let failed = failed_point(self.experiment, index, &self.dir, &error);
                        points.push(ServerPointFacts::Failed(failed));
                        continue;
                    }
                }
            } else if let Some(server) = self.managed.as_ref() {
                let facts = managed_facts(self.experiment, index, server);
                points.push(ServerPointFacts::Started(Box::new(facts)));
            }
            let client = self.client.clone();
            let remaining = self.resumed.as_ref().map(|r| &r.prepared.remaining);
            let mut outcome = execute_remaining(
                group,
                &self.targets,
                client,
                sink,
                cancel.clone(),
                options,
                remaining,
            )
            .await?;
            // Counting may ask the server (llama.cpp /tokenize): before it stops.
            let pending = std::mem::take(&mut outcome.pending_counts);
            if !pending.is_empty() {
                eprintln!("counting the tokens of {} responses ...", pending.len());
                counted.extend(tokens::count(&self.counters, pending, &self.client, group).await);
            }
            let lost = !outcome.stopped_cells.is_empty();
            merge(&mut total, outcome);
            if lost && server_exited(self.managed.as_mut(), &mut self.manifest) {
                break;
            }
        }
        let failed = points
            .iter()
            .any(|p| matches!(p, ServerPointFacts::Failed(_)));
        if groups.len() > 1 || failed {
            if let Some(facts) = self.manifest.managed_server.as_mut() {
                facts.points = points;
            }
        }
        Ok((total, counted))
    }

    /// Starts the server for point `index` and has the monitor follow it.
    async fn restart(
        &mut self,
        index: usize,
        monitor: Option<&MonitorHandle>,
    ) -> Result<ManagedServer, AppError> {
        let Some(config) = self.experiment.server.as_ref() else {
            return Err(AppError::new(exit::ERROR, "no [server] to restart"));
        };
        let server = start_server(self.experiment, config, index, &self.dir).await?;
        if let Some(monitor) = monitor {
            monitor.follow(server.pid());
        }
        Ok(server)
    }

    /// Starts the resource monitor (unless `[monitor] enabled = false`),
    /// following the managed server, else the process `[monitor] process` names.
    fn start_monitor(
        &self,
        server_pid: Option<u32>,
        origin: Instant,
    ) -> Result<Option<MonitorHandle>, AppError> {
        let config = &self.experiment.monitor;
        if !config.enabled {
            return Ok(None);
        }
        let samples = self.dir.file(SAMPLES_FILE);
        let handle = Monitor::start(config, &samples, server_pid, origin)
            .map_err(|e| AppError::new(exit::ERROR, format!("[monitor]: {e}")).because(e))?;
        if let GpuStatus::Unavailable { reason } = handle.gpu_status() {
            eprintln!("GPU monitoring unavailable: {reason}");
        }
        Ok(Some(handle))
    }
}

/// Adds one server group's outcome to the run's.
fn merge(total: &mut ExecOutcome, outcome: ExecOutcome) {
    total.measured_ok += outcome.measured_ok;
    total.measured_failed += outcome.measured_failed;
    total.warmup += outcome.warmup;
    total.cold += outcome.cold;
    total.interrupted |= outcome.interrupted;
    total.loaded.extend(outcome.loaded);
    total.pending_checks.extend(outcome.pending_checks);
    total.pending_counts.extend(outcome.pending_counts);
    total.stopped_cells.extend(outcome.stopped_cells);
}
