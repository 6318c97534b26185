//! `Ordered`: a validated sample that owns its values and orders them as
//! little as its statistics need. Up to a size limit the values are sorted
//! in place (the bootstrap needs them sorted). Beyond it they are not
//! reordered at all: the order statistics of a summary's percentiles, and
//! the median absolute deviation, come from one pass that counts the values
//! below a few narrow windows (placed by a sorted sample of the values) and
//! keeps only the values inside them, then selects within those — exact,
//! with a full selection as the fallback should a window miss its rank.

use super::outliers::MAD_SCALE;
use super::percentile::{interpolate, percentile, rank};
use super::sample::{mean_of, stddev_of, StatsError};
use super::summary::SUMMARY_PERCENTILES;
use crate::rng::SplitMix64;
use std::cmp::Ordering;

/// A non-empty set of finite values, owned and ordered in place.
///
/// Invariants (checked by [`Ordered::new`], the only constructor): at least
/// one value, every value finite; `data` is a permutation of the values
/// given; when `sorted`, it is ascending; otherwise `known` holds the
/// `r`-th smallest value for each of its ranks `r`.
#[derive(Debug, Clone)]
pub struct Ordered {
    data: Vec<f64>,
    sorted: bool,
    /// (rank, value) of the summary's order statistics, by rank (unsorted data).
    known: Vec<(usize, f64)>,
    min: f64,
    max: f64,
    mean: f64,
}

impl Ordered {
    /// Validates `values`, sorts them when there are at most `sort_up_to`,
    /// otherwise finds the order statistics of [`SUMMARY_PERCENTILES`].
    ///
    /// # Errors
    ///
    /// As [`Sample::new`](super::Sample::new): empty, or a value not finite.
    pub fn new(mut values: Vec<f64>, sort_up_to: usize) -> Result<Ordered, StatsError> {
        let (min, max, sum) = scan(&values)?;
        let n = values.len();
        let sorted = n <= sort_up_to;
        let mut known = Vec::new();
        if sorted {
            // Unstable is enough: values equal under total_cmp are identical bits.
            values.sort_unstable_by(f64::total_cmp);
        } else {
            let mut ranks: Vec<usize> = SUMMARY_PERCENTILES
                .iter()
                .flat_map(|&p| {
                    let (lo, hi, _) = rank(n, p);
                    [lo, hi]
                })
                .collect();
            ranks.sort_unstable();
            ranks.dedup();
            let found = order_statistics(&values, &ranks, |x| x);
            known = ranks.into_iter().zip(found).collect();
        }
        let mean = if sum.is_finite() && !sorted {
            (sum / n as f64).clamp(min, max)
        } else {
            // Sorted: sum in sorted order, as a Sample does (same bits).
            mean_of(&values, min, max)
        };
        Ok(Ordered {
            data: values,
            sorted,
            known,
            min,
            max,
            mean,
        })
    }

    /// Number of values (at least 1).
    pub fn count(&self) -> usize {
        self.data.len()
    }

    pub fn min(&self) -> f64 {
        self.min
    }

    pub fn max(&self) -> f64 {
        self.max
    }

    /// Arithmetic mean, clamped to `[min, max]`.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Sample standard deviation (divisor `n - 1`); `None` for one value.
    pub fn stddev(&self) -> Option<f64> {
        stddev_of(&self.data, self.mean)
    }

    /// The values sorted ascending, when they were sorted.
    pub fn sorted(&self) -> Option<&[f64]> {
        self.sorted.then_some(self.data.as_slice())
    }

    /// The `p`-th percentile (numpy's linear method, see [`percentile`]).
    /// Immediate for sorted values and for [`SUMMARY_PERCENTILES`]; any
    /// other percentile of unsorted values costs a pass over them.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.sorted || p.is_nan() {
            return percentile(&self.data, p);
        }
        let (lo, hi, t) = rank(self.count(), p);
        let known = |r: usize| {
            self.known
                .binary_search_by_key(&r, |&(rank, _)| rank)
                .ok()
                .map(|i| self.known[i].1)
        };
        if let (Some(a), Some(b)) = (known(lo), known(hi)) {
            return interpolate(a, b, t);
        }
        let found = order_statistics(&self.data, &[lo, hi], |x| x);
        interpolate(found[0], found[found.len() - 1], t)
    }

    /// How many values have a modified z-score `0.6745 * |x - median| / MAD`
    /// above `threshold`, as [`outliers_mad`](super::outliers_mad) counts
    /// them (none when the MAD is 0).
    pub fn outlier_count(self, threshold: f64) -> usize {
        let median = self.percentile(50.0);
        let mad = if self.sorted {
            sorted_mad(&self.data, median)
        } else {
            let (lo, hi, t) = rank(self.count(), 50.0);
            let found = order_statistics(&self.data, &[lo, hi], |x| (x - median).abs());
            interpolate(found[0], found[found.len() - 1], t)
        };
        if mad == 0.0 || !mad.is_finite() {
            return 0;
        }
        self.data
            .iter()
            .filter(|&&x| (MAD_SCALE * (x - median) / mad).abs() > threshold)
            .count()
    }
}

