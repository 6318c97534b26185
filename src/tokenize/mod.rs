//! Token counting with the model's own tokenizer. A [`TokenizerSpec`] names
//! the source (`server`, `auto`, `hf:PATH`, `hf:ORG/NAME`, `gguf:PATH`,
//! `gguf`, `tiktoken:ENCODING`, `llamacpp`, `heuristic`); [`load_local`]
//! turns a local one into a [`TokenCounter`], [`LlamaCppTokenizer`] and
//! [`load_ollama_gguf`] cover the server-backed ones, and [`resolve_mapping`]
//! picks a spec per model from an experiment's `[tokenizers]` table.
//! Counting happens after a request ends, never on the timing path; load a
//! counter once per model per run. Counting is CPU work (a few MB/s, see
//! docs/tokenizers.md): run it in `tokio::task::spawn_blocking`, so that it
//! never stalls requests still in flight. See docs/tokenizers.md for the
//! sources, the `auto` order and the proof against llama.cpp.

pub(crate) mod attribute;
pub(crate) mod batch;
mod command;
#[cfg(any(test, feature = "fixtures"))]
pub mod corpus;
mod error;
pub mod gguf;
mod heuristic;
mod local;
pub(crate) mod pretok;
mod remote;
mod spec;
pub(crate) mod spm;
pub(crate) mod synthetic;
mod tiktoken;
pub(crate) mod vocab;

pub use command::tokenize_command;
pub(crate) use error::TokenizeError;
pub use heuristic::{heuristic_count, HeuristicCounter};
pub use local::HfCounter;
pub use remote::{load_ollama_gguf, ollama_cache_file, LlamaCppTokenizer};
pub use spec::{known_encodings, resolve_mapping, TokenizerSpec, SPEC_FORMS};
pub(crate) use tiktoken::TiktokenCounter;

use std::path::Path;

/// A loaded tokenizer that counts (and, except the heuristic, lists) tokens.
pub trait TokenCounter: Send + Sync {
    /// The spec string it was loaded from, e.g. `gguf:models/x.gguf`.
    fn name(&self) -> String;
    /// True when counts are estimates (the heuristic); reports flag them.
    fn is_estimate(&self) -> bool;
    /// Token ids of `text`, without BOS/EOS, special-token text matched whole.
    fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizeError>;
    /// The number of tokens in `text`.
    fn count(&self, text: &str) -> Result<usize, TokenizeError> {
        Ok(self.encode(text)?.len())
    }
    /// The byte offset in `text` at which each token of `encode(text)` ends,
    /// for attributing tokens to streamed chunks ([`attribute`]); `None`
    /// when this source cannot place its tokens (the heuristic).
    fn token_ends(&self, text: &str) -> Result<Option<Vec<usize>>, TokenizeError> {
        let _ = text;
        Ok(None)
    }
}

