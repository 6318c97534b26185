//! Stage 5, finish: aggregation and report rendering, shared by `exec` (at
//! the end of a run) and `llmbench report` (from a stored run). The stored
//! run is read back through `StoredRun`, its records as a stream: each one
//! feeds the aggregation, the token and resource tallies and requests.csv,
//! and is dropped, so memory holds the statistics' values, not the run. A
//! run of many cells does not hold its cells' summaries either (`many.rs`).

use super::many::model_of_many;
use super::open::OpenRun;
use crate::aggregate::{attach_quality, Aggregator, ResourceTally, RunSummary, TokenTally};
use crate::cli::exit;
use crate::error::AppError;
use crate::exec::ExecOutcome;
use crate::experiment::ReportFormat;
use crate::monitor::{Sample, WindowSummary};
use crate::record::Record;
use crate::report::{cell_mark, write_large_reports, FULL_TABLE_CELLS};
use crate::report::{request_line, MonitorView, TimelinePoint, REQUESTS_CSV, REQUESTS_CSV_HEADER};
use crate::report::{select_templates, summary_table, user_template, write_reports, ReportModel};
use crate::store::{RunManifest, StoreError, StoredRun, SUMMARY_FILE};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

pub(crate) struct RenderOptions {
    pub formats: Vec<ReportFormat>,
    pub templates: Vec<PathBuf>,
    pub print_table: bool,
    /// `[thresholds]` of the experiment, checked on the summary.
    pub thresholds: Vec<crate::compare::Threshold>,
}

/// Renders the reports of a run that has been post-processed, with the
/// experiment's templates and `templates`, and checks its thresholds.
/// Returns the run's exit code.
pub(crate) fn finish(
    run: &mut OpenRun<'_>,
    outcome: &ExecOutcome,
    templates: &[PathBuf],
) -> Result<u8, AppError> {
    let report = &run.experiment.report;
    let options = RenderOptions {
        formats: report.formats.clone(),
        templates: [report.templates.as_slice(), templates].concat(),
        print_table: true,
        thresholds: run.experiment.thresholds.clone(),
    };
    // plan.json was written from this plan: it is lent to the stored run
    // (and given back) rather than read again, so memory holds one copy.
    // (A run directory that cannot be read back ends the run, cells lent.)
    let cells = std::mem::take(&mut run.plan.cells);
    let mut plan = run.plan.clone();
    plan.cells = cells;
    let stored = StoredRun::open_with_plan(&run.dir.path, plan)?;
    let finished = finish_run(&stored, &options);
    run.plan.cells = stored.plan.cells;
    let finished = finished?;
    let failed: Vec<_> = run
        .manifest
        .managed_server
        .iter()
        .flat_map(|facts| facts.failed_points())
        .collect();
    Ok(super::exit_code(outcome, &failed, finished.code))
}

/// What rendering a run came to, as an exit code: 0, 5 (a template failed)
/// or 6 (a threshold failed).
pub(crate) struct Finished {
    pub code: u8,
}

