//! Change points in a series of runs: binary segmentation with a rank test.
//!
//! For a segment, every split leaving at least `min_segment` runs on each
//! side is scored by the standardised Mann–Whitney statistic of the runs
//! before against the runs after (ranks, so one wild run moves it by one
//! rank, not by its size); the best split is significant when a
//! permutation test of that maximum — the same maximum over all splits of
//! shuffled ranks — gives p < `alpha`, which accounts for having looked at
//! every split. Significant splits are split again on each side. A change
//! is reported when it is also at least `min_change` in size: the
//! Hodges–Lehmann shift (median of after − before differences) with its
//! distribution-free 95 % interval (Moses), relative to the median before.
//! docs/history.md has the false-alarm and detection rates.

use crate::rng::SplitMix64;

/// How change points are found.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Significance level of the permutation test.
    pub alpha: f64,
    /// Permutations per test (the smallest p is 1 / (permutations + 1)).
    pub permutations: usize,
    /// Fewest runs on each side of a change.
    pub min_segment: usize,
    /// Smallest change reported: relative (0.05 = 5 %), or absolute for rates.
    pub min_change: f64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            alpha: 0.05,
            permutations: 199,
            min_segment: 3,
            min_change: 0.05,
        }
    }
}

/// A shift between the runs before `index` and the runs from `index` on
/// (within the segment the test split).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChangePoint {
    /// The first run after the change.
    pub index: usize,
    pub p_value: f64,
    /// Medians of the runs on each side, back to the neighbouring changes.
    pub before: f64,
    pub after: f64,
    /// Hodges–Lehmann shift (after − before) and its 95 % interval.
    pub shift: f64,
    pub shift_low: f64,
    pub shift_high: f64,
}

impl ChangePoint {
    /// The change as a fraction of the value before (NaN when that is 0).
    pub(crate) fn relative(&self) -> (f64, f64, f64) {
        let base = self.before.abs();
        (
            self.shift / base,
            self.shift_low / base,
            self.shift_high / base,
        )
    }

    /// Its size as compared with `min_change`: relative, or absolute for rates.
    pub(crate) fn size(&self, absolute: bool) -> f64 {
        if absolute {
            self.shift.abs()
        } else {
            (self.shift / self.before.abs()).abs()
        }
    }
}

/// The change points of `values` (in run order), earliest first. `seed`
/// makes the permutations, and so the answer, repeatable.
pub fn detect(values: &[f64], settings: &Settings, absolute: bool, seed: u64) -> Vec<ChangePoint> {
    let mut rng = SplitMix64::new(seed);
    // Enough permutations that p can fall below alpha (20 chances).
    let needed = (20.0 / settings.alpha).ceil() as usize;
    let settings = &Settings {
        permutations: settings.permutations.max(needed.saturating_sub(1)),
        ..*settings
    };
    let mut splits = Vec::new();
    let mut segments = vec![(0, values.len())];
    while let Some((start, end)) = segments.pop() {
        let Some((k, p_value)) = best_split(&values[start..end], settings, &mut rng) else {
            continue;
        };
        splits.push((start + k, p_value));
        segments.push((start, start + k));
        segments.push((start + k, end));
    }
    splits.sort_by_key(|s| s.0);
    let bounds: Vec<usize> = std::iter::once(0)
        .chain(splits.iter().map(|s| s.0))
        .chain(std::iter::once(values.len()))
        .collect();
    splits
        .iter()
        .enumerate()
        .map(|(i, &(index, p_value))| {
            let before = &values[bounds[i]..index];
            let after = &values[index..bounds[i + 2]];
            size_of(before, after, index, p_value)
        })
        .filter(|c| c.size(absolute) >= settings.min_change)
        .collect()
}

/// The split of `segment` with the largest |z|, when the permutation test
/// finds it significant.
fn best_split(segment: &[f64], settings: &Settings, rng: &mut SplitMix64) -> Option<(usize, f64)> {
    let n = segment.len();
    let m = settings.min_segment.max(1);
    if n < 2 * m {
        return None;
    }
    let (mut ranks, ties) = ranks(segment);
    let scale = variance_scale(n, ties)?;
    let (k, observed) = max_z(&ranks, m, scale);
    // Shuffled ranks: how often is the best split of noise as extreme?
    let limit = (settings.alpha * (settings.permutations + 1) as f64).ceil() as usize;
    let mut as_extreme = 0;
    for _ in 0..settings.permutations {
        shuffle(&mut ranks, rng);
        if max_z(&ranks, m, scale).1 >= observed - 1e-12 {
            as_extreme += 1;
            if as_extreme >= limit {
                return None;
            }
        }
    }
    let p_value = (as_extreme + 1) as f64 / (settings.permutations + 1) as f64;
    (p_value < settings.alpha).then_some((k, p_value))
}

/// Mid-ranks (1-based, ties averaged) and Σ(t³ − t) over tie groups.
fn ranks(values: &[f64]) -> (Vec<f64>, f64) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut ties = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        order[i..=j].iter().for_each(|&o| ranks[o] = rank);
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    (ranks, ties)
}

/// The tie-corrected factor of the rank-sum variance, k(n−k)/12 · factor;
/// `None` when every value is equal.
fn variance_scale(n: usize, ties: f64) -> Option<f64> {
    let n = n as f64;
    let factor = (n + 1.0) - ties / (n * (n - 1.0));
    (factor > 1e-9).then_some(factor / 12.0)
}

