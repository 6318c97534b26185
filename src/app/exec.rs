//! `llmbench exec`: for each experiment file — load, plan, pre-flight every
//! backend (nothing is sent before the servers answer and have the models),
//! create the run directory, execute, then aggregate and render reports.

use super::report::{finish_run, RenderOptions};
use super::shards;
use super::tokens;
use super::{expand_files, AppError};
use crate::backend::{Backend, ServerInfo};
use crate::cli::{exit, ExecArgs};
use crate::exec::{execute_remaining, ExecOptions, ExecOutcome, PendingCheck, Progress, Target};
use crate::experiment::Experiment;
use crate::monitor::{GpuStatus, Monitor, MonitorHandle, MonitorSummary};
use crate::plan::{plan, Plan};
use crate::scale::resume::Continuation;
use crate::server::ManagedServer;
use crate::store::{
    collect_environment, git_info, RecordWriter, RunDir, RunManifest, SAMPLES_FILE, SERVER_LOG,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;
use tokio::sync::watch;

pub async fn exec(args: ExecArgs) -> Result<u8, AppError> {
    if let Some(dir) = &args.resume {
        let continuation = crate::scale::resume::open(dir)?;
        let path = crate::scale::resume::experiment_path(&continuation, &args.files)?;
        let overrides = continuation.manifest.overrides.clone();
        let experiment = crate::experiment::load(&path, &overrides)?;
        let cancel = cancel_on_ctrl_c();
        return run_experiment(&experiment, &args, cancel, Some(continuation)).await;
    }
    let files = expand_files(&args.files)?;
    // Load every file first: a typo in the third file should not surface
    // after the first two have run for an hour.
    let experiments = files
        .iter()
        .map(|file| crate::experiment::load(file, &args.set))
        .collect::<Result<Vec<_>, _>>()?;
    let cancel_rx = cancel_on_ctrl_c();
    let mut code = exit::OK;
    for experiment in &experiments {
        let this = run_experiment(experiment, &args, cancel_rx.clone(), None).await?;
        if code == exit::OK {
            code = this;
        }
        if this == exit::INTERRUPTED {
            break;
        }
    }
    Ok(code)
}

/// A channel that turns true on Ctrl-C.
fn cancel_on_ctrl_c() -> watch::Receiver<bool> {
    let (cancel_tx, cancel_rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping: no new requests; requests in flight are recorded as cancelled");
            let _ = cancel_tx.send(true);
        }
    });
    cancel_rx
}

