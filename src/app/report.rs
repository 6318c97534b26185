//! Aggregation and report rendering, shared by `exec` (at the end of a run)
//! and `llmbench report` (from a stored run). The stored records are read as
//! a stream: each one feeds the aggregation, the token and resource tallies
//! and requests.csv, and is dropped, so memory holds the statistics' values,
//! not the run.

use super::AppError;
use crate::aggregate::{attach_quality, Aggregator, ResourceTally, RunSummary, TokenTally};
use crate::cli::{exit, ReportArgs};
use crate::experiment::ReportFormat;
use crate::monitor::{read_samples, Sample, WindowSummary};
use crate::plan::Plan;
use crate::record::{Record, TokenRecord};
use crate::report::{request_line, MonitorView, TimelinePoint, REQUESTS_CSV, REQUESTS_CSV_HEADER};
use crate::report::{select_templates, summary_table, user_template, write_reports, ReportModel};
use crate::store::SAMPLES_FILE;
use crate::store::{RunDir, RunManifest, SUMMARY_FILE};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

pub struct RenderOptions {
    pub formats: Vec<ReportFormat>,
    pub templates: Vec<PathBuf>,
    pub print_table: bool,
    /// `[thresholds]` of the experiment, checked on the summary.
    pub thresholds: Vec<crate::compare::Threshold>,
}

/// What rendering a run came to, as an exit code: 0, 5 (a template failed)
/// or 6 (a threshold failed).
pub struct Finished {
    pub code: u8,
}

/// Reads the stored records back, writes summary.json and the reports, and
/// checks the thresholds. A failed template does not stop the others.
pub fn finish_run(
    run: &RunDir,
    manifest: &RunManifest,
    options: &RenderOptions,
) -> Result<Finished, AppError> {
    let plan = run.read_plan()?;
    let csv = options
        .formats
        .contains(&ReportFormat::Csv)
        .then(|| CsvStream::create(run.file(REQUESTS_CSV)));
    let read = read_run(run, &plan, csv)?;
    let mut summary = read.summary;
    read.tokens.attach(&mut summary);
    attach_quality(&mut summary, &run.read_checks()?);
    let samples = read_samples(&run.file(SAMPLES_FILE)).unwrap_or_default();
    let run_window = read.resources.attach(&mut summary, &samples);
    let mut model = ReportModel::new(manifest, summary, &run.path.display().to_string());
    model.slo = plan.slo.clone();
    model.monitor = monitor_view(manifest, &model, &read.cell_starts, &samples, run_window);
    model.add_monitor_warnings();
    model.check_thresholds(&options.thresholds);
    run.write_json(SUMMARY_FILE, &model)?;

    let user = options
        .templates
        .iter()
        .map(|path| user_template(path))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AppError::new(exit::BAD_INPUT, e))?;
    let templates = select_templates(&options.formats, user);
    let (mut written, mut errors) = write_reports(&run.path, &templates, &model);
    if let Some(csv) = read.csv {
        match csv.finish() {
            Ok(path) => written.push(path),
            Err(e) => errors.push(e),
        }
    }
    if options.print_table {
        crate::util::print(&summary_table(&model.cells))
            .map_err(|e| AppError::new(exit::ERROR, e))?;
    }
    for error in &errors {
        eprintln!("error: {error}");
    }
    crate::util::print(&format!("run: {}", run.path.display()))
        .map_err(|e| AppError::new(exit::ERROR, e))?;
    for path in &written {
        crate::util::print(&format!("report: {}", path.display()))
            .map_err(|e| AppError::new(exit::ERROR, e))?;
    }
    let code = match report_violations(&model.violations) {
        exit::OK if !errors.is_empty() => exit::TEMPLATE,
        code => code,
    };
    Ok(Finished { code })
}

pub fn report(args: ReportArgs) -> Result<u8, AppError> {
    let run = RunDir::open(&args.run_dir)?;
    let manifest = run.read_manifest()?;
    let (formats, templates, thresholds) = match stored_experiment(&run, &manifest) {
        Ok(experiment) => (
            experiment.report.formats,
            [experiment.report.templates, args.templates].concat(),
            experiment.thresholds,
        ),
        Err(why) => {
            eprintln!("note: {why}; writing every built-in format and checking no [thresholds]");
            (
                vec![
                    ReportFormat::Markdown,
                    ReportFormat::Json,
                    ReportFormat::Html,
                    ReportFormat::Csv,
                ],
                args.templates,
                Vec::new(),
            )
        }
    };
    let options = RenderOptions {
        formats,
        templates,
        print_table: true,
        thresholds,
    };
    Ok(finish_run(&run, &manifest, &options)?.code)
}

