//! Whole-document checks of `load_str`: what resolution fills in, how
//! backends are picked, and what `Source` records. Error messages are
//! covered one mistake at a time in tests/experiment_errors.rs.

use super::*;
use std::path::Path;
use std::time::Duration;

const MINIMAL: &str = r#"
name = "tiny"

[backend]
kind = "ollama"
url = "http://127.0.0.1:11434/"

[[models]]
name = "qwen3:0.6b"

[[prompts]]
id = "hello"
text = "Say hello."
"#;

fn load(text: &str, overrides: &[&str]) -> Result<Experiment, ExperimentError> {
    let overrides: Vec<String> = overrides.iter().map(ToString::to_string).collect();
    load_str(Path::new("experiments/tiny.toml"), text, &overrides)
}

#[test]
fn absent_keys_get_documented_defaults() {
    let experiment = load(MINIMAL, &[]).unwrap();
    let backend = &experiment.backends["default"];
    assert_eq!(backend.url, "http://127.0.0.1:11434");
    assert_eq!(backend.timeout, Duration::from_secs(120));
    assert_eq!(backend.api_key_env, None);
    let model = &experiment.models[0];
    assert_eq!(
        (model.label.as_str(), model.backend.as_str()),
        ("qwen3:0.6b", "default")
    );
    assert_eq!(model.settings, RequestSettings::default());
    assert!(model.options.is_empty());
    assert_eq!(experiment.defaults, RequestSettings::default());
    let run = &experiment.run;
    assert_eq!((run.repetitions, run.warmup), (1, 0));
    assert_eq!(
        run.load,
        [crate::experiment::Load::Closed { concurrency: 1 }]
    );
    assert_eq!(run.ollama_api, OllamaApi::Chat);
    assert_eq!(
        experiment.report.formats,
        vec![ReportFormat::Markdown, ReportFormat::Json]
    );
    assert!(!experiment.report.save_responses);
    assert!(experiment.report.templates.is_empty());
    assert_eq!(
        experiment.prompts[0].defined_in,
        Path::new("experiments/tiny.toml")
    );
}

#[test]
fn source_keeps_the_text_and_overrides() {
    let experiment = load(MINIMAL, &["run.warmup=2"]).unwrap();
    assert_eq!(experiment.source.text, MINIMAL);
    assert_eq!(experiment.source.overrides, vec!["run.warmup=2".to_owned()]);
    assert_eq!(experiment.source.path, Path::new("experiments/tiny.toml"));
    assert_eq!(experiment.run.warmup, 2);
}

#[test]
fn a_single_named_backend_is_the_default() {
    let text = MINIMAL.replace("[backend]", "[backends.gpu]");
    let experiment = load(&text, &[]).unwrap();
    assert_eq!(experiment.models[0].backend, "gpu");
    assert_eq!(experiment.backends["gpu"].name, "gpu");
}

#[test]
fn options_and_inline_settings_are_kept_per_layer() {
    let text = format!(
        "{MINIMAL}\n[defaults]\ntemperature = 0.5\n\n[[models]]\nname = \"big\"\ntemperature = 1\nthink = true\n\
         options = {{ num_ctx = 8192, mirostat = {{ tau = 5.0 }}, tags = [\"a\"] }}\n"
    );
    let experiment = load(&text, &[]).unwrap();
    assert_eq!(experiment.defaults.temperature, Some(0.5));
    let big = &experiment.models[1];
    assert_eq!(big.settings.temperature, Some(1.0));
    assert_eq!(big.settings.think, Some(true));
    let options = serde_json::Value::Object(big.options.clone());
    assert_eq!(
        options,
        serde_json::json!({"num_ctx": 8192, "mirostat": {"tau": 5.0}, "tags": ["a"]})
    );
}

#[test]
fn the_same_model_may_run_on_two_backends() {
    let text = format!("{MINIMAL}\n[backends.remote]\nkind = \"openai\"\nurl = \"https://h\"\n\n[[models]]\nname = \"qwen3:0.6b\"\nbackend = \"remote\"\n");
    let experiment = load(&text, &[]).unwrap();
    assert_eq!(experiment.models.len(), 2);
    assert_eq!(experiment.backends["remote"].kind, BackendKind::Openai);
}

#[test]
fn overrides_are_checked_like_the_file() {
    let error = load(MINIMAL, &["run.concurrency=0"]).unwrap_err();
    assert_eq!(error.file, Path::new("--set run.concurrency=0"));
    assert_eq!(error.key.as_deref(), Some("run.concurrency"));
    assert_eq!((error.line, error.column), (None, None));
}
