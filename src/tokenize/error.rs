//! The one error type of the tokenize module. Every message names the
//! tokenizer spec it came from and says what to do about it, so a caller only
//! has to prefix the model name (`model smollm2: …`) before showing it.

use std::path::PathBuf;

/// What can go wrong while parsing a spec, loading a tokenizer or counting.
#[derive(Debug, thiserror::Error)]
pub enum TokenizeError {
    /// The spec string itself is malformed (unknown prefix, empty path, …).
    #[error("invalid tokenizer spec `{spec}`: {reason}")]
    BadSpec { spec: String, reason: String },

    /// A file named by the spec does not exist.
    #[error("no such file: {} (tokenizer spec `{spec}`)", path.display())]
    NoSuchFile { path: PathBuf, spec: String },

    /// Reading a file failed for another reason (permissions, I/O).
    #[error("cannot read {} (tokenizer spec `{spec}`): {source}", path.display())]
    Io {
        path: PathBuf,
        spec: String,
        source: std::io::Error,
    },

    /// `tiktoken:NAME` with a name tiktoken-rs does not know.
    #[error(
        "unknown tiktoken encoding `{name}` (tokenizer spec `{spec}`); known encodings: {known}"
    )]
    UnknownEncoding {
        name: String,
        spec: String,
        known: String,
    },

    /// A GGUF file (or Ollama model) whose metadata carries no vocabulary.
    #[error("{source_name} has no tokenizer vocabulary (no `tokenizer.ggml.tokens` in its metadata) (tokenizer spec `{spec}`); use an `hf:` tokenizer.json for this model instead")]
    NoVocabulary { source_name: String, spec: String },

    /// The file is not a GGUF file, or its metadata is truncated or corrupt.
    #[error("{} is not a readable GGUF file (tokenizer spec `{spec}`): {reason}", path.display())]
    BadGguf {
        path: PathBuf,
        spec: String,
        reason: String,
    },

    /// A tokenizer.json that the tokenizers crate cannot load.
    #[error("cannot parse {} as a Hugging Face tokenizer.json (tokenizer spec `{spec}`): {reason}", path.display())]
    BadTokenizerJson {
        path: PathBuf,
        spec: String,
        reason: String,
    },

    /// A vocabulary kind or pre-tokenizer this module cannot rebuild yet.
    #[error("tokenizer spec `{spec}`: {reason}")]
    Unsupported { spec: String, reason: String },

    /// `hf:ORG/NAME` not present in the local Hugging Face cache.
    #[error("tokenizer spec `{spec}`: no tokenizer.json for `{repo}` in the local Hugging Face cache (looked in {looked}); llmbench never downloads: fetch it with `huggingface-cli download {repo} tokenizer.json`, or point `hf:` at a file")]
    NotInCache {
        spec: String,
        repo: String,
        looked: String,
    },

    /// A spec that needs a server (or a run) used where only local ones work.
    #[error("tokenizer spec `{spec}` is not a local tokenizer: {reason}")]
    NotLocal { spec: String, reason: String },

    /// A request to a server (llama.cpp `/tokenize`, Ollama `/api/show`) failed.
    #[error("tokenizer spec `{spec}`: request to {url} failed: {reason}")]
    Http {
        spec: String,
        url: String,
        reason: String,
    },

    /// The tokenizer failed on a piece of text, or gives no ids.
    #[error("tokenizer `{spec}` cannot encode: {reason}")]
    Encode { spec: String, reason: String },
}
