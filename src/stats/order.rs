//! `Ordered`: a validated sample whose values are ordered as little as its
//! statistics need. Up to a size limit the values are owned and sorted in
//! place (the bootstrap needs them sorted). Beyond it they are never
//! reordered, and may be borrowed as several slices read as one sequence (a
//! model's cells, pooled without a copy): two passes over them find
//! everything a summary needs — the first checks the values, finds min, max
//! and sum and places the percentiles' order statistics (see
//! [`select`](super::select)); the second sums the squared deviations from
//! the mean and places the median absolute deviation — and the outlier count
//! is a third. Sums run in the values' order, so every figure is the one a
//! sorted or pooled copy of the values gives, bit for bit.

use super::interval::Interval;
use super::outliers::MAD_SCALE;
use super::percentile::{interpolate, percentile, rank};
use super::rank_interval::percentile_rank_interval;
use super::sample::{mean_of, stddev_from, stddev_of, StatsError};
use super::select::{
    from_key, key, order_statistics, select_copy, select_key_ranks, sorted_sample, total_len,
    WindowPass, BLOCK, SAMPLE_FROM,
};
use super::summary::SUMMARY_PERCENTILES;
use std::cmp::Ordering;

/// A non-empty set of finite values, sorted or read in place.
///
/// Invariants (checked by [`Ordered::new`] and [`Ordered::from_parts`], the
/// only constructors): at least one value, every value finite; when
/// `sorted`, the values are owned and ascending; otherwise they are in the
/// order given, `known` holds the `r`-th smallest value for each of its
/// ranks `r`, and `spread` is set.
#[derive(Debug, Clone)]
pub(crate) struct Ordered<'a> {
    data: Data<'a>,
    count: usize,
    sorted: bool,
    /// (rank, value) of the summary's order statistics, by rank (unsorted data).
    known: Vec<(usize, f64)>,
    /// Ranks of the bounds of the [`INTERVAL_PERCENTILES`]' intervals
    /// (unsorted data; computed once, they are in `known`).
    intervals: [Option<[usize; 2]>; 2],
    min: f64,
    max: f64,
    mean: f64,
    /// Found while reading unsorted values; computed on demand when sorted.
    spread: Option<Spread>,
}

/// Where the values are.
#[derive(Debug, Clone)]
enum Data<'a> {
    Owned(Vec<f64>),
    /// Slices read one after the other as one sequence.
    Parts(Vec<&'a [f64]>),
}

/// What the second pass over unsorted values finds.
#[derive(Debug, Clone, Copy)]
struct Spread {
    stddev: Option<f64>,
    median: f64,
    /// Median absolute deviation from the median.
    mad: f64,
}

/// Everything an unsorted `Ordered` holds besides its values.
struct Figures {
    known: Vec<(usize, f64)>,
    min: f64,
    max: f64,
    mean: f64,
    spread: Spread,
}

impl Ordered<'static> {
    /// Validates `values`, sorts them when there are at most `sort_up_to`,
    /// otherwise finds the order statistics of [`SUMMARY_PERCENTILES`].
    ///
    /// # Errors
    ///
    /// As [`Sample::new`](super::Sample::new): empty, or a value not finite.
    pub(crate) fn new(
        mut values: Vec<f64>,
        sort_up_to: usize,
    ) -> Result<Ordered<'static>, StatsError> {
        if values.len() > sort_up_to {
            return Ordered::unsorted(Data::Owned(values));
        }
        let (min, max, _) = scan(&values)?;
        sort_by_key(&mut values);
        // Sum in sorted order, as a Sample does (same bits).
        let mean = mean_of(&values, min, max);
        Ok(Ordered {
            count: values.len(),
            data: Data::Owned(values),
            sorted: true,
            known: Vec::new(),
            intervals: [None; 2],
            min,
            max,
            mean,
            spread: None,
        })
    }
}

