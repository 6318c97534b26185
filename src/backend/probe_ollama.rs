//! Pre-flight and model listing for Ollama (spec §2). Liveness is
//! `GET /api/version` (falling back to `GET /`, which answers "Ollama is
//! running"); models come from `GET /api/tags`, matched the way Ollama does
//! (case-insensitive, a missing tag meaning `:latest`); details from
//! `POST /api/show` are best effort: the exact parameter count and training
//! context length from `model_info`, capabilities and Modelfile parameters.
//! A missing model's hint is the `ollama pull` command to run.

use super::client::Backend;
use super::error::{BackendError, PreflightError};
use super::preflight::{list_in, model_infos, wrong_kind_hint, FetchError, ModelInfo, ServerInfo};
use crate::experiment::BackendKind;
use futures_util::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::{json, Map, Value};

/// How many `/api/show` requests run at once.
const SHOW_CONCURRENCY: usize = 4;

impl Backend {
    pub(crate) async fn ollama_preflight(
        &self,
        client: &reqwest::Client,
        models: &[&str],
    ) -> Result<ServerInfo, PreflightError> {
        let version = self.ollama_version(client).await?;
        let installed = self
            .ollama_tags(client)
            .await
            .map_err(|e| self.preflight_error(e))?;
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for &model in models {
            match installed.iter().find(|info| same_model(model, &info.id)) {
                Some(info) => found.push((model, info.clone())),
                None => missing.push(model.to_string()),
            }
        }
        if !missing.is_empty() {
            let available: Vec<String> = installed.iter().map(|i| i.id.clone()).collect();
            return Err(PreflightError::MissingModels {
                url: self.url().to_string(),
                hint: pull_hint(&missing, &available),
                missing,
                available,
            });
        }
        let models = stream::iter(found)
            .map(|(requested, mut info)| async move {
                self.ollama_show(client, &info.id, &mut info.details).await;
                if info.id != requested {
                    info.details.insert("server_name".into(), json!(info.id));
                    info.id = requested.to_string();
                }
                info
            })
            .buffered(SHOW_CONCURRENCY)
            .collect()
            .await;
        Ok(ServerInfo {
            kind: BackendKind::Ollama,
            url: self.url().to_string(),
            version,
            models,
        })
    }

    pub(crate) async fn ollama_list(
        &self,
        client: &reqwest::Client,
    ) -> Result<Vec<ModelInfo>, BackendError> {
        let installed = self.ollama_tags(client).await?;
        Ok(stream::iter(installed)
            .map(|mut info| async move {
                self.ollama_show(client, &info.id, &mut info.details).await;
                info
            })
            .buffered(SHOW_CONCURRENCY)
            .collect()
            .await)
    }

    /// `Some(version)`, or `None` for a server that only answers `GET /`.
    async fn ollama_version(
        &self,
        client: &reqwest::Client,
    ) -> Result<Option<String>, PreflightError> {
        let reply = self
            .fetch(client, Method::GET, "/api/version", None)
            .await
            .map_err(|e| self.preflight_error(e))?;
        let status = reply.status;
        if matches!(status, 401 | 403) {
            return Err(self.preflight_error(FetchError::Status {
                status,
                body: reply.body,
            }));
        }
        if (200..300).contains(&status) {
            return match reply.json_object("/api/version") {
                Ok(object) => Ok(object
                    .get("version")
                    .and_then(Value::as_str)
                    .map(str::to_string)),
                Err(_) => Err(self.not_ollama(status, "/api/version did not return Ollama's JSON")),
            };
        }
        // Not there (a proxy, a very old build?): the root banner will do.
        let root = self
            .fetch(client, Method::GET, "/", None)
            .await
            .map_err(|e| self.preflight_error(e))?;
        if (200..300).contains(&root.status)
            && String::from_utf8_lossy(&root.body).contains("Ollama is running")
        {
            return Ok(None);
        }
        Err(self.not_ollama(status, "/api/version and / do not answer like Ollama"))
    }