/// Reads the stored run back, writes summary.json and the reports, and
/// checks the thresholds. A failed template does not stop the others.
pub(crate) fn finish_run(
    stored: &StoredRun,
    options: &RenderOptions,
) -> Result<Finished, AppError> {
    let run = &stored.dir;
    // Templates first: one that is refused must leave the run untouched.
    let user = options
        .templates
        .iter()
        .map(|path| user_template(path))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AppError::caused_by(exit::BAD_INPUT, e))?;
    let csv = options
        .formats
        .contains(&ReportFormat::Csv)
        .then(|| CsvStream::create(run.file(REQUESTS_CSV)));
    let templates = select_templates(&options.formats, user);
    let (model, csv, mut written, mut errors) = if stored.plan.cells.len() > FULL_TABLE_CELLS {
        let (mut model, csv, mut cells) = model_of_many(stored, options, csv)?;
        cells.write_summary(&run.path, &model)?;
        let (written, errors) = write_large_reports(&run.path, &templates, &mut model, &mut cells);
        (model, csv, written, errors)
    } else {
        let (model, csv) = model_of_all(stored, options, csv)?;
        run.write_json(SUMMARY_FILE, &model)?;
        let (written, errors) = write_reports(&run.path, &templates, &model);
        (model, csv, written, errors)
    };
    if let Some(csv) = csv {
        match csv.finish() {
            Ok(path) => written.push(path),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let print = |text: &str| crate::util::print(text).map_err(AppError::from);
    if options.print_table {
        print(&summary_table(&model.cells))?;
        if let Some(selection) = &model.cell_selection {
            print(&selection.note)?;
        }
    }
    for error in &errors {
        eprintln!("error: {error}");
    }
    print(&format!("run: {}", run.path.display()))?;
    for path in &written {
        print(&format!("report: {}", path.display()))?;
    }
    let code = match report_violations(&model.violations) {
        exit::OK if !errors.is_empty() => exit::TEMPLATE,
        code => code,
    };
    Ok(Finished { code })
}

/// The report model of a run of at most [`FULL_TABLE_CELLS`] cells, every
/// cell in it, and requests.csv when asked for.
fn model_of_all(
    stored: &StoredRun,
    options: &RenderOptions,
    csv: Option<CsvStream>,
) -> Result<(ReportModel, Option<CsvStream>), AppError> {
    let read = read_run(stored, csv)?;
    let mut summary = read.summary;
    read.tokens.attach(&mut summary);
    attach_quality(&mut summary, &stored.checks()?);
    let samples = stored.samples();
    let run_window = read.resources.attach(&mut summary, &samples);
    let dir = stored.dir.path.display().to_string();
    let mut model = ReportModel::new(&stored.manifest, summary, &dir);
    model.slo = stored.plan.slo.clone();
    let marks = model
        .cells
        .iter()
        .filter_map(|cell| Some(cell_mark(cell, *read.cell_starts.get(cell.id.as_str())?)))
        .collect();
    model.monitor = monitor_view(&stored.manifest, marks, &samples, run_window);
    model.add_monitor_warnings();
    let gate = crate::compare::gate_cells(&model.cells, &options.thresholds);
    (model.thresholds, model.violations) = (gate.results, gate.violations);
    Ok((model, read.csv))
}

/// What reading a run's records gave: the summary and what else the
/// report needs from the records, so that no record outlives its line.
struct ReadRun {
    summary: RunSummary,
    tokens: TokenTally,
    resources: ResourceTally,
    /// Cell id → the first send of any of its requests, ms.
    cell_starts: HashMap<String, f64>,
    csv: Option<CsvStream>,
}

/// Streams the records (with their after-run token counts) through the
/// aggregation and, when asked, into requests.csv.
fn read_run(stored: &StoredRun, mut csv: Option<CsvStream>) -> Result<ReadRun, AppError> {
    let mut aggregator = Aggregator::new(&stored.plan);
    let mut tokens = TokenTally::default();
    let mut resources = ResourceTally::default();
    let mut cell_starts: HashMap<String, f64> = HashMap::new();
    let unreadable = stored.for_each_record(|record| {
        aggregator.add(&record);
        tokens.add(&record);
        resources.add(&record);
        match cell_starts.get_mut(record.cell.as_str()) {
            Some(start) => *start = start.min(record.run_offset_ms),
            None => {
                cell_starts.insert(record.cell.clone(), record.run_offset_ms);
            }
        }
        if let Some(csv) = &mut csv {
            csv.write(&record);
        }
    })?;
    Ok(ReadRun {
        summary: aggregator.finish(unreadable),
        tokens,
        resources,
        cell_starts,
        csv,
    })
}

/// requests.csv written a row at a time while the records are read. A write
/// error stops the rows and is reported at the end, like a failed template.
pub(super) struct CsvStream {
    path: PathBuf,
    file: Result<BufWriter<File>, std::io::Error>,
}

impl CsvStream {
    fn create(path: PathBuf) -> CsvStream {
        let header = format!("{}\n", REQUESTS_CSV_HEADER.join(","));
        let file = File::create(&path)
            .map(BufWriter::new)
            .and_then(|mut file| file.write_all(header.as_bytes()).map(|()| file));
        CsvStream { path, file }
    }

    pub(super) fn write(&mut self, record: &Record) {
        let Ok(file) = &mut self.file else { return };
        if let Err(e) = file.write_all(request_line(record).as_bytes()) {
            self.file = Err(e);
        }
    }

    /// The file's path once every row is on disk, or what went wrong.
    fn finish(self) -> Result<PathBuf, StoreError> {
        let written = self.file.and_then(|mut file| file.flush());
        written.map_err(|e| StoreError::new(&self.path, e))?;
        Ok(self.path)
    }
}

/// At most this many samples go into the report (charts need no more).
const MAX_TIMELINE_POINTS: usize = 600;

/// The monitor's part of the report: GPU status, run-level figures, a
/// thinned timeline and where each cell began (`windows`).
pub(super) fn monitor_view(
    manifest: &RunManifest,
    windows: Vec<serde_json::Value>,
    samples: &[Sample],
    run: Option<WindowSummary>,
) -> Option<MonitorView> {
    let facts = serde_json::to_value(manifest.monitor.as_ref()?).ok()?;
    let step = samples.len().div_ceil(MAX_TIMELINE_POINTS).max(1);
    Some(MonitorView {
        gpus: samples
            .iter()
            .rev()
            .find(|s| !s.gpus.is_empty())
            .map(|s| s.gpus.clone())
            .unwrap_or_default(),
        facts,
        run,
        timeline: samples
            .iter()
            .step_by(step)
            .map(TimelinePoint::from)
            .collect(),
        windows,
    })
}

/// Prints each failed threshold; the exit code says whether any failed.
pub(crate) fn report_violations(violations: &[crate::compare::Violation]) -> u8 {
    for violation in violations {
        eprintln!("threshold failed: {}", violation.message);
    }
    if violations.is_empty() {
        exit::OK
    } else {
        exit::THRESHOLD
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use crate::store::{RecordWriter, RunDir, MANIFEST_FILE, PLAN_FILE};

    /// A stored run of the fixture's cells copied `copies` times (ids
    /// suffixed), the last cell without records, every warmup written
    /// before the measured requests (a cell's records are not together).
    fn stored_copies(root: &std::path::Path, copies: usize) -> StoredRun {
        let run = RunDir::create(root, "fixture", "s", "id", false).expect("run dir");
        run.write_json(MANIFEST_FILE, &fixture::manifest())
            .expect("manifest");
        let mut plan = fixture::plan();
        let base = std::mem::take(&mut plan.cells);
        for k in 0..copies {
            for cell in &base {
                let mut cell = cell.clone();
                cell.id = format!("{}-{k}", cell.id);
                cell.index = plan.cells.len();
                plan.cells.push(cell);
            }
        }
        run.write_json(PLAN_FILE, &plan).expect("plan");
        let records = fixture::records();
        let mut writer = RecordWriter::open(&run, false).expect("writer");
        let response = crate::record::Response {
            content: "ok".into(),
            reasoning: String::new(),
        };
        let last = format!("{}-{}", base[base.len() - 1].id, copies - 1);
        for warmup in [true, false] {
            for k in 0..copies {
                for record in records.iter().filter(|r| r.warmup == warmup) {
                    let mut record = record.clone();
                    record.cell = format!("{}-{k}", record.cell);
                    if record.cell != last {
                        writer.write(&record, &response).expect("record");
                    }
                }
            }
        }
        drop(writer);
        StoredRun::open(&run.path).expect("stored run")
    }

    #[test]
    fn a_run_of_many_cells_gets_the_summary_json_of_one_held_in_memory() {
        let root = tempfile::tempdir().expect("temp dir");
        let stored = stored_copies(root.path(), 260);
        assert!(stored.plan.cells.len() > FULL_TABLE_CELLS);
        let threshold =
            crate::metrics::threshold::parse_requirement("e2e.p50", "<= 600ms").expect("threshold");
        let options = RenderOptions {
            formats: vec![ReportFormat::Csv, ReportFormat::Markdown],
            templates: Vec::new(),
            print_table: false,
            thresholds: vec![threshold],
        };
        let finished = finish_run(&stored, &options).expect("rendered");
        assert_eq!(finished.code, exit::THRESHOLD, "the slower cells fail it");
        let written = std::fs::read_to_string(stored.dir.file(SUMMARY_FILE)).expect("summary");
        let (whole, _) = model_of_all(&stored, &options, None).expect("in memory");
        assert_eq!(whole.cells.len(), 1_040);
        assert!(whole.cells[1_039].counts.measured == 0 && !whole.violations.is_empty());
        let want = serde_json::to_string_pretty(&whole).expect("serialises") + "\n";
        assert!(
            written == want,
            "summary.json differs from the in-memory one"
        );
        let csv = std::fs::read_to_string(stored.dir.file("cells.csv")).expect("cells.csv");
        assert_eq!(csv.lines().count(), 1 + 1_040);
        let leftovers = std::fs::read_dir(&stored.dir.path).expect("run dir");
        let hidden: Vec<_> = leftovers
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(hidden.is_empty(), "scratch files left: {hidden:?}");
    }
}
