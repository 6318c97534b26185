//! The executor: runs a plan's requests against their backends, cell by cell,
//! warmups first, with up to `concurrency` requests in flight, and hands every
//! finished request to the store as it ends. Owns the clock and cancellation
//! (Ctrl-C stops dispatching; requests in flight are recorded as cancelled).

mod clock;
mod open_loop;
mod order;
mod progress;
mod remaining;
mod request;
mod retry;
pub mod shutdown;
mod sink;

pub(crate) use crate::quality::PendingCheck;
pub use progress::{Progress, ProgressMode};
pub(crate) use remaining::{CellTodo, Remaining};
pub use request::{measure, Job, RequestContext};
pub use sink::{RecordSink, WithProgress};

use crate::backend::Backend;
use crate::experiment::Load;
use crate::plan::{Cell, Plan};
use crate::record::{Record, Response, StoppedCell};
use crate::store::StoreError;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// A backend with its request timeout, by backend name.
#[derive(Clone)]
pub struct Target {
    pub backend: Backend,
    pub timeout: Duration,
}

/// Consecutive connection failures after which a cell stops sending: the
/// server is most likely gone, and every further request would fail at once.
pub const CONNECT_FAILURES_TO_STOP: u32 = 5;

/// How a run ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecOutcome {
    pub measured_ok: u64,
    pub measured_failed: u64,
    pub warmup: u64,
    pub cold: u64,
    pub interrupted: bool,
    /// What Ollama's `/api/ps` said after each model's cells, by model.
    pub loaded: BTreeMap<String, serde_json::Value>,
    /// Responses to score once the run is over (off the timing path).
    pub pending_checks: Vec<PendingCheck>,
    /// Responses to count tokens of once the run is over.
    pub pending_counts: Vec<PendingCount>,
    /// Cells stopped after [`CONNECT_FAILURES_TO_STOP`] connection failures in a row.
    pub stopped_cells: Vec<StoppedCell>,
}

/// A response kept for token counting after the run.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCount {
    pub cell: String,
    /// The prompt id sent (a mixed cell sends several).
    pub prompt: String,
    pub model: String,
    pub repetition: u32,
    pub warmup: bool,
    pub cold: bool,
    /// Content and reasoning: servers count both as generated tokens.
    pub text: String,
    /// Characters per text-bearing chunk, to attribute tokens to chunks.
    pub chunk_chars: Vec<u32>,
}

/// How to run.
#[derive(Debug, Clone, Copy)]
pub struct ExecOptions {
    /// The run's clock origin (shared with the monitor).
    pub run_start: Instant,
    /// Keep every successful response's text for token counting after the run.
    pub keep_texts: bool,
}

/// Runs every cell of `plan`, handing each record to `sink` as it arrives.
/// Returns early (with `interrupted`) when `cancel` turns true.
pub async fn execute(
    plan: &Plan,
    targets: &BTreeMap<String, Target>,
    client: reqwest::Client,
    sink: &mut dyn RecordSink,
    cancel: watch::Receiver<bool>,
    options: ExecOptions,
) -> Result<ExecOutcome, StoreError> {
    execute_remaining(plan, targets, client, sink, cancel, options, None).await
}

/// `execute`, sending only what `remaining` lists (a resumed run); `None`
/// sends everything.
pub(crate) async fn execute_remaining(
    plan: &Plan,
    targets: &BTreeMap<String, Target>,
    client: reqwest::Client,
    sink: &mut dyn RecordSink,
    cancel: watch::Receiver<bool>,
    options: ExecOptions,
    remaining: Option<&Remaining>,
) -> Result<ExecOutcome, StoreError> {
    let context = Arc::new(RequestContext {
        client,
        run_start: options.run_start,
        prompt_nonce: plan.prompt_nonce,
        retry: plan.retry.clone(),
    });
    let mut run = Run {
        context,
        sink,
        cancel,
        keep_texts: options.keep_texts,
        outcome: ExecOutcome::default(),
    };
    for model in plan.models() {
        let cells: Vec<&Cell> = plan.cells.iter().filter(|c| c.model == model).collect();
        let Some(target) = cells.first().and_then(|c| targets.get(&c.backend)) else {
            continue;
        };
        let cold = remaining::cold(remaining, model, plan.cold_repetitions);
        if !cold.is_empty() {
            run.cold_starts(target, &cells[0].sendable(0), &cold)
                .await?;
        }
        for cell in &cells {
            for jobs in remaining::jobs(remaining, cell) {
                if !run.batch(target, cell, jobs).await? {
                    break;
                }
            }
            run.sink.cell_done(cell);
        }
        run.note_loaded(target, model).await;
    }
    run.outcome.interrupted = *run.cancel.borrow();
    Ok(run.outcome)
}

