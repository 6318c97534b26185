//! Server-backed token sources: llama-server's `/tokenize` and
//! `/apply-template` (spec `llamacpp`), and an Ollama model's vocabulary read
//! from `/api/show` with `verbose: true` (spec `gguf` alone), rebuilt locally
//! and cached per model digest. Both run after a request ends, off the timing
//! path. The caller builds the `reqwest::Client` (with a rustls provider
//! installed, see docs/tokenizers.md).

use super::error::TokenizeError;
use super::local::{vocab_error, HfCounter};
use super::vocab::GgufVocab;
use super::TokenCounter;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// POST `body` as JSON and parse a JSON reply; errors name `spec` and the URL.
async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    spec: &str,
) -> Result<Value, TokenizeError> {
    let http = |reason: String| TokenizeError::Http {
        spec: spec.to_owned(),
        url: url.to_owned(),
        reason,
    };
    // A request that met a kept-alive connection the server had closed never
    // reached it, and these endpoints change nothing: send it once more on a
    // fresh connection, as the executor does.
    let reply = match client.post(url).json(body).send().await {
        Ok(reply) => reply,
        Err(first) if crate::util::closed_while_idle(&first) => client
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| http(format!("{e} (after a retry; first: {first})")))?,
        Err(error) => return Err(http(error.to_string())),
    };
    let status = reply.status();
    let text = reply.text().await.map_err(|e| http(e.to_string()))?;
    if !status.is_success() {
        let snippet: String = text.chars().take(300).collect();
        return Err(http(format!("HTTP {status}: {snippet}")));
    }
    serde_json::from_str(&text).map_err(|e| http(format!("reply is not JSON: {e}")))
}

/// llama-server's tokenizer endpoints.
#[derive(Debug, Clone)]
pub struct LlamaCppTokenizer {
    base_url: String,
}

impl LlamaCppTokenizer {
    /// `base_url` is the server root; a trailing `/` or `/v1` is dropped.
    pub fn new(base_url: &str) -> Self {
        let trimmed = base_url.trim_end_matches('/');
        let root = trimmed.strip_suffix("/v1").unwrap_or(trimmed);
        LlamaCppTokenizer {
            base_url: root.to_owned(),
        }
    }

    /// Token ids of `text` as the server's model sees it: `add_special: false`
    /// (no BOS), `parse_special: true` (special-token text becomes the token).
    pub async fn encode(
        &self,
        client: &reqwest::Client,
        text: &str,
    ) -> Result<Vec<u32>, TokenizeError> {
        let url = format!("{}/tokenize", self.base_url);
        let body = json!({"content": text, "add_special": false, "parse_special": true});
        let reply = post_json(client, &url, &body, "llamacpp").await?;
        reply
            .get("tokens")
            .and_then(Value::as_array)
            .and_then(|ids| {
                ids.iter()
                    .map(|id| id.as_u64().and_then(|v| u32::try_from(v).ok()))
                    .collect::<Option<Vec<u32>>>()
            })
            .ok_or_else(|| TokenizeError::Http {
                spec: "llamacpp".into(),
                url,
                reason: "reply has no `tokens` array of ids".into(),
            })
    }

    /// Where each token of `text` ends (byte offsets), from the pieces the
    /// server returns with `with_pieces: true` (a piece is a string, or a
    /// byte array when it is not valid UTF-8 on its own).
    pub async fn token_ends(
        &self,
        client: &reqwest::Client,
        text: &str,
    ) -> Result<Vec<usize>, TokenizeError> {
        let url = format!("{}/tokenize", self.base_url);
        let body = json!({"content": text, "add_special": false, "parse_special": true, "with_pieces": true});
        let reply = post_json(client, &url, &body, "llamacpp").await?;
        let lengths = reply
            .get("tokens")
            .and_then(Value::as_array)
            .and_then(|tokens| tokens.iter().map(piece_length).collect::<Option<Vec<_>>>())
            .ok_or_else(|| TokenizeError::Http {
                spec: "llamacpp".into(),
                url,
                reason: "reply has no `tokens` array of {id, piece}".into(),
            })?;
        Ok(super::attribute::ends_from_lengths(&lengths, text.len()))
    }

    /// The number of tokens in `text` (see [`Self::encode`]).
    pub(crate) async fn count(
        &self,
        client: &reqwest::Client,
        text: &str,
    ) -> Result<usize, TokenizeError> {
        Ok(self.encode(client, text).await?.len())
    }

    /// The prompt the server's chat template renders for `(role, content)` messages.
    pub async fn apply_template(
        &self,
        client: &reqwest::Client,
        messages: &[(String, String)],
    ) -> Result<String, TokenizeError> {
        let url = format!("{}/apply-template", self.base_url);
        let messages: Vec<Value> = messages
            .iter()
            .map(|(role, content)| json!({"role": role, "content": content}))
            .collect();
        let reply = post_json(client, &url, &json!({ "messages": messages }), "llamacpp").await?;
        match reply.get("prompt").and_then(Value::as_str) {
            Some(prompt) => Ok(prompt.to_owned()),
            None => Err(TokenizeError::Http {
                spec: "llamacpp".into(),
                url,
                reason: "reply has no `prompt` string".into(),
            }),
        }
    }
}

