//! Tests of `summarize_window` over hand-made samples: means, peaks, the
//! samples a window takes, energy deltas and J/token, and empty windows.

use super::*;
use crate::monitor::sample::{GpuSample, ProcessSample};

/// A sample at `t_ms` with CPU `cpu`, a server using `rss` bytes, and one
/// GPU per energy reading (joules) in `energy_j`.
fn sample(t_ms: f64, cpu: f32, rss: u64, energy_j: &[Option<f64>]) -> Sample {
    Sample {
        t_ms,
        cpu_total_pct: cpu,
        server: Some(ProcessSample {
            pid: 42,
            cpu_pct: cpu * 2.0,
            rss_bytes: rss,
            processes: 1,
        }),
        client: ProcessSample {
            pid: 1,
            cpu_pct: cpu / 2.0,
            rss_bytes: 1,
            processes: 1,
        },
        gpus: energy_j
            .iter()
            .enumerate()
            .map(|(i, e)| GpuSample {
                index: i as u32,
                util_pct: Some(cpu),
                mem_used_bytes: Some(rss),
                power_w: Some(100.0),
                energy_mj: e.map(|j| (j * 1e3) as u64),
                ..GpuSample::default()
            })
            .collect(),
        ..Sample::default()
    }
}

/// Samples every 100 ms from 100 to 1000 ms; CPU rises 10 % a step; each of
/// two GPUs draws 100 W (10 J per 100 ms).
fn series() -> Vec<Sample> {
    (1..=10u64)
        .map(|k| {
            let t = k as f64 * 100.0;
            let joules = t / 10.0;
            sample(
                t,
                k as f32 * 10.0,
                k * 1000,
                &[Some(joules), Some(1000.0 + joules)],
            )
        })
        .collect()
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-6)
}

#[test]
fn means_and_peaks_over_the_window() {
    // Samples at 300..=600 lie inside; 700 covers (600, 700], overlapping the end.
    let w = summarize_window(&series(), 250.0, 650.0, None);
    assert_eq!(w.samples, 5);
    assert!(close(w.cpu_mean_pct, 50.0), "{w:?}");
    assert!(close(w.cpu_peak_pct, 70.0));
    assert!(close(w.server_cpu_mean_pct, 100.0));
    assert!(close(w.server_cpu_peak_pct, 140.0));
    assert_eq!(w.server_rss_peak_bytes, Some(7000));
    assert!(close(w.client_cpu_mean_pct, 25.0));
    assert!(close(w.client_cpu_peak_pct, 35.0));
    assert!(close(w.gpu_util_mean_pct, 50.0));
    assert!(close(w.gpu_util_peak_pct, 70.0));
    assert_eq!(w.gpu_mem_peak_bytes, Some(14_000));
    assert_eq!(w.gpu_mem_mean_bytes, Some(10_000));
    assert!(close(w.gpu_power_mean_w, 200.0));
}

#[test]
fn energy_is_the_interpolated_counter_delta_summed_over_gpus() {
    // 400 ms at 100 W on each of two GPUs: 2 × 40 J.
    let w = summarize_window(&series(), 250.0, 650.0, Some(20));
    assert!(close(w.energy_j, 80.0), "{w:?}");
    assert!(close(w.j_per_token, 4.0));
    // Zero tokens: no J/token, energy still reported.
    let w = summarize_window(&series(), 250.0, 650.0, Some(0));
    assert!(close(w.energy_j, 80.0));
    assert_eq!(w.j_per_token, None);
}

#[test]
fn a_window_between_two_samples_still_gets_energy() {
    let w = summarize_window(&series(), 420.0, 450.0, Some(3));
    assert_eq!(w.samples, 1, "the sample at 500 covers it");
    assert!(close(w.energy_j, 6.0), "{w:?}");
    assert!(close(w.j_per_token, 2.0));
}

#[test]
fn partial_coverage_scales_the_average_power() {
    // Samples start at 100 ms; the window starts at 0: 100 W × 2 GPUs × 0.5 s.
    let w = summarize_window(&series(), 0.0, 500.0, None);
    assert!(close(w.energy_j, 100.0), "{w:?}");
}

#[test]
fn a_missing_or_reset_counter_gives_no_energy() {
    let mut samples = series();
    samples[5].gpus[1].energy_mj = None; // t = 600
    let w = summarize_window(&samples, 250.0, 650.0, Some(10));
    assert_eq!(w.energy_j, None);
    assert_eq!(w.j_per_token, None);
    assert!(w.gpu_util_mean_pct.is_some());

    let mut samples = series();
    samples[3].gpus[0].energy_mj = Some(0); // t = 400: driver reloaded
    assert_eq!(
        summarize_window(&samples, 250.0, 650.0, None).energy_j,
        None
    );

    // A gap outside the window's readings does not matter.
    let mut samples = series();
    samples[8].gpus[1].energy_mj = None; // t = 900
    assert!(close(
        summarize_window(&samples, 250.0, 650.0, None).energy_j,
        80.0
    ));
}

#[test]
fn empty_windows_have_no_figures() {
    assert_eq!(
        summarize_window(&[], 0.0, 1000.0, Some(5)),
        WindowSummary::default()
    );
    let beyond = summarize_window(&series(), 5000.0, 6000.0, Some(5));
    assert_eq!(beyond, WindowSummary::default());
    let reversed = summarize_window(&series(), 600.0, 300.0, Some(5));
    assert_eq!(reversed.energy_j, None);
}

#[test]
fn samples_without_server_or_gpus_leave_those_figures_out() {
    let samples: Vec<Sample> = series()
        .into_iter()
        .map(|s| Sample {
            server: None,
            gpus: Vec::new(),
            ..s
        })
        .collect();
    let w = summarize_window(&samples, 0.0, 1000.0, Some(10));
    assert_eq!(w.samples, 10);
    assert!(w.cpu_mean_pct.is_some());
    assert_eq!(w.server_rss_peak_bytes, None);
    assert_eq!(w.server_cpu_mean_pct, None);
    assert_eq!(w.gpu_util_mean_pct, None);
    assert_eq!(w.gpu_mem_peak_bytes, None);
    assert_eq!(w.energy_j, None);
}

#[test]
fn unsorted_samples_are_sorted_first() {
    let mut samples = series();
    samples.reverse();
    assert_eq!(
        summarize_window(&samples, 250.0, 650.0, Some(20)),
        summarize_window(&series(), 250.0, 650.0, Some(20))
    );
}