async fn run_experiment(
    experiment: &Experiment,
    args: &ExecArgs,
    cancel: watch::Receiver<bool>,
    continuation: Option<Continuation>,
) -> Result<u8, AppError> {
    let sharding = shards::Sharding::new(experiment, args, continuation)?;
    if let Some(code) = sharding.nothing_to_send(experiment, args)? {
        return Ok(code);
    }
    let mut plan = sharding.plan(plan(experiment))?;
    let client = http_client(plan.max_in_flight())?;
    let targets = targets(experiment, &plan)?;
    let local_counters = tokens::load_local_counters(experiment)?;
    let started_at = jiff::Timestamp::now();
    let run_id = run_id();
    let save_responses = experiment.report.save_responses;
    let stamp = started_at.strftime("%Y%m%dT%H%M%SZ").to_string();
    let create_run = || {
        sharding.run_dir(save_responses).unwrap_or_else(|| {
            RunDir::create(&args.out, &experiment.name, &stamp, &run_id, save_responses)
        })
    };
    // A managed server logs into the run directory, so it exists first; a
    // plain run creates it only once the servers have answered.
    let (early_run, mut managed) = match &experiment.server {
        Some(config) => {
            let run = create_run()?;
            let server = start_server(experiment, config, 0, &run).await?;
            (Some(run), Some(server))
        }
        None => (None, None),
    };
    let servers = preflight(&targets, &plan, &client).await?;
    let counters = tokens::load_counters(experiment, &client, local_counters).await?;
    tokens::fit_synthetic(&mut plan, experiment, &counters, &client)?;
    let resumed = sharding.prepare_resume(&plan)?;
    let groups = plan.server_groups();
    let run = match early_run {
        Some(run) => run,
        None => create_run()?,
    };
    let mut manifest = match &resumed {
        Some(resumed) => resumed.manifest(),
        None => manifest(experiment, run_id.clone(), started_at, servers),
    };
    manifest.managed_server = managed
        .as_ref()
        .map(|server| managed_facts(experiment, 0, server));
    sharding.note(&mut manifest);
    if resumed.is_none() {
        run.write(
            crate::store::EXPERIMENT_FILE,
            experiment_copy(experiment).as_bytes(),
        )?;
        run.write_json(crate::store::PLAN_FILE, &plan)?;
    }
    run.write_json(crate::store::MANIFEST_FILE, &manifest)?;
    let to_send = resumed
        .as_ref()
        .map_or(plan.total_requests(), |r| r.prepared.facts.to_send);
    eprintln!(
        "{}: {}, {} requests → {}",
        experiment.name,
        crate::util::count_of(plan.cells.len(), "cell"),
        to_send,
        run.path.display()
    );

    sharding.wait_for_start(&mut manifest, &run).await?;
    let run_start = resumed
        .as_ref()
        .map_or_else(Instant::now, |r| r.clock_origin());
    let server_pid = managed.as_ref().and_then(ManagedServer::pid);
    let monitor = start_monitor(experiment, &run, server_pid, run_start)?;
    let visible = !args.quiet && std::io::stderr().is_terminal();
    let progress = Progress::new(to_send, plan.cells.len() as u64, visible);
    let mut writer = RecordWriter::open(&run, save_responses)?;
    let options = ExecOptions {
        run_start,
        keep_texts: counters.counts_anything(),
    };
    let mut stage = Stage {
        experiment,
        targets: &targets,
        client: &client,
        counters: &counters,
        run: &run,
        monitor: monitor.as_ref(),
        progress: &progress,
        options,
        remaining: resumed.as_ref().map(|r| &r.prepared.remaining),
    };
    let outcome = stage
        .run_groups(&groups, &mut managed, &mut manifest, &mut writer, cancel)
        .await;
    progress.finish();
    manifest.monitor = monitor.map(|m| monitor_facts(m.stop()));
    let (mut outcome, counted) = outcome?;
    let counted = shards::with_stored_tokens(&run, resumed.is_some(), counted)?;
    if !counted.is_empty() {
        run.write_tokens(&counted)?;
    }
    stop_server(managed.as_mut(), &mut manifest);
    let pending = std::mem::take(&mut outcome.pending_checks);
    let pending = shards::with_unscored(&run, &plan, resumed.is_some(), pending)?;
    score_responses(&run, pending, resumed.is_some()).await?;
    manifest.tokenizers = tokens::describe(&counters);
    manifest.loaded_models = outcome.loaded.clone();
    manifest.finished_at = Some(jiff::Timestamp::now().to_string());
    manifest.status = if outcome.interrupted {
        "interrupted"
    } else {
        "complete"
    }
    .to_string();
    run.write_json(crate::store::MANIFEST_FILE, &manifest)?;

    let finished = finish_run(&run, &manifest, &render_options(experiment, args))?;
    Ok(exit_code(&outcome, finished.code))
}

/// How a run's reports are rendered: the experiment's formats and templates
/// and those on the command line.
pub(super) fn render_options(experiment: &Experiment, args: &ExecArgs) -> RenderOptions {
    let templates = [experiment.report.templates.clone(), args.templates.clone()].concat();
    RenderOptions {
        formats: experiment.report.formats.clone(),
        templates,
        print_table: true,
        thresholds: experiment.thresholds.clone(),
    }
}

/// What running the plan's server groups needs.
struct Stage<'a> {
    experiment: &'a Experiment,
    targets: &'a BTreeMap<String, Target>,
    client: &'a reqwest::Client,
    counters: &'a tokens::Counters,
    run: &'a RunDir,
    monitor: Option<&'a MonitorHandle>,
    progress: &'a Progress,
    options: ExecOptions,
    /// A resumed run: only what is left.
    remaining: Option<&'a crate::exec::Remaining>,
}

