//! Comparison verdicts on the fixture run against a slowed copy of itself,
//! threshold parsing (accepted forms and the messages of refused ones), gate
//! checks, and snapshots of the Markdown and HTML output.

use super::*;
use crate::metrics::threshold::{Problem, ThresholdError};
use crate::record::Record;
use crate::report::fixture;
use crate::report::snapshot::check;
use std::collections::BTreeMap;

fn run(id: &str, records: &[Record]) -> RunData {
    let run = RunRef {
        dir: format!("benchmarks/fixture/{id}"),
        run_id: id.into(),
        experiment: "fixture".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        status: crate::store::RunStatus::Complete,
    };
    let labels: BTreeMap<String, String> = fixture::plan()
        .cells
        .into_iter()
        .map(|c| (c.id, c.label))
        .collect();
    RunData::from_records(run, records, &labels)
}

/// The fixture's records with `extra_ms` added to the first token of `model`'s requests.
fn slowed(model: &str, extra_ms: f64) -> Vec<Record> {
    let mut records = fixture::records();
    for record in records.iter_mut().filter(|r| r.model == model) {
        let t = &mut record.timing;
        for time in [
            &mut t.ttfb_ms,
            &mut t.ttft_ms,
            &mut t.ttft_content_ms,
            &mut t.e2e_ms,
        ] {
            if let Some(value) = time.as_mut() {
                *value += extra_ms;
            }
        }
        t.chunk_offsets_ms.iter_mut().for_each(|o| *o += extra_ms);
    }
    records
}

fn verdict(comparison: &Comparison, cell: usize, metric: &str) -> Verdict {
    let found = comparison.cells[cell]
        .metrics
        .iter()
        .find(|m| m.metric == metric);
    found.map_or(Verdict::Insufficient, |m| m.verdict)
}

#[test]
fn a_slower_first_token_is_flagged_and_nothing_else() {
    let a = run("a", &fixture::records());
    let b = run("b", &slowed("smollm2:360m", 60.0));
    let comparison = compare(&a, &b, &CompareOptions::default());
    assert_eq!(comparison.cells.len(), 4);
    for cell in [2, 3] {
        assert_eq!(verdict(&comparison, cell, "ttft_ms"), Verdict::Slower);
        assert_eq!(verdict(&comparison, cell, "e2e_ms"), Verdict::Slower);
        assert_eq!(verdict(&comparison, cell, "tpot_ms"), Verdict::NoChange);
        assert_eq!(verdict(&comparison, cell, "decode_tps"), Verdict::NoChange);
    }
    for cell in [0, 1] {
        assert!(comparison.cells[cell]
            .metrics
            .iter()
            .all(|m| m.verdict == Verdict::NoChange));
    }
    let ttft = &comparison.cells[2].metrics[0];
    assert!(ttft.p_value.is_some_and(|p| p < 0.01), "{ttft:?}");
    assert!(
        ttft.change_pct
            .p50
            .is_some_and(|c| (20.0..30.0).contains(&c)),
        "{ttft:?}"
    );
    assert_eq!(
        comparison.verdicts.slower, 6,
        "ttfb, ttft and e2e of two cells"
    );
    // Run the other way round, the same cells are faster.
    let back = compare(&b, &a, &CompareOptions::default());
    assert_eq!(verdict(&back, 2, "ttft_ms"), Verdict::Faster);
}

#[test]
fn equal_runs_show_no_change() {
    let a = run("a", &fixture::records());
    let comparison = compare(
        &a,
        &run("b", &fixture::records()),
        &CompareOptions::default(),
    );
    assert_eq!(comparison.verdicts.slower + comparison.verdicts.faster, 0);
    assert!(comparison.violations.is_empty());
}

