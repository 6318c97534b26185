//! Stage 2, open: the run directory gets the experiment file as run, the
//! plan and the manifest (status `running`); from here on the run exists
//! on disk, and an error marks it `failed`.

use super::prepare::{Prepared, RunSlot};
use super::server::{managed_facts, unstarted_facts};
use super::tokens::Counters;
use crate::backend::ServerInfo;
use crate::error::AppError;
use crate::exec::Target;
use crate::experiment::Experiment;
use crate::plan::Plan;
use crate::scale::part::{Part, Resumed};
use crate::server::ManagedServer;
use crate::store::{collect_environment, git_info, RunDir, RunManifest, RunStatus};
use crate::store::{FailedPoint, ServerPointFacts, StoredRun};
use crate::store::{EXPERIMENT_FILE, MANIFEST_FILE, PLAN_FILE};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A run whose directory is open: stages 3 to 5 work on it.
pub struct OpenRun<'a> {
    pub experiment: &'a Experiment,
    pub plan: Plan,
    pub client: reqwest::Client,
    pub targets: BTreeMap<String, Target>,
    pub counters: Counters,
    pub managed: Option<ManagedServer>,
    /// The `[server.matrix]` point `managed` serves; the points before it
    /// did not start (they are in the manifest).
    pub server_point: usize,
    pub dir: RunDir,
    /// Kept up to date in memory; written when the run opens and ends.
    pub manifest: RunManifest,
    /// The part of a bigger run this is (a shard, a resume); none: the whole.
    pub part: Option<&'a Part>,
    /// A resumed run: what is left to send and its clock.
    pub resumed: Option<Resumed>,
}

/// Opens the run directory of a prepared run.
pub fn open(mut prepared: Prepared<'_>) -> Result<OpenRun<'_>, AppError> {
    let experiment = prepared.experiment;
    let dir = prepared.slot.dir()?.clone();
    let resumed = prepared.resumed.take();
    let mut manifest = match &resumed {
        Some(resumed) => resumed.manifest(),
        None => manifest(
            experiment,
            prepared.slot.run_id.clone(),
            prepared.slot.started_at,
            prepared.servers,
        ),
    };
    manifest.managed_server = prepared.managed.as_ref().map(|server| {
        let mut facts = managed_facts(experiment, prepared.server_point, server);
        facts.points = prepared
            .failed_points
            .drain(..)
            .map(ServerPointFacts::Failed)
            .collect();
        facts
    });
    if let Some(part) = prepared.part {
        part.note(&mut manifest);
    }
    // A resumed run keeps the experiment and plan it was made from.
    if resumed.is_none() {
        dir.write(EXPERIMENT_FILE, experiment_copy(experiment).as_bytes())?;
        dir.write_json(PLAN_FILE, &prepared.plan)?;
    }
    dir.write_json(MANIFEST_FILE, &manifest)?;
    let to_send = resumed.as_ref().map_or_else(
        || prepared.plan.requests_known(),
        |r| {
            format!(
                "{} to send",
                crate::util::count_of(r.prepared.facts.to_send as usize, "request")
            )
        },
    );
    eprintln!(
        "{}: {}, {} → {}",
        experiment.name,
        crate::util::count_of(prepared.plan.cells.len(), "cell"),
        to_send,
        dir.path.display()
    );
    Ok(OpenRun {
        experiment,
        plan: prepared.plan,
        client: prepared.client,
        targets: prepared.targets,
        counters: prepared.counters,
        managed: prepared.managed,
        server_point: prepared.server_point,
        dir,
        manifest,
        part: prepared.part,
        resumed,
    })
}

impl OpenRun<'_> {
    /// Passes `result` through; an error first marks the run `failed` in
    /// its manifest (and stops a managed server), so the directory says how
    /// it ended.
    pub(crate) fn fail_on_error<T>(&mut self, result: Result<T, AppError>) -> Result<T, AppError> {
        if result.is_err() {
            super::server::stop_server(self.managed.as_mut(), &mut self.manifest);
            self.manifest.status = RunStatus::Failed;
            self.manifest.finished_at = Some(jiff::Timestamp::now().to_string());
            if let Err(error) = self.dir.write_json(MANIFEST_FILE, &self.manifest) {
                eprintln!("warning: {error}");
            }
        }
        result
    }
}

