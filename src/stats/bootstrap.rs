//! Percentile-bootstrap confidence intervals for statistics with no handy
//! closed form (the median, p95). Resampling is driven by a small SplitMix64
//! generator of our own, seeded from a `u64`, so an interval is reproducible
//! bit for bit across runs, platforms and `rand` releases.

use super::interval::Interval;
use super::order::Ordered;
#[cfg(test)]
use super::percentile::percentile;
use super::percentile::{interpolate, rank};
#[cfg(test)]
use super::sample::Sample;
use super::select::select_ranks;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::rng::SplitMix64;

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
#[cfg(test)]
pub(crate) fn bootstrap_ci<F>(
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
        resample.sort_unstable_by(f64::total_cmp);
        let value = statistic(&resample);
        if !value.is_finite() {
            return None;
        }
        stats.push(value);
    }
    stats.sort_unstable_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0 * 100.0;
    Some(Interval {
        low: percentile(&stats, tail),
        high: percentile(&stats, 100.0 - tail),
        level,
    })
}

/// [`bootstrap_ci`] for the `p`-th percentile (50 for the median, 95 for p95).
/// Computed by [`percentile_cis`]: the same interval, without sorting resamples.
#[cfg(test)]
pub(crate) fn bootstrap_percentile_ci(
    sample: &Sample,
    p: f64,
    resamples: usize,
    seed: u64,
    level: f64,
) -> Option<Interval> {
    percentile_cis(sample.sorted(), &[p], resamples, seed, level)[0]
}

/// [`bootstrap_percentile_ci`] for each of `ps`, from the same resamples;
/// `None` for each when `ordered` was not sorted (too many values for the
/// bootstrap its owner chose to run).
pub(crate) fn bootstrap_percentile_cis(
    ordered: &Ordered<'_>,
    ps: &[f64],
    resamples: usize,
    seed: u64,
    level: f64,
) -> Vec<Option<Interval>> {
    match ordered.sorted() {
        Some(sorted) => percentile_cis(sorted, ps, resamples, seed, level),
        None => vec![None; ps.len()],
    }
}

/// Percentile-bootstrap intervals of the `ps` percentiles of `sorted`
/// (ascending, finite), bit for bit what [`bootstrap_ci`] gives with
/// `|v| percentile(v, p)`: the generator draws the same indices in the same
/// order. Because the data are sorted, a resample's sorted values are the
/// data at its sorted indices, so a percentile of the resample needs only
/// the two order statistics of its indices around the percentile's rank,
/// read off counts of the drawn indices (O(n), no sort). Those indices
/// depend on n, the seed and the number of resamples alone, not on the
/// data, so they are drawn once and shared by every sample of that size.
fn percentile_cis(
    sorted: &[f64],
    ps: &[f64],
    resamples: usize,
    seed: u64,
    level: f64,
) -> Vec<Option<Interval>> {
    let n = sorted.len();
    if n < 2 || resamples == 0 || !(level > 0.0 && level < 1.0) {
        return vec![None; ps.len()];
    }
    if sorted[0].to_bits() == sorted[n - 1].to_bits() {
        // Every resample is the same constant: so is every percentile of it.
        let x = sorted[0];
        let interval = Interval {
            low: x,
            high: x,
            level,
        };
        return vec![Some(interval); ps.len()];
    }
    let table = index_table(n, ps, resamples, seed);
    ps.iter()
        .zip(&table.pairs)
        .map(|(&p, pairs)| {
            let (_, _, t) = rank(n, p);
            let statistic =
                |&(a, b): &(u32, u32)| interpolate(sorted[a as usize], sorted[b as usize], t);
            tail_interval(sorted, pairs, statistic, level)
                .or_else(|| full_interval(pairs, statistic, level))
        })
        .collect()
}

/// The interval from every resample's statistic, selected.
fn full_interval(
    pairs: &Pairs,
    statistic: impl Fn(&(u32, u32)) -> f64,
    level: f64,
) -> Option<Interval> {
    let mut stats = Vec::with_capacity(pairs.by_low.len());
    for pair in &pairs.by_low {
        let value = statistic(pair);
        if !value.is_finite() {
            return None;
        }
        stats.push(value);
    }
    Some(interval_of(&mut stats, level))
}

