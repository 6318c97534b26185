//! Pre-flight checks and model listing, common part. Before a run sends any
//! generation request, `Backend::preflight` asks the server whether it is up
//! and has every model (Ollama: `/api/version` then `/api/tags`; OpenAI:
//! `/v1/models`) and records what it reports (version, sizes, quantization,
//! parameter counts, training context). The per-protocol probes are in
//! `probe_ollama.rs` and `probe_openai.rs`; this file holds the result types,
//! the dispatch and the small GET/POST helper they share. Probe requests use
//! the backend's timeout capped at 30 s.

use super::client::Backend;
use super::error::{describe, error_message, server_name, BackendError, PreflightError};
use crate::experiment::BackendKind;
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Duration;

/// What the server said about itself during pre-flight.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerInfo {
    pub kind: BackendKind,
    pub url: String,
    /// Ollama `/api/version`; llama.cpp `/props` `build_info`; vLLM
    /// `/version` — when the server tells.
    pub version: Option<String>,
    /// From `preflight`: one entry per requested model, in request order,
    /// `id` being the requested name (`server_name` in `details` when the
    /// server calls it differently, e.g. an added `:latest` or an alias).
    pub models: Vec<ModelInfo>,
}

/// One model and whatever the server reports about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    pub id: String,
    /// Ollama: `size`, `digest`, `modified_at`, `family`, `parameter_size`,
    /// `quantization_level`, `format`, … from `/api/tags`, plus from
    /// `/api/show` `architecture`, `n_params`, `n_ctx_train`, `n_embd`,
    /// `n_layer`, `capabilities`, `parameters`. OpenAI: the `/v1/models`
    /// entry (`owned_by`, `created`, `aliases`) with llama.cpp's `meta`
    /// flattened in (`n_params`, `n_ctx_train`, `n_vocab`, `size`, …).
    pub details: Map<String, Value>,
}

impl Backend {
    /// Before sending anything: is the server up (Ollama: `GET /api/version`,
    /// else `GET /`; OpenAI: `GET /v1/models`), and does it have each model?
    /// Returns the server's facts about itself and the requested models.
    pub(crate) async fn preflight(
        &self,
        client: &reqwest::Client,
        models: &[&str],
    ) -> Result<ServerInfo, PreflightError> {
        let mut wanted: Vec<&str> = Vec::with_capacity(models.len());
        for &model in models {
            if !wanted.contains(&model) {
                wanted.push(model);
            }
        }
        match self.kind() {
            BackendKind::Ollama => self.ollama_preflight(client, &wanted).await,
            BackendKind::Openai => self.openai_preflight(client, &wanted).await,
        }
    }

    /// The server's models with what it reports (Ollama `/api/tags` plus
    /// `/api/show` for each; OpenAI `/v1/models` incl. llama.cpp `meta`).
    pub(crate) async fn list_models(
        &self,
        client: &reqwest::Client,
    ) -> Result<Vec<ModelInfo>, BackendError> {
        match self.kind() {
            BackendKind::Ollama => self.ollama_list(client).await,
            BackendKind::Openai => self.openai_list(client).await,
        }
    }

