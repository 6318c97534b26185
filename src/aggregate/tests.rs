use super::*;
use crate::backend::ServerStats;
use crate::experiment::RequestSettings;
use crate::record::{ErrorKind, Timing, TokenCounts};

fn cell(index: usize, model: &str, prompt: &str) -> Cell {
    Cell {
        index,
        id: format!("{model}.{prompt}"),
        model: model.into(),
        label: model.to_uppercase(),
        backend: "default".into(),
        prompt: prompt.into(),
        system: None,
        text: "t".into(),
        settings: RequestSettings::default(),
        options: serde_json::Map::new(),
        load: crate::experiment::Load::Closed { concurrency: 1 },
        matrix: vec![],
        checks: vec![],
        duration_s: None,
        repetitions: 3,
        warmup: 1,
        warmup_s: None,
        variants: vec![],
        mix_seed: None,
        share: None,
    }
}

fn ok(cell: &str, start: f64, ttft: f64, e2e: f64, tokens: u64, warmup: bool) -> Record {
    let server = ServerStats {
        completion_tokens: Some(tokens),
        finish_reason: Some("stop".into()),
        ..Default::default()
    };
    Record {
        cell: cell.into(),
        model: cell.split('.').next().unwrap_or_default().into(),
        prompt: "p".into(),
        repetition: 0,
        warmup,
        cold: false,
        started_at: "2026-01-01T00:00:00Z".into(),
        run_offset_ms: start,
        outcome: Outcome::Ok,
        http_status: Some(200),
        retries: 0,
        timing: Timing {
            ttft_ms: Some(ttft),
            e2e_ms: Some(e2e),
            chunk_offsets_ms: vec![ttft, e2e],
            ..Default::default()
        },
        finish_reason: Some("stop".into()),
        tokens: TokenCounts::from_server(&server),
        server,
        output_chars: 3,
        reasoning_chars: 0,
        prompt_nonce: None,
        retry: None,
    }
}

fn failed(cell: &str, kind: ErrorKind) -> Record {
    let mut record = ok(cell, 0.0, 1.0, 2.0, 1, false);
    record.outcome = Outcome::Error {
        kind,
        message: "HTTP 500: boom".into(),
    };
    record.timing = Timing::default();
    record
}

fn plan() -> Plan {
    Plan {
        experiment: "e".into(),
        cells: vec![cell(0, "a", "p"), cell(1, "a", "q"), cell(2, "b", "p")],
        cold_repetitions: 0,
        prompt_nonce: false,
        retry: None,
        slo: None,
    }
}

#[test]
fn warmups_and_failures_stay_out_of_statistics() {
    let records = vec![
        ok("a.p", 0.0, 900.0, 5000.0, 99, true),
        ok("a.p", 1000.0, 100.0, 1100.0, 11, false),
        ok("a.p", 3000.0, 200.0, 1200.0, 11, false),
        failed("a.p", ErrorKind::Http),
    ];
    let summary = aggregate(&plan(), &records, 0);
    let cell = &summary.cells[0];
    assert_eq!(
        cell.counts,
        Counts {
            measured: 3,
            ok: 2,
            failed: 1,
            warmup: 1,
            error_rate: 1.0 / 3.0
        }
    );
    let ttft = &cell.metrics["ttft_ms"];
    assert_eq!(
        (ttft.count, ttft.mean),
        (2, 150.0),
        "the 900 ms warmup is excluded"
    );
    assert_eq!(
        cell.errors,
        vec![ErrorCount {
            kind: "http".into(),
            count: 1,
            example: "HTTP 500: boom".into()
        }]
    );
    assert_eq!(
        cell.metrics["tpot_ms"].p50, 100.0,
        "(1100 - 100) / (11 - 1)"
    );
    // 22 tokens between the first send (1000) and the last completion (4200).
    assert_eq!(cell.throughput_tps, Some(22.0 / 3.2));
    assert_eq!(cell.finish_reasons.get("stop"), Some(&2));
}

#[test]
fn models_pool_their_cells_and_totals_add_up() {
    let records = vec![
        ok("a.p", 0.0, 100.0, 200.0, 5, false),
        ok("a.q", 0.0, 300.0, 400.0, 5, false),
        ok("b.p", 0.0, 50.0, 60.0, 5, false),
        failed("b.p", ErrorKind::Timeout),
    ];
    let summary = aggregate(&plan(), &records, 2);
    assert_eq!(summary.models.len(), 2);
    assert_eq!(summary.models[0].name, "a");
    assert_eq!(summary.models[0].cells, 2);
    assert_eq!(summary.models[0].metrics["ttft_ms"].mean, 200.0);
    assert_eq!(summary.totals.measured, 4);
    assert_eq!(summary.totals.failed, 1);
    assert_eq!(summary.unreadable_records, 2);
}

