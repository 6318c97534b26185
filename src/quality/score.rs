//! Quality scores, all pure functions: the pass rate of a set of responses,
//! its Wilson score interval (a binomial confidence interval that stays inside
//! [0, 1] and behaves at 0/n and n/n), and pass@k by the unbiased estimator of
//! Chen et al. (2021), computed in product form so that it never builds large
//! binomial coefficients.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Wilson score interval for `passed` successes out of `n` trials at normal
/// quantile `z` (1.96 for 95 %). `None` when `n` is 0, `passed > n`, or `z`
/// is not a finite non-negative number.
pub fn wilson_interval(passed: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 || passed > n || !z.is_finite() || z < 0.0 {
        return None;
    }
    let n = n as f64;
    let p = passed as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denominator;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Some(((center - half).max(0.0), (center + half).min(1.0)))
}

/// Unbiased pass@k: the probability that at least one of `k` samples drawn
/// without replacement from `n` samples, `c` of them correct, is correct:
/// `1 - C(n-c, k) / C(n, k)`, computed as `1 - Π_{i=n-c+1}^{n} (1 - k/i)`.
/// `None` when `k` is 0, `k > n` or `c > n`.
pub fn pass_at_k(n: u64, c: u64, k: u64) -> Option<f64> {
    if k == 0 || k > n || c > n {
        return None;
    }
    if n - c < k {
        return Some(1.0);
    }
    if k == 1 {
        return Some(c as f64 / n as f64);
    }
    let k = k as f64;
    let product: f64 = ((n - c + 1)..=n).map(|i| 1.0 - k / i as f64).product();
    Some(1.0 - product)
}

/// The quality of a set of responses (one prompt's repetitions, or a cell).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassRate {
    /// Responses scored.
    pub n: u64,
    /// Responses whose checks all passed.
    pub passed: u64,
    /// `passed / n`; 0 when `n` is 0 (read `n` before the rate).
    pub rate: f64,
    /// 95 % Wilson interval; `None` when `n` is 0.
    pub wilson95: Option<(f64, f64)>,
    /// "pass@1" (equal to `rate`) and, for n > 1, "pass@n". pass@k is only
    /// meaningful over samples of one prompt: compute it per prompt and average.
    pub pass_at: BTreeMap<String, f64>,
}

/// Scores `results`, one entry per response: true when all its checks passed.
pub fn pass_rate(results: &[bool]) -> PassRate {
    let n = results.len() as u64;
    let passed = results.iter().filter(|ok| **ok).count() as u64;
    let mut pass_at = BTreeMap::new();
    let mut ks = vec![1, n];
    ks.dedup();
    for k in ks {
        if let Some(value) = pass_at_k(n, passed, k) {
            pass_at.insert(format!("pass@{k}"), value);
        }
    }
    PassRate {
        n,
        passed,
        rate: if n == 0 {
            0.0
        } else {
            passed as f64 / n as f64
        },
        wilson95: wilson_interval(passed, n, 1.96),
        pass_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn wilson_matches_hand_worked_values() {
        // p = 0.8, z² = 3.8416: center 1.19208/1.38416, half 1.96·√0.025604/1.38416.
        let (low, high) = wilson_interval(8, 10, 1.96).expect("defined");
        assert!(close(low, 0.4902, 5e-5), "{low}");
        assert!(close(high, 0.9433, 5e-5), "{high}");
        // 0/10: lower bound 0, upper z²/(n+z²) = 3.8416/13.8416.
        let (low, high) = wilson_interval(0, 10, 1.96).expect("defined");
        assert!(close(low, 0.0, 1e-12), "{low}");
        assert!(close(high, 0.27754, 5e-5), "{high}");
        let (low, high) = wilson_interval(10, 10, 1.96).expect("defined");
        assert!(close(low, 0.72246, 5e-5), "{low}");
        assert!(close(high, 1.0, 1e-12), "{high}");
    }

    #[test]
    fn wilson_rejects_impossible_input() {
        assert_eq!(wilson_interval(0, 0, 1.96), None);
        assert_eq!(wilson_interval(3, 2, 1.96), None);
        assert_eq!(wilson_interval(1, 2, f64::NAN), None);
        assert_eq!(wilson_interval(1, 2, 0.0), Some((0.5, 0.5)));
    }

    #[test]
    fn pass_at_k_matches_hand_worked_values() {
        assert!(close(pass_at_k(10, 3, 1).expect("defined"), 0.3, 1e-12));
        // 1 - C(7,5)/C(10,5) = 1 - 21/252.
        let value = pass_at_k(10, 3, 5).expect("defined");
        assert!(close(value, 1.0 - 21.0 / 252.0, 1e-12), "{value}");
        assert!(close(value, 0.91667, 5e-6), "{value}");
        // n - c < k: every draw of k holds a correct sample.
        assert_eq!(pass_at_k(10, 8, 5), Some(1.0));
        assert_eq!(pass_at_k(10, 0, 5), Some(0.0));
        assert_eq!(pass_at_k(10, 10, 10), Some(1.0));
        // 1 - C(2,2)/C(3,2) = 2/3.
        assert!(close(
            pass_at_k(3, 1, 2).expect("defined"),
            2.0 / 3.0,
            1e-12
        ));
    }

    #[test]
    fn pass_at_k_is_stable_for_large_n() {
        // C(1000, 500) overflows f64; the product form does not.
        let value = pass_at_k(1000, 1, 500).expect("defined");
        assert!(close(value, 0.5, 1e-12), "{value}");
        assert!(pass_at_k(100_000, 50, 100).expect("defined").is_finite());
    }

    #[test]
    fn pass_at_k_rejects_impossible_input() {
        assert_eq!(pass_at_k(10, 3, 0), None);
        assert_eq!(pass_at_k(10, 3, 11), None);
        assert_eq!(pass_at_k(10, 11, 1), None);
    }

    #[test]
    fn pass_rate_summarizes_responses() {
        let mut results = vec![true; 8];
        results.extend([false, false]);
        let rate = pass_rate(&results);
        assert_eq!((rate.n, rate.passed), (10, 8));
        assert!(close(rate.rate, 0.8, 1e-12));
        let (low, high) = rate.wilson95.expect("defined");
        assert!(close(low, 0.4902, 5e-5) && close(high, 0.9433, 5e-5));
        assert_eq!(
            rate.pass_at.keys().collect::<Vec<_>>(),
            ["pass@1", "pass@10"]
        );
        assert_eq!(rate.pass_at["pass@1"], 0.8);
        assert_eq!(rate.pass_at["pass@10"], 1.0);

        let single = pass_rate(&[false]);
        assert_eq!(single.pass_at.len(), 1);
        let empty = pass_rate(&[]);
        assert_eq!((empty.n, empty.rate, empty.wilson95), (0, 0.0, None));
        assert!(empty.pass_at.is_empty());
        let json = serde_json::to_string(&rate).expect("serializes");
        let back: PassRate = serde_json::from_str(&json).expect("deserializes");
        assert_eq!((back.n, back.passed, back.pass_at.len()), (10, 8, 2));
        assert!(close(back.wilson95.expect("kept").1, 0.9433, 5e-5));
    }
}
