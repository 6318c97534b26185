//! Formatting and collection helpers, strict mode for user templates, and
//! rendering that keeps going past a broken template.

use super::super::collections::{group_by, sort_by, table, TableStyle};
use super::super::helpers::{
    csv_field, format_bytes, format_ms, format_pct, is_optional_metric, MISSING,
};
use super::super::*;
use super::fixed_model;
use serde_json::json;

fn user(text: &str) -> Template {
    Template {
        origin: "my/t.txt.hbs".into(),
        output: "t.txt".into(),
        text: text.into(),
        strict: true,
    }
}

fn render_fixture(text: &str) -> Result<String, String> {
    render(&user(text), &fixture::model()).map_err(|e| e.to_string())
}

#[test]
fn durations_read_naturally() {
    let cases = [
        (0.4218, "0.42 ms"),
        (8.14, "8.1 ms"),
        (812.4, "812 ms"),
        (999.4, "999 ms"),
        (999.6, "1.00 s"),
        (1234.0, "1.23 s"),
        (12_345.0, "12.3 s"),
        (125_000.0, "2 min 5 s"),
    ];
    for (ms, want) in cases {
        assert_eq!(format_ms(Some(ms)), want, "{ms} ms");
    }
    assert_eq!(format_ms(None), MISSING);
}

#[test]
fn bytes_use_binary_units() {
    assert_eq!(format_bytes(Some(512.0)), "512 B");
    assert_eq!(format_bytes(Some(1536.0)), "1.5 KiB");
    assert_eq!(
        format_bytes(Some(1.5 * 1024.0 * 1024.0 * 1024.0)),
        "1.5 GiB"
    );
    assert_eq!(format_bytes(None), MISSING);
    assert_eq!(format_pct(Some(0.125), 1), "12.5%");
    assert_eq!(format_pct(Some(0.125), 0), "12%");
}

#[test]
fn csv_fields_are_quoted_only_when_needed() {
    assert_eq!(csv_field(Some(&json!("plain"))), "plain");
    assert_eq!(csv_field(Some(&json!("a,b"))), "\"a,b\"");
    assert_eq!(csv_field(Some(&json!("say \"hi\""))), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_field(Some(&json!("two\nlines"))), "\"two\nlines\"");
    assert_eq!(csv_field(Some(&json!(12.5))), "12.5");
    assert_eq!(csv_field(None), "");
    assert_eq!(csv_field(Some(&json!(null))), "");
}

#[test]
fn helpers_render_in_templates() {
    let text = render_fixture(
        "{{ms cells.0.metrics.ttft_ms.p50}}|{{bytes environment.memory_bytes}}|{{pct cells.1.counts.error_rate 0}}|{{fmt cells.0.metrics.decode_tps.mean 2}}",
    )
    .expect("renders");
    let parts: Vec<&str> = text.split('|').collect();
    assert!(parts[0].ends_with(" ms"), "{text}");
    assert_eq!(parts[1], "16.0 GiB");
    assert_eq!(parts[2], "17%");
    assert!(parts[3].contains('.'), "{text}");
}

#[test]
fn strict_mode_names_template_line_and_missing_field() {
    let error = render_fixture("ok\n{{#each cells}}\n{{lable}}\n{{/each}}").expect_err("fails");
    assert!(
        error.starts_with("template t.txt (my/t.txt.hbs, line 3): missing field `lable`"),
        "{error}"
    );
    let error = render_fixture("{{fmt cells.0.metrics.ttft.p50}}").expect_err("fails");
    assert!(
        error.contains("missing field `cells.0.metrics.ttft.p50`"),
        "{error}"
    );
    let error = render_fixture("{{ms run.duration_ms}}").expect_err("fails");
    assert!(error.contains("`run.duration_ms`"), "{error}");
}

#[test]
fn strict_mode_lets_absent_metrics_print_a_dash() {
    // The one-cell model has no prompt_tps: data, not a typo.
    let text = render(
        &user("{{#each cells}}{{fmt metrics.prompt_tps.mean}}|{{ms metrics.load_ms.p50}}{{/each}}"),
        &fixed_model(),
    )
    .expect("renders");
    assert_eq!(text, "–|–");
    assert!(is_optional_metric("metrics.ttft_ms.ci95_mean.low"));
    assert!(!is_optional_metric("metrics.ttft_ms.p59"));
    assert!(!is_optional_metric("metrics.ttft.p50"));
    assert!(is_optional_metric("validity.dispatch_lag_ms.p99"));
    assert!(is_optional_metric("monitor.energy_j"));
    assert!(!is_optional_metric("validity.dispatch_lag_ms.p98"));
    assert!(!is_optional_metric("validity.early_stop"));
    assert!(!is_optional_metric("monitor.energy_j.low"));
}

#[test]
fn built_in_templates_are_not_strict() {
    for format in [
        ReportFormat::Markdown,
        ReportFormat::Json,
        ReportFormat::Html,
        ReportFormat::Csv,
    ] {
        assert!(!builtin(format).strict);
        render(&builtin(format), &fixed_model()).expect("renders the sparse model");
    }
}

#[test]
fn built_in_templates_copied_as_user_templates_render_in_strict_mode() {
    // A user starts a template from a built-in one: the fields a sparse run
    // lacks (no monitor, no dispatch lag, missing metrics) must not trip
    // strict mode, which is there to catch typos.
    for format in [
        ReportFormat::Markdown,
        ReportFormat::Json,
        ReportFormat::Html,
        ReportFormat::Csv,
    ] {
        let copy = Template {
            strict: true,
            ..builtin(format)
        };
        if let Err(e) = render(&copy, &fixed_model()) {
            panic!("{}: {e}", copy.output);
        }
    }
}

