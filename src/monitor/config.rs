//! The `[monitor]` settings of an experiment: sampling interval, GPU mode and
//! the server process to follow. Every key is checked (`deny_unknown_fields`);
//! `validate` turns the interval text into a `Duration` within sane bounds.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Shortest interval accepted (100 Hz).
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// Longest interval accepted.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// Settings of the background resource monitor (`[monitor]` in an experiment).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// Sampling period, e.g. "250ms" (the default), "1s".
    #[schemars(with = "crate::util::DurationText")]
    pub interval: String,
    /// Whether and how GPUs are sampled.
    pub gpu: GpuMode,
    /// The server process to follow (with its children): a name or a pid.
    pub process: Option<ProcessTarget>,
    /// Set to false to run without monitoring.
    pub enabled: bool,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            interval: "250ms".to_string(),
            gpu: GpuMode::Auto,
            process: None,
            enabled: true,
        }
    }
}

/// A `[monitor]` setting that cannot be used: its key and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    /// The key under `[monitor]`: "interval" or "process".
    pub key: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "monitor.{}: {}", self.key, self.message)
    }
}

impl MonitorConfig {
    /// Checks the settings and returns the sampling interval.
    pub(crate) fn validate(&self) -> Result<Duration, ConfigProblem> {
        let interval_problem = |message: String| ConfigProblem {
            key: "interval",
            message,
        };
        let interval = crate::util::parse_duration(&self.interval)
            .map_err(|e| interval_problem(e.to_string()))?;
        if interval < MIN_INTERVAL {
            return Err(interval_problem(format!(
                "`{}` is shorter than the shortest supported interval, 10ms",
                self.interval
            )));
        }
        if interval > MAX_INTERVAL {
            return Err(interval_problem(format!(
                "`{}` is longer than one hour",
                self.interval
            )));
        }
        if let Some(ProcessTarget::Name(name)) = &self.process {
            if name.trim().is_empty() {
                return Err(ConfigProblem {
                    key: "process",
                    message: "the process name is empty".to_string(),
                });
            }
        }
        Ok(interval)
    }
}

/// How GPUs are sampled.
#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum GpuMode {
    /// Sample NVIDIA GPUs through NVML when it starts; otherwise record why not and go on.
    #[default]
    Auto,
    /// Sample NVIDIA GPUs through NVML; fail when it cannot start.
    Nvml,
    /// Do not sample GPUs.
    Off,
}

/// The server process to follow: a pid, or a name matched against process
/// names (exactly) and then against command lines (as a substring).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ProcessTarget {
    Pid(u32),
    Name(#[schemars(length(min = 1))] String),
}

impl fmt::Display for ProcessTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessTarget::Pid(pid) => write!(f, "pid {pid}"),
            ProcessTarget::Name(name) => write!(f, "process `{name}`"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MonitorConfig, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_apply_to_missing_keys() {
        let config = parse("{}").expect("empty config parses");
        assert_eq!(config, MonitorConfig::default());
        assert_eq!(config.validate(), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn process_is_a_name_or_a_pid() {
        let by_name = parse(r#"{"process": "ollama", "gpu": "off"}"#).expect("parses");
        assert_eq!(by_name.process, Some(ProcessTarget::Name("ollama".into())));
        assert_eq!(by_name.gpu, GpuMode::Off);
        let by_pid = parse(r#"{"process": 1234, "gpu": "nvml"}"#).expect("parses");
        assert_eq!(by_pid.process, Some(ProcessTarget::Pid(1234)));
        assert_eq!(by_pid.gpu, GpuMode::Nvml);
    }

    #[test]
    fn unknown_keys_and_modes_are_rejected() {
        assert!(parse(r#"{"intervall": "1s"}"#).is_err());
        assert!(parse(r#"{"gpu": "rocm"}"#).is_err());
    }

    #[test]
    fn interval_bounds_are_checked() {
        let with = |interval: &str| MonitorConfig {
            interval: interval.to_string(),
            ..MonitorConfig::default()
        };
        assert_eq!(with("1s").validate(), Ok(Duration::from_secs(1)));
        assert!(with("1ms")
            .validate()
            .unwrap_err()
            .to_string()
            .contains("10ms"));
        assert!(with("2h").validate().is_err());
        assert!(with("fast")
            .validate()
            .unwrap_err()
            .to_string()
            .contains("monitor.interval"));
    }
}