impl<'a> Ordered<'a> {
    /// [`Ordered::new`] of the values of `parts` one after the other, but
    /// without copying them when there are more than `sort_up_to` (at most
    /// that many are copied and sorted).
    ///
    /// # Errors
    ///
    /// As [`Ordered::new`].
    pub(crate) fn from_parts(
        parts: Vec<&'a [f64]>,
        sort_up_to: usize,
    ) -> Result<Ordered<'a>, StatsError> {
        if total_len(&parts) <= sort_up_to {
            return Ordered::new(parts.concat(), sort_up_to);
        }
        Ordered::unsorted(Data::Parts(parts))
    }

    fn unsorted(data: Data<'a>) -> Result<Ordered<'a>, StatsError> {
        let parts = data.parts();
        let count = total_len(&parts);
        let intervals = INTERVAL_PERCENTILES.map(|p| interval_ranks(count, p, INTERVAL_LEVEL));
        let ranks = summary_ranks(count, &intervals);
        let figures = if count < SAMPLE_FROM {
            read_copy(&parts, &ranks)?
        } else {
            read_in_place(&parts, &ranks)?
        };
        Ok(Ordered {
            data,
            count,
            sorted: false,
            known: figures.known,
            intervals,
            min: figures.min,
            max: figures.max,
            mean: figures.mean,
            spread: Some(figures.spread),
        })
    }

    /// Number of values (at least 1).
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    pub(crate) fn min(&self) -> f64 {
        self.min
    }

    pub(crate) fn max(&self) -> f64 {
        self.max
    }

    /// Arithmetic mean, clamped to `[min, max]`.
    pub(crate) fn mean(&self) -> f64 {
        self.mean
    }

    /// Sample standard deviation (divisor `n - 1`); `None` for one value.
    pub(crate) fn stddev(&self) -> Option<f64> {
        match (&self.spread, &self.data) {
            (Some(spread), _) => spread.stddev,
            (None, Data::Owned(values)) => stddev_of(values, self.mean),
            (None, Data::Parts(_)) => None, // never: parts are not sorted
        }
    }

    /// The values sorted ascending, when they were sorted.
    pub(crate) fn sorted(&self) -> Option<&[f64]> {
        match (&self.data, self.sorted) {
            (Data::Owned(values), true) => Some(values),
            _ => None,
        }
    }

    /// The `p`-th percentile (numpy's linear method, see [`percentile`]).
    /// Immediate for sorted values and for [`SUMMARY_PERCENTILES`]; any
    /// other percentile of unsorted values costs a pass over them.
    pub fn percentile(&self, p: f64) -> f64 {
        if let Some(sorted) = self.sorted() {
            return percentile(sorted, p);
        }
        if p.is_nan() {
            return f64::NAN;
        }
        let (lo, hi, t) = rank(self.count, p);
        if let (Some(a), Some(b)) = (self.known_at(lo), self.known_at(hi)) {
            return interpolate(a, b, t);
        }
        let found = order_statistics(&self.data.parts(), &[lo, hi], |x| x);
        interpolate(found[0], found[found.len() - 1], t)
    }

    /// The distribution-free interval of percentile `p` at `level`: the
    /// order statistics whose ranks come from the binomial distribution of
    /// the count below the true percentile (see
    /// [`percentile_rank_interval`]). `None` when there are too few values.
    /// Immediate for sorted values and for [`INTERVAL_PERCENTILES`] at
    /// [`INTERVAL_LEVEL`]; others of unsorted values cost a pass.
    pub(crate) fn rank_interval(&self, p: f64, level: f64) -> Option<Interval> {
        let cached = INTERVAL_PERCENTILES
            .iter()
            .position(|&q| q == p && level == INTERVAL_LEVEL && !self.sorted)
            .map(|i| self.intervals[i]);
        let [j, k] = cached.unwrap_or_else(|| interval_ranks(self.count, p, level))?;
        let [low, high] = match self.sorted() {
            Some(sorted) => [sorted[j], sorted[k]],
            None => match (self.known_at(j), self.known_at(k)) {
                (Some(low), Some(high)) => [low, high],
                _ => {
                    let found = order_statistics(&self.data.parts(), &[j, k], |x| x);
                    [found[0], found[found.len() - 1]]
                }
            },
        };
        Some(Interval { low, high, level })
    }

    /// The `r`-th smallest value (0-based) if the first pass placed it.
    fn known_at(&self, r: usize) -> Option<f64> {
        self.known
            .binary_search_by_key(&r, |&(rank, _)| rank)
            .ok()
            .map(|i| self.known[i].1)
    }

    /// How many values have a modified z-score `0.6745 * |x - median| / MAD`
    /// above `threshold`, as [`outliers_mad`](super::outliers_mad) counts
    /// them (none when the MAD is 0).
    pub(crate) fn outlier_count(self, threshold: f64) -> usize {
        let (median, mad) = match (&self.spread, self.sorted()) {
            (Some(spread), _) => (spread.median, spread.mad),
            (None, Some(sorted)) => {
                let median = percentile(sorted, 50.0);
                (median, sorted_mad(sorted, median))
            }
            (None, None) => return 0, // never: see the invariants
        };
        if mad == 0.0 || !mad.is_finite() {
            return 0;
        }
        let outlier = |x: f64| (MAD_SCALE * (x - median) / mad).abs() > threshold;
        self.data
            .parts()
            .iter()
            .map(|part| part.iter().filter(|&&x| outlier(x)).count())
            .sum()
    }
}

