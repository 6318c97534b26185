//! One monitor sample and its JSON-lines form in samples.jsonl: system CPU and
//! memory, the followed server process (with its children), llmbench itself,
//! and each NVIDIA GPU. `read_samples` reads a file back, skipping a torn last
//! line left by a crash.

use super::MonitorError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What the monitor saw at one instant.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Sample {
    /// Milliseconds since the run's origin instant (the clock of `run_offset_ms`).
    pub t_ms: f64,
    /// Wall-clock time of the sample, RFC 3339 (UTC).
    pub at: String,
    /// Whole-machine CPU use, 0–100 (% of all cores).
    pub cpu_total_pct: f32,
    /// CPU use per core, 0–100 each.
    pub cpu_per_core_pct: Vec<f32>,
    pub mem_used_bytes: u64,
    pub mem_available_bytes: u64,
    pub swap_used_bytes: u64,
    /// The followed server process and its descendants; absent when none is
    /// followed or it has exited.
    pub server: Option<ProcessSample>,
    /// llmbench itself (this process only, not its children).
    pub client: ProcessSample,
    /// One entry per NVIDIA GPU; empty when GPUs are not sampled.
    #[serde(default)]
    pub gpus: Vec<GpuSample>,
}

/// CPU and memory of a process (for the server: summed over its descendants).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct ProcessSample {
    pub pid: u32,
    /// CPU time over wall time since the previous sample, in % of one core
    /// (400 means four cores busy).
    pub cpu_pct: f32,
    /// Resident memory in bytes.
    pub rss_bytes: u64,
    /// Number of processes summed (1 for the process alone).
    #[serde(default = "one")]
    pub processes: u32,
}

fn one() -> u32 {
    1
}

/// One NVIDIA GPU's readings; a reading the device does not support is absent.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct GpuSample {
    pub index: u32,
    pub name: String,
    /// Percent of time a kernel was running over the driver's last period.
    pub util_pct: Option<f32>,
    pub mem_used_bytes: Option<u64>,
    pub mem_total_bytes: Option<u64>,
    pub power_w: Option<f64>,
    pub temp_c: Option<f32>,
    pub sm_clock_mhz: Option<u32>,
    pub mem_clock_mhz: Option<u32>,
    /// The driver's total-energy counter, in millijoules since it loaded.
    pub energy_mj: Option<u64>,
}

/// Appends `sample` as one JSON line (with its newline) to `line`.
pub(crate) fn encode_line(sample: &Sample, line: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    line.clear();
    serde_json::to_writer(&mut *line, sample)?;
    line.push(b'\n');
    Ok(())
}

/// Reads samples.jsonl. A last line without its newline that does not parse
/// (the sampler was killed mid-write) is skipped; any other bad line is an error.
pub fn read_samples(path: &Path) -> Result<Vec<Sample>, MonitorError> {
    let text = std::fs::read_to_string(path).map_err(|source| MonitorError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_samples(&text).map_err(|(line, message)| MonitorError::BadSample {
        path: path.to_path_buf(),
        line,
        message,
    })
}

/// Parses JSON-lines text; the error carries the 1-based line number.
pub(crate) fn parse_samples(text: &str) -> Result<Vec<Sample>, (usize, String)> {
    let torn_tail = !text.is_empty() && !text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut samples = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Sample>(line) {
            Ok(sample) => samples.push(sample),
            Err(_) if torn_tail && index + 1 == lines.len() => break,
            Err(error) => return Err((index + 1, error.to_string())),
        }
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_ms: f64) -> Sample {
        Sample {
            t_ms,
            at: "2025-01-01T00:00:00Z".into(),
            cpu_total_pct: 12.5,
            cpu_per_core_pct: vec![10.0, 15.0],
            server: Some(ProcessSample {
                pid: 7,
                cpu_pct: 150.0,
                rss_bytes: 1 << 20,
                processes: 2,
            }),
            gpus: vec![GpuSample {
                index: 0,
                name: "Fake".into(),
                energy_mj: Some(1000),
                ..GpuSample::default()
            }],
            ..Sample::default()
        }
    }

    fn encode(samples: &[Sample]) -> String {
        let mut text = Vec::new();
        let mut line = Vec::new();
        for s in samples {
            encode_line(s, &mut line).expect("encodes");
            text.extend_from_slice(&line);
        }
        String::from_utf8(text).expect("utf-8")
    }

    #[test]
    fn lines_round_trip() {
        let samples = vec![sample(250.0), sample(500.0)];
        let text = encode(&samples);
        assert_eq!(text.lines().count(), 2);
        assert_eq!(parse_samples(&text), Ok(samples));
    }

    #[test]
    fn a_torn_last_line_is_skipped() {
        let mut text = encode(&[sample(250.0), sample(500.0)]);
        text.push_str(r#"{"t_ms": 750.0, "at": "#);
        let samples = parse_samples(&text).expect("torn tail skipped");
        assert_eq!(samples.len(), 2);
    }

    #[test]
    fn a_bad_line_in_the_middle_is_an_error() {
        let text = format!(
            "{}not json\n{}",
            encode(&[sample(1.0)]),
            encode(&[sample(2.0)])
        );
        let (line, _) = parse_samples(&text).unwrap_err();
        assert_eq!(line, 2);
    }
}
