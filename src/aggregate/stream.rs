//! `CellStream`: the aggregation of a run of many cells, one cell at a
//! time. A first read of the records counts each cell's records; in the
//! second, a cell is summarised as soon as its last record has been added,
//! and its tally is dropped, so memory holds the cells still open (one, in
//! a closed-loop run), not every cell. Each model pools its cells' values as
//! they close (exact while they fit, then a sketch), for the same per-model
//! statistics as the in-memory aggregation. Records need not be in cell
//! order: a cell closes at its last record, wherever that is.

use super::metric::MetricValues;
use super::{finish_counts, summarize_cell, Aggregator, CellSummary, Counts, GroupSummary};
use super::{MetricSummary, Plan, Record, RunSummary, Tally, VALIDITY, VALUE_BUDGET};
use std::collections::BTreeMap;

/// A model's pooled store holding more values than this exactly turns into
/// a sketch (8 bytes each: 2 MiB per store).
const POOL_EXACT: usize = VALUE_BUDGET / 32;

/// Aggregation of a run one cell at a time: [`CellStream::count`] every
/// record, then [`CellStream::add`] them again in the same order.
pub(crate) struct CellStream<'p> {
    aggregator: Aggregator<'p>,
    /// Per plan cell: its records not yet added.
    remaining: Vec<u32>,
    /// Per plan cell: whether its summary has been handed out.
    closed: Vec<bool>,
    /// Per plan cell: its model's index in `models`.
    model_of: Vec<usize>,
    models: Vec<ModelPool>,
}

/// What a model's statistics need from its closed cells.
struct ModelPool {
    name: String,
    label: String,
    cells: usize,
    counts: Counts,
    values: MetricValues,
}

impl<'p> CellStream<'p> {
    pub(crate) fn new(plan: &'p Plan) -> CellStream<'p> {
        let mut models: Vec<ModelPool> = Vec::new();
        let model_of = plan
            .cells
            .iter()
            .map(
                |cell| match models.iter().position(|m| m.name == cell.model) {
                    Some(i) => i,
                    None => {
                        models.push(ModelPool {
                            name: cell.model.clone(),
                            label: cell.label.clone(),
                            cells: 0,
                            counts: Counts::default(),
                            values: MetricValues::default(),
                        });
                        models.len() - 1
                    }
                },
            )
            .collect();
        CellStream {
            aggregator: Aggregator::streaming(plan),
            remaining: vec![0; plan.cells.len()],
            closed: vec![false; plan.cells.len()],
            model_of,
            models,
        }
    }

    /// The plan index of `record`'s cell; `None` for cold starts (they
    /// count for their model) and cells not in the plan.
    fn cell_of(&self, record: &Record) -> Option<usize> {
        if record.cold {
            return None;
        }
        self.aggregator.index.get(record.cell.as_str()).copied()
    }

    /// First read: counts `record` for its cell.
    pub(crate) fn count(&mut self, record: &Record) {
        if let Some(i) = self.cell_of(record) {
            self.remaining[i] = self.remaining[i].saturating_add(1);
        }
    }

    /// Second read: adds `record`; the summary of its cell when it was the
    /// cell's last one, with the cell's plan index. A record of a cell already closed (one written
    /// after the first read) is left out.
    pub(crate) fn add(&mut self, record: &Record) -> Option<(usize, CellSummary)> {
        let cell = self.cell_of(record);
        if cell.is_some_and(|i| self.closed[i]) {
            return None;
        }
        self.aggregator.add(record);
        let i = cell?;
        self.remaining[i] = self.remaining[i].saturating_sub(1);
        (self.remaining[i] == 0).then(|| (i, self.close(i)))
    }

    /// Summarises cell `i` and pools its values into its model's.
    fn close(&mut self, i: usize) -> CellSummary {
        self.closed[i] = true;
        let tally = self.aggregator.close(i);
        let plan = self.aggregator.plan;
        let summary = summarize_one(plan, i, &tally);
        let model = &mut self.models[self.model_of[i]];
        model.cells += 1;
        model.counts = add_counts(&model.counts, &summary.counts);
        model.values.absorb(&tally.values, POOL_EXACT);
        summary
    }

    /// Hands `each` the plan index and summary of every cell not closed
    /// yet (no records, or fewer than counted), in plan order, and returns the run's summary
    /// without its cells: totals, models (with cold starts).
    pub(crate) fn finish(
        mut self,
        unreadable_records: usize,
        mut each: impl FnMut(usize, CellSummary),
    ) -> RunSummary {
        for i in 0..self.closed.len() {
            if !self.closed[i] {
                each(i, self.close(i));
            }
        }
        let mut cold = std::mem::take(&mut self.aggregator.cold);
        let models: Vec<GroupSummary> = self
            .models
            .into_iter()
            .map(|pool| GroupSummary {
                cold_start: cold.remove(&pool.name).map(Tally::cold_summary),
                metrics: pool.values.summarize(),
                counts: finish_counts(pool.counts),
                name: pool.name,
                label: pool.label,
                cells: pool.cells,
                quality: None,
                tokens: None,
            })
            .collect();
        let totals = models
            .iter()
            .fold(Counts::default(), |acc, m| add_counts(&acc, &m.counts));
        RunSummary {
            totals: finish_counts(totals),
            cells: Vec::new(),
            models,
            unreadable_records,
        }
    }
}

/// The summary of cell `i` from its tally: what `summarize` gives it.
fn summarize_one(plan: &Plan, i: usize, tally: &Tally) -> CellSummary {
    let mut metrics: BTreeMap<&str, MetricSummary> = BTreeMap::new();
    let validity = tally.load.validity_values();
    let named = tally.values.named().into_iter();
    for (name, values) in named.chain(VALIDITY.into_iter().zip(validity)) {
        if let Some(summary) = MetricSummary::of_values(&[values]) {
            metrics.insert(name, summary);
        }
    }
    summarize_cell(plan, &plan.cells[i], tally, metrics)
}

fn add_counts(a: &Counts, b: &Counts) -> Counts {
    Counts {
        measured: a.measured + b.measured,
        ok: a.ok + b.ok,
        failed: a.failed + b.failed,
        warmup: a.warmup + b.warmup,
        error_rate: 0.0,
    }
}
