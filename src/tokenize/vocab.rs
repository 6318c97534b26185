//! Turns a GGUF vocabulary (`tokenizer.ggml.*` metadata, from a GGUF file or
//! from Ollama's `/api/show`) into a `tokenizers::Tokenizer` that encodes the
//! way llama.cpp's `/tokenize` does with `parse_special: true` and
//! `add_special: false`.
//!
//! Byte-level BPE vocabularies (`tokenizer.ggml.model = "gpt2"`) are rebuilt
//! with the pre-tokenizer [`super::pretok`] picks by `tokenizer.ggml.pre`;
//! SentencePiece ones (`"llama"`) go to [`super::spm`]. Tokens typed control (3), user-defined (4)
//! or unknown (2), and the end-of-generation/FIM names llama.cpp promotes to
//! control, become special added tokens, so they are matched whole.

use super::gguf::GgufMetadata;
use super::local::HfCounter;
use super::pretok::pre_tokenizer_for;
use super::spm::SpmCounter;
use super::TokenCounter;
use serde_json::Value;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Merges, Vocab, BPE};
use tokenizers::{AddedToken, Tokenizer};

/// The tokenizer part of a model's metadata.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct GgufVocab {
    /// `tokenizer.ggml.model`: "gpt2" (byte-level BPE), "llama" (SentencePiece), …
    pub model: String,
    /// `tokenizer.ggml.pre`, "default" when absent.
    pub pre: String,
    pub tokens: Vec<String>,
    pub merges: Vec<String>,
    /// `tokenizer.ggml.token_type`, empty when absent.
    pub token_types: Vec<i64>,
    /// `tokenizer.ggml.scores` (SentencePiece merge priorities), empty when absent.
    pub scores: Vec<f32>,
    /// `tokenizer.ggml.add_space_prefix` (SentencePiece; llama.cpp defaults to true).
    pub add_space_prefix: Option<bool>,
}

/// The elements of array `key` converted by `f`; empty when the key is absent.
fn array<T>(
    info: &Value,
    key: &str,
    f: impl Fn(&Value) -> Option<T>,
) -> Result<Vec<T>, VocabError> {
    match info.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            items
                .iter()
                .map(f)
                .collect::<Option<Vec<T>>>()
                .ok_or_else(|| {
                    VocabError::Malformed(format!("`{key}` has elements of the wrong type"))
                })
        }
        Some(_) => Err(VocabError::Malformed(format!("`{key}` is not an array"))),
    }
}

/// Why a vocabulary could not be turned into a tokenizer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum VocabError {
    /// No `tokenizer.ggml.tokens` at all.
    Missing,
    /// A model or pre-tokenizer this module does not rebuild.
    Unsupported(String),
    /// Present but malformed (wrong types, merges naming unknown tokens).
    Malformed(String),
}

const KEY_MODEL: &str = "tokenizer.ggml.model";
const KEY_PRE: &str = "tokenizer.ggml.pre";
const KEY_TOKENS: &str = "tokenizer.ggml.tokens";
const KEY_MERGES: &str = "tokenizer.ggml.merges";
const KEY_TYPES: &str = "tokenizer.ggml.token_type";
const KEY_SCORES: &str = "tokenizer.ggml.scores";
const KEY_SPACE_PREFIX: &str = "tokenizer.ggml.add_space_prefix";

/// Names llama.cpp forces to control tokens whatever their stored type.
const CONTROL_BY_NAME: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "<|eom_id|>",
    "<|fim_prefix|>",
    "<|fim_suffix|>",
    "<|fim_middle|>",
    "<|fim_pad|>",
    "<|fim_repo|>",
    "<|file_sep|>",
    "<|repo_name|>",
];

impl GgufVocab {
    /// Read the vocabulary from a GGUF file's metadata.
    pub(crate) fn from_metadata(meta: &GgufMetadata) -> Result<Self, VocabError> {
        let info: serde_json::Map<String, Value> = meta
            .kv
            .iter()
            .filter(|(key, _)| key.starts_with("tokenizer.ggml."))
            .map(|(key, value)| (key.clone(), value.to_json()))
            .collect();
        Self::from_model_info(&Value::Object(info))
    }

    /// Read the vocabulary from Ollama's `/api/show` `model_info` object (the
    /// GGUF metadata as JSON).
    pub(crate) fn from_model_info(info: &Value) -> Result<Self, VocabError> {
        let tokens: Vec<String> = array(info, KEY_TOKENS, |v| v.as_str().map(str::to_owned))?;
        if tokens.is_empty() {
            return Err(VocabError::Missing);
        }
        let text = |key: &str| info.get(key).and_then(Value::as_str).map(str::to_owned);
        let model =
            text(KEY_MODEL).ok_or_else(|| VocabError::Malformed(format!("no `{KEY_MODEL}`")))?;
        Ok(GgufVocab {
            model,
            pre: text(KEY_PRE).unwrap_or_else(|| "default".into()),
            merges: array(info, KEY_MERGES, |v| v.as_str().map(str::to_owned))?,
            token_types: array(info, KEY_TYPES, Value::as_i64)?,
            scores: array(info, KEY_SCORES, |v| v.as_f64().map(|f| f as f32))?,
            add_space_prefix: info.get(KEY_SPACE_PREFIX).and_then(Value::as_bool),
            tokens,
        })
    }

