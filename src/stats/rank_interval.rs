//! Distribution-free confidence intervals for a percentile from order
//! statistics (pure). The number of observations below the true p-quantile
//! is Binomial(n, p), so the interval between the j-th and k-th smallest
//! values covers the quantile with probability P(j ≤ B < k), whatever the
//! distribution. Used for samples too large to bootstrap: it needs only two
//! more order statistics, and its coverage is exact (at least the level),
//! not a resampling estimate.

/// 1-based ranks `(j, k)` of the smallest and largest values bounding an
/// equal-tailed interval for percentile `p` (0..=100) of `n` values at
/// `level` (e.g. 0.95): each tail holds at most (1 − level)/2 of the
/// binomial's mass. `None` when `n` is too small for any interval to reach
/// the level, or the arguments are out of range.
pub(crate) fn percentile_rank_interval(n: usize, p: f64, level: f64) -> Option<(usize, usize)> {
    let q = p / 100.0;
    if n == 0 || !(q > 0.0 && q < 1.0) || !(level > 0.0 && level < 1.0) {
        return None;
    }
    let tail = (1.0 - level) / 2.0;
    let pmf = BinomialMass::new(n, q);
    // B ≥ j is "x(j) ≤ quantile": j is the largest rank with P(B < j) ≤ tail.
    let mut below = 0.0;
    let mut j = pmf.first; // every count below it has no mass
    while j < n && below + pmf.at(j) <= tail {
        below += pmf.at(j);
        j += 1;
    }
    // B < k is "quantile < x(k)": k − 1 is the smallest count with P(B > k − 1) ≤ tail.
    let mut above = 0.0;
    let mut k = pmf.last().min(n);
    while k > 0 && above + pmf.at(k) <= tail {
        above += pmf.at(k);
        k -= 1;
    }
    // Ranks: x(j) needs j ≥ 1 and x(k + 1) needs k + 1 ≤ n.
    (j >= 1 && k < n).then_some((j, k + 1))
}

/// Binomial(n, q) probabilities over the counts that matter (mode ± 12
/// standard deviations, at least ± 40: the mass beyond is below 1e-15,
/// far from moving a 2.5 % tail's boundary): built
/// from the mode outwards by the ratio of neighbouring terms, then
/// normalised, so no factorial or gamma function is needed and nothing
/// overflows for millions of trials.
struct BinomialMass {
    first: usize,
    mass: Vec<f64>,
}

impl BinomialMass {
    fn new(n: usize, q: f64) -> BinomialMass {
        let nf = n as f64;
        let mode = (((nf + 1.0) * q).floor() as usize).min(n);
        let spread = (12.0 * (nf * q * (1.0 - q)).sqrt()).ceil().max(40.0) as usize;
        let first = mode.saturating_sub(spread);
        let last = (mode + spread).min(n);
        let odds = q / (1.0 - q);
        let mut mass = vec![0.0; last - first + 1];
        mass[mode - first] = 1.0;
        // P(i + 1) / P(i) = (n − i) / (i + 1) · q / (1 − q).
        for i in mode..last {
            let next = mass[i - first] * (n - i) as f64 / (i + 1) as f64 * odds;
            mass[i + 1 - first] = next;
        }
        for i in (first..mode).rev() {
            let below = mass[i + 1 - first] * (i + 1) as f64 / (n - i) as f64 / odds;
            mass[i - first] = below;
        }
        let total: f64 = mass.iter().sum();
        mass.iter_mut().for_each(|m| *m /= total);
        BinomialMass { first, mass }
    }

    /// The largest count kept.
    fn last(&self) -> usize {
        self.first + self.mass.len() - 1
    }

    /// P(B = count); 0 outside the kept range.
    fn at(&self, count: usize) -> f64 {
        count
            .checked_sub(self.first)
            .and_then(|i| self.mass.get(i))
            .copied()
            .unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P(j ≤ B < k) by direct summation with exact binomial coefficients
    /// (small n only), the reference the ranks are checked against.
    fn coverage(n: usize, q: f64, j: usize, k: usize) -> f64 {
        let mut total = 0.0;
        for b in j..k {
            let mut choose = 1.0;
            for i in 0..b {
                choose *= (n - i) as f64 / (i + 1) as f64;
            }
            total += choose * q.powi(b as i32) * (1.0 - q).powi((n - b) as i32);
        }
        total
    }

    #[test]
    fn the_median_of_ten_has_the_textbook_interval() {
        // n = 10: x(2)..x(9) covers the median with 97.85 %; x(3)..x(8)
        // only 89.06 %, so the 95 % interval is x(2)..x(9).
        assert_eq!(percentile_rank_interval(10, 50.0, 0.95), Some((2, 9)));
        assert!((coverage(10, 0.5, 2, 9) - 0.978_515_625).abs() < 1e-12);
    }

    #[test]
    fn too_few_values_give_no_interval() {
        // Five values: even x(1)..x(5) covers the median with only 93.75 %.
        assert_eq!(percentile_rank_interval(5, 50.0, 0.95), None);
        assert_eq!(percentile_rank_interval(0, 50.0, 0.95), None);
        assert_eq!(percentile_rank_interval(30, 95.0, 0.95), None);
        assert_eq!(percentile_rank_interval(100, 0.0, 0.95), None);
        assert_eq!(percentile_rank_interval(100, 50.0, 1.0), None);
    }

    #[test]
    fn ranks_reach_the_level_and_each_tail_stays_within_its_share() {
        for n in [6, 17, 40, 101, 250, 600] {
            for p in [25.0, 50.0, 90.0, 95.0, 99.0] {
                let Some((j, k)) = percentile_rank_interval(n, p, 0.95) else {
                    continue;
                };
                let q = p / 100.0;
                assert!(1 <= j && j < k && k <= n, "n={n} p={p}: {j}..{k}");
                assert!(coverage(n, q, j, k) >= 0.95 - 1e-9, "n={n} p={p}");
                // One rank narrower on either side falls below its tail share.
                assert!(coverage(n, q, 0, j + 1) > 0.025 - 1e-12, "n={n} p={p} j");
                assert!(
                    coverage(n, q, k - 1, n + 1) > 0.025 - 1e-12,
                    "n={n} p={p} k"
                );
            }
        }
    }

    #[test]
    fn large_samples_match_the_normal_approximation() {
        // n = 1,000,000, median: ±1.96·√(n/4) = ±980 ranks around n/2.
        let (j, k) = percentile_rank_interval(1_000_000, 50.0, 0.95).expect("interval");
        assert!((j as f64 - 499_020.0).abs() <= 2.0, "{j}");
        assert!((k as f64 - 500_981.0).abs() <= 2.0, "{k}");
        // p95 of 10,000: 9,500 ± 1.96·√(10000·0.95·0.05) = ± 42.7.
        let (j, k) = percentile_rank_interval(10_000, 95.0, 0.95).expect("interval");
        assert!((j as i64 - 9_457).abs() <= 2, "{j}");
        assert!((k as i64 - 9_544).abs() <= 2, "{k}");
    }
}
