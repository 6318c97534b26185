//! The resource monitor against the real machine: a busy process the test
//! starts (by pid, by name, with children) shows its CPU; samples.jsonl grows
//! a line per sample while the monitor runs; GPU monitoring follows what NVML
//! says here (absent on CI: "auto" reports why, "nvml" fails); a fake source
//! gives exact windows. `nvml_reads_a_real_gpu` (ignored) is for GPU machines:
//! scripts/gpu_check.sh runs it.

use llmbench::monitor::{
    read_samples, summarize_window, GpuMode, GpuSample, GpuStatus, Monitor, MonitorConfig,
    MonitorError, ProcessSample, ProcessTarget, Processes, Sample, Source, SystemReading,
};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A shell process group that spins; killed (group and all) when dropped.
struct Busy(Child);

impl Busy {
    /// `sh -c SCRIPT` in a process group of its own.
    fn start(script: &str) -> Busy {
        use std::os::unix::process::CommandExt;
        let child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("sh starts");
        Busy(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(interval: &str, gpu: GpuMode, process: Option<ProcessTarget>) -> MonitorConfig {
    MonitorConfig {
        interval: interval.into(),
        gpu,
        process,
        enabled: true,
    }
}

/// Runs a monitor for `run` and returns its samples.
fn monitor_for(config: &MonitorConfig, server: Option<u32>, run: Duration) -> Vec<Sample> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("samples.jsonl");
    let handle = Monitor::start(config, &path, server, Instant::now()).expect("monitor starts");
    std::thread::sleep(run);
    let summary = handle.stop();
    assert_eq!(summary.error, None);
    let samples = read_samples(&path).expect("samples read back");
    assert_eq!(samples.len() as u64, summary.samples);
    samples
}

fn peak_server_cpu(samples: &[Sample]) -> f32 {
    samples
        .iter()
        .filter_map(|s| s.server.as_ref())
        .map(|s| s.cpu_pct)
        .fold(0.0, f32::max)
}

#[test]
fn a_busy_process_followed_by_pid_shows_its_cpu() {
    let busy = Busy::start("while :; do :; done");
    let config = config("200ms", GpuMode::Off, Some(ProcessTarget::Pid(busy.pid())));
    let samples = monitor_for(&config, None, Duration::from_millis(1500));
    assert!(samples.len() >= 4, "{} samples", samples.len());
    assert!(samples
        .iter()
        .all(|s| s.server.as_ref().map(|p| p.pid) == Some(busy.pid())));
    let peak = peak_server_cpu(&samples);
    assert!(peak > 30.0, "busy process peaked at {peak}% CPU");
    let first = &samples[0];
    assert!(!first.cpu_per_core_pct.is_empty());
    assert!(first.mem_used_bytes > 0 && first.mem_available_bytes > 0);
    assert!(first.client.rss_bytes > 0);
    assert_eq!(first.client.pid, std::process::id());
    assert!(samples.iter().any(|s| s.cpu_total_pct > 10.0));
}

#[test]
fn a_process_found_by_name_is_followed_with_its_children() {
    let marker = format!("llmbench-monitor-test-{}", std::process::id());
    // The parent waits; its child (a subshell) spins.
    let busy = Busy::start(&format!("(while :; do :; done) & wait # {marker}"));
    std::thread::sleep(Duration::from_millis(100));
    let config = config("200ms", GpuMode::Off, Some(ProcessTarget::Name(marker)));
    let samples = monitor_for(&config, None, Duration::from_millis(1500));
    let server: Vec<&ProcessSample> = samples.iter().filter_map(|s| s.server.as_ref()).collect();
    assert!(!server.is_empty());
    assert!(
        server.iter().all(|p| p.pid == busy.pid()),
        "followed the shell"
    );
    assert!(server.iter().all(|p| p.processes >= 2), "{server:?}");
    let peak = peak_server_cpu(&samples);
    assert!(peak > 30.0, "the child's CPU counts: peak {peak}%");
}

#[test]
fn a_managed_server_pid_takes_precedence_and_a_missing_process_is_an_error() {
    let busy = Busy::start("sleep 30");
    let by_name = config(
        "100ms",
        GpuMode::Off,
        Some(ProcessTarget::Name("no-such-server-xyz".into())),
    );
    let samples = monitor_for(&by_name, Some(busy.pid()), Duration::from_millis(300));
    assert!(samples
        .iter()
        .all(|s| s.server.as_ref().map(|p| p.pid) == Some(busy.pid())));

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("samples.jsonl");
    let error = Monitor::start(&by_name, &path, None, Instant::now()).err();
    let message = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("no-such-server-xyz"), "{message}");
}

#[test]
fn samples_are_written_line_by_line_while_the_monitor_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("samples.jsonl");
    let handle = Monitor::start(
        &config("50ms", GpuMode::Off, None),
        &path,
        None,
        Instant::now(),
    )
    .expect("starts");
    std::thread::sleep(Duration::from_millis(400));
    let so_far = std::fs::read_to_string(&path).expect("file exists while running");
    assert!(so_far.lines().count() >= 3, "{so_far}");
    assert!(so_far.ends_with('\n'), "whole lines only");
    let summary = handle.stop();
    let samples = read_samples(&path).expect("reads back");
    assert_eq!(samples.len() as u64, summary.samples);
    assert!(samples.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
    assert!(samples
        .iter()
        .all(|s| s.server.is_none() && s.gpus.is_empty()));
    assert!(samples[0].at.ends_with('Z'), "{}", samples[0].at);
    assert!(summary.sampler_cpu_ms.is_some());
}

#[test]
fn gpu_auto_reports_why_and_nvml_fails_where_nvml_cannot_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("samples.jsonl");
    let handle = Monitor::start(
        &config("100ms", GpuMode::Auto, None),
        &path,
        None,
        Instant::now(),
    )
    .expect("auto always starts");
    let status = handle.gpu_status();
    std::thread::sleep(Duration::from_millis(250));
    let summary = handle.stop();
    assert_eq!(summary.gpu_status, status);
    let samples = read_samples(&path).expect("reads back");
    let explicit = Monitor::start(
        &config("100ms", GpuMode::Nvml, None),
        &path,
        None,
        Instant::now(),
    );
    match status {
        GpuStatus::Unavailable { reason } => {
            assert!(reason.contains("NVML"), "{reason}");
            assert!(samples.iter().all(|s| s.gpus.is_empty()));
            match explicit {
                Err(MonitorError::Nvml(why)) => {
                    assert_eq!(why.to_string(), reason);
                    assert!(
                        std::error::Error::source(&why).is_some()
                            || reason.contains("no NVIDIA GPU")
                    );
                }
                Err(other) => panic!("unexpected error: {other}"),
                Ok(_) => panic!("gpu = \"nvml\" started without NVML"),
            }
        }
        GpuStatus::Available { devices, .. } => {
            assert!(samples.iter().all(|s| s.gpus.len() == devices.len()));
            assert!(explicit.is_ok());
        }
        GpuStatus::Off => panic!("auto is never off"),
    }
}

