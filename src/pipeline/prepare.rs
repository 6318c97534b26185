//! Stage 1, prepare: everything a run needs before its directory holds a
//! manifest. The plan, the HTTP client and the targets come from the
//! experiment alone; then the `[server]` is started (if any), every backend
//! is pre-flighted, the token counters are loaded (an `auto` counter may ask
//! the server) and the synthetic prompts are fitted to them. A plain run
//! creates no directory here, so a server that does not answer leaves none.
//! A `[server]` logs into the run directory, so that is created first; a
//! `[server.matrix]` point whose server does not start is noted and the
//! next one tried, and when none starts the directory becomes a `failed`
//! run with the logs and the reports (`open::failed_run`).

use super::server::start_first;
use super::tokens::{self, Counters};
use crate::backend::{Backend, ServerInfo};
use crate::cli::exit;
use crate::error::AppError;
use crate::exec::Target;
use crate::experiment::Experiment;
use crate::plan::{plan, Plan};
use crate::scale::part::{Part, Resumed};
use crate::server::ManagedServer;
use crate::store::{FailedPoint, RunDir};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A run ready to open: what the experiment planned and the servers said.
pub struct Prepared<'a> {
    pub experiment: &'a Experiment,
    pub plan: Plan,
    pub client: reqwest::Client,
    /// The backends the plan uses, by name.
    pub targets: BTreeMap<String, Target>,
    pub counters: Counters,
    /// What each backend said in pre-flight, by name.
    pub servers: BTreeMap<String, ServerInfo>,
    /// The `[server]`, started and healthy.
    pub managed: Option<ManagedServer>,
    /// The `[server.matrix]` point `managed` serves (0 without a matrix).
    pub server_point: usize,
    /// The points before it whose server did not start.
    pub failed_points: Vec<FailedPoint>,
    pub slot: RunSlot,
    /// The part of a bigger run this is (a shard, a resume); none: the whole.
    pub part: Option<&'a Part>,
    /// A resumed run: the stored run and what is left of it.
    pub resumed: Option<Resumed>,
}

/// Prepares `experiment` for a run whose directory goes under `out`.
pub async fn prepare<'a>(experiment: &'a Experiment, out: &Path) -> Result<Prepared<'a>, AppError> {
    prepare_part(experiment, out, None).await
}

/// Prepares `part` of `experiment` (a shard of its plan, or the rest of a
/// stored run) for a run whose directory goes under `out`.
pub async fn prepare_part<'a>(
    experiment: &'a Experiment,
    out: &Path,
    part: Option<&'a Part>,
) -> Result<Prepared<'a>, AppError> {
    let mut plan = plan(experiment);
    if let Some(part) = part {
        plan = part.plan(plan)?;
    }
    let client = http_client(plan.max_in_flight())?;
    let targets = targets(experiment, &plan)?;
    let local_counters = tokens::load_local_counters(experiment)?;
    let mut slot = RunSlot::new(out, experiment);
    if let Some(dir) = part.and_then(|p| p.run_dir(experiment.report.save_responses)) {
        slot.dir = Some(dir?);
    }
    // A managed server logs into the run directory, so it exists first.
    let first = match &experiment.server {
        Some(config) => {
            // A resumed run's points are the stored run's: no skipping.
            let keep_going = part.is_none_or(|p| !p.is_resume());
            match start_first(experiment, config, slot.dir()?, keep_going).await {
                Ok(first) => Some(first),
                Err((error, failed)) if keep_going => {
                    return Err(super::open::failed_run(
                        experiment, &plan, &mut slot, failed, error,
                    ));
                }
                Err((error, _)) => return Err(error),
            }
        }
        None => None,
    };
    let (managed, server_point, failed_points) = match first {
        Some(first) => (Some(first.server), first.point, first.failed),
        None => (None, 0, Vec::new()),
    };
    let servers = preflight(&targets, &plan, &client).await?;
    let counters = tokens::load_counters(experiment, &client, local_counters).await?;
    tokens::fit_synthetic(&mut plan, experiment, &counters, &client)?;
    let resumed = match part {
        Some(part) => part.prepare_resume(&plan)?,
        None => None,
    };
    Ok(Prepared {
        experiment,
        plan,
        client,
        targets,
        counters,
        servers,
        managed,
        server_point,
        failed_points,
        slot,
        part,
        resumed,
    })
}