/// One cell whose requests have these time-to-first-token values.
fn ttft_run(id: &str, ttfts: &[f64]) -> RunData {
    let requests = ttfts
        .iter()
        .map(|&t| RequestMetrics {
            ttft_ms: Some(t),
            ..RequestMetrics::default()
        })
        .collect();
    let cell = CellRef {
        id: "m.p.1".into(),
        model: "m".into(),
        label: "M".into(),
        prompt: "p".into(),
        setting: String::new(),
    };
    let counts = SideCounts {
        measured: ttfts.len() as u64,
        ok: ttfts.len() as u64,
        failed: 0,
        error_rate: 0.0,
    };
    RunData {
        run: RunRef {
            run_id: id.into(),
            ..RunRef::default()
        },
        cells: vec![CellData {
            cell,
            counts,
            requests,
        }],
    }
}

#[test]
fn the_noise_threshold_hides_small_significant_changes() {
    // +1.5% on every request: significant (the samples do not overlap) but under 2%.
    let base = [100.0, 100.1, 100.2, 100.3, 100.4, 100.5];
    let moved: Vec<f64> = base.iter().map(|t| t * 1.015).collect();
    let (a, b) = (ttft_run("a", &base), ttft_run("b", &moved));
    let comparison = compare(&a, &b, &CompareOptions::default());
    let ttft = &comparison.cells[0].metrics[0];
    assert!(
        ttft.significant && ttft.p_value.is_some_and(|p| p < 0.01),
        "{ttft:?}"
    );
    assert_eq!(ttft.verdict, Verdict::NoChange);
    let strict = CompareOptions {
        noise_pct: 1.0,
        ..CompareOptions::default()
    };
    assert_eq!(
        verdict(&compare(&a, &b, &strict), 0, "ttft_ms"),
        Verdict::Slower
    );
    // A large change on overlapping samples is not significant.
    let noisy = ttft_run("c", &[60.0, 180.0, 95.0, 140.0, 70.0, 160.0]);
    assert_eq!(
        verdict(&compare(&a, &noisy, &strict), 0, "ttft_ms"),
        Verdict::NoChange
    );
    let few = ttft_run("d", &[150.0]);
    assert_eq!(
        verdict(&compare(&a, &few, &strict), 0, "ttft_ms"),
        Verdict::Insufficient
    );
}

#[test]
fn unmatched_cells_are_listed() {
    let records = fixture::records();
    let without_last: Vec<Record> = records
        .iter()
        .filter(|r| r.prompt != "count" || r.model != "smollm2:360m")
        .cloned()
        .collect();
    let comparison = compare(
        &run("a", &records),
        &run("b", &without_last),
        &CompareOptions::default(),
    );
    assert_eq!(comparison.cells.len(), 3);
    assert_eq!(comparison.only_in_a.len(), 1);
    assert_eq!(comparison.only_in_a[0].label, "SmolLM2 <360M>");
    assert!(comparison.only_in_b.is_empty());
}

#[test]
fn thresholds_parse_in_both_spellings() {
    let t = parse_threshold("ttft.p95 > +10%").expect("parses");
    assert_eq!(
        t.target,
        Target::Stat {
            metric: "ttft_ms".into(),
            stat: "p95".into()
        }
    );
    assert_eq!(
        (t.op, t.limit, t.rule),
        (Op::Gt, Limit::Change(10.0), Rule::FailIf)
    );
    let t = parse_threshold("decode_tps.mean <= -5%").expect("parses");
    assert_eq!((t.op, t.limit), (Op::Le, Limit::Change(-5.0)));
    let t = parse_requirement("ttft.p95", "< 800ms").expect("parses");
    assert_eq!(
        (t.op, t.limit, t.rule),
        (Op::Lt, Limit::Absolute(800.0), Rule::Require)
    );
    assert_eq!(
        parse_requirement("e2e.p50", "<= 1.5s")
            .expect("parses")
            .limit,
        Limit::Absolute(1500.0)
    );
    assert_eq!(
        parse_requirement("decode_tps.mean", "> 20")
            .expect("parses")
            .limit,
        Limit::Absolute(20.0)
    );
    let t = parse_requirement("errors.rate", "< 1%").expect("parses");
    assert_eq!(
        (t.target, t.limit),
        (Target::ErrorRate, Limit::Absolute(0.01))
    );
    assert_eq!(
        parse_requirement("throughput", "> 50")
            .expect("parses")
            .target,
        Target::Throughput
    );
}