#[test]
fn a_cell_without_records_has_no_metrics() {
    let summary = aggregate(&plan(), &[], 0);
    assert!(summary
        .cells
        .iter()
        .all(|c| c.metrics.is_empty() && c.counts.measured == 0));
    assert_eq!(summary.totals.error_rate, 0.0);
}

#[test]
fn cold_starts_are_summarised_per_model_apart_from_warm_requests() {
    let mut cold = ok("a.p", 0.0, 2500.0, 2600.0, 5, false);
    cold.cold = true;
    cold.server.load_duration_ns = Some(2_400_000_000);
    let warm = ok("a.p", 3000.0, 100.0, 200.0, 5, false);
    let summary = aggregate(&plan(), &[cold, warm], 0);
    assert_eq!(
        summary.cells[0].counts.measured, 1,
        "the cold request is not a warm measurement"
    );
    assert_eq!(summary.cells[0].metrics["ttft_ms"].mean, 100.0);
    let cold = summary.models[0]
        .cold_start
        .as_ref()
        .expect("cold start summary");
    assert_eq!(cold.counts.ok, 1);
    assert_eq!(cold.metrics["load_ms"].mean, 2400.0);
    assert_eq!(cold.metrics["ttft_ms"].mean, 2500.0);
    assert!(summary.models[1].cold_start.is_none());
}

#[test]
fn metric_names_list_every_summarised_metric() {
    let mut summarised: Vec<&str> = SCALAR_METRICS.iter().map(|(name, _)| *name).collect();
    summarised.extend(["chunk_gap_ms", "token_gap_ms"]);
    summarised.sort_unstable();
    let mut named = METRIC_NAMES.to_vec();
    named.sort_unstable();
    assert_eq!(summarised, named);
}

#[test]
fn a_models_pool_is_its_cells_values_in_plan_order() {
    // Enough chunk gaps that the pool (and one cell) is read in place, few
    // enough ttft values that each cell sorts its own: the model's figures
    // must be those of the cells' values copied together in plan order.
    let mut state = 7u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 40) as f64 / 1e3
    };
    let mut records = Vec::new();
    for (cell, count) in [("a.p", 1_200), ("a.q", 900)] {
        for _ in 0..count {
            let mut record = ok(cell, 0.0, next(), 0.0, 5, false);
            let mut at = record.timing.ttft_ms.unwrap_or(0.0);
            record.timing.chunk_offsets_ms = (0..60)
                .map(|_| {
                    at += (next() * 7.0).round() / 7.0; // ties on purpose
                    at
                })
                .collect();
            record.timing.e2e_ms = Some(at);
            records.push(record);
        }
    }
    let summary = aggregate(&plan(), &records, 0);
    let pooled = |metric: &str| -> Vec<f64> {
        records
            .iter()
            .filter(|r| r.cell == "a.p")
            .chain(records.iter().filter(|r| r.cell == "a.q"))
            .flat_map(|r| {
                let m = crate::record::request_metrics(r);
                match metric {
                    "chunk_gap_ms" => m.chunk_gaps_ms,
                    _ => m.ttft_ms.into_iter().collect(),
                }
            })
            .collect()
    };
    for metric in ["chunk_gap_ms", "ttft_ms"] {
        let want = MetricSummary::of(pooled(metric));
        assert_eq!(
            summary.models[0].metrics.get(metric),
            want.as_ref(),
            "{metric}"
        );
    }
    assert!(summary.models[0].metrics["chunk_gap_ms"].count > 100_000);
}

#[test]
fn a_record_whose_stamps_contradict_each_other_is_flagged_not_used() {
    let good = ok("a.p", 0.0, 10.0, 20.0, 5, false);
    // The case: ttfb stamped after the head was parsed, ttft by the
    // kernel — ttfb 11.9 ms after a ttft of 0.16 ms.
    let mut bad = ok("a.p", 0.0, 0.16, 30.0, 5, false);
    bad.repetition = 1;
    bad.timing.ttfb_ms = Some(11.9);
    let summary = aggregate(&plan(), &[good, bad], 0);
    let cell = &summary.cells[0];
    assert_eq!(cell.counts.ok, 2);
    assert_eq!(cell.validity.timing_violations, 1);
    assert_eq!(
        cell.validity.timing_violation_example.as_deref(),
        Some("repetition 1: ttfb after ttft")
    );
    let ttft = &cell.metrics["ttft_ms"];
    assert_eq!((ttft.count, ttft.max), (1, 10.0), "only the good record");
}

