//! Finding and reading the runs `history` is given: run directories,
//! experiment folders of runs, or a whole `benchmarks/`; each run's commit
//! (hash, subject, date from git), the facts that can change besides the
//! code, and its cells' and models' figures, in commit-time order.

use super::metrics::{Estimate, METRICS};
use super::stored::{is_run_dir, read_run, StoredRun};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The commit a run's experiment file was at.
#[derive(Debug, Clone, Serialize)]
pub struct CommitInfo {
    pub hash: String,
    pub short: String,
    pub subject: String,
    /// ISO 8601 committer date.
    pub date: String,
    /// Committer time, seconds since the epoch (orders the runs).
    #[serde(skip)]
    pub time: i64,
}

/// One run, as history orders and labels it.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub dir: PathBuf,
    pub run_id: String,
    pub experiment: String,
    pub started_at: String,
    /// From git; `None` for a run outside git or a commit git does not know.
    pub commit: Option<CommitInfo>,
    /// The experiment file had uncommitted changes.
    pub dirty: bool,
    /// What may change between runs besides the code: name → value.
    pub facts: BTreeMap<&'static str, String>,
}

impl RunInfo {
    /// "1a2b3c4d" or "run 20261128T…" when there is no commit.
    pub(crate) fn label(&self) -> String {
        match &self.commit {
            Some(c) => format!("{}{}", c.short, if self.dirty { "+" } else { "" }),
            None => self.run_id.clone(),
        }
    }
}

/// Whether a series follows one cell or one model (pooled over its cells).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    Cell,
    Model,
}

/// What a series is of.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesMeta {
    pub kind: SeriesKind,
    /// Cell id, or the model's name.
    pub id: String,
    pub experiment: String,
    pub model: String,
    pub label: String,
    /// The prompt (cells only).
    pub prompt: String,
    /// Model, prompt, matrix values and load: equal for cells that would be
    /// the same but for their definition (then their ids differ).
    #[serde(skip)]
    pub definition: String,
}

/// The figures of one series: per run index, one estimate per metric.
#[derive(Debug, Clone)]
pub struct SeriesData {
    pub meta: SeriesMeta,
    pub points: Vec<(usize, Vec<Option<Estimate>>)>,
}

/// Everything read: runs in history order and the series over them.
#[derive(Debug, Default)]
pub struct Collected {
    pub runs: Vec<RunInfo>,
    pub series: Vec<SeriesData>,
    /// Runs that could not be read, with why.
    pub skipped: Vec<String>,
}

/// Every run directory under `dirs`: a run itself, its experiment folder,
/// or a folder of experiment folders.
pub(crate) fn find_runs(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut runs = Vec::new();
    for dir in dirs {
        collect_dir(dir, 2, &mut runs);
    }
    runs.sort();
    runs.dedup();
    runs
}

fn collect_dir(dir: &Path, depth: usize, runs: &mut Vec<PathBuf>) {
    if is_run_dir(dir) {
        runs.push(dir.to_path_buf());
        return;
    }
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.path().is_dir() {
            collect_dir(&entry.path(), depth - 1, runs);
        }
    }
}

/// Reads `dirs`' runs, orders them by commit time then start time and
/// gathers each cell's and model's figures.
pub fn collect(dirs: &[PathBuf]) -> Collected {
    let mut collected = Collected::default();
    let mut index: HashMap<(SeriesKind, String, String), usize> = HashMap::new();
    let mut commits = CommitCache::default();
    for dir in find_runs(dirs) {
        let run = match read_run(&dir) {
            Ok(run) => run,
            Err(e) => {
                collected.skipped.push(e.to_string());
                continue;
            }
        };
        let run_index = collected.runs.len();
        collected.runs.push(run_info(&run, &mut commits));
        add_points(&run, run_index, &mut index, &mut collected.series);
    }
    order_runs(&mut collected);
    collected
}