/// The experiment as the run saw it: the stored copy of its file with the
/// run's `--set` overrides, read as if from its original place (so relative
/// prompt files and templates resolve as they did). It says which report
/// formats and `[thresholds]` `llmbench report` renders and checks.
fn stored_experiment(
    run: &RunDir,
    manifest: &RunManifest,
) -> Result<crate::experiment::Experiment, String> {
    let stored = run.file(crate::store::EXPERIMENT_FILE);
    let text = std::fs::read_to_string(&stored)
        .map_err(|e| format!("cannot read {}: {e}", stored.display()))?;
    let path = std::path::Path::new(&manifest.experiment_path);
    crate::experiment::load_str(path, &text, &manifest.overrides)
        .map_err(|e| format!("the run's experiment does not load again ({e})"))
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

/// Streams requests.jsonl through the aggregation (with the after-run token
/// counts applied to each record) and, when asked, into requests.csv.
fn read_run(run: &RunDir, plan: &Plan, mut csv: Option<CsvStream>) -> Result<ReadRun, AppError> {
    let token_counts = run.read_tokens()?;
    let counts = TokenIndex::new(&token_counts);
    let mut aggregator = Aggregator::new(plan);
    let mut tokens = TokenTally::default();
    let mut resources = ResourceTally::default();
    let mut cell_starts: HashMap<String, f64> = HashMap::new();
    let unreadable = run.for_each_record(|mut record| {
        counts.apply(&mut record);
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
struct CsvStream {
    path: PathBuf,
    file: Result<BufWriter<File>, String>,
}

impl CsvStream {
    fn create(path: PathBuf) -> CsvStream {
        let header = format!("{}\n", REQUESTS_CSV_HEADER.join(","));
        let file = File::create(&path)
            .map(BufWriter::new)
            .and_then(|mut file| file.write_all(header.as_bytes()).map(|()| file))
            .map_err(|e| format!("{}: {e}", path.display()));
        CsvStream { path, file }
    }

    fn write(&mut self, record: &Record) {
        let Ok(file) = &mut self.file else { return };
        if let Err(e) = file.write_all(request_line(record).as_bytes()) {
            self.file = Err(format!("{}: {e}", self.path.display()));
        }
    }

    /// The file's path once every row is on disk, or what went wrong.
    fn finish(self) -> Result<PathBuf, String> {
        let mut file = self.file?;
        file.flush()
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        Ok(self.path)
    }
}

/// At most this many samples go into the report (charts need no more).
const MAX_TIMELINE_POINTS: usize = 600;

/// The monitor's part of the report: GPU status, run-level figures, a
/// thinned timeline and where each cell began.
fn monitor_view(
    manifest: &RunManifest,
    model: &ReportModel,
    cell_starts: &HashMap<String, f64>,
    samples: &[Sample],
    run: Option<WindowSummary>,
) -> Option<MonitorView> {
    let facts = manifest.monitor.clone()?;
    let step = samples.len().div_ceil(MAX_TIMELINE_POINTS).max(1);
    let windows = model
        .cells
        .iter()
        .filter_map(|cell| {
            let start = *cell_starts.get(cell.id.as_str())?;
            let setting = crate::report::setting_text(
                cell.load.concurrency.map(u64::from),
                cell.load.rate,
                cell.matrix.iter(),
            );
            let label = format!("{} × {} {setting}", cell.label, cell.prompt);
            Some(serde_json::json!({ "label": label, "start_ms": start }))
        })
        .collect();
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

/// The after-run token counts by request (tokens.jsonl is written once the
/// run is over; requests.jsonl is never rewritten), to put on each record
/// as it is read. A later count for the same request wins.
struct TokenIndex<'a> {
    by_key: HashMap<(&'a str, u32, bool, bool), &'a TokenRecord>,
}

impl<'a> TokenIndex<'a> {
    fn new(counts: &'a [TokenRecord]) -> TokenIndex<'a> {
        let by_key = counts
            .iter()
            .map(|c| ((c.cell.as_str(), c.repetition, c.warmup, c.cold), c))
            .collect();
        TokenIndex { by_key }
    }

    fn apply(&self, record: &mut Record) {
        if self.by_key.is_empty() {
            return;
        }
        let key = (
            record.cell.as_str(),
            record.repetition,
            record.warmup,
            record.cold,
        );
        if let Some(count) = self.by_key.get(&key).copied() {
            count.apply(record);
        }
    }
}

/// `llmbench compare`: the comparison on standard output; exit 6 when a
/// `--fail-on` threshold is crossed.
pub fn compare(args: crate::cli::CompareArgs) -> Result<u8, AppError> {
    let fail_on = args
        .fail_on
        .iter()
        .map(|text| {
            crate::compare::parse_threshold(text)
                .map_err(|e| AppError::new(exit::BAD_INPUT, format!("--fail-on {text:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = crate::compare::CompareOptions {
        noise_pct: args.noise,
        alpha: args.alpha,
        fail_on,
        strict: args.strict,
    };
    let comparison = crate::compare::compare_runs(&args.run_a, &args.run_b, &options)
        .map_err(|e| AppError::new(exit::ERROR, e))?;
    let text = crate::compare::render_comparison(&comparison, args.format)
        .map_err(|e| AppError::new(exit::TEMPLATE, e))?;
    crate::util::print(&text).map_err(|e| AppError::new(exit::ERROR, e))?;
    if let Some(error) = comparison.gate_error() {
        return Err(AppError::new(exit::BAD_INPUT, error));
    }
    for held in &comparison.not_significant {
        eprintln!("threshold passed as noise: {}", held.message);
    }
    Ok(report_violations(&comparison.violations))
}

/// Prints each failed threshold; the exit code says whether any failed.
fn report_violations(violations: &[crate::compare::Violation]) -> u8 {
    for violation in violations {
        eprintln!("threshold failed: {}", violation.message);
    }
    if violations.is_empty() {
        exit::OK
    } else {
        exit::THRESHOLD
    }
}
