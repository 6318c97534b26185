//! `MetricSummary`: a `Summary` plus intervals for the median and p95 —
//! seeded bootstrap up to 2,000 values, distribution-free order-statistic
//! intervals beyond — and the count of outliers by the modified z-score. It dereferences to `Summary`, and serialises flat, so
//! templates read `metrics.ttft_ms.p50` as before. Also `MetricValues`, the
//! values of every summarised metric of a group of requests, gathered one
//! request at a time and handed to the statistics without copies.

use super::sketch::Sketch;
use super::SCALAR_METRICS;
use crate::metrics::RequestMetrics;
use crate::stats::{
    bootstrap_percentile_cis, Interval, Ordered, Summary, INTERVAL_LEVEL, INTERVAL_PERCENTILES,
    MAD_THRESHOLD,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bootstrap resamples; fixed seed so a report re-renders identically.
const RESAMPLES: usize = 1000;
const SEED: u64 = 0x11_6d_be_9c;
/// Up to this many values they are sorted and the percentile intervals are
/// bootstrapped (the bootstrap reads the sorted data); beyond it only the
/// order statistics of the summary and of its intervals' bounds are
/// selected, in linear time, and the intervals are distribution-free ones
/// from order statistics (exact binomial ranks, which need many values).
const MAX_BOOTSTRAP: usize = 2_000;
/// Fewer values than this give no useful percentile interval.
const MIN_BOOTSTRAP: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSummary {
    #[serde(flatten)]
    pub summary: Summary,
    /// 95% interval of the median (bootstrap, or order statistics above
    /// 2,000 values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95_p50: Option<Interval>,
    /// 95% interval of p95 (as `ci95_p50`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95_p95: Option<Interval>,
    /// Values with a modified z-score above 3.5 (MAD-based).
    #[serde(default)]
    pub outliers: usize,
    /// Absent when every figure is exact. Otherwise the values were too
    /// many to keep (see `aggregate::VALUE_BUDGET`) and were summarised by
    /// a bounded-memory sketch: count, mean, stddev, ci95_mean, min and max
    /// are still exact; the percentiles, their intervals and the outlier
    /// count are each within this relative error of the exact ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_error: Option<f64>,
}

impl std::ops::Deref for MetricSummary {
    type Target = Summary;

    fn deref(&self) -> &Summary {
        &self.summary
    }
}

impl MetricSummary {
    /// Statistics of `values`; `None` when empty or not finite. The values
    /// are ordered in place and consumed, never copied.
    pub(crate) fn of(values: Vec<f64>) -> Option<MetricSummary> {
        MetricSummary::from_ordered(Ordered::new(values, MAX_BOOTSTRAP).ok()?)
    }

    /// Statistics of the values of `parts` one after the other (a model's
    /// cells, pooled): the same numbers as [`MetricSummary::of`] their
    /// concatenation, reading them in place when there are many.
    pub(crate) fn of_parts(parts: Vec<&[f64]>) -> Option<MetricSummary> {
        MetricSummary::from_ordered(Ordered::from_parts(parts, MAX_BOOTSTRAP).ok()?)
    }

    fn from_ordered(ordered: Ordered<'_>) -> Option<MetricSummary> {
        let [ci95_p50, ci95_p95] = if ordered.sorted().is_none() {
            INTERVAL_PERCENTILES.map(|p| ordered.rank_interval(p, INTERVAL_LEVEL))
        } else if ordered.count() >= MIN_BOOTSTRAP {
            let cis = bootstrap_percentile_cis(
                &ordered,
                &INTERVAL_PERCENTILES,
                RESAMPLES,
                SEED,
                INTERVAL_LEVEL,
            );
            [cis[0], cis[1]]
        } else {
            [None, None]
        };
        Some(MetricSummary {
            summary: Summary::from_ordered(&ordered),
            ci95_p50,
            ci95_p95,
            outliers: ordered.outlier_count(MAD_THRESHOLD),
            relative_error: None,
        })
    }

    /// Statistics of `parts` pooled: exact while every part holds its
    /// values, else from one sketch of them all.
    pub(crate) fn of_values(parts: &[&Values]) -> Option<MetricSummary> {
        let exact: Option<Vec<&[f64]>> = parts.iter().map(|v| v.exact()).collect();
        match exact {
            Some(slices) => MetricSummary::of_parts(slices),
            None => {
                let mut pooled = Sketch::default();
                for part in parts {
                    match part {
                        Values::Exact(values) => pooled.extend(values),
                        Values::Sketch(sketch) => pooled.merge(sketch),
                    }
                }
                pooled.summary()
            }
        }
    }
}

/// One metric's values: all of them while they fit in the aggregation's
/// budget, else a bounded-memory sketch of them.
#[derive(Debug, Clone)]
pub(crate) enum Values {
    Exact(Vec<f64>),
    /// Boxed: a cell holds 16 stores, most of them never sketched, and an
    /// unboxed sketch would make each store 80 bytes instead of 24 (1 KB
    /// more per cell, 100 MB over 100,000 cells).
    Sketch(Box<Sketch>),
}

impl Default for Values {
    fn default() -> Values {
        Values::Exact(Vec::new())
    }
}

impl Values {
    /// Adds `values`; returns how many more are held exactly.
    pub(crate) fn extend(&mut self, values: &[f64]) -> usize {
        match self {
            Values::Exact(held) => {
                held.extend_from_slice(values);
                values.len()
            }
            Values::Sketch(sketch) => {
                sketch.extend(values);
                0
            }
        }
    }

    /// The values, when they are all held.
    pub(crate) fn exact(&self) -> Option<&[f64]> {
        match self {
            Values::Exact(values) => Some(values),
            Values::Sketch(_) => None,
        }
    }

    /// Values held exactly (0 once sketched).
    pub(crate) fn held(&self) -> usize {
        self.exact().map_or(0, <[f64]>::len)
    }

    /// How many values there are.
    pub(crate) fn len(&self) -> usize {
        match self {
            Values::Exact(values) => values.len(),
            Values::Sketch(sketch) => usize::try_from(sketch.count()).unwrap_or(usize::MAX),
        }
    }

    /// Turns the values into a sketch; returns how many were freed.
    pub(crate) fn sketch(&mut self) -> usize {
        let Values::Exact(values) = self else {
            return 0;
        };
        let freed = values.len();
        *self = Values::Sketch(Box::new(Sketch::of(values)));
        freed
    }

    pub(crate) fn reserve(&mut self, additional: usize) {
        if let Values::Exact(values) = self {
            values.reserve(additional);
        }
    }

    /// Adds `other`'s values (a sketch, if either is one).
    pub(crate) fn absorb(&mut self, other: &Values) {
        match (&mut *self, other) {
            (Values::Exact(held), Values::Exact(more)) => held.extend_from_slice(more),
            (Values::Sketch(sketch), Values::Exact(more)) => sketch.extend(more),
            (Values::Sketch(sketch), Values::Sketch(more)) => sketch.merge(more),
            (Values::Exact(held), Values::Sketch(more)) => {
                let mut sketch = Sketch::of(held);
                sketch.merge(more);
                *self = Values::Sketch(Box::new(sketch));
            }
        }
    }
}

/// The values of the scalar metrics (in `SCALAR_METRICS` order), the
/// chunk gaps and the per-token gaps of a group of successful requests.
#[derive(Debug, Default)]
pub(super) struct MetricValues {
    scalars: [Values; SCALAR_METRICS.len()],
    gaps: Values,
    token_gaps: Values,
}

impl MetricValues {
    /// Adds one request's metrics; returns how many more values are held
    /// exactly.
    pub(crate) fn add(&mut self, metrics: &RequestMetrics) -> usize {
        let mut held = 0;
        for (values, (_, get)) in self.scalars.iter_mut().zip(SCALAR_METRICS) {
            if let Some(value) = get(metrics) {
                held += values.extend(&[value]);
            }
        }
        held += self.gaps.extend(&metrics.chunk_gaps_ms);
        held + self.token_gaps.extend(&metrics.token_gaps_ms)
    }

    /// Every store, for the budget (scalars, then gaps).
    pub(crate) fn stores_mut(&mut self) -> impl Iterator<Item = &mut Values> {
        self.scalars
            .iter_mut()
            .chain([&mut self.gaps, &mut self.token_gaps])
    }

    /// Reserves room for `requests` requests like `example` (the first).
    pub(crate) fn reserve_for(&mut self, requests: usize, example: &RequestMetrics) {
        for values in &mut self.scalars {
            values.reserve(requests.min(super::VALUE_BUDGET / 64));
        }
        // Never more than a share of the budget: beyond it the values go
        // to a sketch.
        let most = super::VALUE_BUDGET / 8;
        let gaps = requests.saturating_mul(example.chunk_gaps_ms.len());
        self.gaps.reserve(gaps.min(most));
        let token_gaps = requests.saturating_mul(example.token_gaps_ms.len());
        self.token_gaps.reserve(token_gaps.min(most));
    }

    /// Adds `other`'s values (a model pooling its cells one at a time);
    /// a store holding more than `most` values exactly turns into a sketch.
    pub(crate) fn absorb(&mut self, other: &MetricValues, most: usize) {
        let mine = self
            .scalars
            .iter_mut()
            .chain([&mut self.gaps, &mut self.token_gaps]);
        let theirs = other.scalars.iter().chain([&other.gaps, &other.token_gaps]);
        for (store, more) in mine.zip(theirs) {
            store.absorb(more);
            if store.held() > most {
                store.sketch();
            }
        }
    }

    /// Every value held (to decide whether spreading the work pays).
    pub(crate) fn len(&self) -> usize {
        self.scalars.iter().map(Values::len).sum::<usize>()
            + self.gaps.len()
            + self.token_gaps.len()
    }

    /// Metric name → statistics; a metric without (finite) values is left
    /// out, and the report shows "n/a".
    pub(crate) fn summarize(self) -> BTreeMap<String, MetricSummary> {
        let big = self.len() >= PARALLEL_FROM;
        let names = SCALAR_METRICS.iter().map(|(name, _)| *name);
        let named: Vec<(&str, Values)> = names
            .zip(self.scalars)
            .chain([
                ("chunk_gap_ms", self.gaps),
                ("token_gap_ms", self.token_gaps),
            ])
            .collect();
        summarize_named(named, big, Values::len, |values| match values {
            Values::Exact(values) => MetricSummary::of(values),
            Values::Sketch(sketch) => sketch.summary(),
        })
    }

    /// Each metric's name and values, in report order of the scalars
    /// first, then chunk and token gaps.
    pub(crate) fn named(&self) -> Vec<(&'static str, &Values)> {
        let names = SCALAR_METRICS.iter().map(|(name, _)| *name);
        names
            .zip(self.scalars.iter())
            .chain([
                ("chunk_gap_ms", &self.gaps),
                ("token_gap_ms", &self.token_gaps),
            ])
            .collect()
    }

    /// [`MetricValues::named`] of `groups`' values pooled in order (a
    /// model's cells): each metric's values as one slice per group.
    pub(crate) fn pooled<'a>(groups: &[&'a MetricValues]) -> Vec<(&'static str, Vec<&'a Values>)> {
        let mut pooled: Vec<(&'static str, Vec<&'a Values>)> = Vec::new();
        for &group in groups {
            for (i, (name, values)) in group.named().into_iter().enumerate() {
                if i == pooled.len() {
                    pooled.push((name, Vec::with_capacity(groups.len())));
                }
                pooled[i].1.push(values);
            }
        }
        pooled
    }
}

