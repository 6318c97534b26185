//! Bounded-memory statistics of one metric (pure): a log-bucketed quantile
//! sketch (the DDSketch mapping) with exact count, mean, standard deviation,
//! minimum and maximum. Every value lands in the bucket
//! `ceil(ln x / ln γ)`, γ = (1 + α)/(1 − α), whose representative value is
//! within a relative error α = [`RELATIVE_ERROR`] of every value in it, so
//! each order statistic read back — and so every percentile, percentile
//! interval bound and the median and MAD behind the outlier count — is
//! within α of the exact one (relative). Memory is one counter per bucket
//! between the smallest and largest value: about 1,150 per decade of range,
//! whatever the number of values. Values are the non-negative metrics of
//! llmbench; anything below [`ZERO`] (and any negative value) is counted as
//! zero.

use super::metric::MetricSummary;
use crate::stats::{percentile_rank_interval, Interval, Summary, INTERVAL_PERCENTILES};

/// The stated bound: each percentile is within 0.1 % (relative) of the
/// exact one.
pub(crate) const RELATIVE_ERROR: f64 = 0.001;
/// Values below this count as zero.
const ZERO: f64 = 1e-9;

/// The sketch of one metric's values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sketch {
    /// Counts of buckets `offset..offset + counts.len()`.
    counts: Vec<u64>,
    offset: i32,
    zeros: u64,
    count: u64,
    /// Running mean and sum of squared deviations (Welford), exact.
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl Default for Sketch {
    fn default() -> Sketch {
        Sketch {
            counts: Vec::new(),
            offset: 0,
            zeros: 0,
            count: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

fn ln_gamma() -> f64 {
    ((1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR)).ln()
}

impl Sketch {
    /// A sketch of `values` (non-finite ones are skipped, as the exact
    /// statistics skip nothing: callers pass finite values).
    pub(crate) fn of(values: &[f64]) -> Sketch {
        let mut sketch = Sketch::default();
        sketch.extend(values);
        sketch
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Adds every finite value of `values`.
    pub(crate) fn extend(&mut self, values: &[f64]) {
        let ln_gamma = ln_gamma();
        for &x in values.iter().filter(|x| x.is_finite()) {
            self.add_with(x, ln_gamma);
        }
    }

    fn add_with(&mut self, x: f64, ln_gamma: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        if x < ZERO {
            self.zeros += 1;
            return;
        }
        let key = (x.ln() / ln_gamma).ceil() as i32;
        *self.slot(key) += 1;
    }

    /// The counter of bucket `key`, growing the range to hold it.
    fn slot(&mut self, key: i32) -> &mut u64 {
        if self.counts.is_empty() {
            self.offset = key;
        }
        if key < self.offset {
            let grow = (self.offset - key) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = key;
        }
        let i = (key - self.offset) as usize;
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        &mut self.counts[i]
    }

    /// Adds `other`'s values (Chan's combination of the moments).
    pub(crate) fn merge(&mut self, other: &Sketch) {
        if other.count == 0 {
            return;
        }
        let (n1, n2) = (self.count as f64, other.count as f64);
        let n = n1 + n2;
        let delta = other.mean - self.mean;
        self.mean += delta * n2 / n;
        self.m2 += other.m2 + delta * delta * n1 * n2 / n;
        self.count += other.count;
        self.zeros += other.zeros;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        for (i, &c) in other.counts.iter().enumerate() {
            if c > 0 {
                *self.slot(other.offset + i as i32) += c;
            }
        }
    }

    /// Memory held, in bytes (for the aggregation's budget).
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.counts.capacity() * std::mem::size_of::<u64>()
    }

    /// The `r`-th smallest value (0-based), within the relative error;
    /// the exact minimum and maximum at the ends.
    pub(crate) fn at_rank(&self, r: u64) -> f64 {
        if r == 0 {
            return self.min;
        }
        if r + 1 >= self.count {
            return self.max;
        }
        if r < self.zeros {
            return 0.0;
        }
        let mut seen = self.zeros;
        let gamma = ln_gamma().exp();
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if r < seen {
                let key = self.offset + i as i32;
                let value = 2.0 * gamma.powi(key) / (gamma + 1.0);
                return value.clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// numpy's linear percentile, read from the sketch.
    pub(crate) fn percentile(&self, p: f64) -> f64 {
        let h = (self.count - 1) as f64 * p / 100.0;
        let (lo, hi) = (h.floor() as u64, h.ceil() as u64);
        let (a, b) = (self.at_rank(lo), self.at_rank(hi));
        a + (h - lo as f64) * (b - a)
    }

    fn stddev(&self) -> Option<f64> {
        (self.count >= 2).then(|| (self.m2 / (self.count - 1) as f64).max(0.0).sqrt())
    }

    /// The median absolute deviation from `median`, from the buckets.
    fn mad(&self, median: f64) -> f64 {
        let mut deviations: Vec<(f64, u64)> = self
            .buckets()
            .map(|(value, c)| ((value - median).abs(), c))
            .collect();
        deviations.sort_by(|a, b| a.0.total_cmp(&b.0));
        let half = self.count.div_ceil(2);
        let mut seen = 0;
        for (deviation, c) in deviations {
            seen += c;
            if seen >= half {
                return deviation;
            }
        }
        0.0
    }

    /// Every non-empty bucket's representative value and count (zeros first).
    fn buckets(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let gamma = ln_gamma().exp();
        let zeros = (self.zeros > 0).then_some((0.0, self.zeros));
        zeros
            .into_iter()
            .chain(
                self.counts
                    .iter()
                    .enumerate()
                    .filter(|(_, &c)| c > 0)
                    .map(move |(i, &c)| {
                        let key = self.offset + i as i32;
                        (2.0 * gamma.powi(key) / (gamma + 1.0), c)
                    }),
            )
    }

    /// Values whose modified z-score (0.6745 · |x − median| / MAD) exceeds
    /// `threshold`, counted by bucket.
    fn outliers(&self, threshold: f64) -> usize {
        let median = self.percentile(50.0);
        let mad = self.mad(median);
        if mad == 0.0 || !mad.is_finite() {
            return 0;
        }
        self.buckets()
            .filter(|(x, _)| (0.6745 * (x - median) / mad).abs() > threshold)
            .map(|(_, c)| c as usize)
            .sum()
    }

    /// The statistics of the sketched values; `None` when there are none.
    /// Count, mean, standard deviation (and its interval), minimum and
    /// maximum are exact; percentiles, their intervals and the outlier
    /// count carry the relative error, which `relative_error` states.
    pub(crate) fn summary(&self) -> Option<MetricSummary> {
        if self.count == 0 {
            return None;
        }
        let count = usize::try_from(self.count).unwrap_or(usize::MAX);
        let summary = Summary::build(
            (count, self.mean, self.stddev()),
            (self.min, self.max),
            |p| self.percentile(p),
        );
        let [ci95_p50, ci95_p95] = INTERVAL_PERCENTILES.map(|p| {
            let (j, k) = percentile_rank_interval(count, p, crate::stats::INTERVAL_LEVEL)?;
            Some(Interval {
                low: self.at_rank(j as u64 - 1),
                high: self.at_rank(k as u64 - 1),
                level: crate::stats::INTERVAL_LEVEL,
            })
        });
        Some(MetricSummary {
            summary,
            ci95_p50,
            ci95_p95,
            outliers: self.outliers(crate::stats::MAD_THRESHOLD),
            relative_error: Some(RELATIVE_ERROR),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::percentile;

    fn scrambled(n: usize) -> Vec<f64> {
        let mut rng = crate::rng::SplitMix64::new(7);
        (0..n).map(|_| (rng.unit() * 6.0).exp() * 0.01).collect()
    }

    #[test]
    fn percentiles_are_within_the_bound_of_the_exact_ones() {
        let values = scrambled(100_000);
        let sketch = Sketch::of(&values);
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        for p in [0.1, 1.0, 10.0, 50.0, 90.0, 95.0, 99.0, 99.9] {
            let exact = percentile(&sorted, p);
            let approx = sketch.percentile(p);
            assert!(
                (approx - exact).abs() <= RELATIVE_ERROR * exact * 1.000_001,
                "p{p}: {approx} vs exact {exact}"
            );
        }
    }

    #[test]
    fn moments_and_range_are_exact() {
        let values = scrambled(10_000);
        let summary = Sketch::of(&values).summary().expect("summary");
        let exact = MetricSummary::of(values).expect("exact");
        assert_eq!(
            (summary.count, summary.min, summary.max),
            (exact.count, exact.min, exact.max)
        );
        assert!((summary.mean - exact.mean).abs() <= 1e-9 * exact.mean);
        let (a, b) = (summary.stddev.unwrap_or(0.0), exact.stddev.unwrap_or(0.0));
        assert!((a - b).abs() <= 1e-9 * b);
        assert_eq!(summary.relative_error, Some(RELATIVE_ERROR));
        assert_eq!(exact.relative_error, None, "exact statistics say so");
    }

    #[test]
    fn merged_sketches_are_the_sketch_of_all_values() {
        let values = scrambled(5_000);
        let (a, b) = values.split_at(1_234);
        let mut merged = Sketch::of(a);
        merged.merge(&Sketch::of(b));
        let whole = Sketch::of(&values);
        assert_eq!(merged.counts, whole.counts);
        assert_eq!(
            (merged.count, merged.min, merged.max),
            (whole.count, whole.min, whole.max)
        );
        assert!((merged.mean - whole.mean).abs() < 1e-12 * whole.mean);
    }

    #[test]
    fn zeros_and_a_wide_range_are_held() {
        let sketch = Sketch::of(&[0.0, 0.0, 1e-3, 1e6]);
        assert_eq!(sketch.at_rank(1), 0.0);
        assert_eq!(sketch.at_rank(3), 1e6);
        assert!(
            sketch.bytes() < 200_000,
            "{} bytes for 9 decades",
            sketch.bytes()
        );
    }
}
