//! Percentile-bootstrap confidence intervals for statistics with no handy
//! closed form (the median, p95). Resampling is driven by a small SplitMix64
//! generator of our own, seeded from a `u64`, so an interval is reproducible
//! bit for bit across runs, platforms and `rand` releases.

use super::interval::Interval;
use super::percentile::percentile;
use super::sample::Sample;

/// SplitMix64 (Steele, Lea & Flood 2014; Vigna's reference constants): tiny,
/// fast, passes BigCrush, and every seed (0 included) is fine.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`) by Lemire's multiply-shift; the bias is
    /// at most `n / 2^64`, far below anything a bootstrap can notice.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// Percentile-bootstrap interval at confidence `level` (e.g. 0.95) for
/// `statistic`, from `resamples` resamples (with replacement, same size as
/// the sample) drawn by a generator seeded with `seed`.
///
/// `statistic` is called with each resample **sorted ascending**, so
/// `|v| percentile(v, 50.0)` is the median. The interval is the
/// `(1-level)/2` and `(1+level)/2` percentiles of the resampled statistics.
///
/// `None` when the sample has fewer than 2 values (every resample would be
/// the same), `resamples` is 0, `level` is not strictly between 0 and 1, or
/// `statistic` returns a non-finite value.
pub fn bootstrap_ci<F>(
    sample: &Sample,
    statistic: F,
    resamples: usize,
    seed: u64,
    level: f64,
) -> Option<Interval>
where
    F: Fn(&[f64]) -> f64,
{
    let n = sample.count();
    if n < 2 || resamples == 0 || !(level > 0.0 && level < 1.0) {
        return None;
    }
    let source = sample.sorted();
    let mut rng = SplitMix64::new(seed);
    let mut resample = vec![0.0; n];
    let mut stats = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for slot in &mut resample {
            *slot = source[rng.below(n)];
        }
        resample.sort_by(f64::total_cmp);
        let value = statistic(&resample);
        if !value.is_finite() {
            return None;
        }
        stats.push(value);
    }
    stats.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0 * 100.0;
    Some(Interval {
        low: percentile(&stats, tail),
        high: percentile(&stats, 100.0 - tail),
        level,
    })
}

/// [`bootstrap_ci`] for the `p`-th percentile (50 for the median, 95 for p95).
pub fn bootstrap_percentile_ci(
    sample: &Sample,
    p: f64,
    resamples: usize,
    seed: u64,
    level: f64,
) -> Option<Interval> {
    bootstrap_ci(sample, |v| percentile(v, p), resamples, seed, level)
}

#[cfg(test)]
mod tests {
    use super::super::summary::Summary;
    use super::*;

    fn sample() -> Sample {
        // A skewed, latency-like sample: 60 values between 10 and ~50.
        Sample::new(
            (0..60)
                .map(|i| 10.0 + f64::from(i * i % 37) + f64::from(i) / 3.0)
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn splitmix64_matches_reference_outputs() {
        let mut rng = SplitMix64::new(1_234_567);
        let got: Vec<u64> = (0..5).map(|_| rng.next_u64()).collect();
        let want = [
            6_457_827_717_110_365_317,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423,
            4_593_380_528_125_082_431,
            16_408_922_859_458_223_821,
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn below_stays_in_range_and_hits_every_value() {
        let mut rng = SplitMix64::new(0);
        let mut seen = [0usize; 7];
        for _ in 0..7000 {
            seen[rng.below(7)] += 1;
        }
        assert!(seen.iter().all(|&c| (850..1150).contains(&c)), "{seen:?}");
    }

    #[test]
    fn same_seed_same_interval() {
        let s = sample();
        let a = bootstrap_percentile_ci(&s, 50.0, 1000, 42, 0.95).unwrap();
        let b = bootstrap_percentile_ci(&s, 50.0, 1000, 42, 0.95).unwrap();
        assert_eq!(a, b);
        let c = bootstrap_percentile_ci(&s, 50.0, 1000, 43, 0.95).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn intervals_contain_the_sample_statistic() {
        let s = sample();
        let median = bootstrap_percentile_ci(&s, 50.0, 2000, 7, 0.95).unwrap();
        assert!(median.contains(s.median()), "{median:?} vs {}", s.median());
        assert!(median.width() > 0.0 && median.level == 0.95);
        let p95 = bootstrap_percentile_ci(&s, 95.0, 2000, 7, 0.95).unwrap();
        assert!(p95.contains(s.percentile(95.0)), "{p95:?}");
        assert!(p95.low > median.high);
    }

    #[test]
    fn higher_level_gives_wider_nested_interval() {
        let s = sample();
        let narrow = bootstrap_percentile_ci(&s, 50.0, 500, 1, 0.5).unwrap();
        let wide = bootstrap_percentile_ci(&s, 50.0, 500, 1, 0.99).unwrap();
        assert!(wide.low <= narrow.low && narrow.high <= wide.high);
    }

    #[test]
    fn mean_interval_agrees_roughly_with_student_t() {
        let s = sample();
        let boot = bootstrap_ci(
            &s,
            |v| v.iter().sum::<f64>() / v.len() as f64,
            4000,
            3,
            0.95,
        );
        let t = Summary::from_sample(&s).ci95_mean.unwrap();
        let ratio = boot.unwrap().width() / t.width();
        assert!(
            (0.8..1.2).contains(&ratio),
            "bootstrap/t width ratio {ratio}"
        );
    }

    #[test]
    fn degenerate_inputs_give_none() {
        let s = sample();
        let one = Sample::new(vec![5.0]).unwrap();
        assert_eq!(bootstrap_percentile_ci(&one, 50.0, 100, 1, 0.95), None);
        assert_eq!(bootstrap_percentile_ci(&s, 50.0, 0, 1, 0.95), None);
        for level in [0.0, 1.0, -0.5, f64::NAN] {
            assert_eq!(bootstrap_percentile_ci(&s, 50.0, 100, 1, level), None);
        }
        assert_eq!(bootstrap_ci(&s, |_| f64::NAN, 100, 1, 0.95), None);
    }
}