/// Sorts runs by (commit time, start time) and renumbers the points.
fn order_runs(collected: &mut Collected) {
    let mut order: Vec<usize> = (0..collected.runs.len()).collect();
    let key = |run: &RunInfo| {
        (
            run.commit.as_ref().map_or(i64::MAX, |c| c.time),
            run.started_at.clone(),
        )
    };
    order.sort_by_key(|&i| key(&collected.runs[i]));
    let mut new_index = vec![0; order.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    let runs = std::mem::take(&mut collected.runs);
    let mut slots: Vec<Option<RunInfo>> = runs.into_iter().map(Some).collect();
    collected.runs = order.iter().filter_map(|&old| slots[old].take()).collect();
    for series in &mut collected.series {
        series.points.iter_mut().for_each(|p| p.0 = new_index[p.0]);
        series.points.sort_by_key(|p| p.0);
    }
}

fn add_points(
    run: &StoredRun,
    run_index: usize,
    index: &mut HashMap<(SeriesKind, String, String), usize>,
    series: &mut Vec<SeriesData>,
) {
    let experiment = &run.manifest.experiment;
    for cell in &run.cells {
        let values = METRICS.iter().map(|m| (m.cell)(cell)).collect();
        let matrix = serde_json::to_string(&cell.matrix).unwrap_or_default();
        let meta = SeriesMeta {
            kind: SeriesKind::Cell,
            id: cell.id.clone(),
            experiment: experiment.clone(),
            model: cell.model.clone(),
            label: cell.label.clone(),
            prompt: cell.prompt.clone(),
            definition: format!(
                "{}|{}|{}|{}",
                cell.model,
                cell.prompt,
                matrix,
                load_label(cell)
            ),
        };
        push(index, series, meta, run_index, values);
    }
    for model in &run.models {
        let values = METRICS.iter().map(|m| (m.model)(model)).collect();
        let meta = SeriesMeta {
            kind: SeriesKind::Model,
            id: model.name.clone(),
            experiment: experiment.clone(),
            model: model.name.clone(),
            label: model.label.clone(),
            prompt: String::new(),
            definition: model.name.clone(),
        };
        push(index, series, meta, run_index, values);
    }
}

fn load_label(cell: &crate::aggregate::CellSummary) -> String {
    serde_json::to_string(&cell.load).unwrap_or_default()
}

fn push(
    index: &mut HashMap<(SeriesKind, String, String), usize>,
    series: &mut Vec<SeriesData>,
    meta: SeriesMeta,
    run_index: usize,
    values: Vec<Option<Estimate>>,
) {
    let key = (meta.kind, meta.experiment.clone(), meta.id.clone());
    let i = *index.entry(key).or_insert_with(|| {
        series.push(SeriesData {
            meta,
            points: Vec::new(),
        });
        series.len() - 1
    });
    series[i].points.push((run_index, values));
}

fn run_info(run: &StoredRun, commits: &mut CommitCache) -> RunInfo {
    let m = &run.manifest;
    let commit = m
        .git
        .as_ref()
        .and_then(|git| commits.info(&git.commit, &run.dir, &m.experiment_path));
    RunInfo {
        dir: run.dir.clone(),
        run_id: m.run_id.clone(),
        experiment: m.experiment.clone(),
        started_at: m.started_at.clone(),
        commit,
        dirty: m.git.as_ref().is_some_and(|g| g.dirty),
        facts: facts(run),
    }
}

/// What can change between runs besides the code.
fn facts(run: &StoredRun) -> BTreeMap<&'static str, String> {
    let m = &run.manifest;
    let mut facts = BTreeMap::new();
    facts.insert(
        "experiment file",
        m.experiment_sha256.chars().take(12).collect(),
    );
    let llmbench = match &m.llmbench_commit {
        Some(commit) => format!(
            "{} ({})",
            m.llmbench_version,
            &commit[..commit.len().min(12)]
        ),
        None => m.llmbench_version.clone(),
    };
    facts.insert("llmbench", llmbench);
    let (servers, models) = server_facts(&m.servers);
    facts.insert("server version", servers);
    facts.insert("model digest", models);
    facts.insert("host", m.environment.host.clone());
    facts.insert(
        "GPU",
        gpu_fact(m.monitor.as_ref().map(|monitor| &monitor.gpu)),
    );
    facts
}

