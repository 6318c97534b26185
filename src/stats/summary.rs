//! `Summary`: the descriptive statistics a report shows for one metric of one
//! cell (count, mean, spread, percentiles, a t interval for the mean), plus
//! short notes where a number rests on too few samples to be trusted.

use serde::{Deserialize, Serialize};

use super::interval::Interval;
use super::order::Ordered;
use super::sample::Sample;
use super::tdist::t_critical_95;

/// Note added when there are fewer than two values.
pub(crate) const NOTE_NO_CI: &str = "too few samples for a confidence interval";

/// Descriptive statistics of a [`Sample`]. Percentiles use numpy's linear
/// method and are always computed; `notes` says when one of them is little
/// more than an interpolation between the top values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    /// Sample standard deviation (divisor n - 1); `None` when n < 2.
    pub stddev: Option<f64>,
    /// Coefficient of variation `stddev / mean`; `None` without a stddev or
    /// when the mean is 0.
    pub cv: Option<f64>,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    /// Two-sided 95% Student t interval for the mean; `None` when n < 2.
    pub ci95_mean: Option<Interval>,
    /// Short caveats about the numbers above, empty when there are none.
    pub notes: Vec<String>,
}

/// The percentiles a summary shows (what [`Ordered`] selects in place).
pub(crate) const SUMMARY_PERCENTILES: [f64; 4] = [50.0, 90.0, 95.0, 99.0];

/// Percentiles that need at least `min_count` samples to mean much.
const THIN_PERCENTILES: [(&str, usize); 3] = [("p90", 10), ("p95", 20), ("p99", 100)];

impl Summary {
    /// Computes the summary of `sample`.
    pub(crate) fn from_sample(sample: &Sample) -> Summary {
        let mean = sample.mean();
        Summary::build(
            (sample.count(), mean, sample.stddev()),
            (sample.min(), sample.max()),
            |p| sample.percentile(p),
        )
    }

    /// Computes the summary of `ordered` (the same numbers a [`Sample`] of
    /// its values gives, but from values ordered in place).
    pub(crate) fn from_ordered(ordered: &Ordered<'_>) -> Summary {
        Summary::build(
            (ordered.count(), ordered.mean(), ordered.stddev()),
            (ordered.min(), ordered.max()),
            |p| ordered.percentile(p),
        )
    }

    /// The summary from the moments, the range and a percentile function
    /// (called only for [`SUMMARY_PERCENTILES`]).
    pub(crate) fn build(
        (count, mean, stddev): (usize, f64, Option<f64>),
        (min, max): (f64, f64),
        percentile: impl Fn(f64) -> f64,
    ) -> Summary {
        let cv = stddev
            .filter(|_| mean != 0.0)
            .map(|sd| sd / mean)
            .filter(|cv| cv.is_finite());
        let ci95_mean = stddev
            .zip(t_critical_95(count.saturating_sub(1)))
            .map(|(sd, t)| {
                let half = t * sd / (count as f64).sqrt();
                // Times, speeds and counts cannot be negative: a t interval
                // on few skewed values would say "-406 – 1317 ms".
                let floor = if min >= 0.0 { 0.0 } else { f64::NEG_INFINITY };
                Interval {
                    low: (mean - half).max(floor),
                    high: mean + half,
                    level: 0.95,
                }
            });
        let mut notes: Vec<String> = THIN_PERCENTILES
            .iter()
            .filter(|(_, min_count)| count < *min_count)
            .map(|(name, _)| {
                format!("{name} from {count} samples is the max-adjacent interpolation; take it with care")
            })
            .collect();
        if ci95_mean.is_none() {
            notes.push(NOTE_NO_CI.to_string());
        }
        let [p50, p90, p95, p99] = SUMMARY_PERCENTILES.map(percentile);
        Summary {
            count,
            mean,
            stddev,
            cv,
            min,
            p50,
            p90,
            p95,
            p99,
            max,
            ci95_mean,
            notes,
        }
    }
}

