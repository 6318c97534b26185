//! `Backend`: one configured server, whichever protocol it speaks. It turns a
//! protocol-neutral `GenRequest` into the HTTP request for that server (URL,
//! body, `Authorization`) and hands out a matching decoder; the
//! executor sends the request, feeds the body to the decoder and reads the
//! clock. Pre-flight checks and model listing live in `preflight.rs`. The API
//! key is read from its environment variable once, when the backend is
//! created, so a missing variable fails before any request; it is never
//! printed (`Debug` redacts it).

use super::error::BackendError;
use super::event::Decoder;
use super::http1::Http1;
use super::ollama::{self, NdjsonDecoder};
use super::openai::{self, SseDecoder};
use crate::experiment::{BackendConfig, BackendKind, OllamaApi, RequestSettings};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// One generation request, protocol-neutral.
#[derive(Debug, Clone, Copy)]
pub struct GenRequest<'a> {
    pub model: &'a str,
    pub system: Option<&'a str>,
    pub prompt: &'a str,
    pub settings: &'a RequestSettings,
    /// The model's pass-through options: Ollama `options`, or extra top-level
    /// body fields for OpenAI-compatible servers.
    pub options: &'a Map<String, Value>,
}

/// A configured server.
#[derive(Clone)]
pub struct Backend {
    name: String,
    kind: BackendKind,
    /// As configured (no trailing slash).
    url: String,
    /// The server root every path is appended to: `url` without a trailing
    /// `/`, and for OpenAI-compatible servers without a trailing `/v1`
    /// (people often paste the `…/v1` base URL of OpenAI SDKs).
    root: String,
    ollama_api: OllamaApi,
    timeout: Duration,
    api_key: Option<String>,
    /// The lean client for the generation request on `http://` (shared by
    /// the clones of this backend, with its idle connections).
    http1: Option<Arc<Http1>>,
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("ollama_api", &self.ollama_api)
            .field("timeout", &self.timeout)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Backend {
    /// Reads the API key from the environment variable named in `config`
    /// (an error if the variable is named but unset or empty).
    pub fn new(config: &BackendConfig, ollama_api: OllamaApi) -> Result<Backend, BackendError> {
        let api_key = match &config.api_key_env {
            None => None,
            Some(var) => match std::env::var(var) {
                Ok(key) if !key.trim().is_empty() => Some(key.trim().to_string()),
                Ok(_) => {
                    return Err(BackendError::Config(format!(
                        "backend `{}`: environment variable {var} (api_key_env) is empty; \
                         set it to the server's API key or remove api_key_env",
                        config.name
                    )))
                }
                Err(_) => {
                    return Err(BackendError::Config(format!(
                        "backend `{}`: environment variable {var} (api_key_env) is not set; \
                         export {var}=<key> or remove api_key_env",
                        config.name
                    )))
                }
            },
        };
        let url = config.url.trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(BackendError::Config(format!(
                "backend `{}`: url `{}` must start with http:// or https://",
                config.name, config.url
            )));
        }
        let root = match config.kind {
            BackendKind::Openai => url.strip_suffix("/v1").unwrap_or(&url).to_string(),
            BackendKind::Ollama => url.clone(),
        };
        let mut backend = Backend {
            name: config.name.clone(),
            kind: config.kind,
            url,
            root,
            ollama_api,
            timeout: config.timeout,
            api_key,
            http1: None,
        };
        backend.http1 = Http1::for_endpoint(&backend.endpoint()).map(Arc::new);
        Ok(backend)
    }

    pub(crate) fn kind(&self) -> BackendKind {
        self.kind
    }

    /// The base URL as configured (without a trailing slash).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The backend's name in the experiment.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The configured whole-request timeout (applied by the executor).
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The full URL of the generation endpoint.
    pub(crate) fn endpoint(&self) -> String {
        match self.kind {
            BackendKind::Ollama => self.endpoint_for(ollama::path(self.ollama_api)),
            BackendKind::Openai => self.endpoint_for(openai::CHAT_PATH),
        }
    }

    /// The JSON body `request` sends (also useful for dry runs and logs).
    pub fn body(&self, req: &GenRequest) -> Value {
        match self.kind {
            BackendKind::Ollama => ollama::body(self.ollama_api, req),
            BackendKind::Openai => openai::body(req),
        }
    }

    /// The streaming generation request: Ollama `/api/chat` or
    /// `/api/generate`; OpenAI `/v1/chat/completions` with `stream:true` and
    /// `stream_options.include_usage:true`. Carries the bearer key when one is
    /// configured. No timeout is set: the executor owns the clock and applies
    /// `timeout()` around the whole exchange.
    pub(crate) fn request(
        &self,
        client: &reqwest::Client,
        req: &GenRequest,
    ) -> reqwest::RequestBuilder {
        let builder = client
            .post(self.endpoint())
            .header(reqwest::header::ACCEPT, self.accept())
            .json(&self.body(req));
        self.authorize(builder)
    }

    /// The lean HTTP/1.1 client for the generation request, when the
    /// backend is plain `http://` without a proxy (else reqwest sends it).
    pub(crate) fn http1(&self) -> Option<&Http1> {
        self.http1.as_deref()
    }

