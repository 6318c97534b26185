//! Pre-flight and model listing for OpenAI-compatible servers (spec §3.5, §4,
//! §5.4, §5.7, §6). `GET /v1/models` is both the liveness check and the model
//! list (`data` may be `null` when empty); a model matches an entry's `id` or
//! one of its `aliases` (llama.cpp). llama.cpp's `meta` (parameter count,
//! training context, vocabulary, file size) is flattened into the details.
//! The version comes, best effort, from what the `owned_by` field reveals:
//! llama.cpp `GET /props` `build_info`, vLLM `GET /version`, Ollama
//! `GET /api/version`.

use super::client::Backend;
use super::error::{BackendError, PreflightError};
use super::preflight::{list_in, model_infos, wrong_kind_hint, FetchError, ModelInfo, ServerInfo};
use crate::experiment::BackendKind;
use reqwest::Method;
use serde_json::{json, Value};

impl Backend {
    pub(crate) async fn openai_preflight(
        &self,
        client: &reqwest::Client,
        models: &[&str],
    ) -> Result<ServerInfo, PreflightError> {
        let served = self.openai_models(client).await.map_err(|e| match e {
            FetchError::Status {
                status: status @ (404 | 405),
                ..
            } => PreflightError::NotAServer {
                url: self.url().to_string(),
                kind: BackendKind::Openai,
                status,
                hint: wrong_kind_hint(BackendKind::Openai, "it has no /v1/models"),
            },
            other => self.preflight_error(other),
        })?;
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for &model in models {
            match served.iter().find(|info| serves(info, model)) {
                Some(info) => {
                    let mut info = info.clone();
                    if info.id != model {
                        info.details.insert("server_name".into(), json!(info.id));
                        info.id = model.to_string();
                    }
                    found.push(info);
                }
                None => missing.push(model.to_string()),
            }
        }
        if !missing.is_empty() {
            return Err(PreflightError::MissingModels {
                url: self.url().to_string(),
                hint: missing_hint(&missing, &served),
                missing,
                available: served.iter().map(|i| i.id.clone()).collect(),
            });
        }
        Ok(ServerInfo {
            kind: BackendKind::Openai,
            url: self.url().to_string(),
            version: self.openai_version(client, &served).await,
            models: found,
        })
    }

    pub(crate) async fn openai_list(
        &self,
        client: &reqwest::Client,
    ) -> Result<Vec<ModelInfo>, BackendError> {
        Ok(self.openai_models(client).await?)
    }

    async fn openai_models(&self, client: &reqwest::Client) -> Result<Vec<ModelInfo>, FetchError> {
        let reply = self.fetch(client, Method::GET, "/v1/models", None).await?;
        let status = reply.status;
        let object = reply.json_object("/v1/models")?;
        let entries = list_in(&object, "data", "/v1/models", status)?;
        Ok(model_infos(&entries, &["id"], "meta"))
    }

    /// The server's version, if its kind can be recognised and it says.
    async fn openai_version(
        &self,
        client: &reqwest::Client,
        served: &[ModelInfo],
    ) -> Option<String> {
        let (path, key) = match owner(served) {
            Some("llamacpp") => ("/props", "build_info"),
            Some("vllm") => ("/version", "version"),
            Some("library") => ("/api/version", "version"),
            _ if served.iter().any(|m| m.details.contains_key("n_vocab")) => {
                ("/props", "build_info")
            }
            _ => return None,
        };
        let reply = self.fetch(client, Method::GET, path, None).await.ok()?;
        let object = reply.json_object(path).ok()?;
        object.get(key).and_then(Value::as_str).map(str::to_string)
    }
}

/// The first `owned_by` of the served models.
fn owner(served: &[ModelInfo]) -> Option<&str> {
    served
        .iter()
        .find_map(|m| m.details.get("owned_by").and_then(Value::as_str))
}

/// Whether `info` answers to `name` (its id or a llama.cpp alias).
fn serves(info: &ModelInfo, name: &str) -> bool {
    info.id == name
        || matches!(info.details.get("aliases"), Some(Value::Array(aliases))
            if aliases.iter().any(|a| a.as_str() == Some(name)))
}

fn missing_hint(missing: &[String], served: &[ModelInfo]) -> String {
    if served.is_empty() {
        return "The server lists no models (still loading?); check that it was started with a model."
            .to_string();
    }
    let ids: Vec<String> = served.iter().map(|m| format!("`{}`", m.id)).collect();
    let ids = ids.join(", ");
    match owner(served) {
        Some("library") => {
            let commands: Vec<String> = missing.iter().map(|m| format!("`ollama pull {m}`")).collect();
            format!("Run {}.", commands.join(" and "))
        }
        Some("llamacpp") => format!(
            "llama-server serves {ids}: use that as the model name, or restart llama-server with `--alias NAME`."
        ),
        Some("vllm") => format!(
            "vLLM serves {ids}: use that as the model name, or start it with `--served-model-name NAME`."
        ),
        _ => "Use one of the available model ids, or start the server with the model.".to_string(),
    }
}

#[cfg(test)]
#[path = "probe_openai_tests.rs"]
mod tests;
