//! Managed servers: start the `[server]` command in its own process group,
//! capture its output to server.log, poll its health URL until it answers 200
//! (measuring the time to ready), and stop it — SIGTERM to the whole group,
//! then SIGKILL after the stop timeout — at the end, on error, on Ctrl-C and
//! when the handle is dropped. The server's whole process group also dies
//! with llmbench however llmbench ends, SIGKILL included: a small watchdog
//! (`sh`, in its own group) reads a pipe that only llmbench holds open; when
//! the pipe closes it sends SIGTERM to the server's group and SIGKILL after
//! the stop timeout. (PR_SET_PDEATHSIG, also set, reaches only the direct
//! child, not a `sh -c` wrapper's children.) A process that leaves the group
//! (setsid, a daemon that double-forks) is not reached.

use crate::experiment::ServerConfig;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why a managed server could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServerError {
    #[error("cannot start `{program}`: {reason}")]
    Spawn { program: String, reason: String },
    #[error("the server exited with {status} before it was healthy; its output is in {log}")]
    Exited { status: String, log: String },
    #[error("{url} did not answer 200 within {timeout:?}; the server's output is in {log}")]
    NotHealthy {
        url: String,
        timeout: Duration,
        log: String,
    },
    #[error("the server exited during the run ({status}); its output is in {log}")]
    Crashed { status: String, log: String },
}

/// The watchdog script: `$1` the server's process group, `$2` the stop
/// timeout in seconds. Signals to llmbench's terminal or session do not stop
/// it; only the end of its stdin does.
const WATCHDOG: &str = r#"trap '' INT TERM HUP
while read -r _; do :; done
kill -TERM "-$1" 2>/dev/null || exit 0
sleep "$2"
kill -KILL "-$1" 2>/dev/null
exit 0"#;

/// A running server. Dropping it stops it.
pub struct ManagedServer {
    child: Option<Child>,
    /// Stops the server's group if llmbench dies without stopping it.
    watchdog: Option<Child>,
    stop_timeout: Duration,
    log: String,
    /// From spawn to the first healthy answer.
    pub ready_after: Duration,
}

impl ManagedServer {
    /// Starts the server for a backend at `base_url` and waits until healthy.
    pub(crate) async fn start(
        config: &ServerConfig,
        base_url: &str,
        log: &Path,
    ) -> Result<ManagedServer, ServerError> {
        let command = substitute(&config.command, base_url);
        let log_text = log.display().to_string();
        let output = File::create(log).map_err(|e| spawn_error(&command[0], e))?;
        let errors = output
            .try_clone()
            .map_err(|e| spawn_error(&command[0], e))?;
        let mut process = Command::new(&command[0]);
        process
            .args(&command[1..])
            .envs(substitute_env(&config.env, base_url))
            .current_dir(&config.cwd)
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; it only sets this child's
        // parent-death signal between fork and exec.
        unsafe {
            process.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let started = Instant::now();
        let child = process.spawn().map_err(|e| spawn_error(&command[0], e))?;
        let watchdog = start_watchdog(child.id(), config.stop_timeout);
        let mut server = ManagedServer {
            child: Some(child),
            watchdog,
            stop_timeout: config.stop_timeout,
            log: log_text,
            ready_after: Duration::ZERO,
        };
        let health = format!("{base_url}{}", config.health);
        server.wait_healthy(&health, config.startup_timeout).await?;
        server.ready_after = started.elapsed();
        Ok(server)
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The last `lines` lines of the server's log (for an error message).
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        log_tail(Path::new(&self.log), lines).join("\n")
    }

    /// An error when the server has exited (it must live for the whole run).
    pub(crate) fn check_alive(&mut self) -> Result<(), ServerError> {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => Err(ServerError::Crashed {
                status: status.to_string(),
                log: self.log.clone(),
            }),
            _ => Ok(()),
        }
    }

    async fn wait_healthy(&mut self, url: &str, timeout: Duration) -> Result<(), ServerError> {
        crate::util::ensure_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| spawn_error("reqwest", e))?;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Err(ServerError::Crashed { status, log }) = self.check_alive() {
                return Err(ServerError::Exited { status, log });
            }
            if let Ok(response) = client.get(url).send().await {
                if response.status().as_u16() == 200 {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(ServerError::NotHealthy {
            url: url.to_string(),
            timeout,
            log: self.log.clone(),
        })
    }

    /// SIGTERM to the process group, SIGKILL after the stop timeout.
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // The watchdog goes first: once the group is gone its id may be reused.
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        let group = child.id() as libc::pid_t;
        // SAFETY: killpg only sends a signal to the group this child leads.
        unsafe { libc::killpg(group, libc::SIGTERM) };
        let deadline = Instant::now() + self.stop_timeout;
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group (the leader, or children it started).
        // SAFETY: as above.
        unsafe { libc::killpg(group, libc::SIGKILL) };
        let _ = child.wait();
    }
}

impl Drop for ManagedServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the watchdog of the server whose group is `group`; `None` (with a
/// warning) when it cannot start, the server then relies on
/// PR_SET_PDEATHSIG alone.
fn start_watchdog(group: u32, stop_timeout: Duration) -> Option<Child> {
    let seconds = stop_timeout.as_secs_f64().ceil().max(1.0) as u64;
    let started = Command::new("/bin/sh")
        .args(["-c", WATCHDOG, "llmbench-server-watchdog"])
        .arg(group.to_string())
        .arg(seconds.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match started {
        Ok(watchdog) => Some(watchdog),
        Err(error) => {
            eprintln!("warning: cannot start the server's watchdog ({error}); if llmbench is killed, stop the server's process group {group} yourself");
            None
        }
    }
}

/// The last `lines` lines of a server log (none when it cannot be read):
/// what a server said before it failed.
pub(crate) fn log_tail(log: &Path, lines: usize) -> Vec<String> {
    let text = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|line| line.to_string())
        .collect()
}

fn spawn_error(program: &str, error: impl std::fmt::Display) -> ServerError {
    ServerError::Spawn {
        program: program.to_string(),
        reason: error.to_string(),
    }
}

/// The environment with `{url}`, `{host}` and `{port}` filled in, as the
/// server gets it.
pub(crate) fn substitute_env(
    env: &std::collections::BTreeMap<String, String>,
    base_url: &str,
) -> std::collections::BTreeMap<String, String> {
    let (names, values): (Vec<String>, Vec<String>) =
        env.iter().map(|(k, v)| (k.clone(), v.clone())).unzip();
    names
        .into_iter()
        .zip(substitute(&values, base_url))
        .collect()
}

/// Replaces `{url}`, `{host}` and `{port}` in every argument.
pub(crate) fn substitute(command: &[String], base_url: &str) -> Vec<String> {
    let authority = base_url
        .split("://")
        .nth(1)
        .unwrap_or(base_url)
        .split('/')
        .next()
        .unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port),
        None => (
            authority,
            if base_url.starts_with("https") {
                "443"
            } else {
                "80"
            },
        ),
    };
    command
        .iter()
        .map(|arg| {
            arg.replace("{url}", base_url)
                .replace("{host}", host)
                .replace("{port}", port)
        })
        .collect()
}

#[cfg(test)]
mod tests;
