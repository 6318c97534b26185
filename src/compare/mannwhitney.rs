//! The Mann–Whitney U test (Wilcoxon rank-sum) of two independent samples,
//! two-sided, by the normal approximation with tie correction and
//! continuity correction — scipy's `mannwhitneyu(method="asymptotic")`.
//! Pure; used by `compare` on per-request values.

use serde::{Deserialize, Serialize};

/// Result of the test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct MannWhitney {
    /// U of the first sample: how many (a, b) pairs have a > b (ties count ½).
    pub u: f64,
    /// Standardised statistic (continuity-corrected), ≥ 0.
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Runs the test; `None` when either sample is empty or holds a non-finite value.
pub(crate) fn mann_whitney_u(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    if a.is_empty() || b.is_empty() || a.iter().chain(b).any(|x| !x.is_finite()) {
        return None;
    }
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let n = n1 + n2;
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut rank_sum_a = 0.0;
    let mut ties = 0.0;
    let mut start = 0;
    while start < all.len() {
        let mut end = start;
        while end + 1 < all.len() && all[end + 1].0 == all[start].0 {
            end += 1;
        }
        // Positions start..=end share the average rank (1-based).
        let rank = (start + end) as f64 / 2.0 + 1.0;
        let size = (end - start + 1) as f64;
        ties += size * size * size - size;
        rank_sum_a += rank * all[start..=end].iter().filter(|v| v.1).count() as f64;
        start = end + 1;
    }
    let u = rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)).max(1.0));
    if variance <= 0.0 || !variance.is_finite() {
        return Some(MannWhitney { u, z: 0.0, p: 1.0 });
    }
    let big = u.max(n1 * n2 - u);
    let z = ((big - mean - 0.5) / variance.sqrt()).max(0.0);
    let p = erfc(z / std::f64::consts::SQRT_2).min(1.0);
    Some(MannWhitney { u, z, p })
}

/// Complementary error function (Numerical Recipes `erfcc`, relative error
/// below 1.2e-7 everywhere).
pub(crate) fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separated_samples_match_scipy() {
        // scipy.stats.mannwhitneyu([1..5], [6..10], method="asymptotic"):
        // U = 0, p = 0.012185 (z = 12 / sqrt(25 * 11 / 12) = 2.50672).
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        let test = mann_whitney_u(&a, &b).expect("runs");
        assert_eq!(test.u, 0.0);
        assert!((test.z - 2.506_72).abs() < 1e-4, "{test:?}");
        assert!((test.p - 0.012_185).abs() < 1e-5, "{test:?}");
        // Symmetric in the samples (U becomes n1·n2 − U).
        let back = mann_whitney_u(&b, &a).expect("runs");
        assert_eq!((back.u, back.p), (25.0, test.p));
    }

    #[test]
    fn ties_shrink_the_variance() {
        // a = [1,2,2,3], b = [2,3,3,4]: ranks 1, 3,3,3, 6,6,6, 8 → R_a = 1+3+3+6 = 13,
        // U = 13 − 10 = 3; ties: 3 twos (24) + 3 threes (24) → 48;
        // var = 16/12 · (9 − 48/56) = 10.857; z = (13 − 8 − 0.5)/3.29502 = 1.36570;
        // p = erfc(z/√2) = 0.172034.
        let test = mann_whitney_u(&[1.0, 2.0, 2.0, 3.0], &[2.0, 3.0, 3.0, 4.0]).expect("runs");
        assert_eq!(test.u, 3.0);
        assert!((test.z - 1.365_70).abs() < 1e-4, "{test:?}");
        assert!((test.p - 0.172_034).abs() < 1e-5, "{test:?}");
    }

    #[test]
    fn identical_samples_give_p_one() {
        let test = mann_whitney_u(&[5.0; 6], &[5.0; 4]).expect("runs");
        assert_eq!(test.p, 1.0);
        let same = mann_whitney_u(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).expect("runs");
        assert!(same.p > 0.9, "{same:?}");
    }

    #[test]
    fn empty_or_non_finite_samples_are_refused() {
        assert!(mann_whitney_u(&[], &[1.0]).is_none());
        assert!(mann_whitney_u(&[f64::NAN], &[1.0]).is_none());
    }

    #[test]
    fn erfc_matches_known_values() {
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.479_500_122),
            (1.0, 0.157_299_207),
            (2.0, 0.004_677_735),
            (-1.0, 1.842_700_793),
        ] {
            assert!((erfc(x) - want).abs() < 2e-7, "erfc({x}) = {}", erfc(x));
        }
    }
}