    /// One probe request; the whole reply body is read.
    pub(crate) async fn fetch(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, FetchError> {
        let timeout = self.timeout().min(Duration::from_secs(30));
        let mut builder = client
            .request(method, self.endpoint_for(path))
            .timeout(timeout);
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let response = self
            .authorize(builder)
            .send()
            .await
            .map_err(FetchError::Transport)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(FetchError::Transport)?;
        Ok(Reply { status, body })
    }

    /// A probe reply that could not be used, as a pre-flight error.
    pub(crate) fn preflight_error(&self, error: FetchError) -> PreflightError {
        let url = self.url().to_string();
        match error {
            FetchError::Transport(e) => PreflightError::Unreachable {
                url,
                kind: self.kind(),
                reason: if e.is_timeout() {
                    format!(
                        "no answer within {}s",
                        self.timeout().min(Duration::from_secs(30)).as_secs()
                    )
                } else {
                    describe(&e)
                },
            },
            FetchError::Status {
                status: status @ (401 | 403),
                body,
            } => PreflightError::Unauthorized {
                url,
                status,
                message: error_message(&body),
                hint: self.api_key_env_hint().to_string(),
            },
            FetchError::Status { status, body } => PreflightError::Server {
                url,
                status,
                message: error_message(&body),
                hint: match status {
                    503 => {
                        "the server is not ready (still loading a model, or busy); wait and retry"
                    }
                    _ => "check the server's log",
                }
                .to_string(),
            },
            FetchError::Malformed { status, what } => PreflightError::NotAServer {
                url,
                kind: self.kind(),
                status,
                hint: wrong_kind_hint(self.kind(), &what),
            },
        }
    }
}

/// A probe's HTTP reply.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    /// The body as a JSON object, if the status is 2xx.
    pub(crate) fn json_object(self, path: &str) -> Result<Map<String, Value>, FetchError> {
        if !(200..300).contains(&self.status) {
            return Err(FetchError::Status {
                status: self.status,
                body: self.body,
            });
        }
        match serde_json::from_slice(&self.body) {
            Ok(Value::Object(object)) => Ok(object),
            _ => Err(FetchError::Malformed {
                status: self.status,
                what: format!("{path} did not return a JSON object"),
            }),
        }
    }
}

/// Why a probe failed.
#[derive(Debug)]
pub(crate) enum FetchError {
    Transport(reqwest::Error),
    Status { status: u16, body: Bytes },
    Malformed { status: u16, what: String },
}

impl From<FetchError> for BackendError {
    fn from(error: FetchError) -> BackendError {
        match error {
            FetchError::Transport(e) => BackendError::from_reqwest(&e),
            FetchError::Status { status, body } => BackendError::from_status(status, &body),
            FetchError::Malformed { what, .. } => BackendError::Protocol(what),
        }
    }
}

/// `entries` (JSON objects) as `ModelInfo`s: the id from `id_key`, the other
/// keys as details, with the object under `flatten` (if any) merged in
/// without overwriting.
pub(crate) fn model_infos(entries: &[Value], id_keys: &[&str], flatten: &str) -> Vec<ModelInfo> {
    let mut infos = Vec::with_capacity(entries.len());
    for entry in entries {
        let Value::Object(entry) = entry else {
            continue;
        };
        let Some(id) = id_keys
            .iter()
            .find_map(|k| entry.get(*k).and_then(Value::as_str))
        else {
            continue;
        };
        let mut details = entry.clone();
        for key in id_keys {
            details.remove(*key);
        }
        if let Some(Value::Object(inner)) = details.remove(flatten) {
            for (key, value) in inner {
                details.entry(key).or_insert(value);
            }
        }
        infos.push(ModelInfo {
            id: id.to_string(),
            details,
        });
    }
    infos
}

/// The list under `key` (`null` reads as empty).
pub(crate) fn list_in(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
    status: u16,
) -> Result<Vec<Value>, FetchError> {
    match object.get(key) {
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(Value::Null) => Ok(Vec::new()),
        _ => Err(FetchError::Malformed {
            status,
            what: format!("{path} has no `{key}` list"),
        }),
    }
}

/// The hint for a server that answers but is not of the configured kind.
pub(crate) fn wrong_kind_hint(kind: BackendKind, what: &str) -> String {
    let other = match kind {
        BackendKind::Ollama => "if it is llama-server or vLLM, set backend.kind = \"openai\"",
        BackendKind::Openai => "for Ollama's native API set backend.kind = \"ollama\"",
    };
    format!(
        "{what}; check backend.url (the server root, e.g. http://127.0.0.1:11434), or, {other} (expected {})",
        server_name(kind)
    )
}