impl From<&Sample> for Summary {
    fn from(sample: &Sample) -> Summary {
        Summary::from_sample(sample)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn summary(values: &[f64]) -> Summary {
        Summary::from_sample(&Sample::new(values.to_vec()).unwrap())
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn hand_worked_small_sample() {
        // [1,2,3,4]: mean 2.5, sd √(5/3) = 1.2909944, se = sd/2 = 0.6454972,
        // t(3) = 3.182446305, half width 2.0542603 → [0.4457397, 4.5542603].
        let s = summary(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!((s.count, s.mean, s.min, s.max), (4, 2.5, 1.0, 4.0));
        assert!(close(s.stddev.unwrap(), 1.290_994_448_7));
        assert!(close(s.cv.unwrap(), 1.290_994_448_7 / 2.5));
        assert!(close(s.p50, 2.5) && close(s.p90, 3.7) && close(s.p95, 3.85) && close(s.p99, 3.97));
        let ci = s.ci95_mean.unwrap();
        assert!((ci.low - 0.445_739_7).abs() < 1e-7);
        assert!((ci.high - 4.554_260_3).abs() < 1e-7);
        assert_eq!(ci.level, 0.95);
        assert!(close(ci.low + ci.high, 5.0)); // symmetric around the mean
    }

    #[test]
    fn notes_flag_thin_percentiles() {
        let s = summary(&[1.0; 12]);
        assert_eq!(
            s.notes,
            vec![
                "p95 from 12 samples is the max-adjacent interpolation; take it with care",
                "p99 from 12 samples is the max-adjacent interpolation; take it with care",
            ]
        );
        let many: Vec<f64> = (0..100).map(f64::from).collect();
        assert!(summary(&many).notes.is_empty());
        assert_eq!(summary(&many[..20]).notes.len(), 1); // only p99
        assert_eq!(summary(&many[..9]).notes.len(), 3); // p90, p95, p99
    }

    #[test]
    fn single_value_has_no_spread_and_says_why() {
        let s = summary(&[3.0]);
        assert_eq!((s.stddev, s.cv, s.ci95_mean), (None, None, None));
        assert_eq!((s.p50, s.p99), (3.0, 3.0));
        assert_eq!(s.notes.last().map(String::as_str), Some(NOTE_NO_CI));
        assert_eq!(s.notes.len(), 4);
    }

    #[test]
    fn cv_undefined_for_zero_mean() {
        let s = summary(&[-1.0, 1.0]);
        assert_eq!(s.mean, 0.0);
        assert!(s.stddev.is_some() && s.cv.is_none());
    }

    #[test]
    fn json_round_trip() {
        let s = summary(&[0.25, 0.5, 1.0, 2.0, 4.0]);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Summary>(&json).unwrap(), s);
        let single = summary(&[1.0]);
        let json = serde_json::to_string(&single).unwrap();
        assert!(json.contains(r#""stddev":null"#) && json.contains(r#""ci95_mean":null"#));
        assert_eq!(serde_json::from_str::<Summary>(&json).unwrap(), single);
    }

    #[test]
    fn the_interval_of_a_mean_of_times_never_goes_negative() {
        // Skewed and few: mean 455, t interval about -406 … 1317.
        let s = summary(&[20.0, 30.0, 1315.0]);
        let ci = s.ci95_mean.expect("three values have an interval");
        assert_eq!(ci.low, 0.0, "{ci:?}");
        assert!(ci.high > 1000.0 && ci.high > s.mean, "{ci:?}");
        // Values that may be negative keep the plain interval.
        let signed = summary(&[-20.0, 30.0, 1315.0]);
        assert!(signed.ci95_mean.is_some_and(|ci| ci.low < -100.0));
    }

    proptest! {
        #[test]
        fn ordered_and_within_range(v in prop::collection::vec(-1e9f64..1e9, 1..120)) {
            let s = summary(&v);
            prop_assert!(s.min <= s.mean && s.mean <= s.max);
            prop_assert!(s.min <= s.p50 && s.p50 <= s.p90 && s.p90 <= s.p95);
            prop_assert!(s.p95 <= s.p99 && s.p99 <= s.max);
            if let Some(ci) = s.ci95_mean {
                prop_assert!(ci.low <= s.mean && s.mean <= ci.high);
            }
        }
    }
}
