//! The `heuristic` token estimate, for when no tokenizer is available. It is
//! always flagged as an estimate in reports.
//!
//! Rule: `max(round(words × 4/3), round(units / 4))`, where `words` is the
//! number of whitespace-separated runs and `units` weighs each character:
//! ASCII letters and whitespace 1, ASCII punctuation 2, digits 3 (many
//! vocabularies give each digit its own token, others one per three digits),
//! other characters 4 (a non-Latin character costs about a token in
//! multilingual vocabularies and 2–3 byte tokens in English-centric ones).
//! Empty text is 0, any other text at least 1. The first term is the usual
//! "a token is ¾ of an English word", the second "a token is 4 characters",
//! which wins for code, numbers and text without spaces. Its measured error
//! against SmolLM2's counts is in docs/tokenizers.md.

use super::error::TokenizeError;
use super::TokenCounter;

/// Estimate the number of tokens in `text` (see the module docs for the rule).
pub fn heuristic_count(text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    let words = text.split_whitespace().count();
    let units: usize = text.chars().map(weight).sum();
    let by_words = (words * 4 + 1) / 3;
    let by_chars = (units + 2) / 4;
    by_words.max(by_chars).max(1)
}

fn weight(c: char) -> usize {
    match c {
        'a'..='z' | 'A'..='Z' => 1,
        c if c.is_ascii_whitespace() => 1,
        c if c.is_ascii_punctuation() => 2,
        '0'..='9' => 3,
        _ => 4,
    }
}

/// The estimate as a counter; gives counts, never ids.
pub struct HeuristicCounter;

impl TokenCounter for HeuristicCounter {
    fn name(&self) -> String {
        "heuristic".into()
    }

    fn is_estimate(&self) -> bool {
        true
    }

    fn encode(&self, _text: &str) -> Result<Vec<u32>, TokenizeError> {
        Err(TokenizeError::Encode {
            spec: self.name(),
            reason: "the heuristic estimates a count and has no token ids".into(),
        })
    }

    fn count(&self, text: &str) -> Result<usize, TokenizeError> {
        Ok(heuristic_count(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_documented_rule() {
        assert_eq!(heuristic_count(""), 0);
        assert_eq!(heuristic_count(" "), 1);
        assert_eq!(heuristic_count("hi"), 1);
        // 9 words → 12; 44 chars → 11.
        assert_eq!(
            heuristic_count("The quick brown fox jumps over the lazy dog."),
            12
        );
        // One 40-letter "word": 40 / 4 = 10; 40 digits: 120 / 4 = 30.
        assert_eq!(heuristic_count(&"x".repeat(40)), 10);
        assert_eq!(heuristic_count(&"7".repeat(40)), 30);
        // 4 CJK characters: 16 units → 4.
        assert_eq!(heuristic_count("你好世界"), 4);
    }

    #[test]
    fn counter_is_flagged_and_has_no_ids() {
        let h = HeuristicCounter;
        assert!(h.is_estimate());
        assert_eq!(h.count("one two three").expect("count"), 4);
        let err = h.encode("x").expect_err("no ids").to_string();
        assert!(err.contains("no token ids"), "{err}");
    }
}
