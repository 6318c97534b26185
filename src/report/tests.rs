use super::*;
use crate::aggregate::aggregate;
use crate::backend::ServerStats;
use crate::experiment::RequestSettings;
use crate::plan::{Cell, Plan};
use crate::record::{ErrorKind, Outcome, Record, Timing, TokenCounts};
use crate::store::{Environment, RunManifest};

fn fixed_model() -> ReportModel {
    let cell = Cell {
        index: 0,
        id: "m.p.0000abcd".into(),
        model: "m".into(),
        label: "Model <M>".into(),
        backend: "default".into(),
        prompt: "p".into(),
        system: None,
        text: "t".into(),
        settings: RequestSettings::default(),
        options: serde_json::Map::new(),
        load: crate::experiment::Load::Closed { concurrency: 1 },
        matrix: vec![],
        checks: vec![],
        repetitions: 2,
        warmup: 0,
    };
    let plan = Plan {
        experiment: "exp".into(),
        cells: vec![cell],
        cold_repetitions: 0,
        slo: None,
    };
    let server = ServerStats {
        completion_tokens: Some(11),
        ..Default::default()
    };
    let ok = Record {
        cell: "m.p.0000abcd".into(),
        model: "m".into(),
        prompt: "p".into(),
        repetition: 0,
        warmup: false,
        cold: false,
        started_at: "2026-01-01T00:00:00Z".into(),
        run_offset_ms: 0.0,
        outcome: Outcome::Ok,
        http_status: Some(200),
        retries: 0,
        timing: Timing {
            ttft_ms: Some(120.0),
            e2e_ms: Some(1120.0),
            chunk_offsets_ms: vec![120.0, 1120.0],
            ..Default::default()
        },
        finish_reason: Some("stop".into()),
        tokens: TokenCounts::from_server(&server),
        server,
        output_chars: 5,
        reasoning_chars: 0,
    };
    let mut failed = ok.clone();
    failed.repetition = 1;
    failed.outcome = Outcome::Error {
        kind: ErrorKind::Http,
        message: "HTTP 503: server busy".into(),
    };
    let summary = aggregate(&plan, &[ok, failed], 0);
    let manifest = RunManifest {
        llmbench_version: "0.0.0".into(),
        run_id: "abc123".into(),
        experiment: "exp".into(),
        description: Some("a description".into()),
        experiment_path: "experiments/exp.toml".into(),
        experiment_sha256: "00".into(),
        overrides: vec!["run.repetitions=2".into()],
        git: None,
        started_at: "2026-01-01T00:00:00Z".into(),
        finished_at: Some("2026-01-01T00:01:00Z".into()),
        status: "complete".into(),
        environment: Environment::default(),
        servers: serde_json::json!({}),
        managed_server: None,
        loaded_models: Default::default(),
        monitor: None,
        tokenizers: serde_json::Value::Null,
    };
    ReportModel::new(&manifest, summary, "benchmarks/exp/run")
}

#[test]
fn markdown_report_shows_cells_statistics_errors_and_glossary() {
    let text = render(&builtin(ReportFormat::Markdown), &fixed_model()).expect("renders");
    assert!(text.starts_with("# exp\n"), "{text}");
    assert!(
        text.contains("| Model <M> | p | 1/2 | 120.0 |"),
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
    };
    let error = render(&broken, &fixed_model()).expect_err("fails");
    assert!(
        error.starts_with("template t (my/t.hbs, line 4): invalid handlebars syntax"),
        "{error}"
    );
}
