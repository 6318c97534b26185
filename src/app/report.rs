//! Aggregation and report rendering, shared by `exec` (at the end of a run)
//! and `llmbench report` (from a stored run).

use super::AppError;
use crate::aggregate::{aggregate, attach_quality, attach_resources, attach_token_agreement};
use crate::cli::{exit, ReportArgs};
use crate::experiment::ReportFormat;
use crate::monitor::{read_samples, Sample, WindowSummary};
use crate::record::Record;
use crate::report::{select_templates, summary_table, user_template, write_reports, ReportModel};
use crate::report::{write_requests_csv, MonitorView, TimelinePoint, REQUESTS_CSV};
use crate::store::SAMPLES_FILE;
use crate::store::{RunDir, RunManifest, SUMMARY_FILE};
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
    let (mut records, unreadable) = run.read_records()?;
    apply_token_counts(&mut records, &run.read_tokens()?);
    let mut summary = aggregate(&plan, &records, unreadable);
    attach_token_agreement(&mut summary, &records);
    attach_quality(&mut summary, &run.read_checks()?);
    let samples = read_samples(&run.file(SAMPLES_FILE)).unwrap_or_default();
    let run_window = attach_resources(&mut summary, &records, &samples);
    let mut model = ReportModel::new(manifest, summary, &run.path.display().to_string());
    model.monitor = monitor_view(manifest, &model, &records, &samples, run_window);
    model.add_monitor_warnings();
    run.write_json(SUMMARY_FILE, &model)?;

    let user = options
        .templates
        .iter()
        .map(|path| user_template(path))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AppError::new(exit::BAD_INPUT, e))?;
    let templates = select_templates(&options.formats, user);
    let (mut written, mut errors) = write_reports(&run.path, &templates, &model);
    if options.formats.contains(&ReportFormat::Csv) {
        let path = run.file(REQUESTS_CSV);
        match write_requests_csv(&records, &path) {
            Ok(()) => written.push(path),
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    }
    if options.print_table {
        println!("{}", summary_table(&model.cells));
    }
    for error in &errors {
        eprintln!("error: {error}");
    }
    println!("run: {}", run.path.display());
    for path in &written {
        println!("report: {}", path.display());
    }
    let violations = crate::compare::check_cells(&model.cells, &options.thresholds);
    let code = match report_violations(&violations) {
        exit::OK if !errors.is_empty() => exit::TEMPLATE,
        code => code,
    };
    Ok(Finished { code })
}

pub fn report(args: ReportArgs) -> Result<u8, AppError> {
    let run = RunDir::open(&args.run_dir)?;
    let manifest = run.read_manifest()?;
    let options = RenderOptions {
        formats: vec![
            ReportFormat::Markdown,
            ReportFormat::Json,
            ReportFormat::Html,
            ReportFormat::Csv,
        ],
        templates: args.templates,
        print_table: true,
        thresholds: Vec::new(),
    };
    Ok(finish_run(&run, &manifest, &options)?.code)
}

/// At most this many samples go into the report (charts need no more).
const MAX_TIMELINE_POINTS: usize = 600;

/// The monitor's part of the report: GPU status, run-level figures, a
/// thinned timeline and where each cell began.
fn monitor_view(
    manifest: &RunManifest,
    model: &ReportModel,
    records: &[Record],
    samples: &[Sample],
    run: Option<WindowSummary>,
) -> Option<MonitorView> {
    let facts = manifest.monitor.clone()?;
    let step = samples.len().div_ceil(MAX_TIMELINE_POINTS).max(1);
    let windows = model
        .cells
        .iter()
        .filter_map(|cell| {
            let start = records
                .iter()
                .filter(|r| r.cell == cell.id)
                .map(|r| r.run_offset_ms)
                .reduce(f64::min)?;
            let label = format!("{} · {}", cell.label, cell.prompt);
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

/// Puts each after-run token count on its record (tokens.jsonl is written
/// once the run is over; requests.jsonl is never rewritten).
fn apply_token_counts(records: &mut [Record], counts: &[crate::record::TokenRecord]) {
    if counts.is_empty() {
        return;
    }
    let mut by_key: std::collections::HashMap<
        (&str, u32, bool, bool),
        &crate::record::TokenRecord,
    > = std::collections::HashMap::new();
    for count in counts {
        by_key.insert(
            (
                count.cell.as_str(),
                count.repetition,
                count.warmup,
                count.cold,
            ),
            count,
        );
    }
    for record in records.iter_mut() {
        let key = (
            record.cell.as_str(),
            record.repetition,
            record.warmup,
            record.cold,
        );
        if let Some(count) = by_key.get(&key).copied() {
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
    };
    let comparison = crate::compare::compare_runs(&args.run_a, &args.run_b, &options)
        .map_err(|e| AppError::new(exit::ERROR, e))?;
    let text = crate::compare::render_comparison(&comparison, args.format)
        .map_err(|e| AppError::new(exit::TEMPLATE, e))?;
    println!("{text}");
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