/// The longest wait for an unloaded model to leave `/api/ps` (a large
/// model's runner can take seconds to stop).
const UNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// The state one run's phases share.
struct Run<'a> {
    context: Arc<RequestContext>,
    sink: &'a mut dyn RecordSink,
    cancel: watch::Receiver<bool>,
    keep_texts: bool,
    outcome: ExecOutcome,
}

impl Run<'_> {
    /// Runs `jobs` of one cell: warmups one at a time, measured requests
    /// under the cell's load (closed-loop workers or an open-loop schedule).
    /// False when the cell was stopped (the server seems gone).
    async fn batch(
        &mut self,
        target: &Target,
        cell: &Cell,
        jobs: Jobs,
    ) -> Result<bool, StoreError> {
        if jobs.count == 0 || *self.cancel.borrow() {
            return Ok(true);
        }
        let warmup = jobs.first.warmup;
        // A cell with a duration runs its measured requests (or its warmup)
        // until then.
        let window = if warmup {
            cell.warmup_s
        } else {
            cell.duration_s
        };
        let deadline = window.map(|s| Instant::now() + Duration::from_secs_f64(s));
        let count = jobs.count;
        let batch = Arc::new(Batch::new(
            self.context.clone(),
            target,
            cell,
            jobs,
            deadline,
        ));
        let sending = batch.clone();
        let receiver = match cell.load {
            // Counted warmups go one at a time; a warmup duration runs the cell's own load.
            _ if warmup && cell.warmup_s.is_none() => closed_loop(batch, 1, &self.cancel),
            Load::Closed { concurrency } => closed_loop(batch, concurrency, &self.cancel),
            Load::Open {
                rate,
                arrivals,
                seed,
                max_in_flight,
            } => {
                let arrivals_due = match window {
                    Some(seconds) => (rate * seconds).ceil() as usize,
                    None => count,
                };
                let schedule = open_loop::schedule(arrivals_due, rate, arrivals, seed);
                open_loop::dispatch(batch, schedule, max_in_flight, &self.cancel)
            }
        };
        self.drain(cell, receiver).await?;
        if !sending.stopped.load(Ordering::SeqCst) {
            return Ok(true);
        }
        let reason = format!(
            "stopped after {CONNECT_FAILURES_TO_STOP} connection failures in a row (is the server down?)"
        );
        eprintln!("cell {}: {reason}", cell.id);
        self.outcome.stopped_cells.push(StoppedCell {
            cell: cell.id.clone(),
            reason,
        });
        Ok(false)
    }

    /// Writes every record as it arrives, until all senders are gone.
    async fn drain(
        &mut self,
        cell: &Cell,
        mut receiver: mpsc::UnboundedReceiver<(Record, Response)>,
    ) -> Result<(), StoreError> {
        while let Some((record, response)) = receiver.recv().await {
            // Records already waiting go out with one write; flushed before waiting again.
            self.sink.add(&record, &response)?;
            if receiver.is_empty() {
                self.sink.flush()?;
            }
            tally(&mut self.outcome, &record);
            self.keep(cell, &record, response);
        }
        Ok(())
    }

    /// Keeps what the after-run phases need of a response: its text for
    /// checks (measured requests of prompts with checks) and for counting.
    fn keep(&mut self, cell: &Cell, record: &Record, response: Response) {
        if !record.outcome.is_ok() {
            return;
        }
        if self.keep_texts {
            self.outcome.pending_counts.push(PendingCount {
                cell: record.cell.clone(),
                prompt: record.prompt.clone(),
                model: record.model.clone(),
                repetition: record.repetition,
                warmup: record.warmup,
                cold: record.cold,
                text: format!("{}{}", response.reasoning, response.content),
                chunk_chars: record.timing.chunk_chars.clone(),
            });
        }
        let checks = cell.checks_for(&record.prompt);
        if !checks.is_empty() && !record.warmup && !record.cold {
            self.outcome.pending_checks.push(PendingCheck {
                cell: record.cell.clone(),
                repetition: record.repetition,
                checks: checks.to_vec(),
                response: response.content,
            });
        }
    }

    /// Unloads the model, then times a request that has to load it again,
    /// `repetitions` times, one at a time. A failed unload is recorded on the
    /// request it would have made cold.
    async fn cold_starts(
        &mut self,
        target: &Target,
        cell: &Cell,
        repetitions: &[u32],
    ) -> Result<(), StoreError> {
        for &repetition in repetitions {
            if *self.cancel.borrow() {
                break;
            }
            let job = Job {
                cell: cell.index,
                repetition,
                warmup: false,
                cold: true,
                scheduled: None,
            };
            let (mut record, response) = match self.unload(target, &cell.model).await {
                Ok(()) => {
                    let result = measure(
                        &self.context,
                        &target.backend,
                        target.timeout,
                        cell,
                        job,
                        &mut self.cancel,
                    )
                    .await;
                    scrub(&target.backend, result)
                }
                Err(error) => unload_failure(cell, job, target.backend.redact(&error.to_string())),
            };
            record.cold = true;
            self.sink.add(&record, &response)?;
            self.sink.flush()?;
            self.outcome.cold += 1;
            self.keep(cell, &record, response);
        }
        Ok(())
    }

    /// Unloads `model` and waits until `/api/ps` no longer lists it (at
    /// most [`UNLOAD_TIMEOUT`]), so the next request has to load it.
    async fn unload(&self, target: &Target, model: &str) -> Result<(), UnloadError> {
        let backend = &target.backend;
        let client = &self.context.client;
        backend.unload(client, model).await?;
        match backend
            .wait_until_unloaded(client, model, UNLOAD_TIMEOUT)
            .await?
        {
            true => Ok(()),
            false => Err(UnloadError::StillLoaded(model.to_string())),
        }
    }

    /// Records what the server says is loaded after a model's cells (Ollama
    /// only: size, size in VRAM, offload fraction).
    async fn note_loaded(&mut self, target: &Target, model: &str) {
        if target.backend.kind() != crate::experiment::BackendKind::Ollama {
            return;
        }
        if let Ok(loaded) = target.backend.loaded_models(&self.context.client).await {
            let entry = loaded
                .into_iter()
                .find(|m| crate::backend::ps_lists(m, model));
            if let Some(entry) = entry {
                self.outcome.loaded.insert(model.to_string(), entry);
            }
        }
    }
}

