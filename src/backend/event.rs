//! What a backend's decoder produces: protocol-neutral events. Decoders never
//! read the clock; the executor stamps each event with the arrival time of the
//! bytes that completed it.

use serde::{Deserialize, Serialize};

/// One decoded item of a response stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A chunk of generated text. Either part may be empty; a chunk with both
    /// empty (role-only, keep-alive) is still reported as `Delta` so the
    /// executor can count events, but it does not count as a token.
    Delta { content: String, reasoning: String },
    /// The stream's final statistics (Ollama `done:true`, OpenAI finish
    /// reason / usage / llama.cpp timings). Several may arrive (finish chunk,
    /// then usage chunk); the executor merges them.
    Stats(ServerStats),
    /// The server reported an error inside the stream.
    StreamError(String),
    /// The protocol's end marker (`done:true`, `[DONE]`).
    Done,
}

impl Event {
    /// True when the event carries generated text (content or reasoning).
    pub fn has_text(&self) -> bool {
        matches!(self, Event::Delta { content, reasoning } if !content.is_empty() || !reasoning.is_empty())
    }
}

/// What the server reported about a request. Every field is optional because
/// servers omit what they do not know (Ollama's `omitempty`, OpenAI without
/// `include_usage`); a missing value is "unknown", never zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u64>,
    /// Prompt tokens served from the KV cache (llama.cpp `cache_n`, OpenAI
    /// `prompt_tokens_details.cached_tokens`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_prompt_tokens: Option<u64>,
    /// Ollama `total_duration`, ns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_duration_ns: Option<u64>,
    /// Ollama `load_duration`, ns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_duration_ns: Option<u64>,
    /// Prefill time: Ollama `prompt_eval_duration` or llama.cpp `prompt_ms`, ns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_eval_duration_ns: Option<u64>,
    /// Decode time: Ollama `eval_duration` or llama.cpp `predicted_ms`, ns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_duration_ns: Option<u64>,
    /// Tokens the prefill time covers (llama.cpp `prompt_n`); Ollama's
    /// `prompt_eval_count` goes to `prompt_tokens`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_eval_tokens: Option<u64>,
}

impl ServerStats {
    /// Fills every field this one lacks from `other` (later chunks add to
    /// earlier ones; a value once seen is kept).
    pub(crate) fn absorb(&mut self, other: ServerStats) {
        fn keep<T>(slot: &mut Option<T>, value: Option<T>) {
            if value.is_some() {
                *slot = value;
            }
        }
        keep(&mut self.finish_reason, other.finish_reason);
        keep(&mut self.prompt_tokens, other.prompt_tokens);
        keep(&mut self.completion_tokens, other.completion_tokens);
        keep(&mut self.cached_prompt_tokens, other.cached_prompt_tokens);
        keep(&mut self.total_duration_ns, other.total_duration_ns);
        keep(&mut self.load_duration_ns, other.load_duration_ns);
        keep(
            &mut self.prompt_eval_duration_ns,
            other.prompt_eval_duration_ns,
        );
        keep(&mut self.eval_duration_ns, other.eval_duration_ns);
        keep(&mut self.prompt_eval_tokens, other.prompt_eval_tokens);
    }
}

/// A decoder turns a response body, fed in arbitrary byte pieces, into events.
/// Pieces may split a record anywhere (even inside a UTF-8 character).
pub trait Decoder: Send {
    /// Decodes every complete record in `bytes` (plus what was buffered) into `out`.
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event>) -> Result<(), ProtocolError>;
    /// Called at end of body: decodes a trailing record without a newline.
    fn finish(&mut self, out: &mut Vec<Event>) -> Result<(), ProtocolError>;
}

/// The body did not follow the protocol.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolError(pub String);
