//! The resource monitor's own cost: runs the real sampler at 4, 10 and 100 Hz,
//! alone and following a server process (which lists every process each
//! sample to find its children), and prints the CPU time the sampler thread
//! used as % of one core, from /proc/thread-self/schedstat. The goal is well
//! under 1 % of one core at 4 Hz.
//!
//! `cargo bench --bench monitor` (LLMBENCH_BENCH_SECS sets seconds per row, default 3;
//! LLMBENCH_BENCH_FOLLOW=PID follows that process instead of a small shell tree).

use llmbench::monitor::{GpuMode, Monitor, MonitorConfig, ProcessTarget};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let seconds: f64 = std::env::var("LLMBENCH_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    // A small process tree to follow: a shell waiting on two children.
    let mut server = match Command::new("sh")
        .args(["-c", "sleep 3600 & sleep 3600 & wait"])
        .stdin(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            eprintln!("cannot start a process to follow: {e}");
            return;
        }
    };
    let processes = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                .count()
        })
        .unwrap_or(0);
    println!("monitor overhead: sampler thread CPU, {seconds} s per row, {processes} processes on this machine");
    println!(
        "{:>6} {:>9} {:>6} {:>8} {:>10} {:>12} {:>10}",
        "rate", "server", "gpu", "samples", "missed", "µs/sample", "% of core"
    );
    let dir = std::env::temp_dir().join(format!("llmbench-bench-monitor-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        return;
    }
    // LLMBENCH_BENCH_FOLLOW=PID follows that process instead (a real server).
    let follow_pid = std::env::var("LLMBENCH_BENCH_FOLLOW")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(server.id());
    for follow in [false, true] {
        for hz in [4u32, 10, 100] {
            let config = MonitorConfig {
                interval: format!("{}ms", 1000 / hz),
                gpu: GpuMode::Auto,
                process: follow.then_some(ProcessTarget::Pid(follow_pid)),
                enabled: true,
            };
            let path = dir.join(format!("samples-{hz}-{follow}.jsonl"));
            let handle = match Monitor::start(&config, &path, None, Instant::now()) {
                Ok(handle) => handle,
                Err(e) => {
                    eprintln!("monitor did not start: {e}");
                    continue;
                }
            };
            let gpu = match handle.gpu_status() {
                llmbench::monitor::GpuStatus::Available { devices, .. } => {
                    format!("{}", devices.len())
                }
                _ => "none".to_string(),
            };
            std::thread::sleep(Duration::from_secs_f64(seconds));
            let summary = handle.stop();
            let per_sample = summary
                .sampler_cpu_ms
                .map(|ms| ms * 1e3 / summary.samples.max(1) as f64);
            println!(
                "{:>4}Hz {:>9} {:>6} {:>8} {:>10} {:>12} {:>10}",
                hz,
                if follow { "followed" } else { "-" },
                gpu,
                summary.samples,
                summary.missed_ticks,
                per_sample.map_or("n/a".into(), |us| format!("{us:.0}")),
                summary
                    .sampler_cpu_pct()
                    .map_or("n/a".into(), |pct| format!("{pct:.3}%")),
            );
        }
    }
    // Killing the shell leaves its two sleeps; they are killed by pid.
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", server.id()))
        .unwrap_or_default();
    let _ = server.kill();
    let _ = server.wait();
    for child in children.split_whitespace() {
        let _ = Command::new("kill").arg(child).status();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
