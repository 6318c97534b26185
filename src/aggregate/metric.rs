//! `MetricSummary`: a `Summary` plus what needs resampling — seeded bootstrap
//! intervals for the median and p95 — and the count of outliers by the
//! modified z-score. It dereferences to `Summary`, and serialises flat, so
//! templates read `metrics.ttft_ms.p50` as before.

use crate::stats::{
    bootstrap_percentile_ci, outliers_mad, Interval, Sample, Summary, MAD_THRESHOLD,
};
use serde::{Deserialize, Serialize};

/// Bootstrap resamples; fixed seed so a report re-renders identically.
const RESAMPLES: usize = 1000;
const SEED: u64 = 0x11_6d_be_9c;
/// Above this many values the t interval of the mean says enough, and the
/// bootstrap's sorted resamples would cost seconds per metric (measured by
/// benches/overhead.rs on 1M-record runs): skip it.
const MAX_BOOTSTRAP: usize = 2_000;
/// Fewer values than this give no useful percentile interval.
const MIN_BOOTSTRAP: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSummary {
    #[serde(flatten)]
    pub summary: Summary,
    /// 95% bootstrap interval of the median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95_p50: Option<Interval>,
    /// 95% bootstrap interval of p95.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95_p95: Option<Interval>,
    /// Values with a modified z-score above 3.5 (MAD-based).
    #[serde(default)]
    pub outliers: usize,
}

impl std::ops::Deref for MetricSummary {
    type Target = Summary;

    fn deref(&self) -> &Summary {
        &self.summary
    }
}

impl MetricSummary {
    /// Statistics of `values`; `None` when empty or not finite.
    pub fn of(values: Vec<f64>) -> Option<MetricSummary> {
        let sample = Sample::new(values).ok()?;
        let resample = (MIN_BOOTSTRAP..=MAX_BOOTSTRAP).contains(&sample.count());
        let interval = |p: f64| {
            resample
                .then(|| bootstrap_percentile_ci(&sample, p, RESAMPLES, SEED, 0.95))
                .flatten()
        };
        Some(MetricSummary {
            summary: Summary::from_sample(&sample),
            ci95_p50: interval(50.0),
            ci95_p95: interval(95.0),
            outliers: outliers_mad(&sample, MAD_THRESHOLD).len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_need_enough_values_and_contain_the_estimate() {
        assert!(MetricSummary::of(vec![]).is_none());
        let few = MetricSummary::of(vec![1.0, 2.0, 3.0]).expect("summary");
        assert!(
            few.ci95_p50.is_none(),
            "3 values are too few for a bootstrap"
        );
        let values: Vec<f64> = (0..200).map(|i| 100.0 + (i % 17) as f64).collect();
        let many = MetricSummary::of(values.clone()).expect("summary");
        let ci = many.ci95_p50.expect("interval");
        assert!(ci.low <= many.p50 && many.p50 <= ci.high);
        assert_eq!(
            MetricSummary::of(values),
            Some(many),
            "seeded: the same every time"
        );
    }

    #[test]
    fn outliers_are_counted() {
        let mut values = vec![10.0, 10.5, 9.5, 10.2, 9.8, 10.1, 9.9, 10.3, 9.7, 10.0];
        values.push(250.0);
        assert_eq!(MetricSummary::of(values).expect("summary").outliers, 1);
    }

    #[test]
    fn it_serialises_flat() {
        let summary = MetricSummary::of(vec![1.0, 2.0]).expect("summary");
        let json = serde_json::to_value(&summary).expect("json");
        assert_eq!(json["p50"], 1.5);
        assert_eq!(json["outliers"], 0);
        let back: MetricSummary = serde_json::from_value(json).expect("parses back");
        assert_eq!(back, summary);
    }
}
