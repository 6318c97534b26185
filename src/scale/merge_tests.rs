use super::*;

#[test]
fn the_timeline_starts_at_the_earliest_shard_corrected_by_clock_offsets() {
    let starts = [
        ("2026-01-01T00:00:01Z", Some(0.0)),
        ("2026-01-01T00:00:00.500Z", Some(-250.0)),
        ("2026-01-01T00:00:03Z", None),
    ];
    let parts: Vec<(String, Option<f64>)> = starts
        .iter()
        .map(|(at, offset)| (at.to_string(), *offset))
        .collect();
    // Shard 1's clock is 250 ms behind the storage's: it started at 0.75 s.
    assert_eq!(shifts(&parts), [250.0, 0.0, 2250.0]);
}