/// Fixed readings: CPU 10, 20, 30 …; one GPU at 300 W (0.3 J per ms).
struct Fake {
    step: u32,
    started: Instant,
}

impl Source for Fake {
    fn system(&mut self) -> SystemReading {
        self.step += 1;
        SystemReading {
            cpu_total_pct: 10.0 * self.step as f32,
            cpu_per_core_pct: vec![5.0, 15.0],
            mem_used_bytes: 1 << 30,
            mem_available_bytes: 1 << 31,
            swap_used_bytes: 0,
        }
    }

    fn processes(&mut self, server: Option<u32>, client: u32) -> Processes {
        Processes {
            server: server.map(|pid| ProcessSample {
                pid,
                cpu_pct: 200.0,
                rss_bytes: 5 << 20,
                processes: 3,
            }),
            client: ProcessSample {
                pid: client,
                cpu_pct: 12.5,
                rss_bytes: 1 << 20,
                processes: 1,
            },
        }
    }

    fn gpus(&mut self) -> Vec<GpuSample> {
        let ms = self.started.elapsed().as_secs_f64() * 1e3;
        vec![GpuSample {
            index: 0,
            name: "Fake H200".into(),
            util_pct: Some(90.0),
            mem_used_bytes: Some(8 << 30),
            mem_total_bytes: Some(141 << 30),
            power_w: Some(300.0),
            temp_c: Some(50.0),
            sm_clock_mhz: Some(1980),
            mem_clock_mhz: Some(3200),
            energy_mj: Some((ms * 300.0) as u64),
        }]
    }
}

