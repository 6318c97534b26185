//! How well the shards of a `split = load` launch ran together: per cell,
//! the window while every shard was sending against the union of their
//! windows, on the merged timeline.

use crate::record::Record;
use crate::store::continuity::CellOverlap;
use std::collections::BTreeMap;

/// One shard's measured window per cell: first send and last end, ms.
pub(crate) type Windows = BTreeMap<String, (f64, f64)>;

/// Widens a shard's window of `record`'s cell to cover it (send to end).
pub(crate) fn widen(windows: &mut Windows, record: &Record) {
    let start = record.run_offset_ms;
    let end = start + record.timing.e2e_ms.unwrap_or(0.0);
    let window = windows.entry(record.cell.clone()).or_insert((start, end));
    window.0 = window.0.min(start);
    window.1 = window.1.max(end);
}

/// The overlap of each cell that every shard ran.
pub(crate) fn per_cell(shards: &[Windows]) -> Vec<CellOverlap> {
    let Some(first) = shards.first() else {
        return Vec::new();
    };
    first
        .keys()
        .filter_map(|cell| {
            let windows: Vec<(f64, f64)> = shards
                .iter()
                .map(|s| s.get(cell).copied())
                .collect::<Option<_>>()?;
            Some(overlap(cell, &windows))
        })
        .collect()
}

fn overlap(cell: &str, windows: &[(f64, f64)]) -> CellOverlap {
    let min = |f: fn(&(f64, f64)) -> f64| windows.iter().map(f).fold(f64::INFINITY, f64::min);
    let max = |f: fn(&(f64, f64)) -> f64| windows.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
    let union = max(|w| w.1) - min(|w| w.0);
    let common = (min(|w| w.1) - max(|w| w.0)).max(0.0);
    CellOverlap {
        cell: cell.to_string(),
        union_s: union / 1e3,
        common_s: common / 1e3,
        fraction: if union > 0.0 { common / union } else { 1.0 },
        start_spread_ms: max(|w| w.0) - min(|w| w.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_the_common_part_of_the_union() {
        let windows = [(0.0, 1000.0), (250.0, 1250.0)];
        let o = overlap("c", &windows);
        assert_eq!(
            (o.union_s, o.common_s, o.start_spread_ms),
            (1.25, 0.75, 250.0)
        );
        assert!((o.fraction - 0.6).abs() < 1e-12);
        let apart = overlap("c", &[(0.0, 1.0), (2.0, 3.0)]);
        assert_eq!(apart.fraction, 0.0, "windows that never meet");
    }
}
