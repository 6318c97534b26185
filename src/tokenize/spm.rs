//! SentencePiece vocabularies from GGUF metadata (`tokenizer.ggml.model =
//! "llama"`: Llama 2, Mistral 7B, Gemma, Phi-3, …), encoded the way
//! llama.cpp's SPM tokenizer does with `parse_special: true` and
//! `add_special: false`:
//!
//! 1. Special tokens (control, user-defined, unknown) are cut out of the
//!    text, longest token first, every occurrence, as llama.cpp's
//!    `tokenizer_st_partition` does.
//! 2. Each remaining piece gets a leading space when
//!    `tokenizer.ggml.add_space_prefix` (default true) and it starts the text
//!    or follows a special token; spaces become `▁`.
//! 3. Characters are merged pairwise, always the adjacent pair whose merged
//!    text is the token with the highest score (the leftmost on a tie), until
//!    no pair forms a token.
//! 4. A character left that is not a token becomes its UTF-8 bytes as
//!    `<0xXX>` tokens.
//!
//! Written after llama.cpp's algorithm; only the synthetic vocabularies of
//! the unit tests check it here (no SentencePiece model is at hand).

use super::error::TokenizeError;
use super::vocab::{GgufVocab, VocabError};
use super::TokenCounter;
use std::collections::{BinaryHeap, HashMap};

/// A SentencePiece counter.
pub(crate) struct SpmCounter {
    name: String,
    ids: HashMap<String, u32>,
    scores: Vec<f32>,
    bytes: Vec<Option<u32>>,
    /// Special tokens, longest text first.
    specials: Vec<(String, u32)>,
    add_space_prefix: bool,
    /// Each token's length in bytes of text (`▁` is one space, `<0xXX>` one byte).
    text_lengths: Vec<usize>,
}

/// A candidate merge: higher score first, then the leftmost.
#[derive(PartialEq)]
struct Bigram {
    score: f32,
    left: usize,
    right: usize,
    size: usize,
}

impl Eq for Bigram {}

impl Ord for Bigram {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score
            .total_cmp(&other.score)
            .then(other.left.cmp(&self.left))
    }
}

impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A character run in the merge list: byte range in the text, linked neighbours.
#[derive(Clone, Copy)]
struct Symbol {
    start: usize,
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

impl SpmCounter {
    /// Build from a `"llama"` vocabulary; `name` is the spec shown in reports.
    pub(crate) fn new(name: &str, vocab: &GgufVocab) -> Result<Self, VocabError> {
        let mut ids = HashMap::with_capacity(vocab.tokens.len());
        for (id, token) in vocab.tokens.iter().enumerate() {
            let id =
                u32::try_from(id).map_err(|_| VocabError::Malformed("too many tokens".into()))?;
            ids.insert(token.clone(), id);
        }
        let bytes = (0..=255u8)
            .map(|b| ids.get(&format!("<0x{b:02X}>")).copied())
            .collect();
        let mut specials: Vec<(String, u32)> = vocab
            .special_ids()
            .into_iter()
            .filter_map(|id| Some((vocab.tokens.get(id as usize)?.clone(), id)))
            .filter(|(text, _)| !text.is_empty())
            .collect();
        specials.sort_by_key(|(text, _)| std::cmp::Reverse(text.len()));
        Ok(SpmCounter {
            name: name.to_owned(),
            ids,
            scores: vocab.scores.clone(),
            bytes,
            specials,
            add_space_prefix: vocab.add_space_prefix.unwrap_or(true),
            text_lengths: vocab.tokens.iter().map(|t| text_length(t)).collect(),
        })
    }

    /// Step 1: the text as raw pieces (`Err`) and special tokens (`Ok`).
    fn partition<'t>(&self, text: &'t str) -> Vec<Result<u32, &'t str>> {
        if text.is_empty() {
            return Vec::new();
        }
        let mut parts: Vec<Result<u32, &'t str>> = vec![Err(text)];
        for (special, id) in &self.specials {
            if !text.contains(special.as_str()) {
                continue;
            }
            let mut next = Vec::with_capacity(parts.len() + 2);
            for part in parts {
                let Err(raw) = part else {
                    next.push(part);
                    continue;
                };
                let mut rest = raw;
                while let Some(at) = rest.find(special.as_str()) {
                    if at > 0 {
                        next.push(Err(&rest[..at]));
                    }
                    next.push(Ok(*id));
                    rest = &rest[at + special.len()..];
                }
                if !rest.is_empty() {
                    next.push(Err(rest));
                }
            }
            parts = next;
        }
        parts
    }

    fn bigram(&self, text: &str, symbols: &[Symbol], left: usize, right: usize) -> Option<Bigram> {
        let (l, r) = (symbols[left], symbols[right]);
        let id = *self.ids.get(&text[l.start..r.start + r.len])?;
        Some(Bigram {
            score: self.scores.get(id as usize).copied().unwrap_or(0.0),
            left,
            right,
            size: l.len + r.len,
        })
    }

    /// Steps 3 and 4 on one escaped piece.
    fn encode_piece(&self, text: &str, out: &mut Vec<u32>) {
        let mut symbols: Vec<Symbol> = Vec::new();
        for (start, c) in text.char_indices() {
            let i = symbols.len();
            symbols.push(Symbol {
                start,
                len: c.len_utf8(),
                prev: i.checked_sub(1),
                next: (start + c.len_utf8() < text.len()).then_some(i + 1),
            });
        }
        let mut queue = BinaryHeap::new();
        for i in 1..symbols.len() {
            queue.extend(self.bigram(text, &symbols, i - 1, i));
        }
        while let Some(b) = queue.pop() {
            let (l, r) = (symbols[b.left], symbols[b.right]);
            if l.len == 0 || r.len == 0 || l.len + r.len != b.size {
                continue;
            }
            symbols[b.left].len += r.len;
            symbols[b.right].len = 0;
            symbols[b.left].next = r.next;
            if let Some(n) = r.next {
                symbols[n].prev = Some(b.left);
            }
            if let Some(p) = l.prev {
                queue.extend(self.bigram(text, &symbols, p, b.left));
            }
            if let Some(n) = r.next {
                queue.extend(self.bigram(text, &symbols, b.left, n));
            }
        }
        let mut at = (!symbols.is_empty()).then_some(0);
        while let Some(i) = at {
            let s = symbols[i];
            let piece = &text[s.start..s.start + s.len];
            match self.ids.get(piece) {
                Some(&id) => out.push(id),
                None => out.extend(piece.bytes().filter_map(|b| self.bytes[b as usize])),
            }
            at = s.next;
        }
    }
}