#[test]
fn sort_group_and_distinct() {
    let items = vec![
        json!({"m": "a", "v": {"x": 3}}),
        json!({"m": "b", "v": {"x": null}}),
        json!({"m": "a", "v": {"x": 1}}),
        json!({"m": "c"}),
    ];
    let xs = |list: Vec<serde_json::Value>| -> Vec<String> {
        list.iter()
            .map(|i| i["m"].to_string() + &i["v"]["x"].to_string())
            .collect()
    };
    assert_eq!(
        xs(sort_by(&items, "v.x", false)),
        ["\"a\"1", "\"a\"3", "\"b\"null", "\"c\"null"]
    );
    assert_eq!(
        xs(sort_by(&items, "v.x", true)),
        ["\"a\"3", "\"a\"1", "\"b\"null", "\"c\"null"]
    );
    let groups = group_by(&items, "m");
    assert_eq!(groups.len(), 3);
    assert_eq!(groups[0]["key"], "a");
    assert_eq!(groups[0]["items"].as_array().map(Vec::len), Some(2));
    let text =
        render_fixture("{{#each (distinct cells \"model\")}}{{this}};{{/each}}").expect("renders");
    assert_eq!(text, "qwen3:0.6b;smollm2:360m;");
}

#[test]
fn tables_share_one_algorithm_across_styles() {
    let items = vec![
        json!({"name": "a|b", "v": 1.25}),
        json!({"name": "c", "v": null}),
    ];
    let headers = ["name".to_string(), "value".to_string()];
    let md = table(&items, &["name", "v"], &headers, TableStyle::Markdown, 1);
    assert_eq!(
        md,
        "| name | value |\n|---|---:|\n| a\\|b | 1.2 |\n| c | – |"
    );
    let csv = table(&items, &["name", "v"], &headers, TableStyle::Csv, 2);
    assert_eq!(csv, "name,value\na|b,1.25\nc,");
    let org = table(&items, &["name"], &headers[..1], TableStyle::Org, 1);
    assert_eq!(org, "| name |\n|---|\n| a\\|b |\n| c |");
    let adoc = table(&items, &["v"], &headers[1..], TableStyle::AsciiDoc, 1);
    assert_eq!(
        adoc,
        "[cols=\">1\",options=\"header\"]\n|===\n|value\n\n|1.2\n|–\n|==="
    );
}

#[test]
fn table_helper_reports_bad_arguments() {
    let error = render_fixture("{{table cells \"label\" headers=\"a,b\"}}").expect_err("fails");
    assert!(error.contains("as many headers as paths"), "{error}");
    let error = render_fixture("{{table cells \"label\" style=\"rst\"}}").expect_err("fails");
    assert!(error.contains("style `rst` is unknown"), "{error}");
}

#[test]
fn a_broken_user_template_does_not_stop_the_other_reports() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut templates = select_templates(&[ReportFormat::Markdown, ReportFormat::Csv], Vec::new());
    templates.push(user("line one\n{{#each cells}}{{no_such_field}}{{/each}}"));
    let (written, errors) = write_reports(dir.path(), &templates, &fixture::model());
    let names: Vec<String> = written
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
        .collect();
    assert_eq!(names, ["report.md", "cells.csv"]);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .starts_with("template t.txt (my/t.txt.hbs, line 2): missing field `no_such_field`"),
        "{errors:?}"
    );
}

#[test]
fn user_templates_read_from_disk_are_strict() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("team.adoc.hbs");
    std::fs::write(&path, "{{experiment.name}}").expect("write");
    let template = user_template(&path).expect("reads");
    assert!(template.strict);
    assert_eq!(template.output, "team.adoc");
}

#[test]
fn templates_may_not_write_files_llmbench_owns() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in [
        "requests.jsonl.hbs",
        "manifest.json.hbs",
        "Plan.json.hbs",
        "summary.json.hbs",
        "requests.csv.hbs",
        "server-2.log.hbs",
        "..hbs",
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, "x").expect("write");
        let error = user_template(&path).expect_err(name);
        assert!(matches!(error, TemplateError::Owned { .. }), "{error:?}");
        assert!(
            error.to_string().contains("llmbench writes itself"),
            "{error}"
        );
    }
    // Built-in report names may be replaced on purpose.
    let path = dir.path().join("report.md.hbs");
    std::fs::write(&path, "x").expect("write");
    assert!(user_template(&path).is_ok());
}

#[test]
fn deeply_nested_blocks_are_an_error_not_a_stack_overflow() {
    let depth = 5000;
    let text = format!(
        "{}x{}",
        "{{#if true}}".repeat(depth),
        "{{/if}}".repeat(depth)
    );
    let template = crate::report::Template {
        origin: "deep.txt.hbs".into(),
        output: "deep.txt".into(),
        text,
        strict: true,
    };
    let error = crate::report::render(&template, &serde_json::json!({})).expect_err("too deep");
    assert!(
        matches!(&error, TemplateError::TooDeep(place) if place.line == Some(1)),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("nested more than 64 deep"),
        "{error}"
    );
    // At the limit it still renders.
    let fine = crate::report::Template {
        text: format!("{}x{}", "{{#if true}}".repeat(64), "{{/if}}".repeat(64)),
        ..template
    };
    let rendered = crate::report::render(&fine, &serde_json::json!({})).expect("renders");
    assert_eq!(rendered, "x");
}