impl Stage<'_> {
    /// Runs each `[server.matrix]` point's cells on its own server: the
    /// first server is already up; each later point stops the previous one
    /// and starts its own. Tokens are counted before a server stops (llama.cpp
    /// `/tokenize` needs it). A point whose server does not start is noted in
    /// the manifest and skipped; the others still run.
    async fn run_groups(
        &mut self,
        groups: &[Plan],
        managed: &mut Option<ManagedServer>,
        manifest: &mut RunManifest,
        writer: &mut RecordWriter,
        cancel: watch::Receiver<bool>,
    ) -> Result<(ExecOutcome, Vec<crate::record::TokenRecord>), AppError> {
        let mut total = ExecOutcome::default();
        let mut counted = Vec::new();
        let mut points = Vec::new();
        for (index, group) in groups.iter().enumerate() {
            if *cancel.borrow() {
                break;
            }
            if index > 0 {
                stop_server(managed.as_mut(), manifest);
                *managed = None;
                match self.restart(index).await {
                    Ok(server) => {
                        points.push(managed_facts(self.experiment, index, &server));
                        *managed = Some(server);
                    }
                    Err(error) => {
                        eprintln!("warning: {}; skipping its cells", error.message);
                        points.push(serde_json::json!({ "point": index, "error": error.message }));
                        continue;
                    }
                }
            } else if let Some(server) = managed.as_ref() {
                points.push(managed_facts(self.experiment, 0, server));
            }
            let mut outcome = execute_remaining(
                group,
                self.targets,
                self.client.clone(),
                writer,
                self.progress,
                cancel.clone(),
                self.options,
                self.remaining,
            )
            .await?;
            // Counting may ask the server (llama.cpp /tokenize): before it stops.
            let pending = std::mem::take(&mut outcome.pending_counts);
            if !pending.is_empty() {
                eprintln!("counting the tokens of {} responses ...", pending.len());
                counted.extend(tokens::count(self.counters, pending, self.client, group).await);
            }
            merge(&mut total, outcome);
        }
        if groups.len() > 1 {
            if let Some(facts) = manifest.managed_server.as_mut() {
                facts["points"] = serde_json::Value::Array(points);
            }
        }
        Ok((total, counted))
    }

    /// Starts the server for point `index` and has the monitor follow it.
    async fn restart(&mut self, index: usize) -> Result<ManagedServer, AppError> {
        let Some(config) = self.experiment.server.as_ref() else {
            return Err(AppError::new(exit::ERROR, "no [server] to restart"));
        };
        let server = start_server(self.experiment, config, index, self.run).await?;
        if let Some(monitor) = self.monitor {
            monitor.follow(server.pid());
        }
        Ok(server)
    }
}

/// Adds one server group's outcome to the run's.
fn merge(total: &mut ExecOutcome, outcome: ExecOutcome) {
    total.measured_ok += outcome.measured_ok;
    total.measured_failed += outcome.measured_failed;
    total.warmup += outcome.warmup;
    total.cold += outcome.cold;
    total.interrupted |= outcome.interrupted;
    total.loaded.extend(outcome.loaded);
    total.pending_checks.extend(outcome.pending_checks);
    total.pending_counts.extend(outcome.pending_counts);
}

/// Starts the resource monitor (unless `[monitor] enabled = false`),
/// following the managed server, else the process `[monitor] process` names.
fn start_monitor(
    experiment: &Experiment,
    run: &RunDir,
    server_pid: Option<u32>,
    origin: Instant,
) -> Result<Option<MonitorHandle>, AppError> {
    if !experiment.monitor.enabled {
        return Ok(None);
    }
    let handle = Monitor::start(
        &experiment.monitor,
        &run.file(SAMPLES_FILE),
        server_pid,
        origin,
    )
    .map_err(|e| AppError::new(exit::ERROR, format!("[monitor]: {e}")))?;
    if let GpuStatus::Unavailable { reason } = handle.gpu_status() {
        eprintln!("GPU monitoring unavailable: {reason}");
    }
    Ok(Some(handle))
}

fn monitor_facts(summary: MonitorSummary) -> serde_json::Value {
    serde_json::json!({
        "gpu": summary.gpu_status,
        "samples": summary.samples,
        "missed_ticks": summary.missed_ticks,
        "interval_ms": summary.interval_ms,
        "sampler_cpu_pct": summary.sampler_cpu_pct(),
        "server_pid": summary.server_pid,
        "error": summary.error,
    })
}

/// Notes a managed server that died during the run, then stops it.
fn stop_server(server: Option<&mut ManagedServer>, manifest: &mut RunManifest) {
    let Some(server) = server else { return };
    if let Err(error) = server.check_alive() {
        eprintln!("warning: {error}");
        if let Some(facts) = manifest.managed_server.as_mut() {
            facts["exited_during_run"] = serde_json::Value::String(error.to_string());
        }
    }
    server.stop();
}