    /// The bytes of the same request as `request`, for the lean client.
    pub(crate) fn http1_request(&self, http: &Http1, req: &GenRequest) -> Vec<u8> {
        // Serialising a `Value` cannot fail (its keys are strings).
        let body = serde_json::to_vec(&self.body(req)).unwrap_or_default();
        let authorization = self.api_key.as_ref().map(|key| format!("Bearer {key}"));
        http.request(self.accept(), authorization.as_deref(), &body)
    }

    fn accept(&self) -> &'static str {
        match self.kind {
            BackendKind::Ollama => "application/x-ndjson",
            BackendKind::Openai => "text/event-stream",
        }
    }

    /// A fresh decoder for one response body.
    pub fn decoder(&self) -> Box<dyn Decoder> {
        match self.kind {
            BackendKind::Ollama => Box::new(NdjsonDecoder::new()),
            BackendKind::Openai => Box::new(SseDecoder::new()),
        }
    }

    pub(crate) fn endpoint_for(&self, path: &str) -> String {
        format!("{}{path}", self.root)
    }

    pub(crate) fn authorize(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }

    /// `text` with every occurrence of the API key replaced by
    /// [`REDACTED_KEY`]: a server may echo the Authorization header in an
    /// error body, and nothing llmbench writes may hold the key.
    pub(crate) fn redact(&self, text: &str) -> String {
        match self.api_key.as_deref() {
            Some(key) if text.contains(key) => text.replace(key, REDACTED_KEY),
            _ => text.to_string(),
        }
    }

    /// Whether `text` holds the API key (then [`Backend::redact`] it).
    pub(crate) fn leaks_key(&self, text: &str) -> bool {
        self.api_key
            .as_deref()
            .is_some_and(|key| text.contains(key))
    }

    pub(crate) fn has_api_key(&self) -> bool {
        self.api_key.is_some()
    }

    pub(crate) fn api_key_env_hint(&self) -> &'static str {
        if self.has_api_key() {
            "check that the key in api_key_env is valid for this server"
        } else {
            "set backend.api_key_env to the name of an environment variable holding the key"
        }
    }
}

/// What stands in for the API key wherever llmbench writes.
pub const REDACTED_KEY: &str = "[redacted api key]";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::testutil::{config, request_fixture};
    use serde_json::json;

    #[test]
    fn debug_does_not_print_the_key() {
        std::env::set_var("LLMBENCH_TEST_KEY_DEBUG", "sk-secret-123");
        let mut cfg = config(BackendKind::Openai, "http://127.0.0.1:8080/v1/");
        cfg.api_key_env = Some("LLMBENCH_TEST_KEY_DEBUG".into());
        let backend = Backend::new(&cfg, OllamaApi::Chat).unwrap();
        let shown = format!("{backend:?}");
        assert!(!shown.contains("sk-secret"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert_eq!(backend.url(), "http://127.0.0.1:8080/v1");
        assert_eq!(
            backend.endpoint(),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
    }

    #[test]
    fn missing_key_variable_is_a_config_error() {
        let mut cfg = config(BackendKind::Openai, "http://h:1");
        cfg.api_key_env = Some("LLMBENCH_TEST_KEY_SURELY_UNSET".into());
        let err = Backend::new(&cfg, OllamaApi::Chat).unwrap_err();
        assert!(
            matches!(&err, BackendError::Config(m) if m.contains("LLMBENCH_TEST_KEY_SURELY_UNSET"))
        );
        std::env::set_var("LLMBENCH_TEST_KEY_EMPTY", " ");
        cfg.api_key_env = Some("LLMBENCH_TEST_KEY_EMPTY".into());
        assert!(Backend::new(&cfg, OllamaApi::Chat).is_err());
        let bad = config(BackendKind::Ollama, "localhost:11434");
        assert!(matches!(
            Backend::new(&bad, OllamaApi::Chat),
            Err(BackendError::Config(_))
        ));
    }

    #[test]
    fn request_carries_url_body_and_auth() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let (settings, options) = request_fixture();
        let req = GenRequest {
            model: "smollm2",
            system: None,
            prompt: "Hi",
            settings: &settings,
            options: &options,
        };

        std::env::set_var("LLMBENCH_TEST_KEY_REQ", "k123");
        let mut cfg = config(BackendKind::Openai, "http://127.0.0.1:8080");
        cfg.api_key_env = Some("LLMBENCH_TEST_KEY_REQ".into());
        let backend = Backend::new(&cfg, OllamaApi::Chat).unwrap();
        let built = backend.request(&client, &req).build().unwrap();
        assert_eq!(
            built.url().as_str(),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert_eq!(built.headers()["authorization"], "Bearer k123");
        assert_eq!(built.headers()["content-type"], "application/json");
        assert_eq!(built.timeout(), None);
        let sent: Value =
            serde_json::from_slice(built.body().unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!(sent["stream_options"], json!({"include_usage": true}));
        assert_eq!(sent["max_tokens"], json!(64));

        let backend = Backend::new(
            &config(BackendKind::Ollama, "http://h:11434/"),
            OllamaApi::Generate,
        )
        .unwrap();
        let built = backend.request(&client, &req).build().unwrap();
        assert_eq!(built.url().as_str(), "http://h:11434/api/generate");
        assert!(built.headers().get("authorization").is_none());
        let sent: Value =
            serde_json::from_slice(built.body().unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!(sent["prompt"], json!("Hi"));
        assert_eq!(sent["options"]["num_predict"], json!(64));
    }
}
