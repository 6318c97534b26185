//! Synthetic prompts of a given input length in tokens (`input_tokens` on a
//! prompt). The text is a seeded sequence of common English words in
//! sentences — ordinary text, so every tokenizer splits it the way it splits
//! real prompts, and the same prompt id always gives the same words. Its
//! length is fitted to the target with whatever counter the model has: the
//! longest run of words that does not exceed the target, then one-token
//! words appended until the count is exact (or as close as the tokenizer
//! allows from below).

use crate::rng::SplitMix64;

/// Short, frequent words: almost all are one token with a leading space in
/// any modern vocabulary, so the fit is fine-grained.
const WORDS: [&str; 96] = [
    "the", "of", "and", "to", "in", "is", "it", "that", "for", "was", "on", "are", "as", "with",
    "his", "they", "at", "be", "this", "from", "have", "or", "by", "one", "had", "not", "but",
    "what", "all", "were", "when", "we", "there", "can", "an", "your", "which", "their", "said",
    "if", "do", "will", "each", "about", "how", "up", "out", "them", "then", "she", "many", "some",
    "so", "these", "would", "other", "into", "has", "more", "her", "two", "like", "him", "see",
    "time", "could", "no", "make", "than", "first", "been", "its", "who", "now", "people", "my",
    "made", "over", "did", "down", "only", "way", "find", "use", "may", "water", "long", "little",
    "very", "after", "words", "called", "just", "where", "most", "know",
];

/// Appended to top the count up: one token in every common vocabulary.
const FILLER: &str = " a";

/// A prompt's seeded word sequence.
pub(crate) struct SyntheticText {
    words: Vec<&'static str>,
}

impl SyntheticText {
    /// Enough words for `tokens` tokens with room to spare, seeded by `id`.
    pub(crate) fn new(id: &str, tokens: u32) -> SyntheticText {
        let mut random = SplitMix64::new(seed_of(id));
        let count = tokens as usize * 2 + 16;
        let words = (0..count)
            .map(|_| WORDS[(random.next_u64() % WORDS.len() as u64) as usize])
            .collect();
        SyntheticText { words }
    }

    /// The first `n` words as sentences of 12 words: capitalised, separated by
    /// full stops (none at the end, so a one-word prompt is one token).
    pub(crate) fn prefix(&self, n: usize) -> String {
        let mut text = String::with_capacity(n * 5);
        for (i, word) in self.words.iter().take(n).enumerate() {
            let starts_sentence = i % 12 == 0;
            if i > 0 {
                text.push_str(if starts_sentence { ". " } else { " " });
            }
            if starts_sentence {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    text.extend(first.to_uppercase());
                    text.push_str(chars.as_str());
                }
            } else {
                text.push_str(word);
            }
        }
        text
    }

    /// The text of `target` tokens by `count`: the longest prefix within the
    /// target (binary search; counts grow with the prefix), then fillers
    /// until the count is reached. Returns the text and its count.
    pub(crate) fn fit<E>(
        &self,
        target: usize,
        mut count: impl FnMut(&str) -> Result<usize, E>,
    ) -> Result<(String, usize), E> {
        let (mut low, mut high) = (0usize, self.words.len());
        while low < high {
            let middle = (low + high).div_ceil(2);
            if count(&self.prefix(middle))? <= target {
                low = middle;
            } else {
                high = middle - 1;
            }
        }
        let mut text = self.prefix(low);
        let mut counted = count(&text)?;
        for _ in 0..8 {
            if counted >= target {
                break;
            }
            let longer = format!("{text}{FILLER}");
            let longer_count = count(&longer)?;
            if longer_count > target {
                break;
            }
            (text, counted) = (longer, longer_count);
        }
        Ok((text, counted))
    }
}

/// FNV-1a of the id: a stable seed across versions and platforms.
fn seed_of(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The text for a synthetic prompt fitted with the documented heuristic
/// (used until the model's own tokenizer refits it at run time).
pub(crate) fn heuristic_text(id: &str, tokens: u32) -> String {
    let count = |text: &str| Ok::<_, ()>(super::heuristic_count(text));
    SyntheticText::new(id, tokens)
        .fit(tokens as usize, count)
        .map(|(text, _)| text)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize::{TiktokenCounter, TokenCounter};

    #[test]
    fn the_same_id_gives_the_same_text_and_another_id_another() {
        assert_eq!(heuristic_text("a", 50), heuristic_text("a", 50));
        assert_ne!(heuristic_text("a", 50), heuristic_text("b", 50));
        let text = heuristic_text("a", 50);
        assert!(
            text.starts_with(char::is_uppercase) && text.contains(". "),
            "{text}"
        );
    }

    #[test]
    fn a_real_tokenizer_fits_the_length_exactly() {
        let counter = TiktokenCounter::new("cl100k_base").expect("cl100k");
        for target in [1usize, 16, 128, 512, 2000] {
            let synthetic = SyntheticText::new("prompt", target as u32);
            let (text, counted) = synthetic.fit(target, |t| counter.count(t)).expect("count");
            assert_eq!(counted, target, "{target}");
            assert_eq!(counter.count(&text).expect("count"), target);
        }
    }

    #[test]
    fn prefixes_are_sentences() {
        let text = SyntheticText::new("x", 40).prefix(13);
        assert_eq!(text.matches(". ").count(), 1, "{text}");
        assert_eq!(SyntheticText::new("x", 1).prefix(0), "");
    }
}
