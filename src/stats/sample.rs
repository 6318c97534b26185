//! `Sample`: a non-empty set of finite measurements, validated once on
//! construction so everything downstream (summaries, bootstrap, outliers) can
//! rely on it. It keeps the values both in input order (so outliers can be
//! reported by the index the caller knows) and sorted (for percentiles).

use super::percentile::percentile;

/// Why a [`Sample`] could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum StatsError {
    #[error("sample is empty")]
    Empty,
    #[error("sample value at index {index} is not finite ({value})")]
    NonFinite { index: usize, value: f64 },
}

/// A non-empty set of finite values.
///
/// Invariants (checked by [`Sample::new`], the only constructor): at least
/// one value, every value finite, `sorted` is `values` sorted ascending.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    values: Vec<f64>,
    sorted: Vec<f64>,
}

impl Sample {
    /// Validates `values` and keeps a sorted copy.
    ///
    /// # Errors
    ///
    /// [`StatsError::Empty`] for an empty vector; [`StatsError::NonFinite`]
    /// for the first NaN or infinite value, with its index.
    pub(crate) fn new(values: Vec<f64>) -> Result<Sample, StatsError> {
        validate(&values)?;
        let mut sorted = values.clone();
        // Unstable is enough: values equal under total_cmp are identical bits.
        sorted.sort_unstable_by(f64::total_cmp);
        Ok(Sample { values, sorted })
    }

    /// The values in the order they were given.
    #[cfg(test)]
    pub(crate) fn values(&self) -> &[f64] {
        &self.values
    }

    /// The values sorted ascending.
    #[cfg(test)]
    pub(crate) fn sorted(&self) -> &[f64] {
        &self.sorted
    }

    /// Number of values (at least 1).
    pub(crate) fn count(&self) -> usize {
        self.sorted.len()
    }

    /// Smallest value.
    pub(crate) fn min(&self) -> f64 {
        self.sorted[0] // non-empty by invariant
    }

    /// Largest value.
    pub(crate) fn max(&self) -> f64 {
        self.sorted[self.sorted.len() - 1] // non-empty by invariant
    }

    /// The `p`-th percentile (numpy's linear method, see [`percentile`]).
    pub fn percentile(&self, p: f64) -> f64 {
        percentile(&self.sorted, p)
    }

    /// The median (50th percentile).
    #[cfg(test)]
    pub(crate) fn median(&self) -> f64 {
        self.percentile(50.0)
    }

    /// Arithmetic mean, clamped to `[min, max]` (see [`mean_of`]).
    pub(crate) fn mean(&self) -> f64 {
        mean_of(&self.sorted, self.min(), self.max())
    }

    /// Sample standard deviation (divisor `n - 1`); `None` for a single
    /// value, or if the spread overflows f64.
    pub(crate) fn stddev(&self) -> Option<f64> {
        stddev_of(&self.sorted, self.mean())
    }
}

/// The invariants of a sample: at least one value, every value finite.
pub(crate) fn validate(values: &[f64]) -> Result<(), StatsError> {
    if values.is_empty() {
        return Err(StatsError::Empty);
    }
    match values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        Some((index, &value)) => Err(StatsError::NonFinite { index, value }),
        None => Ok(()),
    }
}

/// Arithmetic mean of non-empty finite `values` (in any order), clamped to
/// `[min, max]`: rounding can push a float sum divided by `n` a hair outside
/// the range (e.g. three 0.1s average to 0.10000000000000002), which the
/// true mean never is.
pub(crate) fn mean_of(values: &[f64], min: f64, max: f64) -> f64 {
    let n = values.len() as f64;
    let mut mean = values.iter().sum::<f64>() / n;
    if !mean.is_finite() {
        // The sum overflowed (values near f64::MAX); a running mean stays
        // within the range of the values.
        mean = 0.0;
        for (k, x) in values.iter().enumerate() {
            mean += (x - mean) / (k + 1) as f64;
        }
    }
    mean.clamp(min, max)
}

/// Sample standard deviation (divisor `n - 1`) around `mean`; `None` for
/// fewer than two values or a spread that overflows f64.
pub(crate) fn stddev_of(values: &[f64], mean: f64) -> Option<f64> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let ss: f64 = values.iter().map(|x| (x - mean) * (x - mean)).sum();
    stddev_from(ss, n)
}

/// The standard deviation of `n` (≥ 2) values whose squared deviations
/// from the mean sum to `ss` (summed in the values' order, as
/// [`stddev_of`] sums them); `None` when it overflows f64.
pub(crate) fn stddev_from(ss: f64, n: usize) -> Option<f64> {
    let sd = (ss / (n - 1) as f64).sqrt();
    sd.is_finite().then_some(sd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_empty() {
        assert_eq!(Sample::new(vec![]), Err(StatsError::Empty));
    }

    #[test]
    fn rejects_nan_and_infinity_with_index() {
        let err = Sample::new(vec![1.0, 2.0, f64::NAN, f64::INFINITY]).unwrap_err();
        assert!(matches!(err, StatsError::NonFinite { index: 2, value } if value.is_nan()));
        let err = Sample::new(vec![1.0, f64::NEG_INFINITY]).unwrap_err();
        assert_eq!(
            err,
            StatsError::NonFinite {
                index: 1,
                value: f64::NEG_INFINITY
            }
        );
        assert_eq!(
            err.to_string(),
            "sample value at index 1 is not finite (-inf)"
        );
    }

    #[test]
    fn keeps_input_order_and_sorted_copy() {
        let s = Sample::new(vec![3.0, 1.0, 2.0]).unwrap();
        assert_eq!(s.values(), &[3.0, 1.0, 2.0]);
        assert_eq!(s.sorted(), &[1.0, 2.0, 3.0]);
        assert_eq!(
            (s.count(), s.min(), s.max(), s.median()),
            (3, 1.0, 3.0, 2.0)
        );
    }

    #[test]
    fn mean_and_stddev_hand_worked() {
        // mean 5; squared deviations 9,1,1,1,0,0,4,16 sum 32; 32/7 → sd √(32/7)
        let s = Sample::new(vec![2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(s.mean(), 5.0);
        let sd = s.stddev().unwrap();
        assert!((sd - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert!((sd - 2.138_089_935_299_395).abs() < 1e-12);
        // [1,2,3,4]: mean 2.5, ss = 2.25+0.25+0.25+2.25 = 5, var 5/3
        let s = Sample::new(vec![4.0, 3.0, 2.0, 1.0]).unwrap();
        assert_eq!(s.mean(), 2.5);
        assert!((s.stddev().unwrap() - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn single_value_and_constant_samples() {
        let s = Sample::new(vec![42.0]).unwrap();
        assert_eq!((s.mean(), s.stddev()), (42.0, None));
        let s = Sample::new(vec![0.1, 0.1, 0.1]).unwrap();
        assert_eq!((s.mean(), s.stddev()), (0.1, Some(0.0)));
    }

    #[test]
    fn mean_survives_overflowing_sum() {
        let s = Sample::new(vec![f64::MAX, f64::MAX]).unwrap();
        assert_eq!(s.mean(), f64::MAX);
    }

    proptest! {
        #[test]
        fn mean_within_min_and_max(v in prop::collection::vec(-1e300f64..1e300, 1..50)) {
            let s = Sample::new(v).unwrap();
            let m = s.mean();
            prop_assert!(s.min() <= m && m <= s.max());
        }

        #[test]
        fn stddev_is_non_negative(v in prop::collection::vec(-1e9f64..1e9, 2..50)) {
            prop_assert!(Sample::new(v).unwrap().stddev().unwrap() >= 0.0);
        }
    }
}
