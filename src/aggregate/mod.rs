//! Aggregation (pure): records → per-cell and per-model statistics. Only
//! measured, successful requests enter latency statistics; warmups are
//! counted, failures are counted by kind with an example message. Records
//! are taken one at a time (`Aggregator`), so a stored run can be summarised
//! while it is read, keeping only the values the statistics need. Load
//! figures and measurement validity are in `load.rs`; per-metric statistics
//! (with bootstrap intervals and outliers) in `metric.rs`.

mod extras;
mod load;
mod metric;
mod sketch;
mod stream;

#[cfg(any(test, feature = "fixtures"))]
pub(crate) use extras::attach_resources;
pub(crate) use extras::{attach_quality, CheckIndex, ResourceTally, TokenAgreement, TokenTally};
pub(crate) use load::{LoadFigures, Validity};
pub(crate) use metric::MetricSummary;
pub(crate) use sketch::RELATIVE_ERROR;
pub(crate) use stream::CellStream;

use crate::metrics::RequestMetrics;
use crate::plan::{Cell, Plan};
use crate::record::{fill_request_metrics, request_metrics};
use crate::record::{Outcome, Record};
use metric::{MetricValues, Values};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// Aggregates of a whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    pub totals: Counts,
    pub cells: Vec<CellSummary>,
    pub models: Vec<GroupSummary>,
    /// Records that could not be read back (a line cut short by a crash).
    pub unreadable_records: usize,
}

/// Request counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    /// Measured requests sent (ok + failed).
    pub measured: u64,
    pub ok: u64,
    pub failed: u64,
    pub warmup: u64,
    /// Failure rate among measured requests, 0..1.
    pub error_rate: f64,
}

/// One kind of failure, with how often it happened and one message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorCount {
    pub kind: String,
    pub count: u64,
    pub example: String,
}

/// Statistics of one cell.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellSummary {
    pub id: String,
    pub model: String,
    pub label: String,
    pub prompt: String,
    pub counts: Counts,
    pub errors: Vec<ErrorCount>,
    /// Metric name → statistics (names as in the glossary, with unit suffix).
    pub metrics: BTreeMap<String, MetricSummary>,
    /// Σ output tokens / (last completion − first send), tokens/s.
    pub throughput_tps: Option<f64>,
    /// Measured requests / (last completion − first send).
    pub request_rate: Option<f64>,
    /// finish_reason → count among successful measured requests.
    pub finish_reasons: BTreeMap<String, u64>,
    /// `[matrix]` axis values of this cell.
    #[serde(default)]
    pub matrix: BTreeMap<String, serde_json::Value>,
    /// Closed loop: the requested concurrency (also under `load`; here for charts).
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Requested and achieved load, goodput.
    #[serde(default)]
    pub load: LoadFigures,
    /// Dispatch lag, chunks per request, tokens per chunk, early stops, cache hits.
    #[serde(default)]
    pub validity: Validity,
    /// Share of responses passing all their checks (cells with checks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<crate::quality::PassRate>,
    /// CPU, memory, server and GPU figures over the cell's window (with a monitor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<crate::monitor::WindowSummary>,
    /// Why the cell was not run: its `[server.matrix]` point's server did
    /// not start. Absent for a cell that ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_run: Option<String>,
}

/// Statistics pooled over several cells (per model).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupSummary {
    pub name: String,
    pub label: String,
    pub cells: usize,
    pub counts: Counts,
    pub metrics: BTreeMap<String, MetricSummary>,
    /// Cold starts (model unloaded first), when `[run] cold_start` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<ColdStart>,
    /// Share of the model's responses passing all their checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<crate::quality::PassRate>,
    /// Token count sources and their agreement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenAgreement>,
}

/// Cold-start measurements of one model: requests that had to load it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdStart {
    pub counts: Counts,
    pub errors: Vec<ErrorCount>,
    /// `load_ms` (server: Ollama load_duration), `ttft_ms` and `e2e_ms`
    /// (client, load included), and the other per-request metrics.
    pub metrics: BTreeMap<String, MetricSummary>,
    /// Successful cold starts whose stamps break an invariant (kept out of
    /// the statistics; see `Validity::timing_violations`).
    #[serde(default)]
    pub timing_violations: u64,
    /// Successful cold starts whose load_duration shows no load (under
    /// [`COLD_LOAD_MIN_MS`], or missing): the model was still loaded, so
    /// they are no cold starts and are left out of `metrics`.
    #[serde(default)]
    pub not_loaded: u64,
}

