use super::*;
use crate::experiment::{
    BackendConfig, BackendKind, Experiment, Load, MatrixPoint, ModelConfig, OllamaApi, Prompt,
    ReportConfig, ReportFormat, RequestSettings, RunConfig, Source,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) fn model(name: &str, max_tokens: Option<u32>) -> ModelConfig {
    ModelConfig {
        name: name.into(),
        label: name.into(),
        backend: "default".into(),
        settings: RequestSettings {
            max_tokens,
            ..Default::default()
        },
        options: serde_json::Map::new(),
        tokenizer: None,
    }
}

pub(crate) fn prompt(id: &str, temperature: Option<f64>) -> Prompt {
    Prompt {
        id: id.into(),
        system: None,
        text: format!("text of {id}"),
        input_tokens: None,
        settings: RequestSettings {
            temperature,
            ..Default::default()
        },
        checks: vec![],
        defined_in: PathBuf::from("x.toml"),
    }
}

pub(crate) fn experiment(models: Vec<ModelConfig>, prompts: Vec<Prompt>) -> Experiment {
    let backend = BackendConfig {
        name: "default".into(),
        kind: BackendKind::Ollama,
        url: "http://127.0.0.1:11434".into(),
        timeout: Duration::from_secs(60),
        api_key_env: None,
    };
    Experiment {
        name: "t".into(),
        description: None,
        source: Source {
            path: "x.toml".into(),
            text: String::new(),
            overrides: vec![],
        },
        backends: BTreeMap::from([("default".to_string(), backend)]),
        models,
        prompts,
        defaults: RequestSettings {
            max_tokens: Some(64),
            temperature: Some(0.5),
            seed: Some(7),
            ..Default::default()
        },
        run: RunConfig {
            repetitions: 3,
            warmup: 1,
            warmup_duration: None,
            mix_prompts: None,
            load: vec![Load::Closed { concurrency: 1 }],
            ollama_api: OllamaApi::Chat,
            cold_repetitions: 0,
            duration: None,
            prompt_nonce: false,
            retry: None,
        },
        report: ReportConfig {
            formats: vec![ReportFormat::Markdown],
            save_responses: false,
            templates: vec![],
        },
        server: None,
        matrix: vec![MatrixPoint::default()],
        slo: None,
        monitor: Default::default(),
        thresholds: vec![],
    }
}

#[test]
fn cells_are_model_major_with_counts() {
    let exp = experiment(
        vec![model("a:1b", None), model("b", None)],
        vec![prompt("p1", None), prompt("p2", None), prompt("p3", None)],
    );
    let plan = plan(&exp);
    let order: Vec<(&str, &str)> = plan
        .cells
        .iter()
        .map(|c| (c.model.as_str(), c.prompt.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            ("a:1b", "p1"),
            ("a:1b", "p2"),
            ("a:1b", "p3"),
            ("b", "p1"),
            ("b", "p2"),
            ("b", "p3")
        ]
    );
    assert_eq!(plan.measured_requests(), 18);
    assert_eq!(plan.total_requests(), 24);
    assert!(plan.cells.iter().enumerate().all(|(i, c)| c.index == i));
}

#[test]
fn the_plan_line_says_what_is_known_of_a_duration_bound_cell() {
    let exp = experiment(vec![model("m", None)], vec![prompt("p", None)]);
    let mut plan = plan(&exp);
    assert_eq!(plan.requests_known(), "3 requests + 1 warmup");
    plan.cells[0].warmup = 200;
    plan.cells[0].duration_s = Some(6.0);
    // Was "1 cell, 201 requests": a duration-bound cell's count is unknown.
    assert_eq!(plan.requests_known(), "200 warmups + 6s");
    plan.cells[0].warmup_s = Some(2.0);
    assert_eq!(plan.requests_known(), "2s of warmup + 6s");
}

#[test]
fn settings_layer_defaults_model_prompt() {
    let exp = experiment(vec![model("m", Some(128))], vec![prompt("p", Some(0.0))]);
    let cell = &plan(&exp).cells[0];
    assert_eq!(
        cell.settings.max_tokens,
        Some(128),
        "model overrides defaults"
    );
    assert_eq!(
        cell.settings.temperature,
        Some(0.0),
        "prompt overrides defaults"
    );
    assert_eq!(cell.settings.seed, Some(7), "defaults fill the rest");
}

#[test]
fn ids_are_stable_and_sensitive_to_settings() {
    let exp = experiment(
        vec![model("qwen2.5-coder:1.5b", None)],
        vec![prompt("p", None)],
    );
    let first = plan(&exp);
    let again = plan(&exp);
    assert_eq!(first, again, "planning is deterministic");
    let id = &first.cells[0].id;
    assert!(id.starts_with("qwen2-5-coder-1-5b.p."), "{id}");
    assert_eq!(id.len(), "qwen2-5-coder-1-5b.p.".len() + 8);

    let changed = experiment(
        vec![model("qwen2.5-coder:1.5b", Some(9))],
        vec![prompt("p", None)],
    );
    assert_ne!(
        plan(&changed).cells[0].id,
        *id,
        "a different max_tokens is a different cell"
    );
}

#[test]
fn slug_keeps_safe_characters_only() {
    assert_eq!(slug("hf.co/org/model:Q4_K_M"), "hf-co-org-model-Q4_K_M");
}
