//! `ReportModel`: the one documented, serialisable view of a run that every
//! template sees (built-in and user templates alike). Templates never see
//! internal types; a field documented here is a promise to template authors.

use crate::aggregate::{CellSummary, Counts, GroupSummary, RunSummary};
use crate::metrics::{glossary, Definition};
use crate::monitor::{Sample, WindowSummary};
use crate::store::{Environment, GitInfo, RunManifest, RunStatus};
use serde::Serialize;

/// Bumped when a field is renamed or removed (adding fields keeps it).
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// Everything a report template can use.
#[derive(Debug, Clone, Serialize)]
pub struct ReportModel {
    /// Version of this structure's shape.
    pub schema_version: u32,
    /// llmbench version that rendered the report.
    pub llmbench_version: String,
    pub experiment: ExperimentInfo,
    pub run: RunInfo,
    /// Host, OS, CPU, cores, memory of the machine that ran the client.
    pub environment: Environment,
    /// What each backend's server reported about itself and its models, by backend name.
    pub servers: serde_json::Value,
    /// Ollama `/api/ps` after each model's cells (size, size_vram,
    /// offload_fraction, context_length), by model; empty for other servers.
    pub loaded_models: std::collections::BTreeMap<String, serde_json::Value>,
    /// Request counts over the whole run.
    pub totals: Counts,
    /// Per cell (model × prompt): counts, errors, statistics per metric
    /// (`metrics.<name>.{count,mean,stddev,cv,min,p50,p90,p95,p99,max,ci95_mean,notes}`),
    /// throughput and finish reasons.
    pub cells: Vec<CellSummary>,
    /// Per model, statistics pooled over its cells.
    pub models: Vec<GroupSummary>,
    /// Definitions of every metric, in report order.
    pub glossary: Vec<Definition>,
    /// Things that make a figure doubtful, in plain words. Empty when none.
    pub warnings: Vec<String>,
    /// The resource monitor, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor: Option<MonitorView>,
}

/// One point of the resource timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelinePoint {
    pub t_ms: f64,
    pub cpu_total_pct: f32,
    pub mem_used_bytes: u64,
    pub server_rss_bytes: Option<u64>,
    pub client_cpu_pct: f32,
    pub gpu_util_pct: Option<f64>,
    pub gpu_mem_used_bytes: Option<u64>,
}

impl From<&Sample> for TimelinePoint {
    fn from(sample: &Sample) -> TimelinePoint {
        let utils: Vec<f64> = sample
            .gpus
            .iter()
            .filter_map(|g| g.util_pct.map(f64::from))
            .collect();
        let memory: Vec<u64> = sample
            .gpus
            .iter()
            .filter_map(|g| g.mem_used_bytes)
            .collect();
        TimelinePoint {
            t_ms: sample.t_ms,
            cpu_total_pct: sample.cpu_total_pct,
            mem_used_bytes: sample.mem_used_bytes,
            server_rss_bytes: sample.server.as_ref().map(|s| s.rss_bytes),
            client_cpu_pct: sample.client.cpu_pct,
            gpu_util_pct: (!utils.is_empty())
                .then(|| utils.iter().sum::<f64>() / utils.len() as f64),
            gpu_mem_used_bytes: (!memory.is_empty()).then(|| memory.iter().sum()),
        }
    }
}

