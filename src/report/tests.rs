//! Report rendering: the built-in Markdown and JSON templates, HTML escaping,
//! user templates replacing built-ins, and template errors with their line;
//! helpers, charts, the schema and snapshots are in the submodules.

use super::*;
use crate::aggregate::aggregate;
use crate::plan::Plan;
use crate::record::Record;
use crate::store::RunManifest;
use serde_json::json;

mod charts;
mod helpers;
mod schema;
mod snapshots;
mod warnings;

/// A one-cell model whose cell lacks prompt_tps and most server figures.
/// Built from JSON, so fields added to the types with serde defaults keep it compiling.
pub(super) fn fixed_model() -> ReportModel {
    let plan: Plan = serde_json::from_value(json!({
        "experiment": "exp",
        "cells": [{
            "index": 0, "id": "m.p.0000abcd", "model": "m", "label": "Model <M>",
            "backend": "default", "prompt": "p", "text": "t", "settings": {},
            "load": {"mode": "closed", "concurrency": 1}, "repetitions": 2, "warmup": 0,
        }],
    }))
    .expect("plan");
    let ok: Record = serde_json::from_value(json!({
        "cell": "m.p.0000abcd", "model": "m", "prompt": "p", "repetition": 0, "warmup": false,
        "started_at": "2026-01-01T00:00:00Z", "run_offset_ms": 0.0,
        "outcome": {"status": "ok"}, "http_status": 200,
        "timing": {"ttft_ms": 120.0, "e2e_ms": 1120.0, "chunk_offsets_ms": [120.0, 1120.0], "events": 2},
        "finish_reason": "stop", "server": {"completion_tokens": 11},
        "tokens": {"output": 11, "output_source": "server"},
        "output_chars": 5, "reasoning_chars": 0,
    }))
    .expect("record");
    let mut failed = ok.clone();
    failed.repetition = 1;
    failed.outcome = serde_json::from_value(json!({
        "status": "error", "kind": "http", "message": "HTTP 503: server busy",
    }))
    .expect("outcome");
    let summary = aggregate(&plan, &[ok, failed], 0);
    let manifest: RunManifest = serde_json::from_value(json!({
        "llmbench_version": "0.0.0", "run_id": "abc123", "experiment": "exp",
        "description": "a description", "experiment_path": "experiments/exp.toml",
        "experiment_sha256": "00", "overrides": ["run.repetitions=2"],
        "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:01:00Z",
        "status": "complete",
        "environment": {"host": "", "os": "", "arch": "", "cores": 0},
    }))
    .expect("manifest");
    ReportModel::new(&manifest, summary, "benchmarks/exp/run")
}

#[test]
fn markdown_report_shows_cells_statistics_errors_and_glossary() {
    let text = render(&builtin(ReportFormat::Markdown), &fixed_model()).expect("renders");
    assert!(text.starts_with("# exp\n"), "{text}");
    assert!(
        text.contains("| Model <M> | p | c1 | 1/2 | 120.0 |"),
        "no HTML escaping in Markdown: {text}"
    );
    assert!(text.contains("| ttft_ms | 1 | 120.00 |"), "{text}");
    assert!(text.contains("- 1 × http: HTTP 503: server busy"), "{text}");
    assert!(text.contains("`run.repetitions=2`"));
    assert!(text.contains("| tpot | ms |"), "glossary: {text}");
    assert!(
        text.contains("1 of 2 measured requests failed"),
        "warnings: {text}"
    );
}

#[test]
fn json_report_is_the_report_model() {
    let model = fixed_model();
    let text = render(&builtin(ReportFormat::Json), &model).expect("renders");
    let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(parsed, serde_json::to_value(&model).expect("serialises"));
}

#[test]
fn html_output_is_escaped_other_output_is_not() {
    let template = |output: &str| Template {
        origin: "test".into(),
        output: output.into(),
        text: "{{cells.0.label}}".into(),
        strict: false,
    };
    let model = fixed_model();
    assert_eq!(
        render(&template("x.html"), &model).expect("renders"),
        "Model &lt;M&gt;"
    );
    assert_eq!(
        render(&template("x.csv"), &model).expect("renders"),
        "Model <M>"
    );
}

#[test]
fn helpers_format_missing_values_as_a_dash() {
    let template = Template {
        origin: "test".into(),
        output: "x.txt".into(),
        text: "{{fmt cells.0.metrics.ttft_ms.mean 3}}|{{fmt cells.0.metrics.prompt_tps.mean}}|{{pct totals.error_rate}}".into(),
        strict: false,
    };
    assert_eq!(
        render(&template, &fixed_model()).expect("renders"),
        "120.000|–|50.0%"
    );
}

#[test]
fn a_user_template_replaces_the_builtin_of_the_same_name() {
    let user = Template {
        origin: "mine".into(),
        output: "report.md".into(),
        text: "mine".into(),
        strict: true,
    };
    let chosen = select_templates(&[ReportFormat::Markdown, ReportFormat::Json], vec![user]);
    let outputs: Vec<(&str, &str)> = chosen
        .iter()
        .map(|t| (t.output.as_str(), t.origin.as_str()))
        .collect();
    assert_eq!(
        outputs,
        [("report.json", "built-in"), ("report.md", "mine")]
    );
}

#[test]
fn a_broken_template_names_itself_and_its_line() {
    let broken = Template {
        origin: "my/t.hbs".into(),
        output: "t".into(),
        text: "ok\n{{#each cells}}\nnever closed\n".into(),
        strict: true,
    };
    let error = render(&broken, &fixed_model()).expect_err("fails");
    assert!(
        error
            .to_string()
            .starts_with("template t (my/t.hbs, line 4): invalid handlebars syntax"),
        "{error}"
    );
    assert!(
        std::error::Error::source(&error).is_some(),
        "the template engine's error is kept as the cause"
    );
}