    /// A counter for this vocabulary: byte-level BPE (`gpt2`) or SentencePiece (`llama`).
    pub(crate) fn counter(&self, name: &str) -> Result<Box<dyn TokenCounter>, VocabError> {
        match self.model.as_str() {
            "llama" => Ok(Box::new(SpmCounter::new(name, self)?)),
            _ => Ok(Box::new(HfCounter::new(name, self.build()?))),
        }
    }

    /// Ids of the tokens matched whole in the text (llama.cpp's special cache).
    pub(crate) fn special_ids(&self) -> Vec<u32> {
        (0..self.tokens.len())
            .filter(|&i| {
                let ty = self.token_types.get(i).copied().unwrap_or(1);
                matches!(ty, 2..=4) || CONTROL_BY_NAME.contains(&self.tokens[i].as_str())
            })
            .filter_map(|i| u32::try_from(i).ok())
            .collect()
    }

    /// Build a `tokenizers` tokenizer for a byte-level BPE (`gpt2`) vocabulary.
    pub(crate) fn build(&self) -> Result<Tokenizer, VocabError> {
        if self.model != "gpt2" {
            return Err(VocabError::Unsupported(format!(
                "tokenizer.ggml.model `{}` is not supported yet (supported: \"gpt2\", byte-level \
                 BPE, and \"llama\", SentencePiece); use an `hf:` tokenizer.json for this model",
                self.model
            )));
        }
        let pre = pre_tokenizer_for(&self.pre)?;
        let mut vocab = Vocab::with_capacity(self.tokens.len());
        for (id, token) in self.tokens.iter().enumerate() {
            let id =
                u32::try_from(id).map_err(|_| VocabError::Malformed("too many tokens".into()))?;
            // Like llama.cpp: an empty token gets a placeholder, a duplicate keeps the last id.
            let text = if token.is_empty() {
                format!("[EMPTY_{id}]")
            } else {
                token.clone()
            };
            vocab.insert(text, id);
        }
        let merges: Merges = self.merges.iter().filter_map(|m| split_merge(m)).collect();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .ignore_merges(pre.ignore_merges)
            .build()
            .map_err(|e| VocabError::Malformed(format!("BPE merges: {e}")))?;
        let mut tokenizer = Tokenizer::new(bpe);
        tokenizer.with_pre_tokenizer(Some(pre.wrapper));
        tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
        let specials: Vec<AddedToken> = self
            .special_ids()
            .into_iter()
            .filter_map(|id| self.tokens.get(id as usize))
            .filter(|t| !t.is_empty())
            .map(|t| AddedToken::from(t.clone(), true).normalized(false))
            .collect();
        tokenizer
            .add_special_tokens(specials)
            .map_err(|e| VocabError::Malformed(format!("special tokens: {e}")))?;
        Ok(tokenizer)
    }
}

/// "a b" → ("a", "b"), splitting at the first space after the first byte, as llama.cpp does.
fn split_merge(merge: &str) -> Option<(String, String)> {
    let pos = merge.bytes().skip(1).position(|b| b == b' ')? + 1;
    // A space is ASCII, so `pos` and `pos + 1` are character boundaries.
    Some((merge[..pos].to_owned(), merge[pos + 1..].to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_vocab() -> GgufVocab {
        let tokens = ["<|endoftext|>", "a", "b", "ab", "Ġ", "Ġab", "<tool>"];
        GgufVocab {
            model: "gpt2".into(),
            pre: "gpt-2".into(),
            tokens: tokens.iter().map(|s| s.to_string()).collect(),
            merges: vec!["a b".into(), "Ġ ab".into()],
            token_types: vec![3, 1, 1, 1, 1, 1, 4],
            scores: Vec::new(),
            add_space_prefix: None,
        }
    }

    #[test]
    fn builds_bpe_with_specials_matched_whole() {
        let tok = tiny_vocab().build().expect("build");
        let ids = |t: &str| tok.encode(t, false).expect("encode").get_ids().to_vec();
        assert_eq!(ids("ab ab"), [3, 5]);
        assert_eq!(ids("ab<|endoftext|>ab<tool>"), [3, 0, 3, 6]);
        assert_eq!(tiny_vocab().special_ids(), [0, 6]);
    }

    #[test]
    fn splits_merges_like_llama_cpp() {
        assert_eq!(split_merge("a b"), Some(("a".into(), "b".into())));
        assert_eq!(split_merge("  x"), Some((" ".into(), "x".into())));
        assert_eq!(split_merge("ab"), None);
        assert_eq!(split_merge("Ġ ab"), Some(("Ġ".into(), "ab".into())));
    }

    #[test]
    fn rejects_other_models_and_missing_vocab() {
        let mut v = tiny_vocab();
        v.model = "bert".into();
        let err = v.counter("gguf:x").err().expect("unsupported");
        assert!(matches!(err, VocabError::Unsupported(m) if m.contains("`bert`")));
        v.model = "llama".into();
        assert_eq!(v.counter("gguf:x").expect("spm").name(), "gguf:x");
        let info = serde_json::json!({"general.architecture": "llama"});
        assert_eq!(GgufVocab::from_model_info(&info), Err(VocabError::Missing));
        let info = serde_json::json!({"tokenizer.ggml.tokens": ["a"]});
        let err = GgufVocab::from_model_info(&info).expect_err("no model");
        assert!(matches!(err, VocabError::Malformed(m) if m.contains("tokenizer.ggml.model")));
    }
}