impl Data<'_> {
    /// The values as slices read one after the other.
    fn parts(&self) -> Vec<&[f64]> {
        match self {
            Data::Owned(values) => vec![values.as_slice()],
            Data::Parts(parts) => parts.clone(),
        }
    }
}

/// Sorts `values` under `total_cmp`, as their [`key`]s: integers sort
/// faster than a comparison that converts both values every time.
/// Unstable is enough: equal keys are identical bits.
fn sort_by_key(values: &mut [f64]) {
    let mut keys: Vec<i64> = values.iter().map(|&x| key(x)).collect();
    keys.sort_unstable();
    for (x, &k) in values.iter_mut().zip(&keys) {
        *x = from_key(k);
    }
}

/// Percentiles whose distribution-free intervals ([`Ordered::rank_interval`])
/// unsorted values carry without another pass, and the intervals' level.
pub(crate) const INTERVAL_PERCENTILES: [f64; 2] = [50.0, 95.0];
pub(crate) const INTERVAL_LEVEL: f64 = 0.95;

/// 0-based ranks of the order statistics bounding the distribution-free
/// interval of percentile `p` among `n` values.
fn interval_ranks(n: usize, p: f64, level: f64) -> Option<[usize; 2]> {
    percentile_rank_interval(n, p, level).map(|(j, k)| [j - 1, k - 1])
}

/// The ranks of the order statistics of [`SUMMARY_PERCENTILES`] and of the
/// intervals' bounds among `n` values, ascending, without repeats.
fn summary_ranks(n: usize, intervals: &[Option<[usize; 2]>]) -> Vec<usize> {
    let bounds = intervals.iter().flatten().flatten().copied();
    let mut ranks: Vec<usize> = SUMMARY_PERCENTILES
        .iter()
        .flat_map(|&p| {
            let (lo, hi, _) = rank(n, p);
            [lo, hi]
        })
        .chain(bounds)
        .collect();
    ranks.sort_unstable();
    ranks.dedup();
    ranks
}

/// The figures of fewer than [`SAMPLE_FROM`] unsorted values, from one
/// copy of them: sums in the values' order first, then selections.
fn read_copy(parts: &[&[f64]], ranks: &[usize]) -> Result<Figures, StatsError> {
    let copy = parts.concat();
    let (min, max, sum) = scan(&copy)?;
    let n = copy.len();
    let mean = mean_from(sum, parts, min, max);
    let stddev = stddev_of(&copy, mean);
    let mut keys: Vec<i64> = copy.iter().map(|&x| key(x)).collect();
    select_key_ranks(&mut keys, ranks);
    let known: Vec<(usize, f64)> = ranks.iter().map(|&r| (r, from_key(keys[r]))).collect();
    let median = median_of(&known, n);
    for (k, &x) in keys.iter_mut().zip(&copy) {
        *k = key((x - median).abs());
    }
    let (lo, hi, t) = rank(n, 50.0);
    select_key_ranks(&mut keys, &[lo, hi]);
    let mad = interpolate(from_key(keys[lo]), from_key(keys[hi]), t);
    Ok(Figures {
        known,
        min,
        max,
        mean,
        spread: Spread {
            stddev,
            median,
            mad,
        },
    })
}