/// The record and response with the API key taken out of every text a
/// server controls (an error body that echoes the Authorization header, a
/// reply that repeats it), before anything is written.
fn scrub(backend: &Backend, (mut record, mut response): (Record, Response)) -> (Record, Response) {
    if let crate::record::Outcome::Error { message, .. } = &mut record.outcome {
        if backend.leaks_key(message) {
            *message = backend.redact(message);
        }
    }
    for text in [&mut response.content, &mut response.reasoning] {
        if backend.leaks_key(text) {
            *text = backend.redact(text);
        }
    }
    (record, response)
}

/// Why a model could not be unloaded before a cold start.
#[derive(Debug, thiserror::Error)]
enum UnloadError {
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
    #[error(
        "/api/ps still lists {model} {after} after the unload request",
        model = .0,
        after = crate::util::format_duration(UNLOAD_TIMEOUT)
    )]
    StillLoaded(String),
}

fn unload_failure(cell: &Cell, job: Job, message: String) -> (Record, Response) {
    let outcome = crate::record::Outcome::Error {
        kind: crate::record::ErrorKind::Http,
        message: format!("unload before the cold start failed: {message}"),
    };
    let mut record = Record::unsent(cell, job.repetition, outcome);
    record.cold = true;
    (record, Response::default())
}

/// A cell's warmup or measured requests of one kind: repetitions
/// `first.repetition` onwards, `count` of them, or (a resumed run) only the
/// repetitions listed. With `[run] duration` the measured count is
/// open-ended and the deadline ends the batch.
#[derive(Debug, Clone)]
pub(crate) struct Jobs {
    pub(crate) first: Job,
    pub(crate) count: usize,
    pub(crate) only: Option<Arc<[u32]>>,
}

impl Jobs {
    pub(crate) fn get(&self, index: usize) -> Option<Job> {
        let repetition = match &self.only {
            Some(only) => *only.get(index)?,
            None => u32::try_from(index)
                .ok()
                .filter(|_| index < self.count)
                .and_then(|i| self.first.repetition.checked_add(i))?,
        };
        Some(Job {
            repetition,
            ..self.first
        })
    }
}

fn jobs_for(cell: &Cell, warmup: bool) -> Jobs {
    let window = if warmup {
        cell.warmup_s
    } else {
        cell.duration_s
    };
    let count = match (warmup, window) {
        (_, Some(_)) => u32::MAX as usize,
        (true, None) => cell.warmup as usize,
        (false, None) => cell.repetitions as usize,
    };
    // A shard's share of a cell (split = load) numbers its measured
    // requests from its own start, so the shards' numbers do not collide.
    let repetition = match (&cell.share, warmup) {
        (Some(share), false) => share.first_repetition,
        _ => 0,
    };
    let count = count.min((u32::MAX - repetition) as usize);
    let first = Job {
        cell: cell.index,
        repetition,
        warmup,
        cold: false,
        scheduled: None,
    };
    Jobs {
        first,
        count,
        only: None,
    }
}