#[test]
fn a_fake_source_gives_exact_windows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("samples.jsonl");
    let origin = Instant::now();
    let fake = Fake {
        step: 0,
        started: origin,
    };
    let handle = Monitor::start_with_source(
        fake,
        Duration::from_millis(25),
        &path,
        Some(77),
        origin,
        GpuStatus::Off,
    )
    .expect("starts");
    std::thread::sleep(Duration::from_millis(400));
    handle.stop();
    let samples = read_samples(&path).expect("reads back");
    let (start, end) = (100.0, 300.0);
    let w = summarize_window(&samples, start, end, Some(60));
    assert!(w.samples >= 4, "{w:?}");
    assert_eq!(w.server_rss_peak_bytes, Some(5 << 20));
    assert_eq!(w.client_cpu_mean_pct, Some(12.5));
    assert_eq!(w.server_cpu_peak_pct, Some(200.0));
    assert_eq!(w.gpu_util_mean_pct, Some(90.0));
    assert_eq!(w.gpu_mem_peak_bytes, Some(8 << 30));
    // 300 W for 0.2 s = 60 J (the counter is truncated to whole mJ).
    let energy = w.energy_j.expect("energy");
    assert!((energy - 60.0).abs() < 0.1, "{energy} J");
    let per_token = w.j_per_token.expect("J/token");
    assert!((per_token - 1.0).abs() < 0.01, "{per_token} J/token");
    let cpu = samples.iter().map(|s| s.cpu_total_pct).collect::<Vec<_>>();
    assert!(
        cpu.windows(2).all(|p| p[1] > p[0]),
        "samples in order: {cpu:?}"
    );
}

/// For machines with an NVIDIA GPU: `scripts/gpu_check.sh` runs it.
#[test]
#[ignore = "needs an NVIDIA GPU and driver"]
fn nvml_reads_a_real_gpu() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("samples.jsonl");
    let handle = Monitor::start(
        &config("250ms", GpuMode::Nvml, None),
        &path,
        None,
        Instant::now(),
    )
    .expect("NVML starts");
    println!("gpu status: {:?}", handle.gpu_status());
    std::thread::sleep(Duration::from_secs(2));
    let summary = handle.stop();
    println!("summary: {summary:?}");
    let samples = read_samples(&path).expect("reads back");
    for sample in &samples {
        for g in &sample.gpus {
            println!(
                "t={:7.1}ms gpu{} {} util={:?}% mem={:?}/{:?} B power={:?} W temp={:?} C sm={:?} MHz mem={:?} MHz energy={:?} mJ",
                sample.t_ms, g.index, g.name, g.util_pct, g.mem_used_bytes, g.mem_total_bytes,
                g.power_w, g.temp_c, g.sm_clock_mhz, g.mem_clock_mhz, g.energy_mj
            );
        }
    }
    assert!(!samples.is_empty());
    assert!(samples.iter().all(|s| !s.gpus.is_empty()));
    let g = &samples[samples.len() - 1].gpus[0];
    assert!(g.mem_total_bytes.unwrap_or(0) > 0, "{g:?}");
    let first = samples.first().map(|s| s.t_ms).unwrap_or(0.0);
    let last = samples.last().map(|s| s.t_ms).unwrap_or(0.0);
    let window = summarize_window(&samples, first, last, Some(1000));
    println!("window {first:.0}–{last:.0} ms: {window:?}");
    if let Some(joules) = window.energy_j {
        println!(
            "energy {joules:.2} J over {:.2} s → {:.1} W average",
            (last - first) / 1e3,
            joules / ((last - first) / 1e3)
        );
    }
}