/// The figures of many unsorted values in two passes over them (and a
/// selection among the few values kept by each).
fn read_in_place(parts: &[&[f64]], ranks: &[usize]) -> Result<Figures, StatsError> {
    let n = total_len(parts);
    let sample = sorted_sample(parts, |x| x);
    let first = first_pass(parts, WindowPass::new(&sample, n, ranks))?;
    let found = first
        .ranks
        .unwrap_or_else(|| select_copy(parts, ranks, |x| x));
    let known: Vec<(usize, f64)> = ranks.iter().copied().zip(found).collect();
    let (min, max) = (first.min, first.max);
    let mean = mean_from(first.sum, parts, min, max);
    let median = median_of(&known, n);
    // The sampled values' deviations are a sample of the deviations.
    let mut deviations: Vec<f64> = sample.iter().map(|&x| (x - median).abs()).collect();
    deviations.sort_unstable_by(f64::total_cmp);
    let (lo, hi, t) = rank(n, 50.0);
    let pass = WindowPass::new(&deviations, n, &[lo, hi]);
    let (ss, found) = second_pass(parts, mean, median, pass);
    let found = found.unwrap_or_else(|| select_copy(parts, &[lo, hi], |x| (x - median).abs()));
    Ok(Figures {
        known,
        min,
        max,
        mean,
        spread: Spread {
            stddev: (n > 1).then(|| stddev_from(ss, n)).flatten(),
            median,
            mad: interpolate(found[0], found[1], t),
        },
    })
}

/// What the first pass over unsorted values finds.
struct FirstPass {
    min: f64,
    max: f64,
    sum: f64,
    /// The values at the pass's ranks; `None` when a window missed.
    ranks: Option<Vec<f64>>,
}

/// Checks every value, finds min and max (under `total_cmp`), the sum (in
/// order, from 0.0 as [`scan`] sums) and the values at `pass`'s ranks.
fn first_pass(parts: &[&[f64]], mut pass: WindowPass) -> Result<FirstPass, StatsError> {
    let (mut low, mut high, mut sum, mut finite) = (i64::MAX, i64::MIN, 0.0, true);
    for part in parts {
        for block in part.chunks(BLOCK) {
            for &x in block {
                finite &= x.is_finite();
                let k = key(x);
                low = low.min(k);
                high = high.max(k);
                sum += x;
            }
            pass.add_block(block);
        }
    }
    if !finite {
        return Err(first_error(parts));
    }
    Ok(FirstPass {
        min: from_key(low),
        max: from_key(high),
        sum,
        ranks: pass.finish(),
    })
}

/// Sums the squared deviations from `mean` (in order, as [`stddev_of`]
/// sums them) and finds the values at `pass`'s ranks of `|x - median|`.
fn second_pass(
    parts: &[&[f64]],
    mean: f64,
    median: f64,
    mut pass: WindowPass,
) -> (f64, Option<Vec<f64>>) {
    let mut ss = 0.0;
    let mut deviations = [0.0; BLOCK];
    for part in parts {
        for block in part.chunks(BLOCK) {
            for (d, &x) in deviations.iter_mut().zip(block) {
                ss += (x - mean) * (x - mean);
                *d = (x - median).abs();
            }
            pass.add_block(&deviations[..block.len()]);
        }
    }
    (ss, pass.finish())
}

/// The error [`scan`] reports for the first value that is not finite.
fn first_error(parts: &[&[f64]]) -> StatsError {
    let mut index = 0;
    for part in parts {
        if let Err(StatsError::NonFinite { index: i, value }) = scan(part) {
            return StatsError::NonFinite {
                index: index + i,
                value,
            };
        }
        index += part.len();
    }
    StatsError::Empty // never: the caller saw a value that is not finite
}