/// The interval from the tails alone, when they are short: a resample's
/// statistic lies between the data at its two indices, so walking the
/// resamples by ascending low index, the smallest statistics are all found
/// once the data at the next low index is no smaller than the largest kept
/// (and likewise from the top). A few dozen resamples are looked at
/// instead of all of them. `None` when the tails are too long for this.
/// (Finite data give finite statistics, so skipping some loses no check.)
fn tail_interval(
    sorted: &[f64],
    pairs: &Pairs,
    statistic: impl Fn(&(u32, u32)) -> f64,
    level: f64,
) -> Option<Interval> {
    let count = pairs.by_low.len();
    let tail = (1.0 - level) / 2.0 * 100.0;
    let (lo_low, hi_low, t_low) = rank(count, tail);
    let (lo_high, hi_high, t_high) = rank(count, 100.0 - tail);
    let (low_len, high_len) = (hi_low + 1, count - lo_high);
    if low_len > TAIL_LIMIT || high_len > TAIL_LIMIT {
        return None;
    }
    let mut smallest: Vec<f64> = Vec::with_capacity(low_len + 1);
    for pair in &pairs.by_low {
        let floor = sorted[pair.0 as usize];
        if smallest.len() == low_len && smallest.last().is_some_and(|&worst| floor >= worst) {
            break;
        }
        keep(&mut smallest, low_len, statistic(pair), |a, b| {
            a.total_cmp(b)
        });
    }
    let mut largest: Vec<f64> = Vec::with_capacity(high_len + 1);
    for pair in &pairs.by_high {
        let ceiling = sorted[pair.1 as usize];
        if largest.len() == high_len && largest.last().is_some_and(|&worst| ceiling <= worst) {
            break;
        }
        keep(&mut largest, high_len, statistic(pair), |a, b| {
            b.total_cmp(a)
        });
    }
    let top = |r: usize| largest[count - 1 - r];
    Some(Interval {
        low: interpolate(smallest[lo_low], smallest[hi_low], t_low),
        high: interpolate(top(lo_high), top(hi_high), t_high),
        level,
    })
}

/// The `(1-level)/2` and `(1+level)/2` percentiles of `stats`.
fn interval_of(stats: &mut [f64], level: f64) -> Interval {
    let tail = (1.0 - level) / 2.0 * 100.0;
    let (lo_low, hi_low, t_low) = rank(stats.len(), tail);
    let (lo_high, hi_high, t_high) = rank(stats.len(), 100.0 - tail);
    select_ranks(stats, &[lo_low, hi_low, lo_high, hi_high]);
    Interval {
        low: interpolate(stats[lo_low], stats[hi_low], t_low),
        high: interpolate(stats[lo_high], stats[hi_high], t_high),
        level,
    }
}

/// Tails up to this long are found by walking the sorted index pairs.
const TAIL_LIMIT: usize = 64;

/// Inserts `x` into `buffer` (sorted by `order`, at most `len` long) when
/// it is among the first `len`.
fn keep(buffer: &mut Vec<f64>, len: usize, x: f64, order: impl Fn(&f64, &f64) -> Ordering) {
    if buffer.len() == len && buffer.last().is_none_or(|w| order(&x, w) != Ordering::Less) {
        return;
    }
    let at = buffer.partition_point(|y| order(y, &x) != Ordering::Greater);
    buffer.insert(at, x);
    buffer.truncate(len);
}

/// For each percentile, each resample's indices (into the sorted data) of
/// the two order statistics the percentile interpolates between.
struct IndexTable {
    pairs: Vec<Pairs>,
}

/// One percentile's index pairs `(low, high)`, `low <= high`, in two orders.
struct Pairs {
    /// By ascending low index (then high).
    by_low: Vec<(u32, u32)>,
    /// By descending high index (then low).
    by_high: Vec<(u32, u32)>,
}

impl Pairs {
    fn new(mut by_low: Vec<(u32, u32)>) -> Pairs {
        by_low.sort_unstable();
        let mut by_high = by_low.clone();
        by_high.sort_unstable_by_key(|x| std::cmp::Reverse((x.1, x.0)));
        Pairs { by_low, by_high }
    }
}

type TableKey = (usize, usize, u64, Vec<u64>);

/// Tables kept for the process (aggregation may run on several threads); a
/// run has few distinct sample sizes, and a table is 8 bytes per resample
/// and percentile. Cleared when it grows past this.
const MAX_TABLES: usize = 256;