/// What the resource monitor saw.
#[derive(Debug, Clone, Serialize)]
pub struct MonitorView {
    /// GPU status (or why GPU data is missing), samples taken, missed ticks,
    /// the sampler's own CPU use.
    pub facts: serde_json::Value,
    /// Whole-run figures: CPU mean/peak, client CPU, server RSS, GPU, energy, J/token.
    pub run: Option<WindowSummary>,
    /// The run's samples, thinned to at most 600 points: `{t_ms,
    /// cpu_total_pct, mem_used_bytes, server_rss_bytes, client_cpu_pct,
    /// gpu_util_pct (mean over GPUs), gpu_mem_used_bytes (sum)}`.
    pub timeline: Vec<TimelinePoint>,
    /// Where each cell began: `{label, start_ms}`, for chart marks.
    pub windows: Vec<serde_json::Value>,
    /// The last GPU readings (empty without GPUs).
    pub gpus: Vec<crate::monitor::GpuSample>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExperimentInfo {
    pub name: String,
    pub description: Option<String>,
    /// Path of the experiment file as given on the command line.
    pub path: String,
    pub sha256: String,
    /// `--set` overrides applied to the file.
    pub overrides: Vec<String>,
    /// Commit of the repository holding the file, and whether it had uncommitted changes.
    pub git: Option<GitInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub id: String,
    /// The run directory.
    pub dir: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// "complete", "interrupted", "failed" or "running".
    pub status: RunStatus,
}

impl ReportModel {
    /// Builds the model from a run's manifest and aggregates.
    pub fn new(manifest: &RunManifest, summary: RunSummary, dir: &str) -> ReportModel {
        let warnings = warnings(manifest, &summary);
        ReportModel {
            schema_version: REPORT_SCHEMA_VERSION,
            llmbench_version: env!("CARGO_PKG_VERSION").to_string(),
            experiment: ExperimentInfo {
                name: manifest.experiment.clone(),
                description: manifest.description.clone(),
                path: manifest.experiment_path.clone(),
                sha256: manifest.experiment_sha256.clone(),
                overrides: manifest.overrides.clone(),
                git: manifest.git.clone(),
            },
            run: RunInfo {
                id: manifest.run_id.clone(),
                dir: dir.to_string(),
                started_at: manifest.started_at.clone(),
                finished_at: manifest.finished_at.clone(),
                status: manifest.status,
            },
            environment: manifest.environment.clone(),
            servers: manifest.servers.clone(),
            loaded_models: manifest.loaded_models.clone(),
            totals: summary.totals,
            cells: summary.cells,
            models: summary.models,
            glossary: glossary(),
            warnings,
            monitor: None,
        }
    }
}

/// Plain-language warnings about what makes figures doubtful.
fn warnings(manifest: &RunManifest, summary: &RunSummary) -> Vec<String> {
    let mut out = Vec::new();
    if manifest.status != RunStatus::Complete {
        out.push(format!(
            "The run is {}: figures cover only the requests that finished.",
            manifest.status
        ));
    }
    if let Some(merge) = &manifest.merge {
        out.extend(merge.warnings());
    }
    if let Some(git) = manifest.git.as_ref().filter(|g| g.dirty) {
        out.push(format!("The experiment file had uncommitted changes (on top of commit {}); commit it so the run can be reproduced.", short(&git.commit)));
    }
    if summary.unreadable_records > 0 {
        out.push(format!("{} record line(s) in requests.jsonl could not be read (cut short by a crash?) and are left out.", summary.unreadable_records));
    }
    for cell in &summary.cells {
        cell_warnings(cell, &mut out);
    }
    for model in &summary.models {
        let Some(tokens) = &model.tokens else {
            continue;
        };
        if let Some(rate) = tokens.mismatch_rate.filter(|r| *r > 0.05) {
            out.push(format!(
                "{}: the server's token counts and {}'s differ on {:.0}% of responses (mean {:.1} tokens); check the model's tokenizer mapping.",
                model.label,
                tokens.local_source.as_deref().unwrap_or("the local tokenizer"),
                rate * 100.0,
                tokens.mean_abs_diff.unwrap_or(0.0)
            ));
        }
        if tokens.output_source.as_deref() == Some("heuristic") {
            out.push(format!("{}: output tokens are a heuristic estimate (no tokenizer for this model); per-token figures are approximate.", model.label));
        }
    }
    out
}

fn cell_warnings(cell: &CellSummary, out: &mut Vec<String>) {
    let name = format!("{} × {}", cell.label, cell.prompt);
    if cell.counts.failed > 0 {
        let kinds: Vec<String> = cell
            .errors
            .iter()
            .map(|e| format!("{} {}", e.count, e.kind))
            .collect();
        out.push(format!(
            "{name}: {} of {} measured requests failed ({}); see the errors section.",
            cell.counts.failed,
            cell.counts.measured,
            kinds.join(", ")
        ));
    }
    if cell.counts.ok > 0 && !cell.metrics.contains_key("output_tokens") {
        out.push(format!("{name}: the server reported no token counts, so per-token figures (tpot, decode_tps) are missing."));
    }
    if let Some(load) = cell.metrics.get("load_ms").filter(|s| s.max > 1000.0) {
        out.push(format!("{name}: a measured request waited {:.0} ms for a model load; add warmup requests or pin keep_alive so loads stay out of the figures.", load.max));
    }
    if cell.counts.ok == 1 {
        out.push(format!("{name}: one successful request; spread and intervals need at least two (raise run.repetitions)."));
    }
    validity_warnings(cell, &name, out);
}

/// Warnings from the measurement-validity figures.
fn validity_warnings(cell: &CellSummary, name: &str, out: &mut Vec<String>) {
    for metric in ["ttft_ms", "e2e_ms"] {
        if let Some(stats) = cell.metrics.get(metric).filter(|s| s.outliers > 0) {
            out.push(format!("{name}: {} outlier(s) in {metric} (modified z-score above 3.5); look them up in requests.jsonl, and re-run or raise run.repetitions before trusting the mean.", stats.outliers));
        }
    }
    let validity = &cell.validity;
    if let Some(lag) = validity.dispatch_lag_ms.as_ref().filter(|l| l.p99 > 10.0) {
        out.push(format!("{name}: requests went out up to {:.1} ms (p99) after their scheduled time; the client or the machine could not keep the rate, so latency from the schedule is the figure to trust.", lag.p99));
    }
    if validity.early_stops > 0 {
        out.push(format!("{name}: {} response(s) stopped before max_tokens; lengths differ between requests (llama.cpp can force the length with options = {{ ignore_eos = true }}).", validity.early_stops));
    }
    if validity.cache_hits > 0 {
        out.push(format!("{name}: {} request(s) had prompt tokens served from the cache, so prompt_tps overstates prefill speed; vary the prompt or turn caching off (llama.cpp: options = {{ cache_prompt = false }}).", validity.cache_hits));
    }
    if let Some(per_chunk) = validity.tokens_per_chunk.as_ref().filter(|t| t.mean > 1.5) {
        out.push(format!("{name}: chunks carry {:.1} tokens on average, so chunk gaps are not token gaps; read tpot for per-token latency.", per_chunk.mean));
    }
}

impl ReportModel {
    /// Warnings that need the monitor: a client that was itself busy, and
    /// GPU data that is missing (and why).
    pub fn add_monitor_warnings(&mut self) {
        let Some(monitor) = &self.monitor else { return };
        if let Some(peak) = monitor
            .run
            .as_ref()
            .and_then(|r| r.client_cpu_peak_pct)
            .filter(|p| *p > 80.0)
        {
            self.warnings.push(format!("llmbench itself used up to {peak:.0}% of a core during the run: the client may have been the bottleneck; lower the concurrency or run the client on another machine."));
        }
        if monitor.facts["gpu"]["status"] == "unavailable" {
            let reason = monitor.facts["gpu"]["reason"].as_str().unwrap_or("unknown");
            self.warnings
                .push(format!("GPU figures are missing: {reason}"));
        }
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}