/// The bytes of text a vocabulary entry stands for.
fn text_length(token: &str) -> usize {
    let is_byte = token.len() == 6 && token.starts_with("<0x") && token.ends_with('>');
    if is_byte {
        1
    } else {
        token.replace('\u{2581}', " ").len()
    }
}

impl TokenCounter for SpmCounter {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn is_estimate(&self) -> bool {
        false
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizeError> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        let mut after_special = true;
        for part in self.partition(text) {
            match part {
                Ok(id) => {
                    out.push(id);
                    after_special = true;
                }
                Err(raw) => {
                    let prefix = if self.add_space_prefix && after_special {
                        " "
                    } else {
                        ""
                    };
                    let escaped = format!("{prefix}{raw}").replace(' ', "\u{2581}");
                    self.encode_piece(&escaped, &mut out);
                    after_special = false;
                }
            }
        }
        Ok(out)
    }

    fn token_ends(&self, text: &str) -> Result<Option<Vec<usize>>, TokenizeError> {
        let lengths: Vec<usize> = self
            .encode(text)?
            .iter()
            .map(|&id| self.text_lengths.get(id as usize).copied().unwrap_or(0))
            .collect();
        Ok(Some(super::attribute::ends_from_lengths(
            &lengths,
            text.len(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tokens with scores; `<0x..>` byte tokens for 'x' and the bytes of 'é'.
    fn vocab(add_space_prefix: Option<bool>) -> GgufVocab {
        let entries: &[(&str, f32, i64)] = &[
            ("<unk>", 0.0, 2),
            ("<s>", 0.0, 3),
            ("<0x78>", 0.0, 6),
            ("<0xC3>", 0.0, 6),
            ("<0xA9>", 0.0, 6),
            ("▁", -1.0, 1),
            ("a", -2.0, 1),
            ("b", -2.0, 1),
            ("ab", -5.0, 1),
            ("▁a", -3.0, 1),
            ("▁ab", -4.0, 1),
            ("ba", -1.5, 1),
        ];
        GgufVocab {
            model: "llama".into(),
            pre: "default".into(),
            tokens: entries.iter().map(|e| e.0.to_string()).collect(),
            merges: Vec::new(),
            token_types: entries.iter().map(|e| e.2).collect(),
            scores: entries.iter().map(|e| e.1).collect(),
            add_space_prefix,
        }
    }

    fn ids(v: &GgufVocab, text: &str) -> Vec<u32> {
        SpmCounter::new("gguf:t", v)
            .expect("build")
            .encode(text)
            .expect("encode")
    }

    #[test]
    fn merges_the_best_scoring_pair_first() {
        let v = vocab(None);
        // "▁ab": ▁a (-3) beats ab (-5), then ▁a+b = ▁ab (-4).
        assert_eq!(ids(&v, "ab"), [10]);
        // "▁aba": ▁a (-3) and ba (-1.5): ba wins first, leaving ▁ + a + ba → ▁a, ba.
        assert_eq!(ids(&v, "aba"), [9, 11]);
    }

    #[test]
    fn space_prefix_follows_specials_and_can_be_off() {
        let v = vocab(None);
        assert_eq!(ids(&v, "a<s>a"), [9, 1, 9]);
        assert_eq!(ids(&v, ""), Vec::<u32>::new());
        let off = vocab(Some(false));
        assert_eq!(ids(&off, "a<s>a"), [6, 1, 6]);
        assert_eq!(ids(&off, " a"), [9]);
    }

    #[test]
    fn unknown_characters_fall_back_to_bytes() {
        let off = vocab(Some(false));
        assert_eq!(ids(&off, "xé"), [2, 3, 4]);
        // No byte token for 'z': nothing is emitted for it.
        assert_eq!(ids(&off, "za"), [6]);
    }

    #[test]
    fn longest_special_token_is_cut_out_first() {
        let mut v = vocab(Some(false));
        v.tokens.push("<s><s>".into());
        v.token_types.push(4);
        v.scores.push(0.0);
        assert_eq!(ids(&v, "<s><s><s>a"), [12, 1, 6]);
        assert_eq!(ids(&v, "<unk>"), [0]);
    }

    #[test]
    fn token_ends_account_for_the_space_prefix_and_byte_tokens() {
        let ends = |v: &GgufVocab, text: &str| {
            SpmCounter::new("gguf:t", v)
                .expect("build")
                .token_ends(text)
                .expect("ends")
                .expect("some")
        };
        // "aba" → "▁a" "ba": the added space is not in the text.
        assert_eq!(ends(&vocab(None), "aba"), vec![1, 3]);
        // "xé" → <0x78> <0xC3> <0xA9>: one byte each.
        assert_eq!(ends(&vocab(Some(false)), "xé"), vec![1, 2, 3]);
        assert_eq!(ends(&vocab(Some(false)), " ab"), vec![3]);
    }
}
