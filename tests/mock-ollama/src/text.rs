//! Deterministic "model output": the token sequence a generation produces (thinking first
//! for thinking models, then the answer), the prompt token count derived from the request
//! text, and the fake token ids of `/api/generate`'s `context`. Words include multi-byte
//! UTF-8 characters so clients' record splitting gets exercised.

use serde_json::Value;

/// Answer words; several are non-ASCII (2-, 3- and 4-byte UTF-8).
const ANSWER: &[&str] = &[
    "The",
    "café",
    "serves",
    "naïve",
    "crème",
    "brûlée",
    "to",
    "über",
    "curious",
    "travellers",
    "—",
    "one,",
    "two,",
    "three",
    "jalapeño",
    "piñatas",
    "and",
    "日本",
    "tea",
    "🙂",
];

/// Reasoning words emitted as `thinking` by thinking models.
const THINKING: &[&str] = &[
    "Okay,", "the", "user", "wants", "a", "short", "answer", "about", "the", "café;", "let", "me",
    "think", "step", "by", "step.",
];

/// One generated token.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub text: String,
    /// Part of the reasoning section.
    pub thinking: bool,
}

/// The tokens a generation produces when nothing stops it early: for a thinking model
/// with thinking on, the first half is reasoning.
pub fn natural_tokens(response_tokens: usize, thinking: bool) -> Vec<Token> {
    let n_think = if thinking { response_tokens / 2 } else { 0 };
    let section = |words: &[&str], n: usize, thinking: bool| -> Vec<Token> {
        (0..n)
            .map(|i| {
                let w = words[i % words.len()];
                let text = if i == 0 {
                    w.to_string()
                } else {
                    format!(" {w}")
                };
                Token { text, thinking }
            })
            .collect()
    };
    let mut out = section(THINKING, n_think, true);
    out.extend(section(ANSWER, response_tokens - n_think, false));
    out
}

/// Whitespace-separated words in a string.
pub fn words(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

/// Words in a message `content`: a string, or OpenAI-style parts with `text`.
pub fn value_words(v: Option<&Value>) -> u64 {
    match v {
        Some(Value::String(s)) => words(s),
        Some(Value::Array(parts)) => parts.iter().map(|p| value_words(p.get("text"))).sum(),
        _ => 0,
    }
}

/// Prompt tokens of `/api/generate`: words plus a template overhead unless raw.
pub fn generate_prompt_tokens(prompt: &str, system: &str, raw: bool, context_len: usize) -> u64 {
    let overhead = if raw { 0 } else { 9 };
    (words(prompt) + words(system) + overhead + context_len as u64).max(1)
}

/// Prompt tokens of a chat: per message its words plus 4 template tokens, plus 3.
pub fn chat_prompt_tokens(messages: &[Value]) -> u64 {
    3 + messages
        .iter()
        .map(|m| 4 + value_words(m.get("content")))
        .sum::<u64>()
}

/// A chat's messages as one text, in order (what a prompt cache compares).
pub fn rendered(messages: &[Value]) -> String {
    messages
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Deterministic fake token ids for `context`.
pub fn context_ids(n: u64) -> Vec<u32> {
    (0..n)
        .map(|i| ((i * 7919 + 151_644) % 151_936) as u32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn thinking_comes_first_and_counts() {
        let t = natural_tokens(20, true);
        assert_eq!(t.len(), 20);
        assert!(t[..10].iter().all(|t| t.thinking));
        assert!(t[10..].iter().all(|t| !t.thinking));
        assert_eq!(t[10].text, "The");
        assert_eq!(t[11].text, " café");
        assert!(natural_tokens(5, false).iter().all(|t| !t.thinking));
    }

    #[test]
    fn prompt_counts_are_deterministic() {
        assert_eq!(generate_prompt_tokens("Count to five.", "", false, 0), 12);
        assert_eq!(generate_prompt_tokens("Count to five.", "", true, 0), 3);
        let msgs = [json!({"role":"user","content":"hi there"})];
        assert_eq!(chat_prompt_tokens(&msgs), 9);
        let parts = json!([{"type":"text","text":"a b c"}]);
        assert_eq!(value_words(Some(&parts)), 3);
    }
}