/// The split (first index of the second part) maximising |z| and that |z|.
fn max_z(ranks: &[f64], m: usize, scale: f64) -> (usize, f64) {
    let n = ranks.len() as f64;
    let mut best = (m, 0.0);
    let mut sum = 0.0;
    for (i, rank) in ranks.iter().enumerate().take(ranks.len() - m) {
        sum += rank;
        let k = i + 1;
        if k < m {
            continue;
        }
        let kf = k as f64;
        let z = (sum - kf * (n + 1.0) / 2.0).abs() / (kf * (n - kf) * scale).sqrt();
        if z > best.1 {
            best = (k, z);
        }
    }
    best
}

fn shuffle(values: &mut [f64], rng: &mut SplitMix64) {
    for i in (1..values.len()).rev() {
        values.swap(i, rng.below(i + 1));
    }
}

/// The change between `before` and `after`: medians, Hodges–Lehmann shift
/// and its Moses 95 % interval (normal approximation of the rank ranks).
fn size_of(before: &[f64], after: &[f64], index: usize, p_value: f64) -> ChangePoint {
    let mut differences: Vec<f64> = after
        .iter()
        .flat_map(|a| before.iter().map(move |b| a - b))
        .collect();
    differences.sort_by(f64::total_cmp);
    let (na, nb) = (before.len() as f64, after.len() as f64);
    let total = differences.len();
    let c = (na * nb / 2.0 - 1.96 * (na * nb * (na + nb + 1.0) / 12.0).sqrt()).floor();
    let c = (c.max(1.0) as usize).min(total);
    ChangePoint {
        index,
        p_value,
        before: median(before),
        after: median(after),
        shift: median_sorted(&differences),
        shift_low: differences[c - 1],
        shift_high: differences[total - c],
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    median_sorted(&sorted)
}

fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Simulated series of runs: `n` values around 100 with relative normal
/// noise `cv`, shifted by `shift` (relative) from `at` on.
pub fn simulated_series(n: usize, cv: f64, at: usize, shift: f64, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|i| {
            // Box–Muller.
            let (u1, u2) = (rng.unit().max(1e-300), rng.unit());
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            let level = if i >= at {
                100.0 * (1.0 + shift)
            } else {
                100.0
            };
            level * (1.0 + cv * z)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_shift_is_found_where_it_is() {
        let values = [
            100.0, 101.0, 99.0, 100.5, 99.5, 130.0, 131.0, 129.0, 130.5, 129.5,
        ];
        let found = detect(&values, &Settings::default(), false, 1);
        assert_eq!(found.len(), 1, "{found:?}");
        let change = found[0];
        assert_eq!(change.index, 5);
        let (relative, low, high) = change.relative();
        assert!((0.28..0.32).contains(&relative), "{relative}");
        assert!(
            low <= relative && relative <= high && low > 0.2,
            "{low} {high}"
        );
    }

    #[test]
    fn flat_and_constant_series_have_none() {
        let flat = [
            100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 100.9, 99.1, 100.4, 99.6,
        ];
        assert!(detect(&flat, &Settings::default(), false, 1).is_empty());
        assert!(detect(&[0.0; 12], &Settings::default(), true, 1).is_empty());
        assert!(detect(&[1.0, 2.0], &Settings::default(), false, 1).is_empty());
    }

    #[test]
    fn a_significant_but_small_shift_is_not_reported() {
        let values: Vec<f64> = (0..20)
            .map(|i| if i < 10 { 100.0 } else { 102.0 } + (i % 3) as f64 * 0.1)
            .collect();
        assert!(detect(&values, &Settings::default(), false, 1).is_empty());
    }

    #[test]
    fn two_shifts_are_both_found() {
        let mut values = simulated_series(30, 0.01, 10, 0.2, 7);
        values[20..].iter_mut().for_each(|v| *v *= 0.7);
        let found: Vec<usize> = detect(&values, &Settings::default(), false, 3)
            .iter()
            .map(|c| c.index)
            .collect();
        assert_eq!(found, [10, 20]);
    }

    #[test]
    fn one_wild_run_is_not_a_change() {
        let mut values = simulated_series(20, 0.02, 0, 0.0, 11);
        values[12] = 500.0;
        assert!(detect(&values, &Settings::default(), false, 5).is_empty());
    }

    /// The docs' figures come from `cargo bench --bench history -- --calibrate`;
    /// this keeps them honest at a smaller scale.
    #[test]
    fn false_alarms_are_rare_and_ten_percent_shifts_are_found() {
        let settings = Settings::default();
        let trials = 200;
        let alarms = (0..trials)
            .filter(|&s| {
                !detect(&simulated_series(20, 0.03, 0, 0.0, s), &settings, false, s).is_empty()
            })
            .count();
        let found = (0..trials)
            .filter(|&s| {
                detect(
                    &simulated_series(20, 0.03, 10, 0.10, s),
                    &settings,
                    false,
                    s,
                )
                .iter()
                .any(|c| c.index.abs_diff(10) <= 1)
            })
            .count();
        assert!(alarms <= 10, "{alarms} false alarms in {trials}");
        assert!(found >= 180, "found {found} of {trials}");
    }
}
