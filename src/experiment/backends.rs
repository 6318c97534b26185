//! Backends: `[backend]` (stored under the name "default") and
//! `[backends.NAME]` become `BackendConfig`s with a checked base URL, a
//! timeout, and the NAME of the environment variable holding the API key —
//! never the key itself, which is refused (without echoing it) when pasted.

use super::document::Document;
use super::error::ExperimentError;
use super::locate::KeyPath;
use super::manifest::RawBackend;
use super::resolve::check_name;
use super::types::{BackendConfig, BackendKind};
use crate::util::parse_duration;
use std::collections::BTreeMap;

/// The name `[backend]` is stored under.
pub(crate) const DEFAULT_BACKEND: &str = "default";
const DEFAULT_TIMEOUT: &str = "120s";

/// All backends, by name; at least one.
pub(crate) fn backends(
    doc: &Document<'_>,
    backend: Option<RawBackend>,
    named: Option<BTreeMap<String, RawBackend>>,
) -> Result<BTreeMap<String, BackendConfig>, ExperimentError> {
    let mut out = BTreeMap::new();
    if let Some(raw) = backend {
        out.insert(
            DEFAULT_BACKEND.to_owned(),
            backend_config(doc, &KeyPath::top("backend"), DEFAULT_BACKEND, raw)?,
        );
    }
    for (name, raw) in named.unwrap_or_default() {
        let at = KeyPath::top("backends").key(&name);
        check_name(doc, &at, "backend name", &name)?;
        if out.contains_key(&name) {
            return Err(doc
                .error(
                    &at,
                    "a backend named \"default\" is already defined by [backend]",
                )
                .with_help("rename this backend, or move it to [backend]"));
        }
        out.insert(name.clone(), backend_config(doc, &at, &name, raw)?);
    }
    if out.is_empty() {
        return Err(doc
            .error(&KeyPath::top("backend"), "no backend is defined")
            .with_help(
                "add a [backend] table with kind = \"ollama\" and url = \"http://127.0.0.1:11434\"",
            ));
    }
    Ok(out)
}

fn backend_config(
    doc: &Document<'_>,
    at: &KeyPath,
    name: &str,
    raw: RawBackend,
) -> Result<BackendConfig, ExperimentError> {
    let url = check_url(raw.kind, &raw.url)
        .map_err(|(message, help)| doc.error(&at.key("url"), message).with_help(help))?;
    let timeout_text = raw.timeout.as_deref().unwrap_or(DEFAULT_TIMEOUT);
    let timeout = parse_duration(timeout_text)
        .map_err(|e| e.to_string())
        .and_then(|d| {
            if d.is_zero() {
                Err("the timeout must be longer than zero".to_owned())
            } else {
                Ok(d)
            }
        })
        .map_err(|why| {
            doc.error(&at.key("timeout"), why)
                .with_help("the whole-request timeout, e.g. timeout = \"60s\" or \"10m\"")
        })?;
    if let Some(var) = &raw.api_key_env {
        check_api_key_env(var).map_err(|(message, help)| {
            doc.error(&at.key("api_key_env"), message).with_help(help)
        })?;
    }
    Ok(BackendConfig {
        name: name.to_owned(),
        kind: raw.kind,
        url,
        timeout,
        api_key_env: raw.api_key_env,
    })
}