/// The median from the summary's order statistics.
fn median_of(known: &[(usize, f64)], n: usize) -> f64 {
    let (lo, hi, t) = rank(n, 50.0);
    let at = |r: usize| {
        known
            .iter()
            .find(|&&(rank, _)| rank == r)
            .map_or(f64::NAN, |&(_, value)| value)
    };
    interpolate(at(lo), at(hi), t)
}

/// The mean of unsorted values from their sum (in order), as
/// [`mean_of`] finds it: a running mean in order should the sum overflow.
fn mean_from(sum: f64, parts: &[&[f64]], min: f64, max: f64) -> f64 {
    if sum.is_finite() {
        return (sum / total_len(parts) as f64).clamp(min, max);
    }
    let mut mean = 0.0;
    for (k, x) in parts.iter().flat_map(|part| part.iter()).enumerate() {
        mean += (x - mean) / (k + 1) as f64;
    }
    mean.clamp(min, max)
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
    fn parts_give_the_numbers_of_their_concatenation_bit_for_bit() {
        // Sizes for each path: sorted, one copy, read in place (twice the
        // sampling threshold); ties, both zeros and an outlier or two.
        for n in [1_500, 20_000, 140_001] {
            let values: Vec<f64> = (0..n)
                .map(|i| {
                    let x = ((i * 7_919) % 10_007) as f64 / 13.0 - 200.0;
                    match i % 1_000 {
                        0 => -0.0,
                        1 => 0.0,
                        2 => 1e6,
                        _ => (x * 8.0).round() / 8.0,
                    }
                })
                .collect();
            let cuts = [0, 1, n / 3, n / 3, n - 2, n];
            let parts: Vec<&[f64]> = cuts.windows(2).map(|w| &values[w[0]..w[1]]).collect();
            let from_parts = Ordered::from_parts(parts, 2_000).unwrap();
            let whole = Ordered::new(values.clone(), 2_000).unwrap();
            let sample = Sample::new(values.clone()).unwrap();
            for ordered in [&from_parts, &whole] {
                assert_eq!(
                    Summary::from_ordered(ordered),
                    Summary::from_ordered(&whole)
                );
                assert_eq!(ordered.percentile(42.0), sample.percentile(42.0));
            }
            let want = Summary::from_sample(&sample);
            let got = Summary::from_ordered(&whole);
            assert_eq!(
                (got.p50, got.p90, got.p95, got.p99),
                (want.p50, want.p90, want.p95, want.p99)
            );
            // Interval bounds are the order statistics at the binomial
            // ranks, placed by the first pass or found by another.
            for (p, level) in [(50.0, 0.95), (95.0, 0.95), (90.0, 0.8)] {
                let (j, k) = percentile_rank_interval(n, p, level).expect("many values");
                let want = Interval {
                    low: sample.sorted()[j - 1],
                    high: sample.sorted()[k - 1],
                    level,
                };
                assert!(want.contains(sample.percentile(p)), "n={n} p={p}");
                for ordered in [&from_parts, &whole] {
                    assert_eq!(ordered.rank_interval(p, level), Some(want), "n={n} p={p}");
                }
            }
            let outliers = outliers_mad(&sample, MAD_THRESHOLD).len();
            assert!(outliers > 0);
            assert_eq!(from_parts.outlier_count(MAD_THRESHOLD), outliers);
            assert_eq!(whole.outlier_count(MAD_THRESHOLD), outliers);
        }
    }

    #[test]
    fn a_part_with_a_value_not_finite_is_an_error_at_its_index() {
        let first = vec![1.0; 3_000];
        let second = [2.0, f64::INFINITY];
        assert_eq!(
            Ordered::from_parts(vec![&first, &second], 10).unwrap_err(),
            StatsError::NonFinite {
                index: 3_001,
                value: f64::INFINITY
            }
        );
        let many = vec![0.5; 100_000];
        assert!(Ordered::from_parts(vec![&many, &second], 10).is_err());
        assert_eq!(
            Ordered::from_parts(vec![&[], &[]], 10).unwrap_err(),
            StatsError::Empty
        );
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