static TABLES: Mutex<BTreeMap<TableKey, Arc<IndexTable>>> = Mutex::new(BTreeMap::new());

/// The cached table for these arguments, drawn when missing.
fn index_table(n: usize, ps: &[f64], resamples: usize, seed: u64) -> Arc<IndexTable> {
    let key: TableKey = (n, resamples, seed, ps.iter().map(|p| p.to_bits()).collect());
    // A panic while holding the lock leaves a map that is still valid.
    let tables = || TABLES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(table) = tables().get(&key) {
        return Arc::clone(table);
    }
    // Drawn without the lock: two threads may both draw a table, and the
    // same one, since it depends only on the key.
    let table = Arc::new(draw_table(n, ps, resamples, seed));
    let mut tables = tables();
    if tables.len() >= MAX_TABLES {
        tables.clear();
    }
    tables.insert(key, Arc::clone(&table));
    table
}

/// Draws `resamples` resamples of `n` indices exactly as [`bootstrap_ci`]
/// does, counts them, and reads off the order statistics the `ps` need.
fn draw_table(n: usize, ps: &[f64], resamples: usize, seed: u64) -> IndexTable {
    let wanted: Vec<(usize, usize)> = ps
        .iter()
        .map(|&p| {
            let (lo, hi, _) = rank(n, p);
            (lo, hi)
        })
        .collect();
    let mut ranks: Vec<usize> = wanted.iter().flat_map(|&(lo, hi)| [lo, hi]).collect();
    ranks.sort_unstable();
    ranks.dedup();
    let mut rng = SplitMix64::new(seed);
    let mut counts = vec![0u32; n];
    let mut found = vec![0u32; ranks.len()];
    let mut pairs = vec![Vec::with_capacity(resamples); ps.len()];
    for _ in 0..resamples {
        counts.fill(0);
        for _ in 0..n {
            counts[rng.below(n)] += 1;
        }
        order_statistics(&counts, &ranks, &mut found);
        for (pair, &(lo, hi)) in pairs.iter_mut().zip(&wanted) {
            let at = |r: usize| found[ranks.partition_point(|&x| x < r)];
            pair.push((at(lo), at(hi)));
        }
    }
    IndexTable {
        pairs: pairs.into_iter().map(Pairs::new).collect(),
    }
}

/// For each rank `r` of `ranks` (ascending), the index holding the `r`-th
/// smallest draw, given how often each index was drawn.
fn order_statistics(counts: &[u32], ranks: &[usize], found: &mut [u32]) {
    let mut next = 0;
    let mut below = 0usize; // draws at smaller indices
    for (index, &count) in counts.iter().enumerate() {
        below += count as usize;
        while next < ranks.len() && ranks[next] < below {
            found[next] = index as u32;
            next += 1;
        }
        if next == ranks.len() {
            return;
        }
    }
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
    fn counted_indices_give_the_sorted_resamples_interval_bit_for_bit() {
        let s = sample();
        for (p, seed, level) in [(50.0, 42, 0.95), (95.0, 7, 0.9), (12.5, 0, 0.99)] {
            let sorted = bootstrap_ci(&s, |v| percentile(v, p), 700, seed, level);
            let counted = bootstrap_percentile_ci(&s, p, 700, seed, level);
            assert_eq!(sorted, counted, "p {p}");
        }
        let ties = Sample::new(vec![3.0, 1.0, 3.0, 3.0, 2.0, 1.0, 3.0]).unwrap();
        assert_eq!(
            bootstrap_ci(&ties, |v| percentile(v, 50.0), 300, 5, 0.95),
            bootstrap_percentile_ci(&ties, 50.0, 300, 5, 0.95)
        );
        let ordered = Ordered::new(s.values().to_vec(), usize::MAX).unwrap();
        let both = bootstrap_percentile_cis(&ordered, &[50.0, 95.0], 1000, 9, 0.95);
        assert_eq!(both[0], bootstrap_percentile_ci(&s, 50.0, 1000, 9, 0.95));
        assert_eq!(both[1], bootstrap_percentile_ci(&s, 95.0, 1000, 9, 0.95));
        let unsorted = Ordered::new(s.values().to_vec(), 0).unwrap();
        assert_eq!(
            bootstrap_percentile_cis(&unsorted, &[50.0], 10, 1, 0.95),
            vec![None]
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