/// A cold start whose Ollama load_duration is below this did not load the
/// model: a loaded model's load_duration is the scheduler's hand-over, tens
/// of µs to a few ms; starting a runner and reading weights takes far more.
pub(crate) const COLD_LOAD_MIN_MS: f64 = 20.0;

/// Whether a cold start's server figures show that the model was loaded.
fn shows_a_load(record: &Record) -> bool {
    record
        .server
        .load_duration_ns
        .is_some_and(|ns| ns as f64 / 1e6 >= COLD_LOAD_MIN_MS)
}

/// Aggregates `records` along `plan`'s cells (held in memory: for tests and
/// fixtures; runs stream theirs through [`Aggregator`]).
#[cfg(any(test, feature = "fixtures"))]
pub(crate) fn aggregate(plan: &Plan, records: &[Record], unreadable_records: usize) -> RunSummary {
    let mut aggregator = Aggregator::new(plan);
    for record in records {
        aggregator.add(record);
    }
    aggregator.finish(unreadable_records)
}

/// Aggregation one record at a time: [`aggregate`] without needing every
/// record at once (`llmbench report` feeds it while reading the file).
pub struct Aggregator<'p> {
    plan: &'p Plan,
    /// Cell id → index into `plan.cells` and `cells`.
    index: HashMap<&'p str, usize, BuildHasherDefault<IdHasher>>,
    cells: Tallies,
    /// Cold starts by model name, summarised apart from the warm cells.
    cold: HashMap<String, Tally>,
    /// Reused for each record's metrics (no allocation per record).
    scratch: RequestMetrics,
    /// Values held exactly, over every tally (see [`VALUE_BUDGET`]).
    held: usize,
    /// The next `held` at which stores are sketched (above the budget when
    /// only small stores were left to sketch, so the scan is not repeated
    /// for every record).
    check_at: usize,
    /// [`VALUE_BUDGET`], or a test's own.
    budget: usize,
}

/// The most metric values the aggregation holds exactly, over all cells
/// and metrics (8 bytes each: 64 MiB). Past it the largest stores of values
/// turn into bounded-memory sketches ([`Sketch`]) until half the budget is
/// free, so memory no longer grows with the run; their percentiles then
/// carry the sketch's stated relative error ([`RELATIVE_ERROR`]).
pub(crate) const VALUE_BUDGET: usize = 8 * 1024 * 1024;

/// Hands the memory of the freed value stores back to the system. glibc
/// raises its mmap threshold after large frees, so the next stores grow on
/// the heap, and the freed ones stay in the process unless trimmed: without
/// this, peak RSS still grew by ~25 MB per million records.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Stores smaller than this stay exact: a sketch would not be smaller.
const SKETCH_FROM: usize = 16 * 1024;