#[test]
fn past_the_budget_values_are_sketched_within_the_stated_error() {
    let plan = plan();
    let mut records = Vec::new();
    for i in 0..400u32 {
        let mut record = ok("a.p", 0.0, 10.0, 1000.0, 5, false);
        record.repetition = i;
        let step = 1.0 + f64::from(i % 37) * 0.25;
        record.timing.chunk_offsets_ms = (0..100).map(|k| 10.0 + f64::from(k) * step).collect();
        record.timing.e2e_ms = record.timing.chunk_offsets_ms.last().copied();
        records.push(record);
    }
    let exact = aggregate(&plan, &records, 0);
    let mut bounded = Aggregator::with_budget(&plan, 10_000);
    for record in &records {
        bounded.add(record);
    }
    let bounded = bounded.finish(0);
    let (e, b) = (
        &exact.cells[0].metrics["chunk_gap_ms"],
        &bounded.cells[0].metrics["chunk_gap_ms"],
    );
    assert_eq!(e.relative_error, None, "within the default budget: exact");
    assert_eq!(
        b.relative_error,
        Some(RELATIVE_ERROR),
        "39,600 gaps past a 10,000 budget"
    );
    assert_eq!(
        (b.count, b.min, b.max),
        (e.count, e.min, e.max),
        "exact figures stay exact"
    );
    assert!((b.mean - e.mean).abs() < 1e-9 * e.mean);
    for (x, y) in [
        (b.p50, e.p50),
        (b.p90, e.p90),
        (b.p95, e.p95),
        (b.p99, e.p99),
    ] {
        assert!(
            (x - y).abs() <= RELATIVE_ERROR * y * 1.000_001,
            "{x} vs exact {y}"
        );
    }
    let small = &bounded.cells[0].metrics["ttft_ms"];
    assert_eq!(small.relative_error, None, "400 values stay exact");
}

/// `CellStream` over `records` (counted, then added): each cell's summary
/// by plan index, as they closed, and the run's summary.
fn streamed(plan: &Plan, records: &[Record]) -> (Vec<(usize, serde_json::Value)>, RunSummary) {
    let mut stream = CellStream::new(plan);
    for record in records {
        stream.count(record);
    }
    let mut cells = Vec::new();
    let json = |c: &CellSummary| serde_json::to_value(c).expect("serialises");
    for record in records {
        if let Some((i, cell)) = stream.add(record) {
            cells.push((i, json(&cell)));
        }
    }
    let summary = stream.finish(0, |i, cell| cells.push((i, json(&cell))));
    (cells, summary)
}

#[test]
fn a_stream_gives_each_cell_and_model_what_the_whole_aggregation_does() {
    // Interleaved cells, a warmup, a failure, a cold start, and a cell
    // (b.p) without records: every cell closes once, at its last record.
    let mut cold = ok("a.p", 0.0, 2000.0, 3000.0, 4, false);
    cold.cold = true;
    cold.server.load_duration_ns = Some(900_000_000);
    let records = vec![
        ok("a.q", 0.0, 90.0, 800.0, 9, true),
        ok("a.p", 10.0, 100.0, 1000.0, 10, false),
        ok("a.q", 20.0, 110.0, 1200.0, 12, false),
        cold,
        failed("a.p", ErrorKind::Http),
        ok("a.q", 30.0, 120.0, 1300.0, 13, false),
        ok("a.p", 40.0, 130.0, 1400.0, 14, false),
    ];
    let plan = plan();
    let whole = aggregate(&plan, &records, 0);
    let (cells, summary) = streamed(&plan, &records);
    let order: Vec<usize> = cells.iter().map(|(i, _)| *i).collect();
    assert_eq!(order, [1, 0, 2], "a.q closes first, b.p at the end");
    for (i, cell) in &cells {
        let want = serde_json::to_value(&whole.cells[*i]).expect("serialises");
        assert_eq!(cell, &want, "cell {i}");
    }
    assert!(summary.cells.is_empty());
    let json = |v: &[GroupSummary]| serde_json::to_value(v).expect("serialises");
    assert_eq!(json(&summary.models), json(&whole.models));
    assert!(summary.models[0].cold_start.is_some());
    assert_eq!(summary.totals, whole.totals);
}

#[test]
fn a_record_after_its_cell_closed_is_left_out() {
    // Counted: one record of a.p. A second one (written after the first
    // read) must not open the cell again and never close.
    let plan = plan();
    let mut stream = CellStream::new(&plan);
    let first = ok("a.p", 0.0, 100.0, 1000.0, 10, false);
    stream.count(&first);
    assert!(stream.add(&first).is_some());
    assert!(stream
        .add(&ok("a.p", 5.0, 100.0, 1000.0, 10, false))
        .is_none());
    let mut rest = Vec::new();
    let summary = stream.finish(0, |i, _| rest.push(i));
    assert_eq!(rest, [1, 2]);
    assert_eq!(summary.totals.measured, 1);
}
