//! Background resource monitor: while a run lasts, a sampler on its own OS
//! thread records system CPU (total and per core) and memory, the server
//! process with its children, llmbench's own CPU, and each NVIDIA GPU
//! (utilisation, memory, power, temperature, clocks, total energy) to
//! samples.jsonl, one line per sample as it is taken. `summarize_window`
//! turns the samples of a cell's window into means, peaks, energy and J/token.
//!
//! Start it with `Monitor::start(config, samples_path, server_pid, origin)`,
//! where `origin` is the run's start instant, so sample times (`t_ms`) are on
//! the executor's clock; stop it with `MonitorHandle::stop`. Where NVML or the
//! driver is missing, `gpu = "auto"` records why (`MonitorHandle::gpu_status`)
//! and samples everything else; `gpu = "nvml"` fails instead. See
//! docs/monitoring.md.

mod config;
mod gpu;
mod sample;
mod sampler;
mod source;
mod system;
mod tree;
mod window;

pub use config::{
    ConfigProblem, GpuMode, MonitorConfig, ProcessTarget, MAX_INTERVAL, MIN_INTERVAL,
};
pub(crate) use gpu::GpuDevice;
pub use sample::{read_samples, GpuSample, ProcessSample, Sample};
pub use sampler::{Monitor, MonitorHandle, MonitorSummary};
pub use source::{Processes, Source, SystemReading};
pub use window::{summarize_window, WindowSummary};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Whether GPUs are sampled.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum GpuStatus {
    /// `gpu = "off"`.
    Off,
    /// NVML could not start or found no GPU; the reason says which.
    Unavailable { reason: String },
    /// NVML is sampling these devices.
    Available {
        driver_version: Option<String>,
        devices: Vec<GpuDevice>,
    },
}

/// Why the monitor could not start or a samples file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("{0}")]
    Config(String),
    #[error("GPU monitoring was asked for (monitor.gpu = \"nvml\") but cannot start: {reason}")]
    Nvml { reason: String },
    #[error("monitor.process: no {target} is running")]
    ProcessNotFound { target: String },
    #[error("system monitoring cannot start: {0}")]
    System(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a monitor sample: {message}")]
    BadSample {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// CPU climbs 10 points a sample; the server exists from the start.
    struct Climbing {
        step: u32,
    }

    impl Source for Climbing {
        fn system(&mut self) -> SystemReading {
            self.step += 1;
            SystemReading {
                cpu_total_pct: self.step as f32 * 10.0,
                cpu_per_core_pct: vec![0.0; 2],
                ..SystemReading::default()
            }
        }
        fn processes(&mut self, server: Option<u32>, client: u32) -> Processes {
            Processes {
                server: server.map(|pid| ProcessSample {
                    pid,
                    rss_bytes: 1000 * u64::from(self.step),
                    ..ProcessSample::default()
                }),
                client: ProcessSample {
                    pid: client,
                    ..ProcessSample::default()
                },
            }
        }
        fn gpus(&mut self) -> Vec<GpuSample> {
            Vec::new()
        }
    }

    #[test]
    fn the_sampler_writes_a_line_per_sample_on_schedule() {
        let dir =
            std::env::temp_dir().join(format!("llmbench-monitor-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("samples.jsonl");
        let _ = std::fs::remove_file(&path);
        let origin = Instant::now();
        let handle = Monitor::start_with_source(
            Climbing { step: 0 },
            Duration::from_millis(20),
            &path,
            Some(4242),
            origin,
            GpuStatus::Off,
        )
        .expect("starts");
        // Run for at least 210 ms and until five samples are written: a
        // loaded machine may skip ticks, and the test is about the schedule,
        // not about how busy the machine is.
        let lines = || std::fs::read_to_string(&path).map_or(0, |t| t.lines().count());
        std::thread::sleep(Duration::from_millis(210));
        let deadline = Instant::now() + Duration::from_secs(20);
        while lines() < 5 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let stopped = Instant::now();
        let ran_ms = origin.elapsed().as_secs_f64() * 1e3;
        let summary = handle.stop();
        assert!(
            stopped.elapsed() < Duration::from_millis(500),
            "stop is prompt"
        );
        let samples = read_samples(&path).expect("reads back");
        assert_eq!(samples.len() as u64, summary.samples);
        // One tick per 20 ms of the run and the last sample taken on stop:
        // ticks may be skipped, never added.
        let most = (ran_ms / 20.0).floor() as usize + 1;
        assert!(
            (5..=most).contains(&samples.len()),
            "{} samples in {ran_ms:.0} ms",
            samples.len()
        );
        // Absolute deadlines: the k-th sample is never early.
        for (k, s) in samples.iter().enumerate().take(samples.len() - 1) {
            let due = (k as f64 + 1.0) * 20.0;
            assert!(
                s.t_ms >= due,
                "sample {k} at {} ms, due at {due} ms",
                s.t_ms
            );
        }
        let window = summarize_window(&samples, 0.0, 1e9, None);
        assert_eq!(
            window.server_rss_peak_bytes,
            Some(1000 * samples.len() as u64)
        );
        assert_eq!(summary.server_pid, Some(4242));
        assert_eq!(summary.error, None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