/// From this many values a group's metrics are summarised on two threads.
const PARALLEL_FROM: usize = 200_000;

/// Each named metric's statistics. With `big`, on two threads (the machine
/// this runs on has at least two cores, and the metrics are independent):
/// the largest metric (chunk gaps, usually) on one, the rest on the other.
fn summarize_named<T: Send>(
    mut named: Vec<(&str, T)>,
    big: bool,
    size: impl Fn(&T) -> usize,
    summary: impl Fn(T) -> Option<MetricSummary> + Sync,
) -> BTreeMap<String, MetricSummary> {
    let all = |named: Vec<(&str, T)>| -> BTreeMap<String, MetricSummary> {
        named
            .into_iter()
            .filter_map(|(name, values)| Some((name.to_string(), summary(values)?)))
            .collect()
    };
    if !big {
        return all(named);
    }
    named.sort_by_key(|(_, values)| std::cmp::Reverse(size(values)));
    let rest = named.split_off(1);
    std::thread::scope(|scope| {
        let largest = scope.spawn(|| all(named));
        let mut out = all(rest);
        // A panic on the other thread is a bug here: pass it on.
        match largest.join() {
            Ok(theirs) => out.extend(theirs),
            Err(panic) => std::panic::resume_unwind(panic),
        }
        out
    })
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
    fn large_samples_get_order_statistic_intervals() {
        // 2,001 values 0..2000 in a scrambled order: the median's 95 %
        // interval is between the order statistics at ranks 957 and 1,045
        // (binomial(2001, 0.5) tails of at most 2.5 % each), i.e. the values
        // 956 and 1,044.
        let values: Vec<f64> = (0..2_001).map(|i| f64::from(i * 7 % 2_001)).collect();
        let summary = MetricSummary::of(values).expect("summary");
        let median = summary.ci95_p50.expect("median interval");
        assert_eq!(
            (median.low, median.high, median.level),
            (956.0, 1_044.0, 0.95)
        );
        let p95 = summary.ci95_p95.expect("p95 interval");
        assert!(p95.low < summary.p95 && summary.p95 < p95.high, "{p95:?}");
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
