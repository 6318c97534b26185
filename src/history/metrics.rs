//! The metrics history follows and how each is read from a cell's or a
//! model's summary, with the run's interval on it. The direction that is
//! better comes from the metric registry (`metrics::registry`) for the
//! per-request metrics; rates, energy and cold starts, which the registry
//! does not hold, carry their own.

use crate::aggregate::{CellSummary, GroupSummary, MetricSummary};
use crate::quality::wilson_interval;
use serde::Serialize;

/// One run's figure with its 95 % interval where the run has one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
}

impl Estimate {
    fn new(value: f64, interval: Option<(f64, f64)>) -> Option<Estimate> {
        value.is_finite().then_some(Estimate {
            value,
            low: interval.map(|i| i.0),
            high: interval.map(|i| i.1),
        })
    }
}

pub(crate) use crate::metrics::registry::Better;

/// A followed metric.
pub struct MetricDef {
    /// Name in output and `--metric`: `ttft_p50`, `decode_tps_p50`, ...
    pub name: &'static str,
    pub unit: &'static str,
    /// The registry metric it is a statistic of, whose direction it takes.
    pub registry: Option<&'static str>,
    /// The direction of a metric the registry does not hold.
    pub own_better: Better,
    pub cell: fn(&CellSummary) -> Option<Estimate>,
    pub model: fn(&GroupSummary) -> Option<Estimate>,
}

impl MetricDef {
    /// Which way is better: the registry's word, else this table's.
    pub(crate) fn better(&self) -> Better {
        self.registry
            .and_then(crate::metrics::registry::lookup)
            .map_or(self.own_better, |def| def.better)
    }
}

/// The median of a metric, with its interval.
fn p50(summary: Option<&MetricSummary>) -> Option<Estimate> {
    let s = summary?;
    Estimate::new(s.p50, s.ci95_p50.as_ref().map(|i| (i.low, i.high)))
}

/// p95 of a metric, with its interval.
fn p95(summary: Option<&MetricSummary>) -> Option<Estimate> {
    let s = summary?;
    Estimate::new(s.p95, s.ci95_p95.as_ref().map(|i| (i.low, i.high)))
}

/// Failed / measured, with its Wilson interval.
fn error_rate(failed: u64, measured: u64) -> Option<Estimate> {
    (measured > 0).then_some(())?;
    Estimate::new(
        failed as f64 / measured as f64,
        wilson_interval(failed, measured, 1.96),
    )
}

fn pass_rate(rate: Option<&crate::quality::PassRate>) -> Option<Estimate> {
    let rate = rate.filter(|r| r.n > 0)?;
    Estimate::new(rate.rate, rate.wilson95)
}

/// Every followed metric, in output order.
pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "ttft_p50",
        unit: "ms",
        registry: Some("ttft_ms"),
        own_better: Better::Lower,
        cell: |c| p50(c.metrics.get("ttft_ms")),
        model: |m| p50(m.metrics.get("ttft_ms")),
    },
    MetricDef {
        name: "ttft_p95",
        unit: "ms",
        registry: Some("ttft_ms"),
        own_better: Better::Lower,
        cell: |c| p95(c.metrics.get("ttft_ms")),
        model: |m| p95(m.metrics.get("ttft_ms")),
    },
    MetricDef {
        name: "tpot_p50",
        unit: "ms",
        registry: Some("tpot_ms"),
        own_better: Better::Lower,
        cell: |c| p50(c.metrics.get("tpot_ms")),
        model: |m| p50(m.metrics.get("tpot_ms")),
    },
    MetricDef {
        name: "tpot_p95",
        unit: "ms",
        registry: Some("tpot_ms"),
        own_better: Better::Lower,
        cell: |c| p95(c.metrics.get("tpot_ms")),
        model: |m| p95(m.metrics.get("tpot_ms")),
    },
    MetricDef {
        name: "e2e_p50",
        unit: "ms",
        registry: Some("e2e_ms"),
        own_better: Better::Lower,
        cell: |c| p50(c.metrics.get("e2e_ms")),
        model: |m| p50(m.metrics.get("e2e_ms")),
    },
    MetricDef {
        name: "e2e_p95",
        unit: "ms",
        registry: Some("e2e_ms"),
        own_better: Better::Lower,
        cell: |c| p95(c.metrics.get("e2e_ms")),
        model: |m| p95(m.metrics.get("e2e_ms")),
    },
    MetricDef {
        name: "decode_tps_p50",
        unit: "tokens/s",
        registry: Some("decode_tps"),
        own_better: Better::Higher,
        cell: |c| p50(c.metrics.get("decode_tps")),
        model: |m| p50(m.metrics.get("decode_tps")),
    },
    MetricDef {
        name: "prompt_tps_p50",
        unit: "tokens/s",
        registry: Some("prompt_tps"),
        own_better: Better::Higher,
        cell: |c| p50(c.metrics.get("prompt_tps")),
        model: |m| p50(m.metrics.get("prompt_tps")),
    },
    MetricDef {
        name: "error_rate",
        unit: "",
        registry: None,
        own_better: Better::Lower,
        cell: |c| error_rate(c.counts.failed, c.counts.measured),
        model: |m| error_rate(m.counts.failed, m.counts.measured),
    },
    MetricDef {
        name: "pass_rate",
        unit: "",
        registry: None,
        own_better: Better::Higher,
        cell: |c| pass_rate(c.quality.as_ref()),
        model: |m| pass_rate(m.quality.as_ref()),
    },
    MetricDef {
        name: "j_per_token",
        unit: "J/token",
        registry: None,
        own_better: Better::Lower,
        cell: |c| Estimate::new(c.monitor.as_ref()?.j_per_token?, None),
        model: |_| None,
    },
    MetricDef {
        name: "cold_start_ttft_p50",
        unit: "ms",
        registry: Some("ttft_ms"),
        own_better: Better::Lower,
        cell: |_| None,
        model: |m| p50(m.cold_start.as_ref()?.metrics.get("ttft_ms")),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registry_name_is_in_the_registry() {
        for def in METRICS {
            if let Some(name) = def.registry {
                assert!(crate::metrics::registry::lookup(name).is_some(), "{name}");
            }
        }
        let ttft = METRICS.iter().find(|d| d.name == "ttft_p50").unwrap();
        assert_eq!(ttft.better(), Better::Lower);
        let decode = METRICS.iter().find(|d| d.name == "decode_tps_p50").unwrap();
        assert_eq!(decode.better(), Better::Higher);
    }
}