    fn not_ollama(&self, status: u16, what: &str) -> PreflightError {
        PreflightError::NotAServer {
            url: self.url().to_string(),
            kind: BackendKind::Ollama,
            status,
            hint: wrong_kind_hint(BackendKind::Ollama, what),
        }
    }

    async fn ollama_tags(&self, client: &reqwest::Client) -> Result<Vec<ModelInfo>, FetchError> {
        let reply = self.fetch(client, Method::GET, "/api/tags", None).await?;
        let status = reply.status;
        let object = reply.json_object("/api/tags")?;
        let entries = list_in(&object, "models", "/api/tags", status)?;
        Ok(model_infos(&entries, &["name", "model"], "details"))
    }

    /// Adds what `/api/show` says to `details`; failures are ignored.
    async fn ollama_show(
        &self,
        client: &reqwest::Client,
        model: &str,
        details: &mut Map<String, Value>,
    ) {
        let body = json!({ "model": model });
        let Ok(reply) = self
            .fetch(client, Method::POST, "/api/show", Some(&body))
            .await
        else {
            return;
        };
        let Ok(show) = reply.json_object("/api/show") else {
            return;
        };
        add_show_details(&show, details);
    }
}

/// Picks the benchmark-relevant facts out of an `/api/show` reply.
fn add_show_details(show: &Map<String, Value>, details: &mut Map<String, Value>) {
    for key in ["capabilities", "parameters"] {
        if let Some(value) = show.get(key).filter(|v| !v.is_null()) {
            details.insert(key.into(), value.clone());
        }
    }
    let Some(Value::Object(info)) = show.get("model_info") else {
        return;
    };
    let arch = info.get("general.architecture").and_then(Value::as_str);
    if let Some(arch) = arch {
        details.insert("architecture".into(), json!(arch));
    }
    if let Some(n) = info
        .get("general.parameter_count")
        .filter(|v| v.is_number())
    {
        details.insert("n_params".into(), n.clone());
    }
    let by_arch = |suffix: &str| {
        arch.and_then(|a| info.get(&format!("{a}.{suffix}")))
            .filter(|v| v.is_number())
            .cloned()
    };
    let context = by_arch("context_length").or_else(|| {
        info.iter()
            .find(|(k, v)| k.ends_with(".context_length") && v.is_number())
            .map(|(_, v)| v.clone())
    });
    for (key, value) in [
        ("n_ctx_train", context),
        ("n_embd", by_arch("embedding_length")),
        ("n_layer", by_arch("block_count")),
    ] {
        if let Some(value) = value {
            details.insert(key.into(), value);
        }
    }
}

/// Ollama's matching: case-insensitive, and `name` means `name:latest`.
fn same_model(requested: &str, installed: &str) -> bool {
    normalize(requested) == normalize(installed)
}

fn normalize(name: &str) -> String {
    let mut name = name.trim().to_lowercase();
    let last = name.rsplit('/').next().unwrap_or("");
    if !last.contains(':') {
        name.push_str(":latest");
    }
    name
}

/// "run `ollama pull a`", plus installed tags of the same model.
fn pull_hint(missing: &[String], available: &[String]) -> String {
    let commands: Vec<String> = missing
        .iter()
        .map(|m| format!("`ollama pull {m}`"))
        .collect();
    let mut hint = format!("Run {}", commands.join(" and "));
    let base = |name: &str| {
        let name = normalize(name);
        name.rsplit_once(':')
            .map_or(name.clone(), |(base, _)| base.to_string())
    };
    for name in missing {
        let similar: Vec<&str> = available
            .iter()
            .filter(|a| base(a) == base(name))
            .map(String::as_str)
            .collect();
        if !similar.is_empty() {
            hint.push_str(&format!(
                ", or use the installed {} instead of `{name}`",
                similar
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(" / ")
            ));
        }
    }
    hint.push('.');
    hint
}

#[cfg(test)]
#[path = "probe_ollama_tests.rs"]
mod tests;