/// The run's identity and its directory, created on first use.
pub struct RunSlot {
    pub started_at: jiff::Timestamp,
    pub run_id: String,
    root: PathBuf,
    experiment: String,
    save_responses: bool,
    dir: Option<RunDir>,
}

impl RunSlot {
    fn new(root: &Path, experiment: &Experiment) -> RunSlot {
        RunSlot {
            started_at: jiff::Timestamp::now(),
            run_id: run_id(),
            root: root.to_path_buf(),
            experiment: experiment.name.clone(),
            save_responses: experiment.report.save_responses,
            dir: None,
        }
    }

    /// `<root>/<experiment>/<stamp>-<id>/`, created the first time.
    pub(crate) fn dir(&mut self) -> Result<&RunDir, AppError> {
        if self.dir.is_none() {
            let stamp = self.started_at.strftime("%Y%m%dT%H%M%SZ").to_string();
            let dir = RunDir::create(
                &self.root,
                &self.experiment,
                &stamp,
                &self.run_id,
                self.save_responses,
            )?;
            self.dir = Some(dir);
        }
        self.dir
            .as_ref()
            .ok_or_else(|| AppError::new(exit::ERROR, "the run directory was not created"))
    }
}

fn run_id() -> String {
    use rand::RngExt;
    let value: u32 = rand::rng().random();
    format!("{:06x}", value & 0xff_ffff)
}

/// One connection per request in flight, kept alive between requests so
/// connection set-up stays out of the timings.
fn http_client(concurrency: u32) -> Result<reqwest::Client, AppError> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| {
            AppError::new(exit::ERROR, format!("cannot build the HTTP client: {e}")).because(e)
        })
}

/// The backends the plan uses, ready to send.
fn targets(experiment: &Experiment, plan: &Plan) -> Result<BTreeMap<String, Target>, AppError> {
    let mut targets = BTreeMap::new();
    for cell in &plan.cells {
        if targets.contains_key(&cell.backend) {
            continue;
        }
        let config = experiment.backends.get(&cell.backend).ok_or_else(|| {
            AppError::new(
                exit::BAD_INPUT,
                format!(
                    "model {} names backend `{}`, which is not defined",
                    cell.model, cell.backend
                ),
            )
        })?;
        let backend = Backend::new(config, experiment.run.ollama_api).map_err(|e| {
            AppError::new(exit::BAD_INPUT, format!("backend `{}`: {e}", cell.backend)).because(e)
        })?;
        targets.insert(
            cell.backend.clone(),
            Target {
                backend,
                timeout: config.timeout,
            },
        );
    }
    Ok(targets)
}

/// Asks each backend whether it is up and has its models, before sending anything.
async fn preflight(
    targets: &BTreeMap<String, Target>,
    plan: &Plan,
    client: &reqwest::Client,
) -> Result<BTreeMap<String, ServerInfo>, AppError> {
    let mut servers = BTreeMap::new();
    for (name, target) in targets {
        let mut models: Vec<&str> = plan
            .cells
            .iter()
            .filter(|c| &c.backend == name)
            .map(|c| c.model.as_str())
            .collect();
        models.dedup();
        let info = target
            .backend
            .preflight(client, &models)
            .await
            .map_err(|e| {
                AppError::new(
                    exit::SERVER,
                    format!(
                        "backend `{name}`: {}\nnothing was sent; no run directory was created",
                        target.backend.redact(&e.to_string())
                    ),
                )
                .because(e)
            })?;
        servers.insert(name.clone(), info);
    }
    Ok(servers)
}