/// The run no `[server]` point started for, made a `failed` run: its
/// directory (which holds the servers' logs) gets the experiment, the
/// plan, a manifest saying why each point failed, the summary and the
/// reports, so `llmbench report` reads it like any run. Returns `error`
/// with the directory named.
pub(super) fn failed_run(
    experiment: &Experiment,
    plan: &Plan,
    slot: &mut RunSlot,
    failed: Vec<FailedPoint>,
    mut error: AppError,
) -> AppError {
    match write_failed_run(experiment, plan, slot, failed) {
        Ok(dir) => {
            error.message = format!(
                "{}\nno [server] point started, nothing was sent; the servers' logs and the reports are in {}",
                error.message,
                dir.display()
            );
        }
        Err(write) => eprintln!("warning: the failed run was not stored: {}", write.message),
    }
    error
}

fn write_failed_run(
    experiment: &Experiment,
    plan: &Plan,
    slot: &mut RunSlot,
    failed: Vec<FailedPoint>,
) -> Result<PathBuf, AppError> {
    let (run_id, started_at) = (slot.run_id.clone(), slot.started_at);
    let dir = slot.dir()?.clone();
    let mut manifest = manifest(experiment, run_id, started_at, BTreeMap::new());
    manifest.managed_server = Some(unstarted_facts(experiment, failed));
    manifest.status = RunStatus::Failed;
    manifest.finished_at = Some(jiff::Timestamp::now().to_string());
    dir.write(EXPERIMENT_FILE, experiment_copy(experiment).as_bytes())?;
    dir.write_json(PLAN_FILE, plan)?;
    dir.write_json(MANIFEST_FILE, &manifest)?;
    let options = super::RenderOptions {
        formats: experiment.report.formats.clone(),
        templates: experiment.report.templates.clone(),
        print_table: true,
        thresholds: Vec::new(),
    };
    super::finish_run(&StoredRun::open(&dir.path)?, &options)?;
    Ok(dir.path)
}

fn manifest(
    experiment: &Experiment,
    run_id: String,
    started_at: jiff::Timestamp,
    servers: BTreeMap<String, ServerInfo>,
) -> RunManifest {
    let digest = Sha256::digest(experiment.source.text.as_bytes());
    RunManifest {
        llmbench_version: env!("CARGO_PKG_VERSION").to_string(),
        llmbench_commit: crate::cli::build_commit().map(str::to_string),
        run_id,
        experiment: experiment.name.clone(),
        description: experiment.description.clone(),
        experiment_path: experiment.source.path.display().to_string(),
        experiment_sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
        overrides: experiment.source.overrides.clone(),
        git: git_info(&absolute(&experiment.source.path)),
        started_at: started_at.to_string(),
        finished_at: None,
        status: RunStatus::Running,
        pid: Some(std::process::id()),
        environment: collect_environment(),
        servers: serde_json::to_value(servers).unwrap_or_default(),
        managed_server: None,
        loaded_models: BTreeMap::new(),
        monitor: None,
        tokenizers: BTreeMap::new(),
        stopped_cells: Vec::new(),
        shard: None,
        resumes: Vec::new(),
        merge: None,
    }
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The experiment file as run: its text, with the overrides noted on top.
fn experiment_copy(experiment: &Experiment) -> String {
    let mut text = String::new();
    for set in &experiment.source.overrides {
        text.push_str(&format!("# llmbench exec --set {set}\n"));
    }
    text.push_str(&experiment.source.text);
    text
}
