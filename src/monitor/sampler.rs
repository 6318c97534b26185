//! The sampler thread. It runs on its own OS thread (never on the async
//! runtime), wakes on absolute deadlines `start + k × interval` so it does
//! not drift, skips ticks it overran rather than bunching them, writes each
//! sample to samples.jsonl as one line as soon as it is taken, and takes a
//! last sample when stopped, so the last window is bracketed.

use super::gpu::open_gpus;
use super::sample::{encode_line, Sample};
use super::source::{RealSource, Source};
use super::system::SystemProbe;
use super::{GpuStatus, MonitorConfig, MonitorError};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Starts monitors.
pub struct Monitor;

impl Monitor {
    /// Starts sampling the machine on its own thread, appending samples to
    /// `samples_path`. `server_pid` (a managed server) takes precedence over
    /// `config.process`; `origin` is the run's start, the zero of `t_ms`.
    /// `config.enabled` is the caller's to check.
    pub fn start(
        config: &MonitorConfig,
        samples_path: &Path,
        server_pid: Option<u32>,
        origin: Instant,
    ) -> Result<MonitorHandle, MonitorError> {
        let interval = config
            .validate()
            .map_err(|problem| MonitorError::Config(problem.to_string()))?;
        let (gpus, gpu_status) = open_gpus(config.gpu)?;
        let mut system = SystemProbe::new()?;
        let server = match (server_pid, &config.process) {
            (Some(pid), _) => Some(pid),
            (None, Some(target)) => Some(system.resolve(target)?),
            (None, None) => None,
        };
        system.prime(server);
        let source = RealSource { system, gpus };
        Monitor::start_with_source(source, interval, samples_path, server, origin, gpu_status)
    }

    /// Starts the sampler thread over any source (tests give it fixed values).
    pub fn start_with_source<S: Source + 'static>(
        source: S,
        interval: Duration,
        samples_path: &Path,
        server_pid: Option<u32>,
        origin: Instant,
        gpu_status: GpuStatus,
    ) -> Result<MonitorHandle, MonitorError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(samples_path)
            .map_err(|source| MonitorError::Io {
                path: samples_path.to_path_buf(),
                source,
            })?;
        let (commands, inbox) = mpsc::channel();
        let sampler = Sampler {
            source,
            file,
            interval,
            origin,
            server: server_pid,
            client: std::process::id(),
            inbox,
        };
        let thread = std::thread::Builder::new()
            .name("llmbench-monitor".into())
            .spawn(move || sampler.run())
            .map_err(|e| MonitorError::System(format!("cannot start the sampler thread: {e}")))?;
        Ok(MonitorHandle {
            commands,
            thread: Some(thread),
            gpu_status,
            samples_path: samples_path.to_path_buf(),
            server_pid,
            interval,
        })
    }
}

enum Command {
    Stop,
    Follow(Option<u32>),
}

/// A running monitor. Dropping it stops the thread too (without the summary).
pub struct MonitorHandle {
    commands: Sender<Command>,
    thread: Option<JoinHandle<Report>>,
    gpu_status: GpuStatus,
    samples_path: PathBuf,
    server_pid: Option<u32>,
    interval: Duration,
}

impl MonitorHandle {
    /// Whether GPUs are sampled, and if not, why.
    pub fn gpu_status(&self) -> GpuStatus {
        self.gpu_status.clone()
    }

    /// Follows another server process from the next sample on (e.g. after a
    /// managed server restarts), or none.
    pub(crate) fn follow(&self, pid: Option<u32>) {
        let _ = self.commands.send(Command::Follow(pid));
    }

    /// Takes a last sample, stops the thread and says what it did.
    pub fn stop(mut self) -> MonitorSummary {
        let report = self.finish();
        MonitorSummary {
            samples: report.samples,
            missed_ticks: report.missed_ticks,
            interval_ms: self.interval.as_secs_f64() * 1e3,
            wall_ms: report.wall_ms,
            sampler_cpu_ms: report.cpu_ms,
            gpu_status: self.gpu_status.clone(),
            server_pid: self.server_pid,
            samples_path: self.samples_path.clone(),
            error: report.error,
        }
    }

    fn finish(&mut self) -> Report {
        let _ = self.commands.send(Command::Stop);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(report)) => report,
            Some(Err(_)) => Report {
                error: Some("the sampler thread panicked".into()),
                ..Report::default()
            },
            None => Report::default(),
        }
    }
}

impl Drop for MonitorHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.finish();
        }
    }
}

