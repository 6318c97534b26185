//! Exact order statistics of values that are never reordered or copied in
//! full: the values may lie in several slices read as one sequence (the
//! cells of a model, in plan order), and a statistic may be of a function
//! of them (`|x - median|` for the MAD). A sorted sample of the values
//! places a narrow window around each wanted rank; one pass counts the
//! values below each window and keeps the ones inside ([`WindowPass`],
//! branch-free, so that callers can fold other per-value work into the same
//! pass); each rank is then a selection among the kept values. A rank that
//! falls outside its window (a chance of about 1e-9) is found by a full
//! selection on a copy instead, so the result is exact either way.

use crate::rng::SplitMix64;
use std::cmp::Ordering;

/// Below this many values a copy and a selection beat sampling.
pub(crate) const SAMPLE_FROM: usize = 1 << 16;
/// Values drawn to place the windows.
const SAMPLE: usize = 1 << 14;
/// Half-width of a window, in standard deviations of a sample quantile's rank.
const WINDOW_SDS: f64 = 6.0;
/// Seed of the positions sampled (any seed gives the same results).
const SAMPLE_SEED: u64 = 0x5eed;

/// Number of values in `parts`.
pub(crate) fn total_len(parts: &[&[f64]]) -> usize {
    parts.iter().map(|part| part.len()).sum()
}

/// An integer that orders finite and infinite values as
/// [`f64::total_cmp`] does (the same bit trick), so a pass compares
/// integers.
#[inline]
pub(crate) fn key(x: f64) -> i64 {
    flip(x.to_bits() as i64)
}

/// The value whose [`key`] is `k`.
#[inline]
pub(crate) fn from_key(k: i64) -> f64 {
    f64::from_bits(flip(k) as u64)
}

