//! `tiktoken:ENCODING` counters on tiktoken-rs's embedded rank tables. Each
//! encoding is built once per process (the crate's singletons, ~0.2 s for
//! cl100k/o200k in release). Special tokens such as `<|endoftext|>` in the
//! text are encoded as the special token, like the other sources here
//! (llama.cpp with `parse_special`, Hugging Face added tokens).

use super::error::TokenizeError;
use super::TokenCounter;
use std::panic::{catch_unwind, AssertUnwindSafe};
use tiktoken_rs::CoreBPE;

/// Encodings accepted after `tiktoken:` (`gpt2` is r50k_base's other name).
pub(crate) const KNOWN_ENCODINGS: &[&str] = &[
    "cl100k_base",
    "o200k_base",
    "o200k_harmony",
    "p50k_base",
    "p50k_edit",
    "r50k_base",
    "gpt2",
];

/// Error unless `name` is a known encoding.
pub(crate) fn check_encoding(name: &str, spec: &str) -> Result<(), TokenizeError> {
    if KNOWN_ENCODINGS.contains(&name) {
        return Ok(());
    }
    Err(TokenizeError::UnknownEncoding {
        name: name.to_owned(),
        spec: spec.to_owned(),
        known: KNOWN_ENCODINGS.join(", "),
    })
}

fn singleton(name: &str) -> Option<&'static CoreBPE> {
    Some(match name {
        "cl100k_base" => tiktoken_rs::cl100k_base_singleton(),
        "o200k_base" => tiktoken_rs::o200k_base_singleton(),
        "o200k_harmony" => tiktoken_rs::o200k_harmony_singleton(),
        "p50k_base" => tiktoken_rs::p50k_base_singleton(),
        "p50k_edit" => tiktoken_rs::p50k_edit_singleton(),
        "r50k_base" | "gpt2" => tiktoken_rs::r50k_base_singleton(),
        _ => return None,
    })
}

/// A tiktoken encoding.
pub(crate) struct TiktokenCounter {
    name: String,
    bpe: &'static CoreBPE,
}

impl TiktokenCounter {
    /// Load (or reuse) the encoding `name`.
    pub(crate) fn new(name: &str) -> Result<Self, TokenizeError> {
        let spec = format!("tiktoken:{name}");
        check_encoding(name, &spec)?;
        let bpe = catch_unwind(|| singleton(name))
            .ok()
            .flatten()
            .ok_or_else(|| TokenizeError::Encode {
                spec,
                reason: "tiktoken-rs failed to build its rank table".into(),
            })?;
        Ok(TiktokenCounter {
            name: name.to_owned(),
            bpe,
        })
    }
}

impl TokenCounter for TiktokenCounter {
    fn name(&self) -> String {
        format!("tiktoken:{}", self.name)
    }

    fn is_estimate(&self) -> bool {
        false
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizeError> {
        // tiktoken-rs unwraps regex errors (fancy-regex's backtrack limit) internally.
        catch_unwind(AssertUnwindSafe(|| {
            let allowed = self.bpe.special_tokens();
            self.bpe.encode(text, &allowed).map(|(ids, _)| ids)
        }))
        .map_err(|_| "tiktoken-rs panicked on this text".to_owned())
        .and_then(|r| r.map_err(|e| e.to_string()))
        .map_err(|reason| TokenizeError::Encode {
            spec: self.name(),
            reason,
        })
    }

    fn token_ends(&self, text: &str) -> Result<Option<Vec<usize>>, TokenizeError> {
        // tiktoken is byte-level and lossless: each token's bytes, in order, are the text.
        let lengths = self
            .encode(text)?
            .iter()
            .map(|&id| self.bpe.decode_bytes(&[id]).map(|bytes| bytes.len()))
            .collect::<Result<Vec<usize>, _>>()
            .map_err(|e| TokenizeError::Encode {
                spec: self.name(),
                reason: e.to_string(),
            })?;
        Ok(Some(super::attribute::ends_from_lengths(
            &lengths,
            text.len(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let cl = TiktokenCounter::new("cl100k_base").expect("cl100k");
        assert_eq!(cl.encode("hello world").expect("encode"), [15339, 1917]);
        assert_eq!(cl.count("").expect("count"), 0);
        // The special token is one token, not its characters.
        assert_eq!(cl.encode("<|endoftext|>").expect("encode"), [100257]);
        let gpt2 = TiktokenCounter::new("gpt2").expect("gpt2");
        assert_eq!(gpt2.encode("hello world").expect("encode"), [31373, 995]);
        assert_eq!(gpt2.name(), "tiktoken:gpt2");
        assert!(!gpt2.is_estimate());
    }

    #[test]
    fn token_ends_place_every_token_in_the_text() {
        let cl = TiktokenCounter::new("cl100k_base").expect("cl100k");
        let ends = cl.token_ends("hello world").expect("ends").expect("some");
        assert_eq!(ends, vec![5, 11]);
        // Multi-byte text: the last token ends at the end of the text.
        let text = "naïve 日本語 🙂";
        let ends = cl.token_ends(text).expect("ends").expect("some");
        assert_eq!(ends.len(), cl.count(text).expect("count"));
        assert_eq!(ends.last().copied(), Some(text.len()));
        assert!(ends.windows(2).all(|w| w[0] <= w[1]), "{ends:?}");
    }

    #[test]
    fn unknown_encoding_lists_the_known_ones() {
        let err = TiktokenCounter::new("cl50k")
            .err()
            .expect("error")
            .to_string();
        assert!(err.contains("unknown tiktoken encoding `cl50k`"), "{err}");
        assert!(err.contains("tiktoken:cl50k"), "{err}");
        assert!(err.contains("o200k_base"), "{err}");
    }
}
