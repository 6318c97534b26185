//! `llmbench models`: what a server says it serves (and, when it does not
//! answer the protocol asked for, which `--kind` to try).

use super::AppError;
use crate::backend::Backend;
use crate::cli::{exit, KindArg, ModelsArgs};
use crate::experiment::{BackendConfig, BackendKind, OllamaApi};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use std::time::Duration;

pub(crate) async fn models(args: ModelsArgs) -> Result<u8, AppError> {
    let config = BackendConfig {
        name: "cli".into(),
        kind: match args.kind {
            KindArg::Ollama => BackendKind::Ollama,
            KindArg::Openai => BackendKind::Openai,
        },
        url: args.url.trim_end_matches('/').to_string(),
        timeout: Duration::from_secs(30),
        api_key_env: args.api_key_env.clone(),
    };
    let backend = Backend::new(&config, OllamaApi::Chat)
        .map_err(|e| AppError::new(exit::BAD_INPUT, e.to_string()))?;
    let client = reqwest::Client::new();
    let models = backend.list_models(&client).await.map_err(|e| {
        let hint = wrong_kind_hint(&e, args.kind);
        AppError::new(exit::SERVER, format!("{}: {e}{hint}", config.url))
    })?;
    if args.json {
        let text = serde_json::to_string_pretty(&models)
            .map_err(|e| AppError::new(exit::ERROR, e.to_string()))?;
        crate::util::print(&text)?;
        return Ok(exit::OK);
    }
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(["model", "details"]);
    for model in &models {
        let details: Vec<String> = model
            .details
            .iter()
            .map(|(k, v)| format!("{k}: {}", plain(v)))
            .collect();
        table.add_row(vec![model.id.clone(), details.join("\n")]);
    }
    crate::util::print(&table.to_string())?;
    Ok(exit::OK)
}

/// A 404 on the model list means the server speaks the other protocol
/// (llama.cpp or vLLM asked for Ollama's /api/tags, Ollama asked for an
/// OpenAI list it does not have): say which `--kind` to try.
fn wrong_kind_hint(error: &crate::backend::BackendError, kind: KindArg) -> &'static str {
    if !matches!(
        error,
        crate::backend::BackendError::Http { status: 404, .. }
    ) {
        return "";
    }
    match kind {
        KindArg::Ollama => "\nthe server has no /api/tags, so it does not look like Ollama; for llama.cpp, vLLM or another OpenAI-compatible server use --kind openai",
        KindArg::Openai => "\nthe server has no /v1/models, so it does not look OpenAI-compatible; for Ollama use --kind ollama",
    }
}

fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