/// Negative values (sign bit set) get their other 63 bits flipped, so they
/// order backwards below the positive ones; applied twice, nothing changes.
#[inline]
fn flip(bits: i64) -> i64 {
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

/// The values at `ranks` (ascending, each `< n`) of the multiset
/// `{f(x) : x in parts}`, under `total_cmp`, reading `parts` without
/// reordering them.
pub(crate) fn order_statistics(
    parts: &[&[f64]],
    ranks: &[usize],
    f: impl Fn(f64) -> f64,
) -> Vec<f64> {
    if total_len(parts) < SAMPLE_FROM {
        return select_copy(parts, ranks, f);
    }
    let sample = sorted_sample(parts, &f);
    let mut pass = WindowPass::new(&sample, total_len(parts), ranks);
    let mut mapped = [0.0; BLOCK];
    for part in parts {
        for block in part.chunks(BLOCK) {
            for (y, &x) in mapped.iter_mut().zip(block) {
                *y = f(x);
            }
            pass.add_block(&mapped[..block.len()]);
        }
    }
    pass.finish()
        .unwrap_or_else(|| select_copy(parts, ranks, f))
}

/// `{f(x)}` for a sample of `parts` spread over the whole sequence (one
/// value from each of [`SAMPLE`] equal stretches), sorted under `total_cmp`.
/// `parts` must hold at least [`SAMPLE_FROM`] values.
pub(crate) fn sorted_sample(parts: &[&[f64]], f: impl Fn(f64) -> f64) -> Vec<f64> {
    let step = total_len(parts) / SAMPLE; // ≥ 4, as there are ≥ SAMPLE_FROM values
    let mut rng = SplitMix64::new(SAMPLE_SEED);
    let (mut part, mut start) = (0, 0); // parts[part] begins at global index `start`
    let mut sample: Vec<f64> = (0..SAMPLE)
        .map(|i| {
            let at = i * step + rng.below(step);
            while at >= start + parts[part].len() {
                start += parts[part].len();
                part += 1;
            }
            f(parts[part][at - start])
        })
        .collect();
    sample.sort_unstable_by(f64::total_cmp);
    sample
}

/// Most windows a pass places (the eight order statistics of a summary's
/// percentiles need at most eight).
const MAX_WINDOWS: usize = 8;
/// Values handed to [`WindowPass::add_block`] at a time by the callers that
/// map them first (a block stays in the L1 cache between the two loops).
pub(crate) const BLOCK: usize = 1024;

/// One pass over values (in any order, a block at a time) that counts those
/// below and inside disjoint windows and keeps the ones inside, to find
/// given ranks exactly. Branch-free per value: each window's counters add
/// the results of comparisons (fixed-size arrays the compiler keeps in
/// registers and vectorises), and a value is written to the kept buffer
/// every time and kept by advancing its length or not.
pub(crate) struct WindowPass {
    /// Merged windows, ascending and disjoint, as [`key`]s; unused slots
    /// are empty windows above every value.
    low: [i64; MAX_WINDOWS],
    high: [i64; MAX_WINDOWS],
    /// The same bounds as values, and whether comparing values gives what
    /// comparing keys gives: it does unless a bound is ±0.0 (the one pair
    /// of distinct values that compare equal; values are never NaN here).
    /// Comparing values is cheaper: two per instruction without AVX.
    low_value: [f64; MAX_WINDOWS],
    high_value: [f64; MAX_WINDOWS],
    by_value: bool,
    /// Whether a window keeps its values: one wider than a single value (a
    /// one-value window only counts, however many ties it holds).
    keep: [bool; MAX_WINDOWS],
    /// Windows in use.
    windows: usize,
    /// Values below each window's low end, and up to its high end.
    below: [usize; MAX_WINDOWS],
    up_to: [usize; MAX_WINDOWS],
    /// The wanted ranks and the window each must fall in.
    ranks: Vec<(usize, usize)>,
    kept: Vec<f64>,
    /// Values kept: `kept[..len]`; the rest is room to write into.
    len: usize,
}

impl WindowPass {
    /// A pass that finds `ranks` (ascending, each `< n`, at most
    /// [`MAX_WINDOWS`] of them) of `n` values of which `sample` is a sorted
    /// sample (at least two values).
    pub(crate) fn new(sample: &[f64], n: usize, ranks: &[usize]) -> WindowPass {
        let (merged, window_of) = merge(place_windows(sample, n, ranks));
        let mut pass = WindowPass {
            low: [i64::MAX; MAX_WINDOWS],
            high: [i64::MIN; MAX_WINDOWS],
            low_value: [f64::INFINITY; MAX_WINDOWS],
            high_value: [f64::NEG_INFINITY; MAX_WINDOWS],
            by_value: merged.iter().all(|&(low, high)| low != 0.0 && high != 0.0),
            keep: [false; MAX_WINDOWS],
            windows: merged.len().min(MAX_WINDOWS),
            below: [0; MAX_WINDOWS],
            up_to: [0; MAX_WINDOWS],
            ranks: ranks.iter().copied().zip(window_of).collect(),
            kept: Vec::new(),
            len: 0,
        };
        for (j, &(low, high)) in merged.iter().take(MAX_WINDOWS).enumerate() {
            pass.low[j] = key(low);
            pass.high[j] = key(high);
            (pass.low_value[j], pass.high_value[j]) = (low, high);
            pass.keep[j] = low.to_bits() != high.to_bits();
        }
        pass
    }

    /// Takes `values` into account.
    pub(crate) fn add_block(&mut self, values: &[f64]) {
        if self.kept.len() < self.len + values.len() {
            self.grow(values.len());
        }
        // As few window slots as hold the windows: fewer comparisons.
        match (self.windows, self.by_value) {
            (0 | 1, true) => self.add_with::<1, f64>(values),
            (2, true) => self.add_with::<2, f64>(values),
            (3 | 4, true) => self.add_with::<4, f64>(values),
            (_, true) => self.add_with::<MAX_WINDOWS, f64>(values),
            (0 | 1, false) => self.add_with::<1, i64>(values),
            (2, false) => self.add_with::<2, i64>(values),
            (3 | 4, false) => self.add_with::<4, i64>(values),
            (_, false) => self.add_with::<MAX_WINDOWS, i64>(values),
        }
    }

    /// [`WindowPass::add_block`] with the first `W` window slots, compared
    /// as `T`, copied into locals so that the counters stay in registers.
    fn add_with<const W: usize, T: Bound>(&mut self, values: &[f64]) {
        let low: [T; W] = std::array::from_fn(|j| T::of(self.low[j], self.low_value[j]));
        let high: [T; W] = std::array::from_fn(|j| T::of(self.high[j], self.high_value[j]));
        let keep: [u64; W] = std::array::from_fn(|j| u64::from(self.keep[j]));
        let mut below: [u64; W] = [0; W];
        let mut up_to: [u64; W] = [0; W];
        let room = &mut self.kept[self.len..self.len + values.len()];
        let mut at = 0;
        for &v in values {
            let k = T::from_value(v);
            let mut inside = 0;
            for j in 0..W {
                let above_low = u64::from(k >= low[j]);
                let under_high = u64::from(k <= high[j]);
                below[j] += 1 - above_low;
                up_to[j] += under_high;
                inside |= above_low & under_high & keep[j];
            }
            room[at] = v;
            at += inside as usize;
        }
        self.len += at;
        for j in 0..W {
            self.below[j] += below[j] as usize;
            self.up_to[j] += up_to[j] as usize;
        }
    }

    /// Room for `more` kept values (doubling, so rarely).
    #[cold]
    fn grow(&mut self, more: usize) {
        let room = (2 * self.kept.len()).max(self.len + more).max(4 * BLOCK);
        self.kept.resize(room, 0.0);
    }

    /// The values at the ranks; `None` when a rank fell outside its window
    /// (then the caller selects on a copy).
    pub(crate) fn finish(mut self) -> Option<Vec<f64>> {
        // Kept before window j: the kept values of the windows before it
        // (all smaller, so a rank among the kept is a rank among them all).
        let mut kept_before = [0; MAX_WINDOWS];
        for j in 1..self.windows {
            let inside = self.up_to[j - 1] - self.below[j - 1];
            kept_before[j] = kept_before[j - 1] + if self.keep[j - 1] { inside } else { 0 };
        }
        let mut wanted = Vec::with_capacity(self.ranks.len());
        for &(rank, j) in &self.ranks {
            if j >= self.windows {
                return None; // more windows than a pass can hold
            }
            let inside = self.up_to[j] - self.below[j];
            let k = rank.checked_sub(self.below[j]).filter(|&k| k < inside)?;
            wanted.push(self.keep[j].then_some(kept_before[j] + k));
        }
        let values = &mut self.kept[..self.len];
        let mut positions: Vec<usize> = wanted.iter().flatten().copied().collect();
        positions.sort_unstable();
        select_ranks(values, &positions);
        Some(
            wanted
                .iter()
                .zip(&self.ranks)
                .map(|(at, &(_, j))| match at {
                    Some(at) => values[*at],
                    None => from_key(self.low[j]),
                })
                .collect(),
        )
    }
}

/// What a pass compares: keys, or the values themselves.
trait Bound: Copy + PartialOrd {
    /// The bound with this key and value.
    fn of(key: i64, value: f64) -> Self;
    fn from_value(v: f64) -> Self;
}

impl Bound for i64 {
    fn of(key: i64, _: f64) -> i64 {
        key
    }

    #[inline]
    fn from_value(v: f64) -> i64 {
        key(v)
    }
}

impl Bound for f64 {
    fn of(_: i64, value: f64) -> f64 {
        value
    }

    #[inline]
    fn from_value(v: f64) -> f64 {
        v
    }
}

/// Overlapping windows (of ascending ranks, so ascending bounds) merged
/// into one, so that no value is kept twice; with each rank's window.
fn merge(windows: Vec<(f64, f64)>) -> (Vec<(f64, f64)>, Vec<usize>) {
    let mut merged: Vec<(f64, f64)> = Vec::new();
    let mut window_of = Vec::with_capacity(windows.len());
    for (low, high) in windows {
        match merged.last_mut() {
            Some(last) if low.total_cmp(&last.1) != Ordering::Greater => {
                if high.total_cmp(&last.1) == Ordering::Greater {
                    last.1 = high;
                }
            }
            _ => merged.push((low, high)),
        }
        window_of.push(merged.len() - 1);
    }
    (merged, window_of)
}

/// For each rank, a window `[low, high]` of values that holds it but for a
/// chance of about 1e-9: sample quantiles around the rank's, `WINDOW_SDS`
/// standard deviations of the sample rank apart.
fn place_windows(sample: &[f64], n: usize, ranks: &[usize]) -> Vec<(f64, f64)> {
    let size = sample.len();
    let last = size - 1;
    ranks
        .iter()
        .map(|&r| {
            let q = r as f64 / (n - 1) as f64;
            let centre = q * last as f64;
            let spread = WINDOW_SDS * (size as f64 * q * (1.0 - q)).sqrt() + 2.0;
            let lo = (centre - spread).floor();
            let hi = (centre + spread).ceil();
            let low = if lo <= 0.0 {
                f64::MIN
            } else {
                sample[lo as usize]
            };
            let high = if hi >= last as f64 {
                f64::MAX
            } else {
                sample[hi as usize]
            };
            (low, high)
        })
        .collect()
}

/// [`order_statistics`] by a selection on a copy of the mapped values.
pub(crate) fn select_copy(parts: &[&[f64]], ranks: &[usize], f: impl Fn(f64) -> f64) -> Vec<f64> {
    let mut copy: Vec<f64> = Vec::with_capacity(total_len(parts));
    for part in parts {
        copy.extend(part.iter().map(|&x| f(x)));
    }
    select_ranks(&mut copy, ranks);
    ranks.iter().map(|&r| copy[r]).collect()
}

/// Puts the `r`-th smallest value at index `r` for every `r` in `ranks`
/// (ascending, each `< data.len()`), under `total_cmp`.
pub(crate) fn select_ranks(data: &mut [f64], ranks: &[usize]) {
    select_ranks_by(data, ranks, f64::total_cmp);
}

/// [`select_ranks`] of [`key`]s: the same positions, but each comparison
/// is one integer comparison instead of two conversions and one.
pub(crate) fn select_key_ranks(keys: &mut [i64], ranks: &[usize]) {
    select_ranks_by(keys, ranks, i64::cmp);
}

/// [`select_ranks`] under `order`. Ranks are taken lowest first, each
/// selected within what lies above the previous one, and a rank right
/// after the previous one is just the minimum of the rest (a scan, not a
/// selection).
fn select_ranks_by<T>(data: &mut [T], ranks: &[usize], order: impl Fn(&T, &T) -> Ordering) {
    let mut start = 0; // everything below `start` is in its final place
    for &rank in ranks {
        if rank < start || rank >= data.len() {
            continue; // a repeated rank, or out of range
        }
        let rest = &mut data[start..];
        let k = rank - start;
        if k == 0 {
            move_min_first(rest, &order);
        } else {
            rest.select_nth_unstable_by(k, &order);
        }
        start = rank + 1;
    }
}

/// Swaps the smallest value (under `order`) to the front of `data`.
fn move_min_first<T>(data: &mut [T], order: impl Fn(&T, &T) -> Ordering) {
    let mut min = 0;
    for (i, x) in data.iter().enumerate().skip(1) {
        if order(x, &data[min]) == Ordering::Less {
            min = i;
        }
    }
    data.swap(0, min);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
    fn windows_find_exact_order_statistics_in_any_order() {
        let n = 300_007;
        let jitter = |i: usize| ((i * 2_654_435_761) % 1_000_003) as f64 / 997.0;
        let shapes: [Vec<f64>; 4] = [
            (0..n).map(jitter).collect(),
            (0..n).map(|i| i as f64).collect(),       // sorted
            (0..n).map(|i| (n - i) as f64).collect(), // reversed
            (0..n).map(|i| (i % 7) as f64 * 0.5).collect(), // few values
        ];
        for values in shapes {
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let ranks = [0, 1, n / 2, n / 2 + 1, n * 99 / 100, n - 1];
            let found = order_statistics(&[&values], &ranks, |x| x);
            let want: Vec<f64> = ranks.iter().map(|&r| sorted[r]).collect();
            assert_eq!(found, want);
            let median = sorted[n / 2];
            let mut deviations: Vec<f64> = values.iter().map(|x| (x - median).abs()).collect();
            deviations.sort_by(f64::total_cmp);
            let found = order_statistics(&[&values], &[n / 2], |x| (x - median).abs());
            assert_eq!(found, vec![deviations[n / 2]]);
        }
    }

    /// Values with many ties, both zeros, negatives and a wide range.
    fn values() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(
            prop_oneof![
                -1e3f64..1e3,
                prop::sample::select(vec![0.0, -0.0, 1.5, -2.25, 10.0, 10.0]),
            ],
            2..400,
        )
    }

    /// Everything sorted, the reference for each rank.
    fn reference(values: &[f64], ranks: &[usize]) -> Vec<f64> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        ranks.iter().map(|&r| sorted[r]).collect()
    }

    proptest! {
        #[test]
        fn a_window_pass_finds_the_ranks_or_says_it_missed(
            v in values(),
            picks in prop::collection::vec(0usize..1000, 2..40),
            wanted in prop::collection::vec(0.0f64..=1.0, 1..8),
            block in 1usize..50,
        ) {
            let n = v.len();
            let mut ranks: Vec<usize> = wanted.iter().map(|q| ((n - 1) as f64 * q) as usize).collect();
            ranks.sort_unstable();
            ranks.dedup();
            // A sample of the values: the windows may well miss, which must
            // then be reported, never answered wrongly.
            let mut sample: Vec<f64> = picks.iter().map(|&i| v[i % n]).collect();
            sample.sort_by(f64::total_cmp);
            let mut pass = WindowPass::new(&sample, n, &ranks);
            for chunk in v.chunks(block) {
                pass.add_block(chunk);
            }
            if let Some(found) = pass.finish() {
                let want = reference(&v, &ranks);
                prop_assert_eq!(found.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    want.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
            }
            // With the values themselves as the sample, no window misses.
            let mut all = v.clone();
            all.sort_by(f64::total_cmp);
            let mut pass = WindowPass::new(&all, n, &ranks);
            pass.add_block(&v);
            let found = pass.finish();
            prop_assert!(found.is_some());
            let found: Vec<u64> = found.unwrap_or_default().iter().map(|x| x.to_bits()).collect();
            let want: Vec<u64> = reference(&v, &ranks).iter().map(|x| x.to_bits()).collect();
            prop_assert_eq!(found, want);
        }

        #[test]
        fn keys_order_as_total_cmp_and_convert_back(a in any::<f64>(), b in any::<f64>()) {
            prop_assert_eq!(key(a).cmp(&key(b)), a.total_cmp(&b));
            prop_assert_eq!(from_key(key(a)).to_bits(), a.to_bits());
        }
    }

    #[test]
    fn parts_read_as_one_sequence() {
        let n = 200_003;
        let values: Vec<f64> = (0..n)
            .map(|i| ((i * 2_654_435_761) % 1_000_003) as f64 / 997.0 - 300.0)
            .map(|x| {
                if x.abs() < 0.5 {
                    -0.0
                } else {
                    (x * 4.0).round() / 4.0
                }
            })
            .collect();
        let ranks = [0, 3, n / 3, n / 2, n / 2 + 1, n * 99 / 100, n - 1];
        let want = reference(&values, &ranks);
        // Parts of every size, an empty one included.
        let cuts = [0, 1, 1, 70_000, 70_001, 150_000, n];
        let parts: Vec<&[f64]> = cuts.windows(2).map(|w| &values[w[0]..w[1]]).collect();
        assert_eq!(order_statistics(&parts, &ranks, |x| x), want);
        let median = want[3];
        let deviations: Vec<f64> = values.iter().map(|x| (x - median).abs()).collect();
        assert_eq!(
            order_statistics(&parts, &[n / 2], |x| (x - median).abs()),
            reference(&deviations, &[n / 2])
        );
        let mut keys: Vec<i64> = values.iter().map(|&x| key(x)).collect();
        select_key_ranks(&mut keys, &ranks);
        let found: Vec<f64> = ranks.iter().map(|&r| from_key(keys[r])).collect();
        assert_eq!(found, want);
    }
}