impl<'p> Aggregator<'p> {
    pub fn new(plan: &'p Plan) -> Aggregator<'p> {
        Aggregator::with_budget(plan, VALUE_BUDGET)
    }

    /// An aggregator that holds at most `budget` values exactly.
    pub(crate) fn with_budget(plan: &'p Plan, budget: usize) -> Aggregator<'p> {
        let all = Tallies::All(plan.cells.iter().map(|_| Tally::default()).collect());
        Aggregator::with_tallies(plan, budget, all)
    }

    /// An aggregator holding only the tallies of open cells (see
    /// [`CellStream`]): none at first, not one per cell.
    fn streaming(plan: &'p Plan) -> Aggregator<'p> {
        Aggregator::with_tallies(plan, VALUE_BUDGET, Tallies::Open(HashMap::new()))
    }

    fn with_tallies(plan: &'p Plan, budget: usize, cells: Tallies) -> Aggregator<'p> {
        let index = plan
            .cells
            .iter()
            .enumerate()
            .map(|(i, cell)| (cell.id.as_str(), i))
            .collect();
        Aggregator {
            plan,
            index,
            cells,
            cold: HashMap::new(),
            scratch: RequestMetrics::default(),
            held: 0,
            check_at: budget,
            budget,
        }
    }

    /// Closes cell `i` (plan index): its tally, no longer counted in the budget.
    fn close(&mut self, i: usize) -> Tally {
        let tally = self.cells.take(i);
        self.held -= tally.held;
        tally
    }

    /// Keeps the values held within [`VALUE_BUDGET`]: once past it, the
    /// largest stores become sketches until half the budget is free.
    fn keep_within_budget(&mut self) {
        if self.held <= self.check_at {
            return;
        }
        let mut stores: Vec<&mut Values> = self
            .cells
            .iter_mut()
            .chain(self.cold.values_mut())
            .flat_map(|tally| tally.stores_mut())
            .filter(|store| store.held() >= SKETCH_FROM.min(self.budget / 8))
            .collect();
        stores.sort_by_key(|store| std::cmp::Reverse(store.held()));
        let mut freed = 0;
        for store in stores {
            if self.held - freed <= self.budget / 2 {
                break;
            }
            freed += store.sketch();
        }
        self.held -= freed;
        for tally in self.cells.iter_mut().chain(self.cold.values_mut()) {
            tally.held = tally.stores_mut().map(|s| s.held()).sum();
        }
        self.check_at = self.budget.max(self.held + self.budget / 2);
        release_freed_memory();
    }

    /// Takes one record into account. Records of cells not in the plan are
    /// ignored (except cold starts, which count for their model).
    pub fn add(&mut self, record: &Record) {
        if record.cold {
            if !self.cold.contains_key(&record.model) {
                self.cold.insert(record.model.clone(), Tally::default());
            }
            if let Some(tally) = self.cold.get_mut(&record.model) {
                let before = tally.held;
                tally.add_cold(record);
                self.held += tally.held - before;
            }
        } else if let Some(&i) = self.index.get(record.cell.as_str()) {
            let cell = &self.plan.cells[i];
            let slo = self.plan.slo.as_ref();
            let tally = self.cells.get_mut(i);
            let before = tally.held;
            tally.add(cell, slo, record, &mut self.scratch);
            self.held += tally.held - before;
        }
        self.keep_within_budget();
    }

    /// The summary of everything added.
    pub fn finish(self, unreadable_records: usize) -> RunSummary {
        let Aggregator {
            plan,
            cells,
            mut cold,
            ..
        } = self;
        let tallies = cells.into_all(plan.cells.len());
        let (cells, pooled) = summarize(plan, &tallies);
        drop(tallies);
        let mut models = summarize_models(plan, &cells, pooled);
        for model in &mut models {
            if let Some(tally) = cold.remove(&model.name) {
                model.cold_start = Some(tally.cold_summary());
            }
        }
        let totals = sum_counts(cells.iter().map(|c| &c.counts));
        RunSummary {
            totals,
            cells,
            models,
            unreadable_records,
        }
    }
}

/// The tallies of the plan's cells.
enum Tallies {
    /// One per plan cell, summarised together at the end.
    All(Vec<Tally>),
    /// Only the cells still open, by plan index: a run of many cells is
    /// summarised a cell at a time as each one's records are complete
    /// ([`CellStream`]), so memory holds the open cells, not all of them.
    Open(HashMap<usize, Tally>),
}

impl Tallies {
    fn get_mut(&mut self, i: usize) -> &mut Tally {
        match self {
            Tallies::All(all) => &mut all[i],
            Tallies::Open(open) => open.entry(i).or_default(),
        }
    }

    /// Closes cell `i`: its tally (an empty one when it had no records).
    fn take(&mut self, i: usize) -> Tally {
        match self {
            Tallies::All(all) => std::mem::take(&mut all[i]),
            Tallies::Open(open) => open.remove(&i).unwrap_or_default(),
        }
    }

    fn iter_mut(&mut self) -> Box<dyn Iterator<Item = &mut Tally> + '_> {
        match self {
            Tallies::All(all) => Box::new(all.iter_mut()),
            Tallies::Open(open) => Box::new(open.values_mut()),
        }
    }

    /// One tally per plan cell, in plan order (`n` cells).
    fn into_all(self, n: usize) -> Vec<Tally> {
        match self {
            Tallies::All(all) => all,
            Tallies::Open(mut open) => (0..n)
                .map(|i| open.remove(&i).unwrap_or_default())
                .collect(),
        }
    }
}

/// Hashes cell ids a word at a time (Fx-style): SipHash of the 64-byte id
/// was a visible share of adding a record. The ids come from the plan and
/// the run's own files, so there is no adversary to resist.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// What the statistics of one cell (or of one model's cold starts) need.
#[derive(Debug)]
struct Tally {
    /// Every record (warmups included).
    records: u64,
    warmup: u64,
    /// Measured (cells) or all (cold starts) successful requests.
    ok: u64,
    errors: BTreeMap<String, ErrorCount>,
    finish_reasons: BTreeMap<String, u64>,
    /// First send and last completion among successful requests, ms.
    first_send: Option<f64>,
    last_completion: Option<f64>,
    /// Σ output tokens of successful requests; `None` once one has no count.
    output_tokens: Option<u64>,
    values: MetricValues,
    load: load::CellTally,
    /// Cold starts: successful ones whose stamps break an invariant.
    timing_violations: u64,
    /// Cold starts: successful ones whose load_duration shows no load.
    not_loaded: u64,
    /// Values held exactly by `values` and `load`.
    held: usize,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            records: 0,
            warmup: 0,
            ok: 0,
            errors: BTreeMap::new(),
            finish_reasons: BTreeMap::new(),
            first_send: None,
            last_completion: None,
            output_tokens: Some(0),
            values: MetricValues::default(),
            load: load::CellTally::default(),
            timing_violations: 0,
            not_loaded: 0,
            held: 0,
        }
    }
}

impl Tally {
    /// Takes a record of `cell`; `metrics` is a buffer to reuse for its
    /// metrics (one for all cells: it stays in the cache).
    fn add(
        &mut self,
        cell: &Cell,
        slo: Option<&crate::experiment::Slo>,
        record: &Record,
        metrics: &mut RequestMetrics,
    ) {
        self.records += 1;
        if record.warmup {
            self.warmup += 1;
            return;
        }
        self.count_error(record);
        if !record.outcome.is_ok() {
            self.held += self.load.add(cell, slo, record, None);
            return;
        }
        if let Some(violation) = record.timing.violation() {
            // Never silently used: counted and warned about, kept out of
            // every statistic.
            self.ok += 1;
            self.held += self.load.add(cell, slo, record, None);
            self.load.add_violation(record, violation);
            return;
        }
        fill_request_metrics(record, metrics);
        if self.ok == 0 && cell.duration_s.is_none() {
            // Room for the planned requests at once instead of growing by
            // doubling (each growth a copy, for many small cells).
            let planned = cell.repetitions as usize;
            self.values.reserve_for(planned, metrics);
            self.load.reserve_for(planned);
        }
        self.held += self.load.add(cell, slo, record, Some(metrics));
        self.add_ok(record, metrics);
    }