/// What a monitor did, returned by `MonitorHandle::stop`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MonitorSummary {
    /// Samples taken (and written unless `error` says otherwise).
    pub samples: u64,
    /// Ticks skipped because a sample took longer than the interval.
    pub missed_ticks: u64,
    pub interval_ms: f64,
    /// How long the sampler thread ran.
    pub wall_ms: f64,
    /// CPU time the sampler thread used, where the OS reports it.
    pub sampler_cpu_ms: Option<f64>,
    pub gpu_status: GpuStatus,
    pub server_pid: Option<u32>,
    pub samples_path: PathBuf,
    /// The first error met writing samples, if any.
    pub error: Option<String>,
}

impl MonitorSummary {
    /// The sampler's own CPU use in % of one core.
    pub fn sampler_cpu_pct(&self) -> Option<f64> {
        let cpu = self.sampler_cpu_ms?;
        (self.wall_ms > 0.0).then(|| cpu / self.wall_ms * 100.0)
    }
}

#[derive(Default)]
struct Report {
    samples: u64,
    missed_ticks: u64,
    wall_ms: f64,
    cpu_ms: Option<f64>,
    error: Option<String>,
}

struct Sampler<S> {
    source: S,
    file: File,
    interval: Duration,
    origin: Instant,
    server: Option<u32>,
    client: u32,
    inbox: Receiver<Command>,
}

impl<S: Source> Sampler<S> {
    fn run(mut self) -> Report {
        let started = Instant::now();
        let cpu_before = thread_cpu_ms();
        let mut report = Report::default();
        let mut line = Vec::with_capacity(1024);
        let mut tick: u32 = 0;
        loop {
            tick = tick.saturating_add(1);
            let stopping = self.wait_until(started + self.interval * tick);
            self.take(&mut line, &mut report);
            if stopping {
                break;
            }
            // Overran one or more ticks: skip them instead of sampling in a burst.
            let due = started.elapsed().as_nanos() / self.interval.as_nanos().max(1);
            let due = u32::try_from(due).unwrap_or(u32::MAX);
            if due > tick {
                report.missed_ticks += u64::from(due - tick);
                tick = due;
            }
        }
        report.wall_ms = started.elapsed().as_secs_f64() * 1e3;
        report.cpu_ms = match (cpu_before, thread_cpu_ms()) {
            (Some(before), Some(after)) => Some((after - before).max(0.0)),
            _ => None,
        };
        report
    }

    /// Waits for `deadline`, handling commands; true when asked to stop.
    fn wait_until(&mut self, deadline: Instant) -> bool {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            match self.inbox.recv_timeout(deadline - now) {
                Ok(Command::Follow(pid)) => self.server = pid,
                Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => return true,
                Err(RecvTimeoutError::Timeout) => return false,
            }
        }
    }

    fn take(&mut self, line: &mut Vec<u8>, report: &mut Report) {
        let system = self.source.system();
        let processes = self.source.processes(self.server, self.client);
        let gpus = self.source.gpus();
        let sample = Sample {
            t_ms: self.origin.elapsed().as_secs_f64() * 1e3,
            at: format!("{:.3}", jiff::Timestamp::now()),
            cpu_total_pct: system.cpu_total_pct,
            cpu_per_core_pct: system.cpu_per_core_pct,
            mem_used_bytes: system.mem_used_bytes,
            mem_available_bytes: system.mem_available_bytes,
            swap_used_bytes: system.swap_used_bytes,
            server: processes.server,
            client: processes.client,
            gpus,
        };
        report.samples += 1;
        let written = encode_line(&sample, line)
            .map_err(|e| e.to_string())
            .and_then(|()| self.file.write_all(line).map_err(|e| e.to_string()));
        if let Err(error) = written {
            report.error.get_or_insert(error);
        }
    }
}

/// CPU time used by the calling thread, in ms: /proc/thread-self/schedstat
/// (nanoseconds), else /proc/thread-self/stat (clock ticks, assumed 100 Hz).
fn thread_cpu_ms() -> Option<f64> {
    if let Ok(text) = std::fs::read_to_string("/proc/thread-self/schedstat") {
        if let Some(ns) = text
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
        {
            return Some(ns as f64 / 1e6);
        }
    }
    let text = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 * 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_time_is_read_and_grows() {
        let Some(before) = thread_cpu_ms() else {
            return; // not Linux
        };
        // Spin until this thread has used 20 ms of CPU, not for a wall time:
        // on a loaded machine 100 ms of wall time can be 14 ms of CPU. The
        // deadline only ends a clock that never moves.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut x = 0u64;
        let mut after = before;
        while after - before < 20.0 && Instant::now() < deadline {
            for _ in 0..100_000 {
                x = x.wrapping_add(std::hint::black_box(1));
            }
            after = thread_cpu_ms().expect("read again");
        }
        assert!(after - before >= 20.0, "{before} → {after} ({x})");
    }
}
