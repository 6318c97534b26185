//! `llmbench export RUN --format openmetrics|jsonl`: a stored run's cell
//! summaries (and, in JSON lines, its requests) in the formats dashboards
//! read. A command rather than report templates because both formats need
//! things Handlebars does badly: escaping label values, unit conversion (ms
//! to the seconds Prometheus expects), and streaming a million requests
//! without building a model of all of them. Reads the run through the same
//! stored-run reader as `history`.

use super::tools::write_stdout;
use super::AppError;
use crate::aggregate::CellSummary;
use crate::cli::{exit, ExportArgs, ExportFormat, ExportWhat};
use crate::history::stored::{read_run, StoredRun};
use crate::record::request_metrics;
use std::fmt::Write as _;
use std::io::Write as _;

pub(crate) fn export(args: ExportArgs) -> Result<u8, AppError> {
    let run = read_run(&args.run_dir).map_err(|e| AppError::caused_by(exit::BAD_INPUT, e))?;
    match args.format {
        ExportFormat::Openmetrics => {
            if args.what != ExportWhat::Cells {
                return Err(AppError::new(
                    exit::BAD_INPUT,
                    "OpenMetrics carries cell summaries only; use --format jsonl for requests",
                ));
            }
            write_stdout(openmetrics(&run).as_bytes())
        }
        ExportFormat::Jsonl => {
            if args.what != ExportWhat::Requests {
                write_stdout(cells_jsonl(&run).as_bytes())?;
            }
            if args.what != ExportWhat::Cells {
                requests_jsonl(&run)?;
            }
            Ok(exit::OK)
        }
    }
}

// ---- OpenMetrics ---------------------------------------------------------

/// The run as OpenMetrics text: a `llmbench_run_info`, per-cell request
/// counts and rates, and one summary (p50/p90/p95/p99, count, sum) per cell
/// and metric, times in seconds.
pub(crate) fn openmetrics(run: &StoredRun) -> String {
    let mut out = String::new();
    let m = &run.manifest;
    let info = [
        ("experiment", m.experiment.as_str()),
        ("run_id", m.run_id.as_str()),
        ("llmbench_version", m.llmbench_version.as_str()),
        (
            "llmbench_commit",
            m.llmbench_commit.as_deref().unwrap_or(""),
        ),
        (
            "experiment_commit",
            m.git.as_ref().map_or("", |g| g.commit.as_str()),
        ),
        ("experiment_sha256", m.experiment_sha256.as_str()),
        ("host", m.environment.host.as_str()),
        ("started_at", m.started_at.as_str()),
    ];
    family(
        &mut out,
        "llmbench_run",
        "info",
        "The run: experiment, versions, commits, host.",
    );
    let _ = writeln!(out, "llmbench_run_info{} 1", labels(&info));
    counts_families(&mut out, run);
    for name in metric_names(&run.cells) {
        metric_family(&mut out, run, &name);
    }
    out.push_str("# EOF\n");
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "# HELP {name} {}", escape(help));
}

/// Request counts, error ratio, throughput and pass rate of each cell.
fn counts_families(out: &mut String, run: &StoredRun) {
    family(
        out,
        "llmbench_cell_requests",
        "gauge",
        "Measured requests of the cell, by outcome.",
    );
    for cell in &run.cells {
        for (outcome, n) in [("ok", cell.counts.ok), ("failed", cell.counts.failed)] {
            let base = cell_labels(run, cell);
            let mut all: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();
            all.push(("outcome", outcome));
            let _ = writeln!(out, "llmbench_cell_requests{} {n}", labels(&all));
        }
    }
    type Getter = fn(&CellSummary) -> Option<f64>;
    let gauges: [(&str, &str, Getter); 3] = [
        (
            "llmbench_cell_error_ratio",
            "Failed / measured requests of the cell.",
            |c| Some(c.counts.error_rate),
        ),
        (
            "llmbench_cell_throughput_tokens_per_second",
            "Output tokens / cell window.",
            |c| c.throughput_tps,
        ),
        (
            "llmbench_cell_pass_ratio",
            "Share of responses passing all their checks.",
            |c| c.quality.as_ref().map(|q| q.rate),
        ),
    ];
    for (name, help, get) in gauges {
        if run.cells.iter().all(|c| get(c).is_none()) {
            continue;
        }
        family(out, name, "gauge", help);
        for cell in &run.cells {
            if let Some(value) = get(cell) {
                let _ = writeln!(
                    out,
                    "{name}{} {}",
                    owned_labels(&cell_labels(run, cell)),
                    number(value)
                );
            }
        }
    }
}