    /// A cold start: all of them, warmup or not, as the model's cold figures.
    fn add_cold(&mut self, record: &Record) {
        self.records += 1;
        self.warmup += u64::from(record.warmup);
        self.count_error(record);
        if !record.outcome.is_ok() {
            return;
        }
        if record.timing.violation().is_some() {
            self.ok += u64::from(!record.warmup);
            self.timing_violations += 1;
            return;
        }
        if !shows_a_load(record) {
            self.ok += u64::from(!record.warmup);
            self.not_loaded += 1;
            return;
        }
        self.add_ok(record, &request_metrics(record));
    }

    fn count_error(&mut self, record: &Record) {
        if let Outcome::Error { kind, message } = &record.outcome {
            let entry = self
                .errors
                .entry(kind.as_str().to_string())
                .or_insert_with(|| ErrorCount {
                    kind: kind.as_str().to_string(),
                    count: 0,
                    example: message.clone(),
                });
            entry.count += 1;
        }
    }

    fn add_ok(&mut self, record: &Record, metrics: &RequestMetrics) {
        self.ok += u64::from(!record.warmup);
        let reason = record.finish_reason.as_deref().unwrap_or("unknown");
        match self.finish_reasons.get_mut(reason) {
            Some(count) => *count += 1,
            None => {
                self.finish_reasons.insert(reason.to_string(), 1);
            }
        }
        let send = record.run_offset_ms;
        self.first_send = Some(self.first_send.map_or(send, |first| first.min(send)));
        if let Some(e2e) = record.timing.e2e_ms {
            let end = send + e2e;
            self.last_completion = Some(self.last_completion.map_or(end, |last| last.max(end)));
        }
        self.output_tokens = self
            .output_tokens
            .zip(record.tokens.output)
            .map(|(a, b)| a + b);
        self.held += self.values.add(metrics);
    }

