//! Local counters backed by the tokenizers crate: `hf:PATH`, `hf:ORG/NAME`
//! (found offline in the Hugging Face cache) and `gguf:PATH` (the vocabulary in
//! a GGUF file's metadata, rebuilt by [`super::vocab`]; SentencePiece ones by
//! [`super::spm`]).
//!
//! Counts never include tokens a post-processor would add (BOS/EOS): they are
//! counts of the text itself, like llama.cpp's `/tokenize` with
//! `add_special: false`. Truncation and padding stored in a tokenizer.json are
//! switched off, so long texts are counted whole.

use super::error::TokenizeError;
use super::gguf;
use super::spec::looks_like_repo_id;
use super::vocab::{GgufVocab, VocabError};
use super::TokenCounter;
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

/// A counter around a `tokenizers::Tokenizer`.
pub struct HfCounter {
    name: String,
    tokenizer: Tokenizer,
}

impl HfCounter {
    /// Wrap a tokenizer, named by its spec string; truncation and padding are removed.
    pub(crate) fn new(name: impl Into<String>, mut tokenizer: Tokenizer) -> Self {
        tokenizer.with_padding(None);
        // Removing truncation cannot fail (only setting one can).
        let _ = tokenizer.with_truncation(None);
        HfCounter {
            name: name.into(),
            tokenizer,
        }
    }

    /// Load a tokenizer.json file (`spec` names the source in errors).
    pub(crate) fn from_json(path: &Path, spec: &str) -> Result<Self, TokenizeError> {
        if !path.is_file() {
            return Err(TokenizeError::NoSuchFile {
                path: path.to_owned(),
                spec: spec.to_owned(),
            });
        }
        let tokenizer =
            Tokenizer::from_file(path).map_err(|e| TokenizeError::BadTokenizerJson {
                path: path.to_owned(),
                spec: spec.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self::new(spec, tokenizer))
    }

    /// Rebuild the tokenizer from a byte-level BPE vocabulary in a GGUF file.
    pub fn from_gguf(path: &Path, spec: &str) -> Result<Self, TokenizeError> {
        let vocab = read_vocab(path, spec)?;
        let tokenizer = vocab
            .build()
            .map_err(|e| vocab_error(e, &path.display().to_string(), spec))?;
        Ok(Self::new(spec, tokenizer))
    }

    /// Write the tokenizer as a Hugging Face tokenizer.json.
    pub fn save_json(&self, path: &Path) -> Result<(), TokenizeError> {
        self.tokenizer
            .save(path, false)
            .map_err(|e| TokenizeError::Io {
                path: path.to_owned(),
                spec: self.name.clone(),
                source: std::io::Error::other(e.to_string()),
            })
    }
}

impl TokenCounter for HfCounter {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn is_estimate(&self) -> bool {
        false
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizeError> {
        self.tokenizer
            .encode_fast(text, false)
            .map(|enc| enc.get_ids().to_vec())
            .map_err(|e| TokenizeError::Encode {
                spec: self.name.clone(),
                reason: e.to_string(),
            })
    }

    fn token_ends(&self, text: &str) -> Result<Option<Vec<usize>>, TokenizeError> {
        // `encode` (unlike `encode_fast`) tracks byte offsets into `text`; a
        // byte-level token inside a multi-byte character spans the character.
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| TokenizeError::Encode {
                spec: self.name.clone(),
                reason: e.to_string(),
            })?;
        Ok(Some(
            encoding.get_offsets().iter().map(|&(_, end)| end).collect(),
        ))
    }
}

fn read_vocab(path: &Path, spec: &str) -> Result<GgufVocab, TokenizeError> {
    let meta = gguf::read_metadata(path).map_err(|e| gguf_io_error(path, spec, e))?;
    GgufVocab::from_metadata(&meta).map_err(|e| vocab_error(e, &path.display().to_string(), spec))
}

/// `gguf:PATH`: a counter for the GGUF file's vocabulary, BPE or SentencePiece.
pub(crate) fn load_gguf(path: &Path, spec: &str) -> Result<Box<dyn TokenCounter>, TokenizeError> {
    read_vocab(path, spec)?
        .counter(spec)
        .map_err(|e| vocab_error(e, &path.display().to_string(), spec))
}

pub(crate) fn gguf_io_error(path: &Path, spec: &str, e: std::io::Error) -> TokenizeError {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => TokenizeError::NoSuchFile {
            path: path.to_owned(),
            spec: spec.to_owned(),
        },
        ErrorKind::InvalidData | ErrorKind::UnexpectedEof => TokenizeError::BadGguf {
            path: path.to_owned(),
            spec: spec.to_owned(),
            reason: if e.kind() == ErrorKind::UnexpectedEof {
                "truncated metadata".into()
            } else {
                e.to_string()
            },
        },
        _ => TokenizeError::Io {
            path: path.to_owned(),
            spec: spec.to_owned(),
            source: e,
        },
    }
}

pub(crate) fn vocab_error(e: VocabError, source_name: &str, spec: &str) -> TokenizeError {
    match e {
        VocabError::Missing => TokenizeError::NoVocabulary {
            source_name: source_name.to_owned(),
            spec: spec.to_owned(),
        },
        VocabError::Unsupported(reason) => TokenizeError::Unsupported {
            spec: spec.to_owned(),
            reason: format!("{source_name}: {reason}"),
        },
        VocabError::Malformed(reason) => TokenizeError::Unsupported {
            spec: spec.to_owned(),
            reason: format!("{source_name}: malformed tokenizer metadata: {reason}"),
        },
    }
}