#[test]
fn bad_thresholds_say_what_to_write() {
    let cases = [
        ("ttft > +10%", "`ttft` needs a statistic, e.g. `ttft.p95`"),
        (
            "ttft.p95 > 10%",
            "a percentage is a change only with a sign (`+10%` or `-10%`)",
        ),
        (
            "decode_tps.mean < 5ms",
            "ms is a unit of time, and this metric is not a time",
        ),
        ("ttft.p95 = 800", "write METRIC OP LIMIT"),
        ("ttfx.p50 > 1", "`ttfx` is not a metric"),
        ("ttft.p42 > 1", "`p42` is not a statistic"),
        ("errors.rate > +5%", "errors.rate takes an absolute limit"),
        ("ttft.p95 > fast", "`fast` is not a number"),
        // A signed number without % was read as 10 ms.
        ("ttft.p50 > +10", "needs `%` (`+10%`)"),
        ("decode_tps.mean < -5", "needs `%` (`-5%`)"),
        // Accepted before, then failed in every cell: a comparison has no throughput.
        ("throughput < -5%", "`throughput` is one figure per run"),
        ("request_rate < -5%", "gate on a per-request metric instead"),
        ("load.p50 > +10%", "`load` is not compared between runs"),
        ("output_tokens.mean < -5%", "compare one of ttft, tpot, e2e"),
    ];
    for (text, want) in cases {
        let error = parse_threshold(text).expect_err(text).to_string();
        assert!(
            error.starts_with(&format!("threshold `{text}`: ")),
            "{error}"
        );
        assert!(error.contains(want), "{text}: {error}");
    }
    let error = parse_requirement("ttft.p95", "> +10%").expect_err("a change");
    assert!(
        matches!(
            &error,
            ThresholdError::Requirement {
                problem: Problem::ChangeNeedsTwoRuns(_),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("a change needs two runs"),
        "{error}"
    );
    assert!(
        error.to_string().contains("--fail-on \"ttft.p95 > +10%\""),
        "{error}"
    );
    let error = parse_threshold("ttfx.p50 > 1").expect_err("unknown metric");
    let cause = std::error::Error::source(&error).map(ToString::to_string);
    assert!(
        cause.is_some_and(|c| c.starts_with("`ttfx` is not a metric; use one of ttfb, ttft")),
        "{error:?}"
    );
}

#[test]
fn absolute_thresholds_name_metric_cell_value_and_limit() {
    let model = fixture::model();
    let thresholds = [
        parse_requirement("ttft.p95", "< 200ms").expect("parses"),
        parse_requirement("errors.rate", "< 1%").expect("parses"),
        parse_requirement("decode_tps.mean", "> 20").expect("parses"),
    ];
    let gate = gate_cells(&model.cells, &thresholds);
    let violations = &gate.violations;
    let messages: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
    assert_eq!(violations.len(), 3, "{messages:#?}");
    // Threshold by threshold; each cell named with its setting.
    assert!(
        messages[0]
            .starts_with("ttft.p95 of SmolLM2 <360M> × hello · c1 (smollm2.hello.1a2b3c02): "),
        "{messages:#?}"
    );
    assert!(
        messages[0].ends_with(" ms, required < 200 ms"),
        "{messages:#?}"
    );
    assert_eq!(violations[0].value.map(|v| v > 200.0), Some(true));
    assert!(
        messages[2].starts_with(
            "errors.rate of Qwen3 0.6B × count · c1 (qwen3.count.1a2b3c01): 16.67%, required < 1.00%"
        ),
        "{messages:#?}"
    );
    let outcome: Vec<(&str, usize, usize, bool)> = gate
        .results
        .iter()
        .map(|r| (r.threshold.as_str(), r.checked, r.failed, r.passed))
        .collect();
    assert_eq!(
        outcome,
        [
            ("ttft.p95 < 200ms", 4, 2, false),
            ("errors.rate < 1%", 4, 1, false),
            ("decode_tps.mean > 20", 4, 0, true),
        ]
    );
    assert_eq!(check_cells(&model.cells, &thresholds), gate.violations);
    let passing = check_cells(
        &model.cells,
        &[parse_requirement("ttft.p95", "< 1s").expect("parses")],
    );
    assert!(passing.is_empty());
}

#[test]
fn fail_on_flags_a_regression_beyond_its_limit() {
    let a = run("a", &fixture::records());
    let b = run("b", &slowed("smollm2:360m", 60.0));
    let options = CompareOptions {
        fail_on: vec![
            parse_threshold("ttft.p50 > +10%").expect("parses"),
            parse_threshold("errors.rate > 50%").expect("parses"),
        ],
        ..CompareOptions::default()
    };
    let comparison = compare(&a, &b, &options);
    assert_eq!(
        comparison.violations.len(),
        2,
        "{:#?}",
        comparison.violations
    );
    let first = &comparison.violations[0];
    assert_eq!(first.cell, "smollm2.hello.1a2b3c02");
    assert!(
        first.message.contains("ttft.p50 of SmolLM2 <360M> × hello"),
        "{}",
        first.message
    );
    assert!(
        first.message.contains("fails if > +10%"),
        "{}",
        first.message
    );
    let equal = compare(&a, &run("b", &fixture::records()), &options);
    assert!(equal.violations.is_empty());
}

#[test]
fn output_formats_match_their_snapshots() {
    let a = run("a1b2c3", &fixture::records());
    let b = run("d4e5f6", &slowed("smollm2:360m", 60.0));
    let options = CompareOptions {
        fail_on: vec![parse_threshold("ttft.p95 > +10%").expect("parses")],
        ..CompareOptions::default()
    };
    let comparison = compare(&a, &b, &options);
    check(
        "compare.md",
        &render_comparison(&comparison, CompareFormat::Md).expect("renders"),
    );
    check(
        "compare.html",
        &render_comparison(&comparison, CompareFormat::Html).expect("renders"),
    );
    let json = render_comparison(&comparison, CompareFormat::Json).expect("renders");
    let back: Comparison = serde_json::from_str(&json).expect("JSON reads back");
    let messages = |c: &Comparison| {
        c.violations
            .iter()
            .map(|v| v.message.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        (back.cells.len(), messages(&back), &back.verdicts),
        (4, messages(&comparison), &comparison.verdicts)
    );
}

#[test]
fn a_change_beyond_the_limit_fails_only_when_significant() {
    let base = [100.0, 100.1, 100.2, 100.3, 100.4, 100.5];
    // A median 20% up on samples that overlap: p well above 0.05.
    let noisy = ttft_run("n", &[60.0, 180.0, 95.0, 140.0, 70.0, 160.0, 125.0]);
    let options = CompareOptions {
        fail_on: vec![parse_threshold("ttft.p50 > +10%").expect("parses")],
        ..CompareOptions::default()
    };
    let comparison = compare(&ttft_run("a", &base), &noisy, &options);
    let ttft = &comparison.cells[0].metrics[0];
    assert!(
        ttft.change_pct.p50.is_some_and(|c| c > 10.0) && !ttft.significant,
        "{ttft:?}"
    );
    assert!(
        comparison.violations.is_empty(),
        "{:?}",
        comparison.violations
    );
    assert_eq!(comparison.not_significant.len(), 1);
    assert!(
        comparison.not_significant[0]
            .message
            .contains("but not significant (p 0."),
        "{}",
        comparison.not_significant[0].message
    );
    assert_eq!(
        (
            comparison.gate[0].checked,
            comparison.gate[0].not_significant,
            comparison.gate[0].passed
        ),
        (1, 1, true)
    );
    let strict = CompareOptions {
        strict: true,
        ..options.clone()
    };
    let literal = compare(&ttft_run("a", &base), &noisy, &strict);
    assert_eq!(
        literal.violations.len(),
        1,
        "--strict keeps the literal rule"
    );
    assert!(!literal.gate[0].passed);
    // A significant change beyond the limit fails by either rule.
    let moved: Vec<f64> = base.iter().map(|t| t * 1.5).collect();
    let slower = compare(&ttft_run("a", &base), &ttft_run("b", &moved), &options);
    assert_eq!(slower.violations.len(), 1);
    assert!(slower.violations[0].p_value.is_some_and(|p| p < 0.05));
}

#[test]
fn a_gate_that_matched_no_cell_is_an_error() {
    let options = CompareOptions {
        fail_on: vec![parse_threshold("ttft.p50 > +10%").expect("parses")],
        ..CompareOptions::default()
    };
    let a = run("a", &fixture::records());
    let mut other = ttft_run("b", &[100.0, 101.0, 102.0]);
    other.cells[0].cell.id = "other.experiment.1".into();
    let comparison = compare(&a, &other, &options);
    assert!(comparison.cells.is_empty() && comparison.violations.is_empty());
    let error = comparison
        .gate_error()
        .expect("nothing compared is an error");
    assert!(
        error.contains("the gate compared nothing: none of A's 4 cells matches one of B's 1"),
        "{error}"
    );
    // Without thresholds there is no gate to trust, and no error.
    let plain = compare(&a, &other, &CompareOptions::default());
    assert_eq!(plain.gate_error(), None);
    // With a match the gate is trusted.
    let matched = compare(&a, &run("b", &fixture::records()), &options);
    assert_eq!(matched.gate_error(), None);
}

#[test]
fn headings_name_each_cell_with_its_setting() {
    let mut a = run("a", &fixture::records());
    let mut b = run("b", &fixture::records());
    for data in a.cells.iter_mut().chain(b.cells.iter_mut()) {
        data.cell.setting = "c4 server.parallel=2".into();
    }
    let comparison = compare(&a, &b, &CompareOptions::default());
    for (format, equals) in [(CompareFormat::Md, "="), (CompareFormat::Html, "&#x3D;")] {
        let text = render_comparison(&comparison, format).expect("renders");
        assert!(
            text.contains(&format!("Qwen3 0.6B × hello · c4 server.parallel{equals}2")),
            "{format:?}: {text:.600}"
        );
    }
}

/// Every compared metric is in the registry, so none is dropped silently.
#[test]
fn every_compared_metric_is_a_registered_one() {
    for name in COMPARED {
        assert!(
            crate::metrics::registry::lookup(name).is_some(),
            "{name} is not in the metric registry"
        );
    }
}

/// A threshold may name any registered metric by its short name: `token_gap`
/// was once refused though `token_gap_ms` was summarised.
#[test]
fn a_threshold_takes_every_short_name_of_the_registry() {
    for metric in crate::metrics::registry::METRICS {
        // In an experiment's [thresholds] any metric goes; `--fail-on` takes
        // the compared ones (a_gate_refuses_metrics_a_comparison_lacks).
        let key = format!("{}.p95", metric.short);
        let text = format!("{key} > 1");
        let threshold = parse_requirement(&key, "> 1").unwrap_or_else(|e| panic!("{text}: {e}"));
        let expected = Target::Stat {
            metric: metric.name.to_string(),
            stat: "p95".to_string(),
        };
        assert_eq!(threshold.target, expected, "{text}");
    }
}
