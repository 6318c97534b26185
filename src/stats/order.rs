//! `Ordered`: a validated sample that owns its values and orders them in
//! place, as little as its statistics need. Up to a size limit the values
//! are sorted (the bootstrap needs them sorted); beyond it only the order
//! statistics of a summary's percentiles are selected (`select_nth_unstable`,
//! linear time), so a million values cost a few passes and no copy. Also the
//! outlier count by the modified z-score, with the MAD found by merging the
//! two sorted halves (sorted values) or by selection (selected values).

use super::outliers::MAD_SCALE;
use super::percentile::{interpolate, percentile, rank};
use super::sample::{mean_of, stddev_of, validate, StatsError};
use super::summary::SUMMARY_PERCENTILES;
use std::cmp::Ordering;

/// A non-empty set of finite values, owned and ordered in place.
///
/// Invariants (checked by [`Ordered::new`], the only constructor): at least
/// one value, every value finite; `data` is a permutation of the values
/// given; when `sorted`, it is ascending, otherwise `data[r]` is the `r`-th
/// smallest value for every `r` in `selected`.
#[derive(Debug, Clone)]
pub struct Ordered {
    data: Vec<f64>,
    sorted: bool,
    selected: Vec<usize>,
    min: f64,
    max: f64,
    mean: f64,
}

impl Ordered {
    /// Validates `values`, sorts them when there are at most `sort_up_to`,
    /// otherwise selects the order statistics of [`SUMMARY_PERCENTILES`].
    ///
    /// # Errors
    ///
    /// As [`Sample::new`](super::Sample::new): empty, or a value not finite.
    pub fn new(mut values: Vec<f64>, sort_up_to: usize) -> Result<Ordered, StatsError> {
        validate(&values)?;
        let n = values.len();
        let sorted = n <= sort_up_to;
        let mut selected = Vec::new();
        if sorted {
            // Unstable is enough: values equal under total_cmp are identical bits.
            values.sort_unstable_by(f64::total_cmp);
        } else {
            selected = SUMMARY_PERCENTILES
                .iter()
                .flat_map(|&p| {
                    let (lo, hi, _) = rank(n, p);
                    [lo, hi]
                })
                .collect();
            selected.sort_unstable();
            selected.dedup();
            select_ranks(&mut values, &selected);
        }
        let (min, max) = range(&values);
        let mean = mean_of(&values, min, max);
        Ok(Ordered {
            data: values,
            sorted,
            selected,
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
    /// other percentile of selected values costs a copy and a selection.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.sorted || p.is_nan() {
            return percentile(&self.data, p);
        }
        let (lo, hi, t) = rank(self.count(), p);
        let known = |r: usize| self.selected.binary_search(&r).is_ok();
        if known(lo) && known(hi) {
            return interpolate(self.data[lo], self.data[hi], t);
        }
        let mut copy = self.data.clone();
        select_ranks(&mut copy, &[lo, hi]);
        interpolate(copy[lo], copy[hi], t)
    }

    /// How many values have a modified z-score `0.6745 * |x - median| / MAD`
    /// above `threshold`, as [`outliers_mad`](super::outliers_mad) counts
    /// them (none when the MAD is 0). Consumes the values: selected ones are
    /// turned into their deviations in place rather than copied.
    pub fn outlier_count(mut self, threshold: f64) -> usize {
        let median = self.percentile(50.0);
        let mad = if self.sorted {
            sorted_mad(&self.data, median)
        } else {
            for x in &mut self.data {
                *x = (*x - median).abs();
            }
            median_in_place(&mut self.data)
        };
        if mad == 0.0 || !mad.is_finite() {
            return 0;
        }
        // |x - median| for sorted values; already the deviation otherwise.
        let centre = if self.sorted { median } else { 0.0 };
        self.data
            .iter()
            .filter(|&&x| (MAD_SCALE * (x - centre) / mad).abs() > threshold)
            .count()
    }
}

/// Smallest and largest of non-empty `values` under `total_cmp` (so -0.0
/// sorts before 0.0, as in a sorted sample).
fn range(values: &[f64]) -> (f64, f64) {
    let first = values[0]; // non-empty by invariant
    values.iter().fold((first, first), |(lo, hi), &x| {
        let lo = if x.total_cmp(&lo) == Ordering::Less {
            x
        } else {
            lo
        };
        let hi = if x.total_cmp(&hi) == Ordering::Greater {
            x
        } else {
            hi
        };
        (lo, hi)
    })
}

/// Puts the `r`-th smallest value at index `r` for every `r` in `ranks`
/// (ascending, each `< data.len()`): one selection per rank, each on the
/// part between its neighbours, so a handful of ranks cost about as much as
/// two passes over the data.
pub(crate) fn select_ranks(data: &mut [f64], ranks: &[usize]) {
    if ranks.is_empty() || data.len() < 2 {
        return;
    }
    let mid = ranks.len() / 2;
    let pivot = ranks[mid];
    let (left, _, right) = data.select_nth_unstable_by(pivot, f64::total_cmp);
    select_ranks(left, &ranks[..mid]);
    let above: Vec<usize> = ranks[mid + 1..].iter().map(|r| r - pivot - 1).collect();
    select_ranks(right, &above);
}

/// The median of `data` (non-empty), reordering it.
fn median_in_place(data: &mut [f64]) -> f64 {
    let (lo, hi, t) = rank(data.len(), 50.0);
    select_ranks(data, &[lo, hi]);
    interpolate(data[lo], data[hi], t)
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