/// Checks the invariants in one pass and returns min and max (under
/// `total_cmp`, so -0.0 sorts before 0.0, as in a sorted sample) and the sum.
fn scan(values: &[f64]) -> Result<(f64, f64, f64), StatsError> {
    let first = *values.first().ok_or(StatsError::Empty)?;
    let (mut lo, mut hi, mut sum) = (first, first, 0.0);
    for (index, &x) in values.iter().enumerate() {
        if !x.is_finite() {
            return Err(StatsError::NonFinite { index, value: x });
        }
        if x.total_cmp(&lo) == Ordering::Less {
            lo = x;
        }
        if x.total_cmp(&hi) == Ordering::Greater {
            hi = x;
        }
        sum += x;
    }
    Ok((lo, hi, sum))
}

/// Below this many values a copy and a selection beat sampling.
const SAMPLE_FROM: usize = 1 << 16;
/// Values drawn to place the windows.
const SAMPLE: usize = 1 << 14;
/// Half-width of a window, in standard deviations of a sample quantile's rank.
const WINDOW_SDS: f64 = 6.0;

/// The values at `ranks` (ascending, each `< data.len()`) of the multiset
/// `{f(x) : x in data}`, under `total_cmp`, without reordering `data`.
///
/// A sorted sample of `f(x)` places a window around each rank, wide enough
/// that the rank falls inside it all but never; one pass counts the values
/// below each window and keeps those inside; a rank inside its window is
/// then a selection among the kept values. Exact either way: a rank that
/// fell outside its window is found by a full selection on a copy.
pub(crate) fn order_statistics(data: &[f64], ranks: &[usize], f: impl Fn(f64) -> f64) -> Vec<f64> {
    let n = data.len();
    if n < SAMPLE_FROM {
        return select_copy(data, ranks, f);
    }
    let (windows, window_of) = merge(place_windows(data, ranks, &f));
    let count = windows.len();
    // Values between window j-1 and window j (j == count: above the last),
    // and values inside window j; a window of one value only counts its
    // values, the others keep them.
    let mut between = vec![0usize; count + 1];
    let mut inside = vec![0usize; count];
    let mut kept: Vec<Vec<f64>> = vec![Vec::new(); count];
    for &x in data {
        let v = f(x);
        // Windows are disjoint and ascending: skip those wholly below v.
        let mut j = 0;
        while j < count && v.total_cmp(&windows[j].1) == Ordering::Greater {
            j += 1;
        }
        if j == count || v.total_cmp(&windows[j].0) == Ordering::Less {
            between[j] += 1;
        } else {
            inside[j] += 1;
            if windows[j].0.to_bits() != windows[j].1.to_bits() {
                kept[j].push(v);
            }
        }
    }
    // Values below window j: everything between and inside the ones before.
    let below: Vec<usize> = (0..count)
        .scan(0, |sum, j| {
            *sum += between[j];
            let here = *sum;
            *sum += inside[j];
            Some(here)
        })
        .collect();
    let mut found = Vec::with_capacity(ranks.len());
    for (&r, &j) in ranks.iter().zip(&window_of) {
        let Some(k) = r.checked_sub(below[j]).filter(|&k| k < inside[j]) else {
            return select_copy(data, ranks, f); // the window missed: rare
        };
        if kept[j].is_empty() {
            found.push(windows[j].0);
        } else {
            let (_, value, _) = kept[j].select_nth_unstable_by(k, f64::total_cmp);
            found.push(*value);
        }
    }
    found
}

