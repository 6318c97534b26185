//! Model lifecycle on Ollama (spec §1.6, §2.4): unloading a model for a cold
//! start (`keep_alive: 0` with no prompt) and asking what is loaded, with how
//! much of it in VRAM (`/api/ps`). OpenAI-compatible servers have neither.

use super::client::Backend;
use super::error::BackendError;
use crate::experiment::BackendKind;
use reqwest::Method;
use serde_json::{json, Value};

impl Backend {
    /// Unloads `model` now. Ollama answers `done_reason: "unload"`.
    pub(crate) async fn unload(
        &self,
        client: &reqwest::Client,
        model: &str,
    ) -> Result<(), BackendError> {
        self.require_ollama("unloading a model")?;
        let body = json!({ "model": model, "keep_alive": 0 });
        let reply = self
            .fetch(client, Method::POST, "/api/generate", Some(&body))
            .await?;
        let object = reply.json_object("/api/generate")?;
        match object.get("done_reason").and_then(Value::as_str) {
            Some("unload") => Ok(()),
            other => Err(BackendError::Protocol(format!(
                "unload of {model} answered done_reason {other:?}, expected \"unload\""
            ))),
        }
    }

    /// Waits until `/api/ps` no longer lists `model` (Ollama answers the
    /// unload request before the runner is gone, so a request sent at once
    /// can still find the model loaded). False when it is still listed
    /// after `timeout`.
    pub(crate) async fn wait_until_unloaded(
        &self,
        client: &reqwest::Client,
        model: &str,
        timeout: std::time::Duration,
    ) -> Result<bool, BackendError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let loaded = self.loaded_models(client).await?;
            if !loaded.iter().any(|entry| lists(entry, model)) {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(UNLOAD_POLL).await;
        }
    }

    /// `/api/ps`: the loaded models with `size`, `size_vram` and, added here,
    /// `offload_fraction` (share of the model in VRAM, 0..1).
    pub(crate) async fn loaded_models(
        &self,
        client: &reqwest::Client,
    ) -> Result<Vec<Value>, BackendError> {
        self.require_ollama("listing loaded models")?;
        let reply = self.fetch(client, Method::GET, "/api/ps", None).await?;
        let object = reply.json_object("/api/ps")?;
        let models = object
            .get("models")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(models.into_iter().map(with_offload_fraction).collect())
    }

    fn require_ollama(&self, what: &str) -> Result<(), BackendError> {
        match self.kind() {
            BackendKind::Ollama => Ok(()),
            BackendKind::Openai => Err(BackendError::Config(format!(
                "{what} needs an Ollama backend; `{}` is OpenAI-compatible",
                self.name()
            ))),
        }
    }
}

/// How often `/api/ps` is asked while waiting for an unload.
const UNLOAD_POLL: std::time::Duration = std::time::Duration::from_millis(25);

/// Whether an `/api/ps` entry is `model` (a missing tag means `:latest`).
pub(crate) fn lists(entry: &Value, model: &str) -> bool {
    entry["name"].as_str().is_some_and(|name| {
        name.eq_ignore_ascii_case(model) || name.eq_ignore_ascii_case(&format!("{model}:latest"))
    })
}

fn with_offload_fraction(mut entry: Value) -> Value {
    let size = entry.get("size").and_then(Value::as_f64);
    let vram = entry.get("size_vram").and_then(Value::as_f64);
    if let (Some(size), Some(vram), Some(object)) = (size, vram, entry.as_object_mut()) {
        if size > 0.0 {
            object.insert("offload_fraction".into(), json!(vram / size));
        }
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offload_fraction_is_the_vram_share() {
        let entry = with_offload_fraction(json!({"name": "m", "size": 1000, "size_vram": 250}));
        assert_eq!(entry["offload_fraction"], 0.25);
        let cpu_only = with_offload_fraction(json!({"name": "m", "size": 1000, "size_vram": 0}));
        assert_eq!(cpu_only["offload_fraction"], 0.0);
        assert!(with_offload_fraction(json!({"name": "m"}))
            .get("offload_fraction")
            .is_none());
    }
}