    /// Every store of values this tally holds.
    fn stores_mut(&mut self) -> impl Iterator<Item = &mut Values> {
        self.values.stores_mut().chain(self.load.stores_mut())
    }

    fn counts(&self) -> Counts {
        let measured = self.records - self.warmup;
        finish_counts(Counts {
            measured,
            ok: self.ok,
            failed: measured - self.ok,
            warmup: self.warmup,
            error_rate: 0.0,
        })
    }

    /// From the first send to the last completion, in seconds.
    fn window_s(&self) -> Option<f64> {
        let (first, last) = (self.first_send?, self.last_completion?);
        (last > first).then(|| (last - first) / 1e3)
    }

    fn cold_summary(self) -> ColdStart {
        ColdStart {
            counts: self.counts(),
            errors: self.errors.into_values().collect(),
            metrics: self.values.summarize(),
            timing_violations: self.timing_violations,
            not_loaded: self.not_loaded,
        }
    }
}

/// Model name → metric name → statistics.
type Pooled = HashMap<String, BTreeMap<String, MetricSummary>>;

/// Every cell's summary, in plan order, and the statistics of each model
/// with more than one cell over all its cells' values (pooled in plan
/// order and read where they are, not copied together; a model with one
/// cell reuses that cell's statistics). Every metric of every cell and
/// pool is one job, and two threads take the jobs largest first, so the
/// few large ones overlap with the many small ones.
fn summarize(plan: &Plan, tallies: &[Tally]) -> (Vec<CellSummary>, Pooled) {
    let mut jobs: Vec<Job> = Vec::new();
    for (i, tally) in tallies.iter().enumerate() {
        for (name, values) in tally.values.named() {
            jobs.push(Job::cell(i, name, vec![values]));
        }
        for (k, values) in tally.load.validity_values().into_iter().enumerate() {
            jobs.push(Job::cell(i, VALIDITY[k], vec![values]));
        }
    }
    for (model, cells) in cells_by_model(plan, tallies) {
        if cells.len() > 1 {
            for (name, parts) in MetricValues::pooled(&cells) {
                jobs.push(Job {
                    owner: Owner::Model(model),
                    name,
                    parts,
                });
            }
        }
    }
    // Largest first (stable: ties keep plan order).
    jobs.sort_by_key(|job| std::cmp::Reverse(job.size()));
    // Two threads: this machine has at least two cores.
    let results = crate::util::map_parallel(&jobs, 2, |job| MetricSummary::of_values(&job.parts));
    let mut by_cell: Vec<BTreeMap<&str, MetricSummary>> =
        tallies.iter().map(|_| BTreeMap::new()).collect();
    let mut pooled = Pooled::new();
    for (job, result) in jobs.iter().zip(results) {
        let Some(summary) = result else { continue };
        match job.owner {
            Owner::Cell(i) => {
                by_cell[i].insert(job.name, summary);
            }
            Owner::Model(model) => {
                pooled
                    .entry(model.to_string())
                    .or_default()
                    .insert(job.name.to_string(), summary);
            }
        }
    }
    let cells = plan
        .cells
        .iter()
        .zip(tallies)
        .zip(by_cell)
        .map(|((cell, tally), metrics)| summarize_cell(plan, cell, tally, metrics))
        .collect();
    (cells, pooled)
}

/// Names of the validity figures' jobs (not metric names: they go to
/// `validity`, in [`load::CellTally::validity_values`] order).
const VALIDITY: [&str; 3] = ["validity:chunks", "validity:per_chunk", "validity:lags"];

/// One metric of one cell or of one model's pool.
struct Job<'a> {
    owner: Owner<'a>,
    name: &'static str,
    /// The values, one after the other.
    parts: Vec<&'a Values>,
}

#[derive(Clone, Copy)]
enum Owner<'a> {
    /// Index into the plan's cells.
    Cell(usize),
    Model(&'a str),
}