/// The byte length of one `{id, piece}` entry.
fn piece_length(token: &Value) -> Option<usize> {
    match token.get("piece")? {
        Value::String(text) => Some(text.len()),
        Value::Array(bytes) => Some(bytes.len()),
        _ => None,
    }
}

/// The model's digest from `/api/tags` (hex, no `sha256:`), if listed.
async fn ollama_digest(client: &reqwest::Client, base: &str, model: &str) -> Option<String> {
    let reply: Value = client
        .get(format!("{base}/api/tags"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let with_tag = if model.contains(':') {
        model.to_owned()
    } else {
        format!("{model}:latest")
    };
    let entry = reply.get("models")?.as_array()?.iter().find(|m| {
        ["name", "model"].iter().any(|k| {
            m.get(k)
                .and_then(Value::as_str)
                .is_some_and(|n| n == model || n == with_tag)
        })
    })?;
    let digest = entry.get("digest")?.as_str()?;
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    (!hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| hex.to_owned())
}

/// The cache file for a model digest: the built tokenizer.json (byte-level BPE).
pub fn ollama_cache_file(cache_dir: &Path, digest: &str) -> PathBuf {
    cache_dir.join(digest).join("tokenizer.json")
}

/// SentencePiece vocabularies are cached as the vocabulary itself.
fn spm_cache_file(cache_dir: &Path, digest: &str) -> PathBuf {
    cache_dir.join(digest).join("vocab.json")
}

fn load_cached(cache_dir: &Path, digest: &str) -> Option<Box<dyn TokenCounter>> {
    if let Ok(counter) = HfCounter::from_json(&ollama_cache_file(cache_dir, digest), "gguf") {
        return Some(Box::new(counter));
    }
    let text = std::fs::read_to_string(spm_cache_file(cache_dir, digest)).ok()?;
    let vocab: GgufVocab = serde_json::from_str(&text).ok()?;
    vocab.counter("gguf").ok()
}

/// A counter for an Ollama model (spec `gguf` alone) from its vocabulary in
/// `/api/show` (`verbose: true`). The result is cached under
/// `cache_dir/<digest>/` (digest from `/api/tags`): a byte-level BPE as the
/// built tokenizer.json, a SentencePiece vocabulary as vocab.json, so the
/// multi-megabyte vocabulary is fetched once per model version.
pub async fn load_ollama_gguf(
    client: &reqwest::Client,
    base_url: &str,
    model: &str,
    cache_dir: &Path,
) -> Result<Box<dyn TokenCounter>, TokenizeError> {
    let base = base_url.trim_end_matches('/');
    let digest = ollama_digest(client, base, model).await;
    if let Some(cached) = digest.as_deref().and_then(|d| load_cached(cache_dir, d)) {
        return Ok(cached);
    }
    let url = format!("{base}/api/show");
    let reply = post_json(
        client,
        &url,
        &json!({"model": model, "verbose": true}),
        "gguf",
    )
    .await?;
    let source = format!("Ollama model `{model}`");
    let info = reply.get("model_info").cloned().unwrap_or(Value::Null);
    let vocab = GgufVocab::from_model_info(&info).map_err(|e| vocab_error(e, &source, "gguf"))?;
    if vocab.model == "gpt2" {
        let tokenizer = vocab.build().map_err(|e| vocab_error(e, &source, "gguf"))?;
        let counter = HfCounter::new("gguf", tokenizer);
        if let Some(digest) = &digest {
            let file = ollama_cache_file(cache_dir, digest);
            // A cache that cannot be written only costs a refetch next time.
            let _ = write_atomically(&file, |tmp| counter.save_json(tmp));
        }
        return Ok(Box::new(counter));
    }
    let counter = vocab
        .counter("gguf")
        .map_err(|e| vocab_error(e, &source, "gguf"))?;
    if let (Some(digest), Ok(text)) = (&digest, serde_json::to_string(&vocab)) {
        let file = spm_cache_file(cache_dir, digest);
        let _ = write_atomically(&file, |tmp| {
            std::fs::write(tmp, &text).map_err(|source| TokenizeError::Io {
                path: tmp.to_owned(),
                spec: "gguf".into(),
                source,
            })
        });
    }
    Ok(counter)
}

/// Write through a temporary name, so a concurrent reader never sees half a file.
fn write_atomically(
    file: &Path,
    write: impl FnOnce(&Path) -> Result<(), TokenizeError>,
) -> Result<(), TokenizeError> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let io = |path: &Path, source| TokenizeError::Io {
        path: path.to_owned(),
        spec: "gguf".into(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let tmp = file.with_extension(format!("{}.tmp", std::process::id()));
    write(&tmp)?;
    std::fs::rename(&tmp, file).map_err(|e| io(file, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_is_the_server_root() {
        assert_eq!(LlamaCppTokenizer::new("http://h:1/").base_url, "http://h:1");
        assert_eq!(
            LlamaCppTokenizer::new("http://h:1/v1/").base_url,
            "http://h:1"
        );
        assert_eq!(LlamaCppTokenizer::new("http://h:1").base_url, "http://h:1");
    }

    #[test]
    fn cache_file_is_per_digest() {
        let f = ollama_cache_file(Path::new("/c"), "abc123");
        assert_eq!(f, PathBuf::from("/c/abc123/tokenizer.json"));
    }
}
