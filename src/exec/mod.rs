//! The executor: runs a plan's requests against their backends, cell by cell,
//! warmups first, with up to `concurrency` requests in flight, and hands every
//! finished request to the store as it ends. Owns the clock and cancellation
//! (Ctrl-C stops dispatching; requests in flight are recorded as cancelled).

mod progress;
mod request;

pub use progress::Progress;
pub use request::{measure, Job, RequestContext};

use crate::backend::Backend;
use crate::plan::{Cell, Plan};
use crate::record::{Record, Response};
use crate::store::{RecordWriter, StoreError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// A backend with its request timeout, by backend name.
#[derive(Clone)]
pub struct Target {
    pub backend: Backend,
    pub timeout: Duration,
}

/// How a run ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecOutcome {
    pub measured_ok: u64,
    pub measured_failed: u64,
    pub warmup: u64,
    pub interrupted: bool,
}

/// Runs every cell of `plan`, writing each record as it arrives. Returns early
/// (with `interrupted`) when `cancel` turns true.
pub async fn execute(
    plan: &Plan,
    targets: &BTreeMap<String, Target>,
    client: reqwest::Client,
    writer: &mut RecordWriter,
    progress: &Progress,
    cancel: watch::Receiver<bool>,
) -> Result<ExecOutcome, StoreError> {
    let context = Arc::new(RequestContext {
        client,
        run_start: Instant::now(),
    });
    let mut outcome = ExecOutcome::default();
    for cell in &plan.cells {
        let Some(target) = targets.get(&cell.backend) else {
            continue;
        };
        for warmup in [true, false] {
            let jobs = jobs_for(cell, warmup);
            if jobs.is_empty() || *cancel.borrow() {
                continue;
            }
            let batch = Batch {
                context: context.clone(),
                target: target.clone(),
                cell: Arc::new(cell.clone()),
                jobs: Arc::new(jobs),
            };
            run_batch(
                batch,
                plan.concurrency,
                writer,
                progress,
                &cancel,
                &mut outcome,
            )
            .await?;
        }
        progress.cell_done();
    }
    outcome.interrupted = *cancel.borrow();
    Ok(outcome)
}

fn jobs_for(cell: &Cell, warmup: bool) -> Vec<Job> {
    let count = if warmup {
        cell.warmup
    } else {
        cell.repetitions
    };
    (0..count)
        .map(|repetition| Job {
            cell: cell.index,
            repetition,
            warmup,
        })
        .collect()
}

/// The requests of one cell of one kind (warmup or measured).
struct Batch {
    context: Arc<RequestContext>,
    target: Target,
    cell: Arc<Cell>,
    jobs: Arc<Vec<Job>>,
}

/// Runs a batch with `concurrency` workers pulling jobs in order; records
/// reach the writer (on this task) as each request ends.
async fn run_batch(
    batch: Batch,
    concurrency: u32,
    writer: &mut RecordWriter,
    progress: &Progress,
    cancel: &watch::Receiver<bool>,
    outcome: &mut ExecOutcome,
) -> Result<(), StoreError> {
    let workers = (concurrency.max(1) as usize).min(batch.jobs.len());
    let next = Arc::new(AtomicUsize::new(0));
    let (sender, mut receiver) = mpsc::unbounded_channel::<(Record, Response)>();
    let batch = Arc::new(batch);
    for _ in 0..workers {
        let (batch, next, sender, mut cancel) =
            (batch.clone(), next.clone(), sender.clone(), cancel.clone());
        tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(&job) = batch.jobs.get(index) else {
                    break;
                };
                if *cancel.borrow() {
                    break;
                }
                let target = &batch.target;
                let result = measure(
                    &batch.context,
                    &target.backend,
                    target.timeout,
                    &batch.cell,
                    job,
                    &mut cancel,
                )
                .await;
                if sender.send(result).is_err() {
                    break;
                }
            }
        });
    }
    drop(sender);
    while let Some((record, response)) = receiver.recv().await {
        writer.write(&record, &response)?;
        progress.record(&record);
        tally(outcome, &record);
    }
    Ok(())
}

fn tally(outcome: &mut ExecOutcome, record: &Record) {
    match (record.warmup, record.outcome.is_ok()) {
        (true, _) => outcome.warmup += 1,
        (false, true) => outcome.measured_ok += 1,
        (false, false) => outcome.measured_failed += 1,
    }
}
