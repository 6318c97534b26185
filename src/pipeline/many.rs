//! Stage 5 for a run of many cells (more than
//! [`crate::report::FULL_TABLE_CELLS`]): the stored run read back without
//! holding its cells. A first read counts each cell's records; in the
//! second, each cell is summarised as soon as its last record is in
//! ([`CellStream`]), checked against the thresholds ([`CellGate`]), given
//! what joins it from outside requests.jsonl and stored in the run
//! directory's scratch file ([`CellPass`]), which summary.json and
//! cells.csv are then written from.

use super::finish::{monitor_view, CsvStream, RenderOptions};
use crate::aggregate::{CellStream, CellSummary, TokenTally};
use crate::error::AppError;
use crate::report::{CellPass, ReportModel, SpilledCells, ThresholdResult, Violation};
use crate::store::StoredRun;

/// The report model of a run of many cells, without its cells: they are
/// summarised one at a time, as each one's last record is read (a first
/// read counts each cell's records), and stored in the run directory's
/// scratch file that summary.json and cells.csv are written from. Memory
/// holds the open cells, each model's pooled values and, per cell, what
/// the reports need to pick the cells they show.
pub(super) fn model_of_many(
    stored: &StoredRun,
    options: &RenderOptions,
    mut csv: Option<CsvStream>,
) -> Result<(ReportModel, Option<CsvStream>, SpilledCells), AppError> {
    let plan = &stored.plan;
    let mut stream = CellStream::new(plan);
    stored.for_each_record(|record| stream.count(&record))?;
    let checks = stored.checks()?;
    let samples = stored.samples();
    let cells = SpilledCells::create(&stored.dir.path, plan.cells.len())?;
    let mut pass = CellPass::new(&stored.manifest, &checks, &samples, cells);
    let mut gate = CellGate::new(&options.thresholds);
    let mut tokens = TokenTally::default();
    let unreadable = stored.for_each_record(|record| {
        tokens.add(&record);
        pass.add_record(&record);
        if let Some(csv) = &mut csv {
            csv.write(&record);
        }
        if let Some((i, cell)) = stream.add(&record) {
            gate.check(i, &cell);
            pass.take(i, cell);
        }
    })?;
    let mut summary = stream.finish(unreadable, |i, cell| {
        gate.check(i, &cell);
        pass.take(i, cell);
    });
    tokens.attach(&mut summary);
    let dir = stored.dir.path.display().to_string();
    let manifest = &stored.manifest;
    let monitor = |marks, run| monitor_view(manifest, marks, &samples, run);
    let mut many = pass.finish(summary, plan, &dir, monitor)?;
    many.model.slo = plan.slo.clone();
    (many.model.thresholds, many.model.violations) = gate.finish();
    Ok((many.model, csv, many.cells))
}

/// The thresholds checked one cell at a time (a run of many cells), each
/// one's outcome added up: what checking them on all cells at once gives.
struct CellGate<'a> {
    thresholds: &'a [crate::compare::Threshold],
    results: Vec<ThresholdResult>,
    /// Each failed threshold's position in `results`, plan index, violation.
    violations: Vec<(usize, usize, Violation)>,
}

impl<'a> CellGate<'a> {
    fn new(thresholds: &'a [crate::compare::Threshold]) -> CellGate<'a> {
        CellGate {
            thresholds,
            results: Vec::new(),
            violations: Vec::new(),
        }
    }

    /// Checks the thresholds on `cell` (plan index `i`).
    fn check(&mut self, i: usize, cell: &CellSummary) {
        let gate = crate::compare::gate_cells(std::slice::from_ref(cell), self.thresholds);
        if self.results.is_empty() {
            self.results = gate.results;
        } else {
            for (sum, one) in self.results.iter_mut().zip(gate.results) {
                sum.checked += one.checked;
                sum.failed += one.failed;
                sum.not_significant += one.not_significant;
                sum.passed &= one.passed;
            }
        }
        for violation in gate.violations {
            let at = self
                .results
                .iter()
                .position(|r| r.threshold == violation.threshold);
            self.violations
                .push((at.unwrap_or(usize::MAX), i, violation));
        }
    }

    /// Each threshold's outcome and the violations, threshold by threshold
    /// in plan order.
    fn finish(mut self) -> (Vec<ThresholdResult>, Vec<Violation>) {
        self.violations.sort_by_key(|(at, i, _)| (*at, *i));
        let violations = self.violations.into_iter().map(|(_, _, v)| v).collect();
        (self.results, violations)
    }
}
