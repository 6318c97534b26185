//! `manifest.json`: what is known about a run besides its records, typed.
//! It is written when the run opens (status `running`) and rewritten when it
//! ends. The JSON keeps the shape older versions wrote (fields of the typed
//! parts are declared in the alphabetical order serde_json gave them), so
//! runs stored before and after read the same.

use super::environment::{Environment, GitInfo};
use crate::monitor::GpuStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Where a run stands. Stored as the lowercase word.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Opened and not finished: still running, or the process died.
    #[default]
    Running,
    /// Every planned request was sent and recorded.
    Complete,
    /// Stopped early (Ctrl-C): the records so far are kept.
    Interrupted,
    /// Ended by an error after the run directory was opened.
    Failed,
    /// Merged from some of a launch's shards (`llmbench merge --partial`),
    /// or a run some of whose `[server.matrix]` points' servers did not start.
    Partial,
}

impl RunStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Complete => "complete",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Failed => "failed",
            RunStatus::Partial => "partial",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is known about a run besides its records: written at the start and
/// rewritten at the end (status, finish time).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunManifest {
    pub llmbench_version: String,
    /// The git commit llmbench was built from (`llmbench --version`); absent
    /// when it was built outside a git checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llmbench_commit: Option<String>,
    pub run_id: String,
    pub experiment: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The experiment file as given on the command line.
    pub experiment_path: String,
    /// sha256 of the experiment file's text.
    pub experiment_sha256: String,
    #[serde(default)]
    pub overrides: Vec<String>,
    #[serde(default)]
    pub git: Option<GitInfo>,
    pub started_at: String,
    #[serde(default)]
    pub finished_at: Option<String>,
    pub status: RunStatus,
    /// The llmbench process writing the run (with `environment.host`, tells
    /// a run still going from one that died: see `report::liveness`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    pub environment: Environment,
    /// What each backend's server said about itself and its models, by
    /// backend name (the servers' own words, kept as they came).
    #[serde(default)]
    pub servers: serde_json::Value,
    /// The `[server]` llmbench started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_server: Option<ManagedServerFacts>,
    /// Ollama `/api/ps` after each model's cells: size, size in VRAM,
    /// offload fraction, context length; by model (as the server said it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub loaded_models: BTreeMap<String, serde_json::Value>,
    /// The resource monitor, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<MonitorFacts>,
    /// Each model's token counter and whether its counts are the ones used.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tokenizers: BTreeMap<String, TokenizerFacts>,
    /// Cells stopped after connection failures in a row (the server seemed gone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stopped_cells: Vec<crate::record::StoppedCell>,
    /// This run is one shard of a launch (`--shard`, a Slurm array, an Indexed Job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<super::continuity::ShardFacts>,
    /// Each `llmbench exec --resume` of this run, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumes: Vec<super::continuity::ResumeFacts>,
    /// This run was merged from shards (`llmbench merge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<super::continuity::MergeFacts>,
}

/// The `[server]` llmbench started: command, pid, time to ready, whether it
/// exited during the run; with a `[server.matrix]`, every point's own facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagedServerFacts {
    /// The command with the point's values filled in.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub env: Option<BTreeMap<String, String>>,
    /// Why the server was found dead when the run ended, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exited_during_run: Option<String>,
    /// The log file's name in the run directory.
    pub log: String,
    pub pid: Option<u32>,
    /// The `[server.matrix]` point (0 without one).
    pub point: usize,
    /// With a `[server.matrix]` of several points: each point's server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub points: Vec<ServerPointFacts>,
    pub ready_after_ms: f64,
    /// The point's values by name, with their TOML type (older runs
    /// stored them as strings).
    #[serde(default)]
    pub values: BTreeMap<String, serde_json::Value>,
}

/// One `[server.matrix]` point: its server, or why it did not start (its
/// cells were then not run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerPointFacts {
    Started(Box<ManagedServerFacts>),
    Failed(FailedPoint),
}

/// A `[server.matrix]` point (or the only `[server]`) whose server did not
/// start: why, and where its output is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedPoint {
    /// The command with the point's values filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    pub error: String,
    /// The log file's name in the run directory (absent in older runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// The last lines of the log.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_tail: Vec<String>,
    pub point: usize,
    /// The point's values by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, serde_json::Value>,
}

impl ManagedServerFacts {
    /// The points whose server did not start.
    pub(crate) fn failed_points(&self) -> impl Iterator<Item = &FailedPoint> {
        self.points.iter().filter_map(|p| match p {
            ServerPointFacts::Failed(failed) => Some(failed),
            ServerPointFacts::Started(_) => None,
        })
    }
}

/// What the resource monitor did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorFacts {
    /// The first error met writing samples, if any.
    #[serde(default)]
    pub error: Option<String>,
    pub gpu: GpuStatus,
    pub interval_ms: f64,
    /// Ticks skipped because a sample took longer than the interval.
    pub missed_ticks: u64,
    /// The sampler thread's own CPU use, in % of one core.
    #[serde(default)]
    pub sampler_cpu_pct: Option<f64>,
    pub samples: u64,
    #[serde(default)]
    pub server_pid: Option<u32>,
}

impl From<crate::monitor::MonitorSummary> for MonitorFacts {
    fn from(summary: crate::monitor::MonitorSummary) -> MonitorFacts {
        MonitorFacts {
            error: summary.error.clone(),
            sampler_cpu_pct: summary.sampler_cpu_pct(),
            gpu: summary.gpu_status,
            interval_ms: summary.interval_ms,
            missed_ticks: summary.missed_ticks,
            samples: summary.samples,
            server_pid: summary.server_pid,
        }
    }
}

/// One model's token counter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenizerFacts {
    /// The counter's source ("server", "hf:...", "heuristic", ...).
    pub counter: String,
    /// Why the counter is not what was asked for, when it is not.
    #[serde(default)]
    pub note: Option<String>,
    /// Which count the output token figures use.
    pub used_for_output_tokens: String,
}
