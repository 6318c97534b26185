//! Aggregates samples over one window of the monitor clock (a cell's first
//! send to its last completion): mean and peak CPU, peak server memory,
//! llmbench's own CPU, GPU utilisation and memory, and energy from the GPUs'
//! total-energy counters. Pure: no clock, no files.
//!
//! A sample's CPU figure covers the interval that ends at it, so a window
//! takes the samples whose interval overlaps it: those inside it and the
//! first one after it. Energy is the counter's rise, interpolated at the
//! window's ends; where samples cover only part of the window, the average
//! power over the covered part is applied to the whole window.

use super::sample::Sample;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Resource use over a window. Every figure is absent when no sample covers it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct WindowSummary {
    /// Samples that fell in the window.
    pub samples: usize,
    /// Whole-machine CPU, % of all cores.
    pub cpu_mean_pct: Option<f64>,
    pub cpu_peak_pct: Option<f64>,
    pub mem_used_peak_bytes: Option<u64>,
    /// Server CPU (with its children), % of one core.
    pub server_cpu_mean_pct: Option<f64>,
    pub server_cpu_peak_pct: Option<f64>,
    pub server_rss_peak_bytes: Option<u64>,
    /// llmbench's own CPU, % of one core.
    pub client_cpu_mean_pct: Option<f64>,
    pub client_cpu_peak_pct: Option<f64>,
    /// GPU utilisation: mean over samples of the mean over GPUs; peak of any GPU.
    pub gpu_util_mean_pct: Option<f64>,
    pub gpu_util_peak_pct: Option<f64>,
    /// GPU memory used, summed over GPUs.
    pub gpu_mem_mean_bytes: Option<u64>,
    pub gpu_mem_peak_bytes: Option<u64>,
    /// GPU power, summed over GPUs.
    pub gpu_power_mean_w: Option<f64>,
    /// Energy used by all GPUs over the window, in joules.
    pub energy_j: Option<f64>,
    /// `energy_j` per output token.
    pub j_per_token: Option<f64>,
}

/// Summarises `samples` over `[start_ms, end_ms]` of the monitor clock.
pub fn summarize_window(
    samples: &[Sample],
    start_ms: f64,
    end_ms: f64,
    output_tokens: Option<u64>,
) -> WindowSummary {
    let mut sorted: Vec<&Sample> = samples.iter().collect();
    sorted.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
    let inside: Vec<&Sample> = sorted
        .iter()
        .enumerate()
        .filter(|(i, s)| {
            let before_end = match i.checked_sub(1) {
                Some(previous) => sorted[previous].t_ms < end_ms,
                None => s.t_ms <= end_ms,
            };
            s.t_ms >= start_ms && before_end
        })
        .map(|(_, s)| *s)
        .collect();

    let cpu = Stat::of(inside.iter().map(|s| f64::from(s.cpu_total_pct)));
    let server_cpu = Stat::of(
        inside
            .iter()
            .filter_map(|s| s.server.as_ref())
            .map(|p| f64::from(p.cpu_pct)),
    );
    let client_cpu = Stat::of(inside.iter().map(|s| f64::from(s.client.cpu_pct)));
    let gpu_util = Stat::of(
        inside
            .iter()
            .filter_map(|s| mean(s.gpus.iter().filter_map(|g| g.util_pct).map(f64::from))),
    );
    let gpu_util_peak = inside
        .iter()
        .flat_map(|s| s.gpus.iter().filter_map(|g| g.util_pct))
        .map(f64::from)
        .reduce(f64::max);
    let gpu_mem = Stat::of(
        inside
            .iter()
            .filter_map(|s| sum(s.gpus.iter().map(|g| g.mem_used_bytes)))
            .map(|b| b as f64),
    );
    let gpu_power = Stat::of(
        inside
            .iter()
            .filter_map(|s| sum_f(s.gpus.iter().map(|g| g.power_w))),
    );
    let energy_j = energy_j(&sorted, start_ms, end_ms);

    WindowSummary {
        samples: inside.len(),
        cpu_mean_pct: cpu.mean,
        cpu_peak_pct: cpu.peak,
        mem_used_peak_bytes: inside.iter().map(|s| s.mem_used_bytes).max(),
        server_cpu_mean_pct: server_cpu.mean,
        server_cpu_peak_pct: server_cpu.peak,
        server_rss_peak_bytes: inside
            .iter()
            .filter_map(|s| s.server.as_ref())
            .map(|p| p.rss_bytes)
            .max(),
        client_cpu_mean_pct: client_cpu.mean,
        client_cpu_peak_pct: client_cpu.peak,
        gpu_util_mean_pct: gpu_util.mean,
        gpu_util_peak_pct: gpu_util_peak,
        gpu_mem_mean_bytes: gpu_mem.mean.map(|b| b.round() as u64),
        gpu_mem_peak_bytes: gpu_mem.peak.map(|b| b.round() as u64),
        gpu_power_mean_w: gpu_power.mean,
        energy_j,
        j_per_token: match (energy_j, output_tokens) {
            (Some(joules), Some(tokens)) if tokens > 0 => Some(joules / tokens as f64),
            _ => None,
        },
    }
}