/// Overlapping windows (of ascending ranks, so ascending bounds) merged
/// into one, so that no value is kept twice; with each rank's window.
fn merge(windows: Vec<(f64, f64)>) -> (Vec<(f64, f64)>, Vec<usize>) {
    let mut merged: Vec<(f64, f64)> = Vec::new();
    let mut window_of = Vec::with_capacity(windows.len());
    for (low, high) in windows {
        match merged.last_mut() {
            Some(last) if low.total_cmp(&last.1) != Ordering::Greater => {
                if high.total_cmp(&last.1) == Ordering::Greater {
                    last.1 = high;
                }
            }
            _ => merged.push((low, high)),
        }
        window_of.push(merged.len() - 1);
    }
    (merged, window_of)
}

/// For each rank, a window `[low, high]` of values that holds it but for a
/// chance of about 1e-9: sample quantiles around the rank's, `WINDOW_SDS`
/// standard deviations of the sample rank apart.
fn place_windows(data: &[f64], ranks: &[usize], f: &impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
    let n = data.len();
    let step = n / SAMPLE; // ≥ 4, as n ≥ SAMPLE_FROM
    let mut rng = SplitMix64::new(0x5eed);
    let mut sample: Vec<f64> = (0..SAMPLE)
        .map(|i| f(data[i * step + rng.below(step)]))
        .collect();
    sample.sort_unstable_by(f64::total_cmp);
    let last = SAMPLE - 1;
    ranks
        .iter()
        .map(|&r| {
            let q = r as f64 / (n - 1) as f64;
            let centre = q * last as f64;
            let spread = WINDOW_SDS * (SAMPLE as f64 * q * (1.0 - q)).sqrt() + 2.0;
            let lo = (centre - spread).floor();
            let hi = (centre + spread).ceil();
            let low = if lo <= 0.0 {
                f64::MIN
            } else {
                sample[lo as usize]
            };
            let high = if hi >= last as f64 {
                f64::MAX
            } else {
                sample[hi as usize]
            };
            (low, high)
        })
        .collect()
}

/// [`order_statistics`] by a selection on a copy of the mapped values.
fn select_copy(data: &[f64], ranks: &[usize], f: impl Fn(f64) -> f64) -> Vec<f64> {
    let mut copy: Vec<f64> = data.iter().map(|&x| f(x)).collect();
    select_ranks(&mut copy, ranks);
    ranks.iter().map(|&r| copy[r]).collect()
}

/// Puts the `r`-th smallest value at index `r` for every `r` in `ranks`
/// (ascending, each `< data.len()`). Ranks are taken lowest first, each
/// selected within what lies above the previous one, and a rank right
/// after the previous one is just the minimum of the rest (a scan, not a
/// selection).
pub(crate) fn select_ranks(data: &mut [f64], ranks: &[usize]) {
    let mut start = 0; // everything below `start` is in its final place
    for &rank in ranks {
        if rank < start || rank >= data.len() {
            continue; // a repeated rank, or out of range
        }
        let rest = &mut data[start..];
        let k = rank - start;
        if k == 0 {
            move_min_first(rest);
        } else {
            rest.select_nth_unstable_by(k, f64::total_cmp);
        }
        start = rank + 1;
    }
}

/// Swaps the smallest value (under `total_cmp`) to the front of `data`.
fn move_min_first(data: &mut [f64]) {
    let mut min = 0;
    for (i, x) in data.iter().enumerate().skip(1) {
        if x.total_cmp(&data[min]) == Ordering::Less {
            min = i;
        }
    }
    data.swap(0, min);
}

/// The median of `|x - median|` over sorted `data`, without building the
/// deviations: they ascend leftwards from the median's position and
/// rightwards from it, so walking both ways in step reads them in order.
fn sorted_mad(data: &[f64], median: f64) -> f64 {
    let (lo, hi, t) = rank(data.len(), 50.0);
    let split = data.partition_point(|&x| x < median);
    let (mut left, mut right) = (split, split); // next: data[left - 1], data[right]
    let (mut at_lo, mut at_hi) = (0.0, 0.0);
    for k in 0..=hi {
        let below = left.checked_sub(1).map(|i| (data[i] - median).abs());
        let above = data.get(right).map(|x| (x - median).abs());
        let next = match (below, above) {
            (Some(b), Some(a)) if b.total_cmp(&a) == Ordering::Less => {
                left -= 1;
                b
            }
            (_, Some(a)) => {
                right += 1;
                a
            }
            (Some(b), None) => {
                left -= 1;
                b
            }
            (None, None) => break, // k < n: cannot happen
        };
        if k == lo {
            at_lo = next;
        }
        if k == hi {
            at_hi = next;
        }
    }
    interpolate(at_lo, at_hi, t)
}

