//! Percentiles of sorted data by linear interpolation between closest ranks,
//! the same definition as numpy's default (`method="linear"`, also Excel's
//! `PERCENTILE.INC` and R's type 7): the p-th percentile of `n` sorted values
//! sits at rank `p/100 * (n-1)` and is interpolated between its neighbours.

/// The `p`-th percentile (0..=100) of `sorted`, which must be sorted ascending.
///
/// Matches `numpy.percentile(a, p)` (linear method) up to the last bit of
/// rounding: numpy switches between two lerp formulas at the midpoint of a
/// bracket, while this uses one formula clamped to the bracket, which makes
/// the result provably monotone in `p` and never outside `[a[lo], a[hi]]`.
///
/// `p` outside `0..=100` is clamped to it. An empty slice or a NaN `p` gives
/// NaN (a [`Sample`](super::Sample) is never empty, so its percentiles are
/// always numbers).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() || p.is_nan() {
        return f64::NAN;
    }
    let (lo, hi, t) = rank(sorted.len(), p);
    interpolate(sorted[lo], sorted[hi], t)
}

/// Where the `p`-th percentile of `n` (≥ 1) sorted values lies: the ranks
/// of its two neighbours and the fraction between them. Split out so that
/// callers holding only those two order statistics (selected, not sorted;
/// or read off a bootstrap's index counts) get the very same number.
pub(crate) fn rank(n: usize, p: f64) -> (usize, usize, f64) {
    let last = n.saturating_sub(1);
    let rank = (p.clamp(0.0, 100.0) / 100.0) * last as f64;
    // rank is finite and within [0, last], so the casts cannot saturate.
    let lo = (rank.floor() as usize).min(last);
    let hi = (lo + 1).min(last);
    (lo, hi, rank - lo as f64)
}

/// `a + (b - a) * t` for neighbours `a <= b`, clamped to `[a, b]`.
pub(crate) fn interpolate(a: f64, b: f64, t: f64) -> f64 {
    if t == 0.0 || a == b {
        return a;
    }
    let diff = b - a;
    let value = if diff.is_finite() {
        a + diff * t
    } else {
        // b - a overflowed (values near ±f64::MAX); this form cannot.
        a * (1.0 - t) + b * t
    };
    value.clamp(a.min(b), a.max(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn matches_numpy_linear_on_hand_worked_values() {
        let a = [1.0, 2.0, 3.0, 4.0];
        // rank = p/100 * 3
        assert!(close(percentile(&a, 50.0), 2.5)); // rank 1.5
        assert!(close(percentile(&a, 90.0), 3.7)); // rank 2.7
        assert!(close(percentile(&a, 99.0), 3.97)); // rank 2.97
        assert_eq!(percentile(&a, 0.0), 1.0);
        assert_eq!(percentile(&a, 100.0), 4.0);
        // rank = 0.4 * 4 = 1.6 → 20 + 0.6 * (35 - 20) = 29
        let b = [15.0, 20.0, 35.0, 40.0, 50.0];
        assert!(close(percentile(&b, 40.0), 29.0));
        assert_eq!(percentile(&b, 50.0), 35.0); // exact rank 2
        assert!(close(percentile(&b, 95.0), 48.0)); // rank 3.8
    }

    #[test]
    fn single_value_and_edge_inputs() {
        assert_eq!(percentile(&[7.0], 0.0), 7.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
        assert!(percentile(&[1.0, 2.0], f64::NAN).is_nan());
        assert_eq!(percentile(&[1.0, 2.0], -5.0), 1.0);
        assert_eq!(percentile(&[1.0, 2.0], 250.0), 2.0);
        let huge = [-f64::MAX, f64::MAX];
        assert!(percentile(&huge, 50.0).is_finite());
    }

    fn sorted_values() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(-1e12f64..1e12, 1..60).prop_map(|mut v| {
            v.sort_by(f64::total_cmp);
            v
        })
    }

    proptest! {
        #[test]
        fn monotone_in_p(v in sorted_values(), p in 0.0f64..=100.0, q in 0.0f64..=100.0) {
            let (lo, hi) = if p <= q { (p, q) } else { (q, p) };
            prop_assert!(percentile(&v, lo) <= percentile(&v, hi));
        }

        #[test]
        fn within_min_and_max(v in sorted_values(), p in 0.0f64..=100.0) {
            let x = percentile(&v, p);
            prop_assert!(v[0] <= x && x <= v[v.len() - 1]);
        }

        #[test]
        fn monotone_on_few_distinct_values(
            v in prop::collection::vec(prop::sample::select(vec![0.1, 0.2, 0.3, 1e-9, 7.0]), 1..40)
                .prop_map(|mut v| { v.sort_by(f64::total_cmp); v }),
            p in 0.0f64..=100.0,
            d in 0.0f64..1.0,
        ) {
            prop_assert!(percentile(&v, p) <= percentile(&v, (p + d).min(100.0)));
        }
    }
}