/// Mean and peak of some values.
struct Stat {
    mean: Option<f64>,
    peak: Option<f64>,
}

impl Stat {
    fn of(values: impl Iterator<Item = f64>) -> Stat {
        let values: Vec<f64> = values.collect();
        Stat {
            mean: mean(values.iter().copied()),
            peak: values.iter().copied().reduce(f64::max),
        }
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (total, count) = values.fold((0.0, 0usize), |(t, n), v| (t + v, n + 1));
    (count > 0).then(|| total / count as f64)
}

/// The sum when every value is present (and there is at least one).
fn sum(values: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    let mut total = None;
    for value in values {
        total = Some(total.unwrap_or(0) + value?);
    }
    total
}

fn sum_f(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let mut total = None;
    for value in values {
        total = Some(total.unwrap_or(0.0) + value?);
    }
    total
}

/// Energy of all GPUs over the window; None when any GPU lacks the counter
/// over it, or the counter went backwards (driver reloaded).
fn energy_j(sorted: &[&Sample], start_ms: f64, end_ms: f64) -> Option<f64> {
    if end_ms <= start_ms {
        return None;
    }
    let mut series: BTreeMap<u32, Vec<(f64, f64)>> = BTreeMap::new();
    for sample in sorted {
        for gpu in &sample.gpus {
            let point = gpu.energy_mj.map(|mj| (sample.t_ms, mj as f64 / 1e3));
            series
                .entry(gpu.index)
                .or_default()
                .push(point.unwrap_or((sample.t_ms, f64::NAN)));
        }
    }
    if series.is_empty() {
        return None;
    }
    series
        .values()
        .map(|points| gpu_energy_j(points, start_ms, end_ms))
        .sum()
}

/// One GPU's energy over the window from its (t_ms, joules) counter readings.
fn gpu_energy_j(points: &[(f64, f64)], start_ms: f64, end_ms: f64) -> Option<f64> {
    let (first, last) = (points.first()?.0, points.last()?.0);
    let (from, to) = (start_ms.max(first), end_ms.min(last));
    if to <= from {
        return None;
    }
    // The readings around and inside the covered span must all be present
    // and never fall (a fall means the driver reloaded and the counter reset).
    let low = points.partition_point(|p| p.0 <= from).saturating_sub(1);
    let high = points.partition_point(|p| p.0 < to).min(points.len() - 1);
    let span = points.get(low..=high)?;
    if !span.iter().all(|p| p.1.is_finite()) || span.windows(2).any(|w| w[1].1 < w[0].1) {
        return None;
    }
    let covered = counter_at(points, to)? - counter_at(points, from)?;
    Some(covered / (to - from) * (end_ms - start_ms))
}

/// The counter linearly interpolated at `t` (within the readings' span);
/// None where a reading around `t` is missing.
fn counter_at(points: &[(f64, f64)], t: f64) -> Option<f64> {
    let after = points.partition_point(|p| p.0 < t);
    let (t1, e1) = *points.get(after)?;
    if t1 == t || after == 0 {
        return e1.is_finite().then_some(e1);
    }
    let (t0, e0) = points[after - 1];
    let value = e0 + (e1 - e0) * (t - t0) / (t1 - t0);
    value.is_finite().then_some(value)
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