/// Load a local (no-network) counter: `hf:`, `hf:ORG/NAME`, `gguf:PATH`,
/// `tiktoken:`, `heuristic`. Relative paths are resolved against `base_dir`
/// (the experiment file's directory). Other specs are a [`TokenizeError::NotLocal`].
pub fn load_local(
    spec: &TokenizerSpec,
    base_dir: &Path,
) -> Result<Box<dyn TokenCounter>, TokenizeError> {
    let name = spec.to_string();
    Ok(match spec {
        TokenizerSpec::Hf(path) => Box::new(local::load_hf_path(path, base_dir, &name)?),
        TokenizerSpec::HfCache(repo) => {
            let as_path = base_dir.join(repo);
            if as_path.exists() {
                Box::new(local::load_hf_path(&as_path, base_dir, &name)?)
            } else {
                Box::new(local::load_hf_cache(repo, &name)?)
            }
        }
        TokenizerSpec::Gguf(path) => local::load_gguf(&base_dir.join(path), &name)?,
        TokenizerSpec::Tiktoken(encoding) => Box::new(TiktokenCounter::new(encoding)?),
        TokenizerSpec::Heuristic => Box::new(HeuristicCounter),
        TokenizerSpec::Server
        | TokenizerSpec::Auto
        | TokenizerSpec::GgufOllama
        | TokenizerSpec::LlamaCpp => {
            return Err(TokenizeError::NotLocal {
                spec: name,
                reason: "it needs a server; use LlamaCppTokenizer (llamacpp), \
                         load_ollama_gguf (gguf) or the server's reported counts"
                    .into(),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::gguf::tests::{gguf_bytes, gstr, record, str_array};
    use super::*;

    fn write_gguf(dir: &Path, records: &[Vec<u8>]) -> std::path::PathBuf {
        let path = dir.join("m.gguf");
        std::fs::write(&path, gguf_bytes(3, records)).expect("write");
        path
    }

    #[test]
    fn loads_a_gguf_vocabulary_relative_to_base_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut types = 5u32.to_le_bytes().to_vec();
        types.extend(4u64.to_le_bytes());
        for t in [3i32, 1, 1, 1] {
            types.extend(t.to_le_bytes());
        }
        write_gguf(
            dir.path(),
            &[
                record("tokenizer.ggml.model", 8, gstr("gpt2")),
                record("tokenizer.ggml.pre", 8, gstr("smollm")),
                record(
                    "tokenizer.ggml.tokens",
                    9,
                    str_array(&["<s>", "h", "i", "hi"]),
                ),
                record("tokenizer.ggml.merges", 9, str_array(&["h i"])),
                record("tokenizer.ggml.token_type", 9, types),
            ],
        );
        let spec: TokenizerSpec = "gguf:m.gguf".parse().expect("spec");
        let counter = load_local(&spec, dir.path()).expect("load");
        assert_eq!(counter.name(), "gguf:m.gguf");
        assert!(!counter.is_estimate());
        assert_eq!(counter.encode("hi<s>hih").expect("encode"), [3, 0, 3, 1]);
        assert_eq!(counter.count("hihi").expect("count"), 2);
    }

    #[test]
    fn gguf_errors_name_the_file_and_spec() {
        let dir = tempfile::tempdir().expect("tempdir");
        let load = |spec: &str| {
            let spec: TokenizerSpec = spec.parse().expect("spec");
            load_local(&spec, dir.path())
                .err()
                .expect("error")
                .to_string()
        };
        let missing = dir.path().join("nope.gguf");
        assert_eq!(
            load("gguf:nope.gguf"),
            format!(
                "no such file: {} (tokenizer spec `gguf:nope.gguf`)",
                missing.display()
            )
        );
        write_gguf(
            dir.path(),
            &[record("general.architecture", 8, gstr("llama"))],
        );
        let err = load("gguf:m.gguf");
        assert!(err.contains("has no tokenizer vocabulary"), "{err}");
        assert!(err.contains("(tokenizer spec `gguf:m.gguf`)"), "{err}");
        write_gguf(
            dir.path(),
            &[
                record("tokenizer.ggml.model", 8, gstr("bert")),
                record("tokenizer.ggml.tokens", 9, str_array(&["a"])),
            ],
        );
        let err = load("gguf:m.gguf");
        assert!(err.contains("`bert` is not supported yet"), "{err}");
        std::fs::write(dir.path().join("m.gguf"), b"not a gguf").expect("write");
        let err = load("gguf:m.gguf");
        assert!(err.contains("is not a readable GGUF file"), "{err}");
    }

    #[test]
    fn server_specs_are_not_local() {
        for spec in [
            TokenizerSpec::Server,
            TokenizerSpec::Auto,
            TokenizerSpec::GgufOllama,
            TokenizerSpec::LlamaCpp,
        ] {
            let err = load_local(&spec, Path::new(".")).err().expect("error");
            assert!(matches!(err, TokenizeError::NotLocal { .. }), "{err}");
        }
        assert!(load_local(&TokenizerSpec::Heuristic, Path::new("."))
            .expect("heuristic")
            .is_estimate());
    }
}
