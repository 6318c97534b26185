//! Backend errors, written for the person running the benchmark: each message
//! names the URL and says what to do. `error_message` pulls the human text out
//! of the error bodies the servers send (Ollama `{"error":"…"}`, OpenAI /
//! llama.cpp / vLLM `{"error":{"message":…}}`, old vLLM flat
//! `{"object":"error","message":…}`, FastAPI `{"detail":…}`), falling back to
//! the start of the body. `BackendError::from_reqwest` and `from_status` map
//! transport failures and non-2xx replies for the executor.

use crate::experiment::BackendKind;
use serde_json::Value;
use std::fmt;

/// A failed backend call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackendError {
    /// Could not connect or the connection broke.
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("the request timed out")]
    Timeout,
    /// The server answered with a non-success status.
    #[error("HTTP {status}: {message}")]
    Http { status: u16, message: String },
    /// The server's reply did not follow the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The backend configuration cannot work (unset key variable, bad URL).
    #[error("{0}")]
    Config(String),
}

impl BackendError {
    /// Classifies a reqwest failure (timeout, connect, body decoding).
    pub(crate) fn from_reqwest(error: &reqwest::Error) -> BackendError {
        if error.is_timeout() {
            BackendError::Timeout
        } else if error.is_decode() {
            BackendError::Protocol(describe(error))
        } else {
            BackendError::Connect(describe(error))
        }
    }

    /// A non-success reply, with the message extracted from its body.
    pub(crate) fn from_status(status: u16, body: &[u8]) -> BackendError {
        BackendError::Http {
            status,
            message: error_message(body),
        }
    }
}

/// A reqwest error with its causes ("error sending request …: connection
/// refused"), which is where the useful part is.
pub(crate) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Extracts the human message from an error body; otherwise returns the body
/// text, truncated to 500 characters.
pub(crate) fn error_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        if let Some(message) = message_in(&value) {
            return message;
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty response body)".to_string();
    }
    match text.char_indices().nth(500) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

fn message_in(value: &Value) -> Option<String> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    match value.get("error") {
        Some(Value::String(s)) => return Some(s.clone()),
        Some(Value::Object(o)) => {
            if let Some(message) = o.get("message").and_then(text) {
                return Some(message);
            }
        }
        _ => {}
    }
    value
        .get("message")
        .and_then(text)
        .or_else(|| value.get("detail").and_then(text))
}

/// Why a pre-flight check failed. The `Display` text tells the user what to do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PreflightError {
    /// Nothing answered at the URL.
    Unreachable {
        url: String,
        kind: BackendKind,
        reason: String,
    },
    /// Something answered, but not the expected kind of server.
    NotAServer {
        url: String,
        kind: BackendKind,
        status: u16,
        hint: String,
    },
    /// The server refused our credentials.
    Unauthorized {
        url: String,
        status: u16,
        message: String,
        hint: String,
    },
    /// The server is there but failed the check (e.g. still loading).
    Server {
        url: String,
        status: u16,
        message: String,
        hint: String,
    },
    /// Requested models the server does not have.
    MissingModels {
        url: String,
        missing: Vec<String>,
        available: Vec<String>,
        hint: String,
    },
}

pub(crate) fn server_name(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Ollama => "Ollama",
        BackendKind::Openai => "an OpenAI-compatible server",
    }
}

impl fmt::Display for PreflightError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PreflightError::Unreachable { url, kind, reason } => {
                write!(
                    f,
                    "cannot reach {} at {url}: {reason}; ",
                    server_name(*kind)
                )?;
                match kind {
                    BackendKind::Ollama => f.write_str(
                        "is Ollama running? start it with `ollama serve`, or set backend.url",
                    ),
                    BackendKind::Openai => f.write_str(
                        "is the server running (e.g. `llama-server -m MODEL.gguf --port PORT`, \
                         `vllm serve MODEL`)? start it, or set backend.url",
                    ),
                }
            }
            PreflightError::NotAServer {
                url,
                kind,
                status,
                hint,
            } => write!(
                f,
                "{url} answered (HTTP {status}) but does not look like {}; {hint}",
                server_name(*kind)
            ),
            PreflightError::Unauthorized {
                url,
                status,
                message,
                hint,
            } => write!(
                f,
                "{url} refused the request (HTTP {status}: {message}); {hint}"
            ),
            PreflightError::Server {
                url,
                status,
                message,
                hint,
            } => write!(f, "{url} answered HTTP {status}: {message}; {hint}"),
            PreflightError::MissingModels {
                url,
                missing,
                available,
                hint,
            } => {
                let plural = if missing.len() == 1 { "" } else { "s" };
                write!(f, "{url} does not have model{plural} {}. ", quoted(missing))?;
                if available.is_empty() {
                    f.write_str("It has no models. ")?;
                } else {
                    write!(f, "Available: {}. ", quoted(available))?;
                }
                f.write_str(hint)
            }
        }
    }
}

impl std::error::Error for PreflightError {}

fn quoted(names: &[String]) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_shapes() {
        assert_eq!(
            error_message(br#"{"error":"model 'nope' not found"}"#),
            "model 'nope' not found"
        );
        assert_eq!(
            error_message(
                br#"{"error":{"message":"model 'nope' not found","type":"not_found_error","param":null,"code":null}}"#
            ),
            "model 'nope' not found"
        );
        assert_eq!(
            error_message(
                br#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#
            ),
            "Loading model"
        );
        assert_eq!(
            error_message(br#"{"error":{"code":"invalid_api_key","message":"Incorrect API key"}}"#),
            "Incorrect API key"
        );
        assert_eq!(
            error_message(br#"{"object":"error","message":"The model `x` does not exist.","type":"NotFoundError","param":null,"code":404}"#),
            "The model `x` does not exist."
        );
        assert_eq!(error_message(br#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(error_message(b"404 page not found"), "404 page not found");
        assert_eq!(error_message(b"  \n"), "(empty response body)");
        assert_eq!(
            error_message(br#"{"error":{"type":"x"}}"#),
            r#"{"error":{"type":"x"}}"#
        );
        let long = "x".repeat(600);
        let cut = error_message(long.as_bytes());
        assert_eq!(cut.chars().count(), 501);
        assert_eq!(error_message(b"\xff\xfe bad"), "\u{fffd}\u{fffd} bad");
    }

    #[test]
    fn display_messages_are_actionable() {
        let e = PreflightError::Unreachable {
            url: "http://127.0.0.1:11434".into(),
            kind: BackendKind::Ollama,
            reason: "connection refused".into(),
        };
        let text = e.to_string();
        assert!(
            text.contains("http://127.0.0.1:11434") && text.contains("ollama serve"),
            "{text}"
        );
        let e = PreflightError::MissingModels {
            url: "http://h".into(),
            missing: vec!["qwen3:8b".into()],
            available: vec!["qwen3:0.6b".into()],
            hint: "run `ollama pull qwen3:8b`".into(),
        };
        assert_eq!(
            e.to_string(),
            "http://h does not have model `qwen3:8b`. Available: `qwen3:0.6b`. run `ollama pull qwen3:8b`"
        );
        let http = BackendError::from_status(404, br#"{"error":"model 'x' not found"}"#);
        assert_eq!(http.to_string(), "HTTP 404: model 'x' not found");
    }
}