/// `hf:PATH`: a tokenizer.json, or a directory holding one; a missing path
/// shaped like `ORG/NAME` falls back to the Hugging Face cache.
pub(crate) fn load_hf_path(
    path: &Path,
    base_dir: &Path,
    spec: &str,
) -> Result<HfCounter, TokenizeError> {
    let full = base_dir.join(path);
    if full.is_dir() {
        return HfCounter::from_json(&full.join("tokenizer.json"), spec);
    }
    if !full.exists() {
        if let Some(repo) = path.to_str().filter(|p| looks_like_repo_id(p)) {
            return load_hf_cache(repo, spec);
        }
    }
    HfCounter::from_json(&full, spec)
}

/// `hf:ORG/NAME` from the local Hugging Face cache; never downloads.
pub(crate) fn load_hf_cache(repo: &str, spec: &str) -> Result<HfCounter, TokenizeError> {
    let roots = cache_roots(|k| std::env::var(k).ok());
    match roots.iter().find_map(|root| find_in_cache(root, repo)) {
        Some(file) => HfCounter::from_json(&file, spec),
        None => Err(TokenizeError::NotInCache {
            spec: spec.to_owned(),
            repo: repo.to_owned(),
            looked: roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Hugging Face hub cache directories, in the order huggingface_hub consults them.
pub(crate) fn cache_roots(env: impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    for key in ["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"] {
        roots.extend(env(key).map(PathBuf::from));
    }
    roots.extend(env("HF_HOME").map(|h| PathBuf::from(h).join("hub")));
    roots.extend(env("XDG_CACHE_HOME").map(|x| PathBuf::from(x).join("huggingface/hub")));
    roots.extend(env("HOME").map(|h| PathBuf::from(h).join(".cache/huggingface/hub")));
    let mut seen = std::collections::HashSet::new();
    roots.retain(|r| seen.insert(r.clone()));
    roots
}

/// `ROOT/models--ORG--NAME/snapshots/REV/tokenizer.json`: the revision named by
/// `refs/main` when it has one, else the most recently modified snapshot.
pub(crate) fn find_in_cache(root: &Path, repo: &str) -> Option<PathBuf> {
    let dir = root.join(format!("models--{}", repo.replace('/', "--")));
    let snapshots = dir.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(dir.join("refs/main")) {
        let file = snapshots.join(rev.trim()).join("tokenizer.json");
        if file.is_file() {
            return Some(file);
        }
    }
    std::fs::read_dir(&snapshots)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("tokenizer.json"))
        .filter(|f| f.is_file())
        .max_by_key(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_roots_follow_the_environment() {
        let env = |k: &str| match k {
            "HF_HOME" => Some("/hf".to_string()),
            "HOME" => Some("/home/u".to_string()),
            "HF_HUB_CACHE" => Some("/hf/hub".to_string()),
            _ => None,
        };
        let roots = cache_roots(env);
        assert_eq!(
            roots,
            [
                PathBuf::from("/hf/hub"),
                PathBuf::from("/home/u/.cache/huggingface/hub")
            ]
        );
    }

    #[test]
    fn finds_the_snapshot_named_by_refs_main() {
        let root = tempfile::tempdir().expect("tempdir");
        let repo = root.path().join("models--Org--Name");
        for rev in ["aaa", "bbb"] {
            let snap = repo.join("snapshots").join(rev);
            std::fs::create_dir_all(&snap).expect("mkdir");
            std::fs::write(snap.join("tokenizer.json"), "{}").expect("write");
        }
        std::fs::create_dir_all(repo.join("refs")).expect("mkdir");
        std::fs::write(repo.join("refs/main"), "aaa\n").expect("write");
        let found = find_in_cache(root.path(), "Org/Name").expect("found");
        assert!(found.ends_with("snapshots/aaa/tokenizer.json"), "{found:?}");
        std::fs::remove_file(repo.join("refs/main")).expect("rm");
        assert!(find_in_cache(root.path(), "Org/Name").is_some());
        assert!(find_in_cache(root.path(), "Org/Other").is_none());
    }

    #[test]
    fn bad_tokenizer_json_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tokenizer.json");
        std::fs::write(&file, "{\"model\": 3}").expect("write");
        let err = load_hf_path(Path::new("tokenizer.json"), dir.path(), "hf:tokenizer.json")
            .err()
            .expect("error")
            .to_string();
        assert!(err.starts_with("cannot parse "), "{err}");
        assert!(
            err.contains("(tokenizer spec `hf:tokenizer.json`)"),
            "{err}"
        );
        // A directory without tokenizer.json names the file it looked for.
        let err = load_hf_path(Path::new("."), &dir.path().join("sub"), "hf:.");
        assert!(err.is_err());
        std::fs::create_dir_all(dir.path().join("empty")).expect("mkdir");
        let err = load_hf_path(Path::new("empty"), dir.path(), "hf:empty")
            .err()
            .expect("error")
            .to_string();
        assert!(err.starts_with("no such file: "), "{err}");
        assert!(err.contains("empty/tokenizer.json"), "{err}");
    }
}
