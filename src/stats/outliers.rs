//! Outlier detection by the modified z-score of Iglewicz & Hoaglin (1993):
//! distance from the median in units of the median absolute deviation (MAD),
//! which, unlike mean and stddev, the outliers themselves cannot inflate.

#[cfg(test)]
use super::percentile::{interpolate, rank};
#[cfg(test)]
use super::sample::Sample;
#[cfg(test)]
use super::select::select_ranks;

/// The usual cut-off for [`outliers_mad`] (Iglewicz & Hoaglin).
pub(crate) const MAD_THRESHOLD: f64 = 3.5;

/// `0.6745` ≈ the normal 75% quantile: makes the MAD comparable to a
/// standard deviation for normal data.
pub(crate) const MAD_SCALE: f64 = 0.6745;

/// Indices (into [`Sample::values`], input order, ascending) of values whose
/// modified z-score `0.6745 * (x - median) / MAD` exceeds `threshold` in
/// absolute value; [`MAD_THRESHOLD`] (3.5) is the usual choice.
///
/// When the MAD is 0 (at least half the values equal the median, as with
/// quantised timings or token counts) the score is undefined: every value off
/// the median would be infinitely far, so flagging them all would call
/// ordinary variation "outliers". No index is returned in that case.
#[cfg(test)]
pub(crate) fn outliers_mad(sample: &Sample, threshold: f64) -> Vec<usize> {
    let median = sample.median();
    let mut deviations: Vec<f64> = sample.sorted().iter().map(|x| (x - median).abs()).collect();
    // Only the median deviation is needed: select it, do not sort.
    let (lo, hi, t) = rank(deviations.len(), 50.0);
    select_ranks(&mut deviations, &[lo, hi]);
    let mad = interpolate(deviations[lo], deviations[hi], t);
    if mad == 0.0 || !mad.is_finite() {
        return Vec::new();
    }
    sample
        .values()
        .iter()
        .enumerate()
        .filter(|(_, &x)| (MAD_SCALE * (x - median) / mad).abs() > threshold)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(values: &[f64]) -> Sample {
        Sample::new(values.to_vec()).unwrap()
    }

    #[test]
    fn flags_the_one_obvious_outlier_by_input_index() {
        // median 10.5, MAD 0.5; 95 scores 0.6745 * 84.5 / 0.5 ≈ 114.
        let s = sample(&[10.0, 11.0, 10.0, 95.0, 11.0, 10.0, 11.0, 10.5]);
        assert_eq!(outliers_mad(&s, MAD_THRESHOLD), vec![3]);
    }

    #[test]
    fn flags_low_and_high_outliers() {
        let s = sample(&[0.0, 50.0, 51.0, 49.0, 50.5, 49.5, 50.0, 200.0]);
        assert_eq!(outliers_mad(&s, MAD_THRESHOLD), vec![0, 7]);
    }

    #[test]
    fn respects_the_threshold() {
        // median 3, MAD 1: 6 scores 0.6745 * 3 = 2.02.
        let s = sample(&[1.0, 2.0, 3.0, 4.0, 6.0]);
        assert!(outliers_mad(&s, MAD_THRESHOLD).is_empty());
        assert_eq!(outliers_mad(&s, 2.0), vec![4]);
    }

    #[test]
    fn zero_mad_flags_nothing() {
        let s = sample(&[5.0, 5.0, 5.0, 5.0, 1000.0]);
        assert!(outliers_mad(&s, MAD_THRESHOLD).is_empty());
        assert!(outliers_mad(&sample(&[1.0]), MAD_THRESHOLD).is_empty());
    }
}
