use super::*;

#[test]
fn glossary_names_every_reported_metric() {
    let names: Vec<&str> = glossary().iter().map(|d| d.metric).collect();
    for metric in [
        "ttft",
        "tpot",
        "chunk_gap",
        "e2e",
        "decode_tps",
        "server_decode_tps",
        "prompt_tps",
        "load",
    ] {
        assert!(
            names.contains(&metric),
            "{metric} missing from the glossary"
        );
    }
}

/// Each metric of the registry is defined once: unique names and short
/// names, a lookup by either, and a glossary entry for every one.
#[test]
fn the_registry_names_each_metric_once_and_the_glossary_defines_each() {
    use super::registry::{lookup, require, METRICS};
    let mut names: Vec<&str> = METRICS.iter().flat_map(|m| [m.name, m.short]).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    // A metric whose short name is its name (decode_tps) counts twice.
    let same = METRICS.iter().filter(|m| m.name == m.short).count();
    assert_eq!(names.len(), before - same, "a name used by two metrics");
    for metric in METRICS {
        assert_eq!(lookup(metric.name).map(|m| m.name), Some(metric.name));
        assert_eq!(lookup(metric.short).map(|m| m.name), Some(metric.name));
    }
    let glossary: Vec<&str> = super::glossary().iter().map(|d| d.metric).collect();
    for metric in METRICS {
        assert!(
            glossary.contains(&metric.short),
            "{} undefined",
            metric.name
        );
    }
    let error = require("ttfx")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("`ttfx` is not a metric") && error.contains("ttft"),
        "{error}"
    );
}

/// cells.csv's metric part: 16 statistics of every metric, header and
/// fields in the same order.
#[test]
fn the_csv_columns_follow_the_registry() {
    use super::registry::{csv_fields, csv_header, METRICS};
    let header: Vec<String> = csv_header().split(',').map(str::to_string).collect();
    let fields: Vec<String> = csv_fields().split(',').map(str::to_string).collect();
    assert_eq!(header.len(), METRICS.len() * 16);
    assert_eq!(fields.len(), header.len());
    assert_eq!(header[0], "ttfb_ms_count");
    assert_eq!(fields[0], "{{csv metrics.ttfb_ms.count}}");
    assert_eq!(header[10], "ttfb_ms_ci95_low");
    assert_eq!(fields[10], "{{csv metrics.ttfb_ms.ci95_mean.low}}");
}
