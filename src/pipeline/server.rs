//! The `[server]` llmbench starts, stops and restarts for each
//! `[server.matrix]` point, and what the manifest says about it.

use crate::cli::exit;
use crate::error::AppError;
use crate::experiment::{Experiment, ServerConfig};
use crate::server::ManagedServer;
use crate::store::{ManagedServerFacts, RunDir, RunManifest, SERVER_LOG};

/// Starts the `[server]` for its backend, at `[server.matrix]` point
/// `index`, and waits until it is healthy.
pub(super) async fn start_server(
    experiment: &Experiment,
    config: &ServerConfig,
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
        .map_err(|e| AppError::new(exit::SERVER, format!("[server]{at}: {e}")).because(e))?;
    eprintln!(
        "server ready at {url} after {:.1} s",
        server.ready_after.as_secs_f64()
    );
    Ok(server)
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

/// What the manifest says about the server of point `index`.
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
    let filled = config.map(|c| c.at_point(&point));
    ManagedServerFacts {
        point: index,
        values: point.values.iter().cloned().collect(),
        command: filled.as_ref().map(|c| c.command.clone()),
        env: filled.as_ref().map(|c| c.env.clone()),
        pid: server.pid(),
        ready_after_ms: server.ready_after.as_secs_f64() * 1e3,
        log: server_log(experiment, index),
        exited_during_run: None,
        points: Vec::new(),
    }
}
