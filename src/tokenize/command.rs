//! `llmbench tokenize --tokenizer SPEC [--ids] [--url URL] [TEXT]`: count (and
//! optionally list) the tokens of a text with one source, so a user can check
//! a mapping before a long run. The text is taken byte for byte.

use super::error::TokenizeError;
use super::{load_local, LlamaCppTokenizer, TokenizerSpec};

/// What `llmbench tokenize` prints: the count on the first line and, with
/// `ids`, the token ids as a JSON array on a second line (no trailing
/// newline). `url` is the llama.cpp server for `llamacpp`; local specs
/// resolve relative paths against the current directory.
pub async fn tokenize_command(
    spec: &str,
    text: &str,
    ids: bool,
    url: Option<&str>,
) -> Result<String, TokenizeError> {
    let parsed: TokenizerSpec = spec.parse()?;
    let not_here = |reason: &str| TokenizeError::NotLocal {
        spec: parsed.to_string(),
        reason: reason.to_owned(),
    };
    let tokens: Result<Vec<u32>, usize> = match &parsed {
        TokenizerSpec::LlamaCpp => {
            let url = url.ok_or_else(|| {
                not_here("it asks a llama.cpp server; pass --url http://HOST:PORT")
            })?;
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::builder()
                .build()
                .map_err(|e| TokenizeError::Http {
                    spec: parsed.to_string(),
                    url: url.to_owned(),
                    reason: e.to_string(),
                })?;
            Ok(LlamaCppTokenizer::new(url).encode(&client, text).await?)
        }
        TokenizerSpec::Server => {
            return Err(not_here(
                "the server reports its counts with each reply during a run; \
                 to check text here use llamacpp, gguf:PATH, hf:PATH or tiktoken:ENCODING",
            ))
        }
        TokenizerSpec::Auto => {
            return Err(not_here(
                "auto is chosen per model during a run; name a source: \
                 llamacpp, gguf:PATH, hf:PATH, tiktoken:ENCODING or heuristic",
            ))
        }
        TokenizerSpec::GgufOllama => {
            return Err(not_here(
                "`gguf` alone reads an Ollama model's vocabulary during a run; \
                 here use gguf:PATH with the model file",
            ))
        }
        local => {
            let cwd = std::env::current_dir().unwrap_or_default();
            let counter = load_local(local, &cwd)?;
            if ids || !counter.is_estimate() {
                Ok(counter.encode(text)?)
            } else {
                Err(counter.count(text)?)
            }
        }
    };
    Ok(match tokens {
        Ok(list) if ids => {
            let json = serde_json::to_string(&list).unwrap_or_else(|_| "[]".into());
            format!("{}\n{json}", list.len())
        }
        Ok(list) => list.len().to_string(),
        Err(estimate) => estimate.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(spec: &str, text: &str, ids: bool) -> Result<String, TokenizeError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(tokenize_command(spec, text, ids, None))
    }

    #[test]
    fn prints_count_and_ids() {
        assert_eq!(
            run("tiktoken:cl100k_base", "hello world", false).expect("ok"),
            "2"
        );
        assert_eq!(
            run("tiktoken:cl100k_base", "hello world", true).expect("ok"),
            "2\n[15339,1917]"
        );
        // Byte for byte: the trailing newline is a token of its own.
        assert_eq!(
            run("tiktoken:cl100k_base", "hello world\n", false).expect("ok"),
            "3"
        );
        assert_eq!(run("heuristic", "one two three", false).expect("ok"), "4");
    }

    #[test]
    fn explains_what_cannot_run_here() {
        let err = run("llamacpp", "x", false)
            .expect_err("needs url")
            .to_string();
        assert!(err.contains("--url"), "{err}");
        let err = run("server", "x", false).expect_err("server").to_string();
        assert!(
            err.contains("tokenizer spec `server` is not a local tokenizer"),
            "{err}"
        );
        let err = run("heuristic", "x", true).expect_err("no ids").to_string();
        assert!(err.contains("no token ids"), "{err}");
        let err = run("gguf:/nonexistent/m.gguf", "x", false)
            .expect_err("missing")
            .to_string();
        assert_eq!(
            err,
            "no such file: /nonexistent/m.gguf (tokenizer spec `gguf:/nonexistent/m.gguf`)"
        );
    }
}