/// The base URL without trailing slashes, or (message, help).
fn check_url(kind: BackendKind, url: &str) -> Result<String, (String, String)> {
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
    else {
        return Err(if lower.contains("://") {
            (
                format!("`{url}` is not an http:// or https:// URL"),
                "llmbench talks HTTP to the server, e.g. url = \"http://127.0.0.1:11434\""
                    .to_owned(),
            )
        } else {
            (
                format!("`{url}` has no scheme"),
                format!(
                    "write the scheme too: url = \"http://{}\"",
                    url.trim_end_matches('/')
                ),
            )
        });
    };
    if rest.split(['/', '?', '#']).next().is_none_or(str::is_empty) {
        return Err((
            format!("`{url}` has no host"),
            "e.g. url = \"http://127.0.0.1:11434\"".to_owned(),
        ));
    }
    if url.chars().any(char::is_whitespace) {
        return Err((format!("`{url}` contains spaces"), "remove them".to_owned()));
    }
    if let Err(error) = reqwest::Url::parse(url) {
        return Err((
            format!("`{url}` is not a valid URL ({error})"),
            "e.g. url = \"http://127.0.0.1:11434\"; an IPv6 host goes in brackets, \"http://[::1]:8080\"; ports go up to 65535".to_owned(),
        ));
    }
    let base = url.trim_end_matches('/');
    let (suffix, added) = match kind {
        BackendKind::Openai => ("/v1", "/v1/chat/completions"),
        BackendKind::Ollama => ("/api", "/api/chat"),
    };
    if let Some(without) = base.strip_suffix(suffix) {
        return Err((
            format!("`{url}` ends with {suffix}"),
            format!("write the server's base URL, \"{without}\"; llmbench adds {added} itself"),
        ));
    }
    Ok(base.to_owned())
}

/// Accepts the NAME of an environment variable; never echoes the value,
/// which might be a pasted key.
fn check_api_key_env(var: &str) -> Result<(), (String, String)> {
    const KEY_PREFIXES: [&str; 7] = ["sk-", "sk_", "hf_", "gsk_", "xai-", "pk-", "Bearer "];
    let has_lower = var.chars().any(|c| c.is_ascii_lowercase());
    let has_digit = var.chars().any(|c| c.is_ascii_digit());
    if KEY_PREFIXES.iter().any(|p| var.starts_with(p))
        || (var.len() >= 24 && has_lower && has_digit)
    {
        return Err((
            "this looks like an API key itself, not the name of an environment variable".to_owned(),
            "put the NAME of the variable that holds the key, e.g. api_key_env = \"OPENAI_API_KEY\", and \
             `export OPENAI_API_KEY=...` in your shell; keys never belong in experiment files \
             (revoke this one if it was committed)"
                .to_owned(),
        ));
    }
    let valid = var
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        let dollar = if var.starts_with('$') {
            " (without the `$`)"
        } else {
            ""
        };
        return Err((
            "is not an environment variable name".to_owned(),
            format!("write the variable's name{dollar}: letters, digits and _, e.g. api_key_env = \"OPENAI_API_KEY\""),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_trailing_slashes_and_need_a_scheme() {
        assert_eq!(
            check_url(BackendKind::Ollama, "http://h:11434/").unwrap(),
            "http://h:11434"
        );
        assert_eq!(
            check_url(BackendKind::Openai, "https://api.example.com").unwrap(),
            "https://api.example.com"
        );
        assert!(check_url(BackendKind::Ollama, "localhost:11434")
            .unwrap_err()
            .1
            .contains("http://localhost:11434"));
        assert!(check_url(BackendKind::Ollama, "ftp://h")
            .unwrap_err()
            .0
            .contains("not an http://"));
        assert!(check_url(BackendKind::Ollama, "http://")
            .unwrap_err()
            .0
            .contains("no host"));
        assert!(check_url(BackendKind::Openai, "http://h:8080/v1/")
            .unwrap_err()
            .1
            .contains("\"http://h:8080\""));
        assert!(check_url(BackendKind::Ollama, "http://h/api").is_err());
    }

    #[test]
    fn api_key_env_must_be_a_name() {
        assert!(check_api_key_env("OPENAI_API_KEY").is_ok());
        assert!(check_api_key_env("_K1").is_ok());
        let (message, _) = check_api_key_env("sk-proj-abcdef123456").unwrap_err();
        assert!(message.contains("looks like an API key"));
        assert!(!message.contains("abcdef"));
        assert!(check_api_key_env("a1b2c3d4e5f6g7h8i9j0k1l2m3").is_err());
        assert!(check_api_key_env("$OPENAI_API_KEY")
            .unwrap_err()
            .1
            .contains("without the `$`"));
        assert!(check_api_key_env("").is_err());
    }
}
