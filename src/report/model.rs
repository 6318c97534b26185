//! `ReportModel`: the one documented, serialisable view of a run that every
//! template sees (built-in and user templates alike). Templates never see
//! internal types; a field documented here is a promise to template authors.

use crate::aggregate::{CellSummary, Counts, GroupSummary, RunSummary};
use crate::metrics::{glossary, Definition};
use crate::monitor::{Sample, WindowSummary};
use crate::store::{Environment, GitInfo, RunManifest, RunStatus};
use serde::Serialize;

/// Bumped when a field is renamed or removed (adding fields keeps it).
pub(crate) const REPORT_SCHEMA_VERSION: u32 = 1;

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
    /// Present when `cells` holds a selection of a run's many cells (more
    /// than `report::FULL_TABLE_CELLS`): `{total, shown, note}`; every cell
    /// is in summary.json and cells.csv.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cell_selection: Option<super::large::CellSelection>,
    /// Per model, statistics pooled over its cells.
    pub models: Vec<GroupSummary>,
    /// Definitions of every metric, in report order.
    pub glossary: Vec<Definition>,
    /// Things that make a figure doubtful, in plain words: one line per
    /// kind, the most doubtful first. Empty when none.
    pub warnings: Vec<String>,
    /// The same warnings with their detail: `{kind, rank, summary, cells,
    /// details}` per kind, ranked.
    pub warning_groups: Vec<super::warnings::WarningGroup>,
    /// Every finding, for grouping again when the monitor adds its own.
    #[serde(skip)]
    findings: Vec<super::warnings::Finding>,
    /// The resource monitor, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor: Option<MonitorView>,
    /// `[server.matrix]` points (or the one `[server]`) whose server did not
    /// start: `{point, error, log_file, log_tail, cells}`; their cells have
    /// `not_run`. Absent when every server started.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unstarted_points: Vec<super::server_points::UnstartedPoint>,
    /// `[thresholds]` of the experiment, each with its outcome
    /// (`threshold`, `limit`, `checked`, `failed`, `passed`). Empty when none.
    pub thresholds: Vec<super::ThresholdResult>,
    /// `[slo]` targets (`ttft_ms`, `tpot_ms`, `e2e_ms`), drawn on the load
    /// charts; absent without `[slo]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo: Option<crate::experiment::Slo>,
    /// Each threshold that failed in a cell (`threshold`, `metric`, `cell`,
    /// `label`, `value`, `limit`, `message`); the run exits 6 when not empty.
    pub violations: Vec<super::Violation>,
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
    pub(crate) fn new(manifest: &RunManifest, mut summary: RunSummary, dir: &str) -> ReportModel {
        let unstarted = super::server_points::unstarted_points(manifest, &mut summary.cells);
        let findings = super::warnings::findings(manifest, &summary);
        ReportModel::assemble(manifest, summary, dir, unstarted, findings)
    }

    /// The model of a run of many cells, from `summary` without its cells
    /// (they were summarised, checked and stored one at a time) and what
    /// was found in them: their findings (the monitor's included), and per
    /// point whose server did not start (in `unstarted_points` order) how
    /// many of them it left not run; with the monitor's view. `cells`
    /// stays empty. The findings are grouped once and not kept (one per
    /// cell can be 100,000 of them): call no `add_monitor_warnings`.
    pub(crate) fn of_many(
        manifest: &RunManifest,
        summary: RunSummary,
        dir: &str,
        cell_findings: Vec<super::warnings::Finding>,
        not_run: &[usize],
        monitor: Option<MonitorView>,
    ) -> ReportModel {
        let mut unstarted = super::server_points::unstarted_points(manifest, &mut []);
        for (point, &cells) in unstarted.iter_mut().zip(not_run) {
            point.cells = cells;
        }
        let mut findings = super::warnings::findings(manifest, &summary);
        findings.extend(cell_findings);
        findings.extend(super::server_points::findings(&unstarted));
        if let Some(monitor) = &monitor {
            let cores = manifest.environment.cores;
            let run = monitor.run.as_ref();
            findings.extend(super::warnings::monitor_findings(
                &[],
                cores,
                run,
                &monitor.facts,
            ));
        }
        let mut model = ReportModel::assemble(manifest, summary, dir, unstarted, Vec::new());
        model.monitor = monitor;
        model.findings = findings;
        model.group_warnings_once();
        model
    }

    fn assemble(
        manifest: &RunManifest,
        summary: RunSummary,
        dir: &str,
        unstarted: Vec<super::server_points::UnstartedPoint>,
        mut findings: Vec<super::warnings::Finding>,
    ) -> ReportModel {
        findings.extend(super::server_points::findings(&unstarted));
        let mut model = ReportModel {
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
            cell_selection: None,
            models: summary.models,
            glossary: glossary(),
            warnings: Vec::new(),
            warning_groups: Vec::new(),
            findings,
            monitor: None,
            unstarted_points: unstarted,
            thresholds: Vec::new(),
            slo: None,
            violations: Vec::new(),
        };
        model.regroup_warnings();
        model
    }
}

impl ReportModel {
    /// Adds what the monitor saw to the warnings (other work on the
    /// machine, a busy client, missing GPU data) and groups them again.
    pub(crate) fn add_monitor_warnings(&mut self) {
        let Some(monitor) = &self.monitor else { return };
        let found = super::warnings::monitor_findings(
            &self.cells,
            self.environment.cores,
            monitor.run.as_ref(),
            &monitor.facts,
        );
        self.findings.extend(found);
        self.regroup_warnings();
    }

    /// Groups the findings, handing them over (they are not kept).
    fn group_warnings_once(&mut self) {
        self.warning_groups = super::warnings::group(std::mem::take(&mut self.findings));
        self.warnings = self
            .warning_groups
            .iter()
            .map(|g| g.summary.clone())
            .collect();
    }

    fn regroup_warnings(&mut self) {
        self.warning_groups = super::warnings::group(self.findings.clone());
        self.warnings = self
            .warning_groups
            .iter()
            .map(|g| g.summary.clone())
            .collect();
    }
}