/// "NVIDIA H200 ×2 (driver 570.1)", "off", "unavailable", or empty without a monitor.
fn gpu_fact(status: Option<&crate::monitor::GpuStatus>) -> String {
    use crate::monitor::GpuStatus;
    match status {
        None => String::new(),
        Some(GpuStatus::Off) => "off".into(),
        Some(GpuStatus::Unavailable { .. }) => "unavailable".into(),
        Some(GpuStatus::Available {
            driver_version,
            devices,
        }) => {
            let names: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
            let driver = driver_version.as_deref().unwrap_or("?");
            format!("{} (driver {driver})", names.join(", "))
        }
    }
}

/// "default=0.6.2" per backend and "qwen3:0.6b=1a2b3c4d5e6f" per model.
fn server_facts(servers: &serde_json::Value) -> (String, String) {
    let (mut versions, mut digests) = (Vec::new(), Vec::new());
    for (name, server) in servers.as_object().into_iter().flatten() {
        let version = server["version"].as_str().unwrap_or("?");
        versions.push(format!("{name}={version}"));
        for model in server["models"].as_array().into_iter().flatten() {
            if let Some(digest) = model["details"]["digest"].as_str() {
                let id = model["id"].as_str().unwrap_or("?");
                digests.push(format!("{id}={}", &digest[..digest.len().min(12)]));
            }
        }
    }
    (versions.join(" "), digests.join(" "))
}

/// Commit details from git, asked once per commit.
#[derive(Default)]
struct CommitCache {
    known: HashMap<String, Option<CommitInfo>>,
}

impl CommitCache {
    fn info(&mut self, hash: &str, run_dir: &Path, experiment_path: &str) -> Option<CommitInfo> {
        if let Some(info) = self.known.get(hash) {
            return info.clone();
        }
        // The experiment's repository: where the file was (relative to where
        // exec ran, often here), else wherever history runs.
        let file_dir = Path::new(experiment_path).parent().map(Path::to_path_buf);
        let places = [
            file_dir,
            Some(PathBuf::from(".")),
            run_dir.parent().map(Path::to_path_buf),
        ];
        let info = places
            .iter()
            .flatten()
            .filter(|dir| dir.as_os_str().is_empty() || dir.is_dir())
            .find_map(|dir| git_show(dir, hash));
        self.known.insert(hash.to_string(), info.clone());
        info
    }
}

fn git_show(dir: &Path, hash: &str) -> Option<CommitInfo> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "show",
            "-s",
            "--format=%H%x1f%h%x1f%s%x1f%cI%x1f%ct",
            hash,
            "--",
        ])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut parts = text.trim_end().split('\x1f');
    Some(CommitInfo {
        hash: parts.next()?.to_string(),
        short: parts.next()?.to_string(),
        subject: parts.next()?.to_string(),
        date: parts.next()?.to_string(),
        time: parts.next()?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "{}").unwrap();
    }

    #[test]
    fn runs_are_found_at_any_level_and_a_merged_run_counts_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("benchmarks");
        touch(&root.join("a/run-1/manifest.json"));
        touch(&root.join("a/run-2/manifest.json"));
        // A merged run keeps each shard's manifest under shards/: one run.
        touch(&root.join("a/run-2/shards/0/manifest.json"));
        touch(&root.join("b/run-3/manifest.json"));
        std::fs::create_dir_all(root.join("b/not-a-run")).unwrap();
        let names = |dirs: &[PathBuf]| -> Vec<String> {
            find_runs(dirs)
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            names(std::slice::from_ref(&root)),
            ["run-1", "run-2", "run-3"]
        );
        assert_eq!(names(&[root.join("a")]), ["run-1", "run-2"]);
        assert_eq!(
            names(&[root.join("a/run-2"), root.join("a")]),
            ["run-1", "run-2"]
        );
    }
}