/// Runs the quality checks of the measured responses, now that nothing is
/// being timed, and stores the results in checks.jsonl.
async fn score_responses(
    run: &RunDir,
    pending: Vec<PendingCheck>,
    resumed: bool,
) -> Result<(), AppError> {
    if pending.is_empty() {
        return Ok(());
    }
    eprintln!("checking {} responses ...", pending.len());
    let parallel = std::thread::available_parallelism().map_or(1, |n| n.get());
    let checks = crate::quality::score(pending, parallel).await;
    let checks = shards::with_stored_checks(run, resumed, checks)?;
    run.write_checks(&checks)?;
    Ok(())
}

/// Starts the `[server]` for its backend, at `[server.matrix]` point
/// `index`, and waits until it is healthy.
async fn start_server(
    experiment: &Experiment,
    config: &crate::experiment::ServerConfig,
    index: usize,
    run: &RunDir,
) -> Result<ManagedServer, AppError> {
    let url = experiment
        .backends
        .get(&config.backend)
        .map(|b| b.url.clone())
        .unwrap_or_default();
    let point = config.points.get(index).cloned().unwrap_or_default();
    let config = config.at_point(&point);
    let at = if point.values.is_empty() {
        String::new()
    } else {
        format!(" ({})", point.label())
    };
    eprintln!(
        "starting the server for backend `{}`{at}: {}",
        config.backend,
        crate::server::substitute(&config.command, &url).join(" ")
    );
    let log = run.file(&server_log(experiment, index));
    let server = ManagedServer::start(&config, &url, &log)
        .await
        .map_err(|e| AppError::new(exit::SERVER, format!("[server]{at}: {e}")))?;
    eprintln!(
        "server ready at {url} after {:.1} s",
        server.ready_after.as_secs_f64()
    );
    Ok(server)
}

/// server.log; with a `[server.matrix]`, server-1.log, server-2.log, … per point.
fn server_log(experiment: &Experiment, index: usize) -> String {
    let points = experiment.server.as_ref().map_or(1, |s| s.points.len());
    if points > 1 {
        format!("server-{}.log", index + 1)
    } else {
        SERVER_LOG.to_string()
    }
}

fn managed_facts(
    experiment: &Experiment,
    index: usize,
    server: &ManagedServer,
) -> serde_json::Value {
    let config = experiment.server.as_ref();
    let point = config
        .and_then(|c| c.points.get(index))
        .cloned()
        .unwrap_or_default();
    let filled = config.map(|c| c.at_point(&point));
    serde_json::json!({
        "point": index,
        "values": point.values.iter().cloned().collect::<BTreeMap<_, _>>(),
        "command": filled.as_ref().map(|c| c.command.clone()),
        "env": filled.as_ref().map(|c| c.env.clone()),
        "pid": server.pid(),
        "ready_after_ms": server.ready_after.as_secs_f64() * 1e3,
        "log": server_log(experiment, index),
    })
}

fn exit_code(outcome: &ExecOutcome, report_code: u8) -> u8 {
    if outcome.interrupted {
        exit::INTERRUPTED
    } else if outcome.measured_ok == 0 && outcome.measured_failed > 0 {
        eprintln!("error: every measured request failed; see the errors in the report");
        exit::ALL_FAILED
    } else {
        report_code
    }
}

/// One connection per request in flight, kept alive between requests so
/// connection set-up stays out of the timings.
fn http_client(concurrency: u32) -> Result<reqwest::Client, AppError> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| AppError::new(exit::ERROR, format!("cannot build the HTTP client: {e}")))
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
            AppError::new(exit::BAD_INPUT, format!("backend `{}`: {e}", cell.backend))
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
                        "backend `{name}`: {e}\nnothing was sent; no run directory was created"
                    ),
                )
            })?;
        servers.insert(name.clone(), info);
    }
    Ok(servers)
}

fn run_id() -> String {
    use rand::RngExt;
    let value: u32 = rand::rng().random();
    format!("{:06x}", value & 0xff_ffff)
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
        run_id,
        experiment: experiment.name.clone(),
        description: experiment.description.clone(),
        experiment_path: experiment.source.path.display().to_string(),
        experiment_sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
        overrides: experiment.source.overrides.clone(),
        git: git_info(&absolute(&experiment.source.path)),
        started_at: started_at.to_string(),
        finished_at: None,
        status: "running".into(),
        environment: collect_environment(),
        servers: serde_json::to_value(servers).unwrap_or_default(),
        managed_server: None,
        loaded_models: BTreeMap::new(),
        monitor: None,
        tokenizers: serde_json::Value::Null,
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