#[cfg(test)]
mod tests {
    use super::super::outliers::{outliers_mad, MAD_THRESHOLD};
    use super::super::sample::Sample;
    use super::super::summary::Summary;
    use super::*;
    use proptest::prelude::*;

    fn values() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(
            prop_oneof![
                -1e6f64..1e6,
                prop::sample::select(vec![0.0, -0.0, 1.5, 10.0, 10.0]),
            ],
            1..300,
        )
    }

    proptest! {
        #[test]
        fn sorted_and_selected_agree_with_a_sample(v in values()) {
            let sample = Sample::new(v.clone()).unwrap();
            let want = Summary::from_sample(&sample);
            let want_outliers = outliers_mad(&sample, MAD_THRESHOLD).len();
            for limit in [0, usize::MAX] {
                let ordered = Ordered::new(v.clone(), limit).unwrap();
                let got = Summary::from_ordered(&ordered);
                prop_assert_eq!((got.min, got.max, got.p50, got.p90, got.p95, got.p99),
                    (want.min, want.max, want.p50, want.p90, want.p95, want.p99));
                prop_assert_eq!(got.count, want.count);
                prop_assert!((got.mean - want.mean).abs() <= 1e-9 * (1.0 + want.mean.abs()));
                prop_assert_eq!(ordered.percentile(42.0), sample.percentile(42.0));
                prop_assert_eq!(ordered.outlier_count(MAD_THRESHOLD), want_outliers);
            }
        }
    }

    #[test]
    fn sorted_values_give_the_same_numbers_bit_for_bit() {
        let v: Vec<f64> = (0..500).map(|i| f64::from(i * 7919 % 1000) / 7.0).collect();
        let sample = Sample::new(v.clone()).unwrap();
        let ordered = Ordered::new(v, 2_000).unwrap();
        assert_eq!(
            Summary::from_ordered(&ordered),
            Summary::from_sample(&sample)
        );
        assert_eq!(ordered.sorted(), Some(sample.sorted()));
    }

    #[test]
    fn selection_puts_every_rank_in_place() {
        let v: Vec<f64> = (0..10_001)
            .map(|i| f64::from((i * 7919) % 10_007))
            .collect();
        let mut sorted = v.clone();
        sorted.sort_by(f64::total_cmp);
        let mut data = v;
        let ranks = [0, 17, 5_000, 5_001, 9_999, 10_000];
        select_ranks(&mut data, &ranks);
        for r in ranks {
            assert_eq!(data[r], sorted[r], "rank {r}");
        }
    }

    #[test]
    fn windows_find_exact_order_statistics_in_any_order() {
        let n = 300_007;
        let jitter = |i: usize| ((i * 2_654_435_761) % 1_000_003) as f64 / 997.0;
        let shapes: [Vec<f64>; 4] = [
            (0..n).map(jitter).collect(),
            (0..n).map(|i| i as f64).collect(),       // sorted
            (0..n).map(|i| (n - i) as f64).collect(), // reversed
            (0..n).map(|i| (i % 7) as f64 * 0.5).collect(), // few values
        ];
        for values in shapes {
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let ranks = [0, 1, n / 2, n / 2 + 1, n * 99 / 100, n - 1];
            let found = order_statistics(&values, &ranks, |x| x);
            let want: Vec<f64> = ranks.iter().map(|&r| sorted[r]).collect();
            assert_eq!(found, want);
            let median = sorted[n / 2];
            let mut deviations: Vec<f64> = values.iter().map(|x| (x - median).abs()).collect();
            deviations.sort_by(f64::total_cmp);
            let found = order_statistics(&values, &[n / 2], |x| (x - median).abs());
            assert_eq!(found, vec![deviations[n / 2]]);
        }
    }

    #[test]
    fn invariants_are_checked() {
        assert_eq!(Ordered::new(vec![], 10).unwrap_err(), StatsError::Empty);
        assert!(matches!(
            Ordered::new(vec![1.0, f64::NAN], 10),
            Err(StatsError::NonFinite { index: 1, .. })
        ));
        let one = Ordered::new(vec![3.0], 0).unwrap();
        assert_eq!(
            (one.count(), one.stddev(), one.outlier_count(3.5)),
            (1, None, 0)
        );
    }
}
