//! The `[server]` llmbench starts, stops and restarts for each
//! `[server.matrix]` point, and what the manifest says about it: each
//! point's server as started (command as run, pid, log), or why it did not
//! start (the error, the log's name and its last lines).

use crate::cli::exit;
use crate::error::AppError;
use crate::experiment::{Experiment, ServerConfig, ServerPoint};
use crate::server::ManagedServer;
use crate::store::SERVER_LOG;
use crate::store::{FailedPoint, ManagedServerFacts, RunDir, RunManifest, ServerPointFacts};

/// Starts the `[server]` for its backend, at `[server.matrix]` point
/// `index`, and waits until it is healthy.
pub(super) async fn start_server(
    experiment: &Experiment,
    config: &ServerConfig,
    index: usize,
    run: &RunDir,
) -> Result<ManagedServer, AppError> {
    let url = backend_url(experiment, config);
    let point = config.points.get(index).cloned().unwrap_or_default();
    let config = config.at_point(&point);
    let at = point_words(&point);
    eprintln!(
        "starting the server for backend `{}`{at}: {}",
        config.backend,
        crate::server::substitute(&config.command, &url).join(" ")
    );
    let log = run.file(&server_log(experiment, index));
    let server = ManagedServer::start(&config, &url, &log)
        .await
        .map_err(|e| AppError::new(exit::SERVER, format!("[server]{at}: {e}")).because(e))?;
    eprintln!(
        "server ready at {url} after {:.1} s",
        server.ready_after.as_secs_f64()
    );
    Ok(server)
}

/// The first server that starts, at `point`, after the points before it
/// that did not start.
pub(super) struct FirstServer {
    pub server: ManagedServer,
    pub point: usize,
    pub failed: Vec<FailedPoint>,
}

/// Starts the server of the first `[server.matrix]` point that starts:
/// a point whose server does not start is noted and the next one tried,
/// so one bad value does not cost the others. With `keep_going` false (a
/// resumed run) the first failure is the error. When no point starts, the
/// error comes with every point's failure.
pub(super) async fn start_first(
    experiment: &Experiment,
    config: &ServerConfig,
    run: &RunDir,
    keep_going: bool,
) -> Result<FirstServer, (AppError, Vec<FailedPoint>)> {
    let mut failed = Vec::new();
    let points = if keep_going { config.points.len() } else { 1 };
    let mut last = None;
    for point in 0..points.max(1) {
        match start_server(experiment, config, point, run).await {
            Ok(server) => {
                return Ok(FirstServer {
                    server,
                    point,
                    failed,
                })
            }
            Err(error) => {
                failed.push(failed_point(experiment, point, run, &error));
                if point + 1 < points {
                    eprintln!("warning: {}; skipping its cells", error.message);
                }
                last = Some(error);
            }
        }
    }
    let error = last.unwrap_or_else(|| AppError::new(exit::SERVER, "[server]: no point to start"));
    Err((error, failed))
}

/// What the manifest says about point `index`, whose server did not start
/// with `error`: the command as run, its values and the end of its log.
pub(super) fn failed_point(
    experiment: &Experiment,
    index: usize,
    run: &RunDir,
    error: &AppError,
) -> FailedPoint {
    let log = server_log(experiment, index);
    let config = experiment.server.as_ref();
    let point = config
        .and_then(|c| c.points.get(index))
        .cloned()
        .unwrap_or_default();
    // The point is said apart; the error is the server's own.
    let prefix = format!("[server]{}: ", point_words(&point));
    FailedPoint {
        command: config.map(|c| command_as_run(experiment, c, &point)),
        error: error
            .message
            .strip_prefix(&prefix)
            .unwrap_or(&error.message)
            .to_string(),
        log_tail: crate::server::log_tail(&run.file(&log), LOG_TAIL_LINES),
        log: Some(log),
        point: index,
        values: point.values.into_iter().collect(),
    }
}

/// Lines of a failed server's log kept in the manifest and the reports.
const LOG_TAIL_LINES: usize = 20;

/// " (parallel=4)": a point in messages; empty without a server matrix.
fn point_words(point: &ServerPoint) -> String {
    if point.values.is_empty() {
        String::new()
    } else {
        format!(" ({})", point.label())
    }
}

fn backend_url(experiment: &Experiment, config: &ServerConfig) -> String {
    experiment
        .backends
        .get(&config.backend)
        .map(|b| b.url.clone())
        .unwrap_or_default()
}

/// The command of `point` as the server gets it: its values and the
/// backend URL's `{url}`, `{host}`, `{port}` filled in.
fn command_as_run(
    experiment: &Experiment,
    config: &ServerConfig,
    point: &ServerPoint,
) -> Vec<String> {
    let url = backend_url(experiment, config);
    crate::server::substitute(&config.at_point(point).command, &url)
}

/// After cells stopped for connection failures: whether the managed server
/// has exited (then it is noted with its log tail and the run stops).
pub(super) fn server_exited(
    server: Option<&mut ManagedServer>,
    manifest: &mut RunManifest,
) -> bool {
    let Some(server) = server else { return false };
    let Err(error) = server.check_alive() else {
        return false;
    };
    eprintln!(
        "error: {error}; the run stops. The end of its log:\n{}",
        server.log_tail(20)
    );
    if let Some(facts) = manifest.managed_server.as_mut() {
        facts.exited_during_run = Some(error.to_string());
    }
    true
}

/// Notes a managed server that died during the run, then stops it.
pub(super) fn stop_server(server: Option<&mut ManagedServer>, manifest: &mut RunManifest) {
    let Some(server) = server else { return };
    if let Err(error) = server.check_alive() {
        eprintln!("warning: {error}");
        if let Some(facts) = manifest.managed_server.as_mut() {
            facts.exited_during_run = Some(error.to_string());
        }
    }
    server.stop();
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

/// What the manifest says about the server of point `index`: the command
/// and environment as run (every placeholder filled in).
pub(super) fn managed_facts(
    experiment: &Experiment,
    index: usize,
    server: &ManagedServer,
) -> ManagedServerFacts {
    let config = experiment.server.as_ref();
    let point = config
        .and_then(|c| c.points.get(index))
        .cloned()
        .unwrap_or_default();
    let run = config.map(|c| {
        let url = backend_url(experiment, c);
        let env = crate::server::substitute_env(&c.at_point(&point).env, &url);
        (command_as_run(experiment, c, &point), env)
    });
    ManagedServerFacts {
        point: index,
        values: point.values.iter().cloned().collect(),
        command: run.as_ref().map(|(command, _)| command.clone()),
        env: run.map(|(_, env)| env),
        pid: server.pid(),
        ready_after_ms: server.ready_after.as_secs_f64() * 1e3,
        log: server_log(experiment, index),
        exited_during_run: None,
        points: Vec::new(),
    }
}

/// What the manifest says when no server started: the first point's
/// command and log, no pid, and every point's failure.
pub(super) fn unstarted_facts(
    experiment: &Experiment,
    failed: Vec<FailedPoint>,
) -> ManagedServerFacts {
    let first = failed.first();
    ManagedServerFacts {
        point: 0,
        values: first.map(|f| f.values.clone()).unwrap_or_default(),
        command: first.and_then(|f| f.command.clone()),
        env: None,
        pid: None,
        ready_after_ms: 0.0,
        log: server_log(experiment, 0),
        exited_during_run: None,
        points: failed.into_iter().map(ServerPointFacts::Failed).collect(),
    }
}