impl<'a> Job<'a> {
    fn cell(i: usize, name: &'static str, parts: Vec<&'a Values>) -> Job<'a> {
        Job {
            owner: Owner::Cell(i),
            name,
            parts,
        }
    }

    fn size(&self) -> usize {
        self.parts.iter().map(|part| part.len()).sum()
    }
}

/// Each model's cells' values, models in plan order.
fn cells_by_model<'a>(
    plan: &'a Plan,
    tallies: &'a [Tally],
) -> Vec<(&'a str, Vec<&'a MetricValues>)> {
    let mut models: Vec<(&str, Vec<&MetricValues>)> = Vec::new();
    for (cell, tally) in plan.cells.iter().zip(tallies) {
        match models.iter_mut().find(|(model, _)| *model == cell.model) {
            Some((_, cells)) => cells.push(&tally.values),
            None => models.push((&cell.model, vec![&tally.values])),
        }
    }
    models
}

fn summarize_cell(
    plan: &Plan,
    cell: &Cell,
    tally: &Tally,
    mut metrics: BTreeMap<&str, MetricSummary>,
) -> CellSummary {
    let window = tally.window_s();
    let counts = tally.counts();
    let load = tally.load.load_figures(cell, plan.slo.as_ref(), window);
    let validity = VALIDITY.map(|name| metrics.remove(name));
    CellSummary {
        id: cell.id.clone(),
        model: cell.model.clone(),
        label: cell.label.clone(),
        prompt: cell.prompt.clone(),
        errors: tally.errors.values().cloned().collect(),
        metrics: metrics
            .into_iter()
            .map(|(name, summary)| (name.to_string(), summary))
            .collect(),
        throughput_tps: window.zip(tally.output_tokens).map(|(w, t)| t as f64 / w),
        request_rate: window.map(|w| counts.ok as f64 / w),
        counts,
        finish_reasons: tally.finish_reasons.clone(),
        matrix: cell.matrix.iter().cloned().collect(),
        concurrency: match cell.load {
            crate::experiment::Load::Closed { concurrency } => Some(concurrency),
            crate::experiment::Load::Open { .. } => None,
        },
        load,
        validity: tally.load.validity(validity),
        quality: None,
        monitor: None,
        not_run: None,
    }
}

fn summarize_models(plan: &Plan, cells: &[CellSummary], mut pooled: Pooled) -> Vec<GroupSummary> {
    let mut groups: Vec<GroupSummary> = Vec::new();
    for cell in &plan.cells {
        if groups.iter().any(|g| g.name == cell.model) {
            continue;
        }
        let mine: Vec<&CellSummary> = cells.iter().filter(|c| c.model == cell.model).collect();
        let metrics = match pooled.remove(&cell.model) {
            Some(metrics) => metrics,
            // One cell: its statistics are the model's.
            None => mine.first().map(|c| c.metrics.clone()).unwrap_or_default(),
        };
        groups.push(GroupSummary {
            name: cell.model.clone(),
            label: cell.label.clone(),
            cells: mine.len(),
            counts: sum_counts(mine.iter().map(|c| &c.counts)),
            metrics,
            cold_start: None,
            quality: None,
            tokens: None,
        });
    }
    groups
}

fn sum_counts<'a>(all: impl Iterator<Item = &'a Counts>) -> Counts {
    let total = all.fold(Counts::default(), |acc, c| Counts {
        measured: acc.measured + c.measured,
        ok: acc.ok + c.ok,
        failed: acc.failed + c.failed,
        warmup: acc.warmup + c.warmup,
        error_rate: 0.0,
    });
    finish_counts(total)
}

fn finish_counts(mut counts: Counts) -> Counts {
    counts.error_rate = if counts.measured == 0 {
        0.0
    } else {
        counts.failed as f64 / counts.measured as f64
    };
    counts
}

/// How to pull a metric from a request.
type Getter = fn(&RequestMetrics) -> Option<f64>;
/// Every metric name a cell's `metrics` may hold, in report order (the
/// scalar ones below plus `chunk_gap_ms` and `token_gap_ms`), from the
/// metric registry. Thresholds and templates check names against this list.
pub(crate) const METRIC_NAMES: [&str; 13] = crate::metrics::registry::NAMES;

/// The registry's metrics with one value per request, with their getters.
const SCALAR_METRICS: [(&str, Getter); 11] = crate::metrics::registry::SCALARS;

#[cfg(test)]
mod tests;