/// Every metric name any cell has, in name order.
fn metric_names(cells: &[CellSummary]) -> Vec<String> {
    let mut names: Vec<String> = cells
        .iter()
        .flat_map(|c| c.metrics.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `ttft_ms` → (`llmbench_ttft_seconds`, 0.001); `decode_tps` →
/// (`llmbench_decode_tokens_per_second`, 1); other names pass through.
fn exported_name(metric: &str) -> (String, f64, Option<&'static str>) {
    let clean: String = metric
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if let Some(base) = clean.strip_suffix("_ms") {
        (format!("llmbench_{base}_seconds"), 1e-3, Some("seconds"))
    } else if let Some(base) = clean.strip_suffix("_tps") {
        (format!("llmbench_{base}_tokens_per_second"), 1.0, None)
    } else {
        (format!("llmbench_{clean}"), 1.0, None)
    }
}

fn metric_family(out: &mut String, run: &StoredRun, metric: &str) {
    let (name, scale, unit) = exported_name(metric);
    let base = metric.strip_suffix("_ms").unwrap_or(metric);
    let help = crate::metrics::glossary()
        .into_iter()
        .find(|d| d.metric == base)
        .map_or_else(
            || format!("{metric}, per request."),
            |d| d.definition.to_string(),
        );
    let _ = writeln!(out, "# TYPE {name} summary");
    if let Some(unit) = unit {
        let _ = writeln!(out, "# UNIT {name} {unit}");
    }
    let _ = writeln!(out, "# HELP {name} {}", escape(&help));
    for cell in &run.cells {
        let Some(summary) = cell.metrics.get(metric) else {
            continue;
        };
        let cell_labels = cell_labels(run, cell);
        let quantiles = [
            ("0.5", summary.p50),
            ("0.9", summary.p90),
            ("0.95", summary.p95),
            ("0.99", summary.p99),
        ];
        for (q, value) in quantiles {
            let mut all: Vec<(&str, &str)> =
                cell_labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
            all.push(("quantile", q));
            let _ = writeln!(out, "{name}{} {}", labels(&all), number(value * scale));
        }
        let set = owned_labels(&cell_labels);
        let _ = writeln!(out, "{name}_count{set} {}", summary.count);
        let sum = summary.mean * summary.count as f64 * scale;
        let _ = writeln!(out, "{name}_sum{set} {}", number(sum));
    }
}

fn cell_labels(run: &StoredRun, cell: &CellSummary) -> Vec<(&'static str, String)> {
    vec![
        ("experiment", run.manifest.experiment.clone()),
        ("run_id", run.manifest.run_id.clone()),
        ("cell", cell.id.clone()),
        ("model", cell.model.clone()),
        ("label", cell.label.clone()),
        ("prompt", cell.prompt.clone()),
    ]
}

fn owned_labels(pairs: &[(&'static str, String)]) -> String {
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    labels(&borrowed)
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// OpenMetrics escaping of label values and help text: `\\`, `\"`, `\n`.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value: finite numbers as Rust prints them, NaN and infinities
/// spelled as OpenMetrics does.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{value}")
    }
}

// ---- JSON lines ----------------------------------------------------------

/// One line per cell: `{"type":"cell","experiment","run_id","started_at", ...the cell summary}`.
pub(crate) fn cells_jsonl(run: &StoredRun) -> String {
    let mut out = String::new();
    for cell in &run.cells {
        let mut line = run_fields(run, "cell");
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(cell) {
            line.extend(fields);
        }
        let _ = writeln!(out, "{}", serde_json::Value::Object(line));
    }
    out
}

/// One line per stored request (streamed, one record at a time): the run's
/// identity, the record as stored, and its metrics (`ttft_ms`, `e2e_ms`, ...).
fn requests_jsonl(run: &StoredRun) -> Result<(), AppError> {
    // The store's reader applies the after-run token counts (tokens.jsonl),
    // so the metrics here are the ones the reports show.
    let dir = crate::store::StoredRun::open(&run.dir)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = None;
    dir.for_each_record(|record| {
        if failed.is_some() {
            return;
        }
        let metrics = request_metrics(&record);
        let mut line = run_fields(run, "request");
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&record) {
            line.extend(fields);
        }
        for (key, value) in [
            ("ttft_ms", metrics.ttft_ms),
            ("ttfb_ms", metrics.ttfb_ms),
            ("e2e_ms", metrics.e2e_ms),
            ("tpot_ms", metrics.tpot_ms),
            ("decode_tps", metrics.decode_tps),
            ("prompt_tps", metrics.prompt_tps),
            ("output_tokens", metrics.output_tokens),
            ("prompt_tokens", metrics.prompt_tokens),
        ] {
            line.insert(
                key.into(),
                value.map_or(serde_json::Value::Null, serde_json::Value::from),
            );
        }
        if let Err(e) = writeln!(out, "{}", serde_json::Value::Object(line)) {
            failed = Some(e);
        }
    })?;
    match failed.map_or_else(|| out.flush(), Err) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(AppError::new(
            exit::ERROR,
            format!("cannot write to stdout: {e}"),
        )),
        _ => Ok(()),
    }
}

fn run_fields(run: &StoredRun, kind: &str) -> serde_json::Map<String, serde_json::Value> {
    let m = &run.manifest;
    let mut fields = serde_json::Map::new();
    fields.insert("type".into(), kind.into());
    fields.insert("experiment".into(), m.experiment.clone().into());
    fields.insert("run_id".into(), m.run_id.clone().into());
    fields.insert("started_at".into(), m.started_at.clone().into());
    fields
}