/// The requests of one cell of one kind (warmup or measured).
pub(crate) struct Batch {
    pub(crate) context: Arc<RequestContext>,
    pub(crate) target: Target,
    /// What each prompt of the cell sends (one entry for a one-prompt cell).
    pub(crate) sendables: Vec<Cell>,
    /// A mixed cell's prompt order.
    order: Option<order::PromptOrder>,
    pub(crate) jobs: Jobs,
    /// Closed loop with a duration: no request starts after this.
    pub(crate) deadline: Option<Instant>,
    /// No further request starts (the server seems gone).
    pub(crate) stopped: AtomicBool,
    /// Connection failures in a row, as requests end.
    connect_failures: AtomicU32,
}

impl Batch {
    fn new(
        context: Arc<RequestContext>,
        target: &Target,
        cell: &Cell,
        jobs: Jobs,
        deadline: Option<Instant>,
    ) -> Batch {
        let sendables: Vec<Cell> = (0..cell.variants.len().max(1))
            .map(|i| cell.sendable(i))
            .collect();
        let order = cell
            .mix_seed
            .filter(|_| !cell.variants.is_empty())
            .map(|seed| {
                let stream = u64::from(jobs.first.warmup);
                order::PromptOrder::new(seed, stream, sendables.len())
            });
        Batch {
            context,
            target: target.clone(),
            sendables,
            order,
            jobs,
            deadline,
            stopped: AtomicBool::new(false),
            connect_failures: AtomicU32::new(0),
        }
    }

    /// What request `job` sends: a mixed cell's prompt comes from its order.
    pub(crate) fn cell_for(&self, job: &Job) -> &Cell {
        let index = match &self.order {
            Some(order) => order.pick(job.repetition as usize),
            None => 0,
        };
        &self.sendables[index.min(self.sendables.len() - 1)]
    }

    /// Sends and measures one of this batch's requests.
    pub async fn measure(
        &self,
        job: Job,
        cancel: &mut watch::Receiver<bool>,
    ) -> (Record, Response) {
        let result = measure(
            &self.context,
            &self.target.backend,
            self.target.timeout,
            self.cell_for(&job),
            job,
            cancel,
        )
        .await;
        self.count_connect_failures(&result.0);
        scrub(&self.target.backend, result)
    }

    /// Stops the batch once [`CONNECT_FAILURES_TO_STOP`] requests in a row
    /// could not connect.
    fn count_connect_failures(&self, record: &Record) {
        let refused = matches!(
            record.outcome,
            crate::record::Outcome::Error {
                kind: crate::record::ErrorKind::Connect,
                ..
            }
        );
        if !refused {
            self.connect_failures.store(0, Ordering::SeqCst);
        } else if self.connect_failures.fetch_add(1, Ordering::SeqCst) + 1
            >= CONNECT_FAILURES_TO_STOP
        {
            self.stopped.store(true, Ordering::SeqCst);
        }
    }
}

/// Closed loop: `concurrency` workers pull jobs in order; each request that
/// ends starts the next. Records go to the returned channel as requests end.
fn closed_loop(
    batch: Arc<Batch>,
    concurrency: u32,
    cancel: &watch::Receiver<bool>,
) -> mpsc::UnboundedReceiver<(Record, Response)> {
    let workers = (concurrency.max(1) as usize).min(batch.jobs.count);
    let next = Arc::new(AtomicUsize::new(0));
    let (sender, receiver) = mpsc::unbounded_channel::<(Record, Response)>();
    for _ in 0..workers {
        let (batch, next, sender, mut cancel) =
            (batch.clone(), next.clone(), sender.clone(), cancel.clone());
        tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = batch.jobs.get(index) else {
                    break;
                };
                let past_deadline = batch.deadline.is_some_and(|d| Instant::now() >= d);
                if *cancel.borrow() || past_deadline || batch.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let result = batch.measure(job, &mut cancel).await;
                if sender.send(result).is_err() {
                    break;
                }
            }
        });
    }
    receiver
}

fn tally(outcome: &mut ExecOutcome, record: &Record) {
    // Cold starts are tallied where they are made.
    match (record.warmup, record.outcome.is_ok()) {
        (true, _) => outcome.warmup += 1,
        (false, true) => outcome.measured_ok += 1,
        (false, false) => outcome.measured_failed += 1,
    }
}
