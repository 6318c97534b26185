//! OpenAI-compatible client (SSE): the `/v1/chat/completions` request body and
//! the decoder for its `text/event-stream` reply (spec §3, §4, §5.1, §6).
//! The request always streams with `stream_options.include_usage`, so servers
//! that honour it (Ollama `/v1`, llama.cpp, vLLM) send token counts; the
//! model's pass-through options are merged into the top-level body (typed
//! settings and protocol fields win on a clash). The decoder follows the SSE
//! rules: events end at a blank line, `data:` lines are joined with `\n`,
//! comments (`:` pings) and `event:`/`id:`/`retry:` lines are ignored, CRLF is
//! accepted. `data: [DONE]` is `Done`; every other payload is a chunk whose
//! first choice gives a `Delta` (role-only chunks give an empty one), whose
//! `finish_reason`, `usage` and llama.cpp `timings` give `Stats`, and whose
//! `error` gives `StreamError`. A body that ends without `[DONE]` produces no
//! `Done`: Ollama `/v1` swallows mid-stream errors that way (§3.4) and older
//! llama.cpp builds write an `error:` line SSE ignores, so the executor must
//! treat a missing `Done` as a failed request.
//!
//! Speed: an event that is one `data:` line followed by its blank line in the
//! same piece (nearly every event) is decoded straight from the piece,
//! without copying it into the event buffer, and a plain content delta is
//! recognised by a byte scan (openai_fast.rs) before serde is asked.

use super::client::GenRequest;
use super::event::{Decoder, Event, ProtocolError, ServerStats};
use super::json::{first, opt_ms_as_ns, opt_u64};
use super::lines::{line_text, next_line, preview, LineBuffer};
use super::ollama::error_text;
use serde::de::{Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::fmt;

/// The path of the generation endpoint, relative to the server root.
pub(crate) const CHAT_PATH: &str = "/v1/chat/completions";

/// The JSON body of a streaming chat-completions request.
pub(crate) fn body(req: &GenRequest) -> Value {
    let mut body = req.options.clone();
    let mut messages = Vec::with_capacity(2);
    if let Some(system) = req.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.push(json!({"role": "user", "content": req.prompt}));
    body.insert("model".into(), json!(req.model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), Value::Bool(true));
    // Keep extra stream options the user passed (e.g. vLLM's
    // `continuous_usage_stats`), but usage must be on.
    let mut stream_options = match body.remove("stream_options") {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    stream_options.insert("include_usage".into(), Value::Bool(true));
    body.insert("stream_options".into(), Value::Object(stream_options));

    let s = req.settings;
    let mut set = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            body.insert(key.into(), value);
        }
    };
    set("max_tokens", s.max_tokens.map(|v| json!(v)));
    set("temperature", s.temperature.map(|v| json!(v)));
    set("top_p", s.top_p.map(|v| json!(v)));
    set("top_k", s.top_k.map(|v| json!(v)));
    set("seed", s.seed.map(|v| json!(v)));
    set("stop", s.stop.as_ref().map(|v| json!(v)));
    Value::Object(body)
}

/// Decodes an OpenAI-style SSE body.
#[derive(Debug)]
pub(crate) struct SseDecoder {
    lines: LineBuffer,
    event: EventBuffer,
    /// The fast path's state; `None` only in tests, to compare the fast
    /// path with serde alone.
    fast: Option<fast::Template>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        SseDecoder {
            lines: LineBuffer::default(),
            event: EventBuffer::default(),
            fast: Some(fast::Template::default()),
        }
    }
}

impl SseDecoder {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The decoder with serde for every payload (the reference the fast path
    /// is tested against).
    #[cfg(test)]
    pub(crate) fn without_fast_path() -> Self {
        SseDecoder {
            fast: None,
            ..Self::default()
        }
    }
}

impl Decoder for SseDecoder {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event>) -> Result<(), ProtocolError> {
        let (event, fast) = (&mut self.event, &mut self.fast);
        let complete = self
            .lines
            .complete(bytes, |line| event.line(line, fast, out))?;
        let Some(mut rest) = complete else {
            return Ok(());
        };
        while let Some((line, after)) = next_line(rest) {
            let line = line_text(line)?;
            rest = after;
            // A lone `data:` line whose blank line follows: decode the
            // payload where it lies (what `EventBuffer` would do, no copy).
            if !event.has_data {
                if let (Some(payload), Some(after_blank)) = (data_value(line), blank_line(rest)) {
                    decode_payload(payload.trim(), fast, out)?;
                    rest = after_blank;
                    continue;
                }
            }
            event.line(line, fast, out)?;
        }
        self.lines.keep(rest)
    }

    fn finish(&mut self, out: &mut Vec<Event>) -> Result<(), ProtocolError> {
        let (event, fast) = (&mut self.event, &mut self.fast);
        self.lines.finish(|line| event.line(line, fast, out))?;
        // A last event not followed by a blank line still counts.
        self.event.dispatch(&mut self.fast, out)
    }
}

/// The value of a `data` field line (SSE: the field name ends at the first
/// `:`, and one space after it is not part of the value).
fn data_value(line: &str) -> Option<&str> {
    let value = line.strip_prefix("data:")?;
    Some(value.strip_prefix(' ').unwrap_or(value))
}

/// The bytes after a blank line (`\n` or `\r\n`) at the start of `bytes`.
fn blank_line(bytes: &[u8]) -> Option<&[u8]> {
    match bytes {
        [b'\n', rest @ ..] | [b'\r', b'\n', rest @ ..] => Some(rest),
        _ => None,
    }
}

/// The `data` of the SSE event being read (reused between events).
#[derive(Debug, Default)]
struct EventBuffer {
    data: String,
    has_data: bool,
}

impl EventBuffer {
    fn line(
        &mut self,
        line: &str,
        fast: &mut Option<fast::Template>,
        out: &mut Vec<Event>,
    ) -> Result<(), ProtocolError> {
        if line.is_empty() {
            return self.dispatch(fast, out);
        }
        if line.starts_with(':') {
            return Ok(()); // comment / keep-alive ping
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        if field == "data" {
            if self.has_data {
                self.data.push('\n');
            }
            self.data.push_str(value);
            self.has_data = true;
        }
        Ok(())
    }

    fn dispatch(
        &mut self,
        fast: &mut Option<fast::Template>,
        out: &mut Vec<Event>,
    ) -> Result<(), ProtocolError> {
        if !self.has_data {
            return Ok(());
        }
        let result = decode_payload(self.data.trim(), fast, out);
        self.data.clear();
        self.has_data = false;
        result
    }
}

/// One `chat.completion.chunk` (or an error object). Strings are owned
/// because they move into events; everything else is skipped unread, and
/// `choices` keeps only its first element (no `Vec` per chunk).
#[derive(Deserialize)]
struct Chunk {
    #[serde(default, deserialize_with = "first")]
    choices: Option<Choice>,
    usage: Option<Usage>,
    timings: Option<Timings>,
    error: Option<Value>,
    /// vLLM's old flat error shape: `{"object":"error","message":…}`.
    #[serde(default)]
    object: IsError,
    message: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    delta: Option<Delta>,
    /// Legacy `/v1/completions` chunks.
    text: Option<String>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default, deserialize_with = "opt_u64")]
    prompt_tokens: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<PromptDetails>,
}

#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default, deserialize_with = "opt_u64")]
    cached_tokens: Option<u64>,
}

/// llama.cpp's per-request timings (ms floats).
#[derive(Deserialize)]
struct Timings {
    #[serde(default, deserialize_with = "opt_u64")]
    cache_n: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    prompt_n: Option<u64>,
    #[serde(default, deserialize_with = "opt_ms_as_ns")]
    prompt_ms: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    predicted_n: Option<u64>,
    #[serde(default, deserialize_with = "opt_ms_as_ns")]
    predicted_ms: Option<u64>,
}

/// Whether `object` is `"error"`, read without allocating the string.
#[derive(Default)]
struct IsError(bool);

impl<'de> Deserialize<'de> for IsError {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IsError;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or null")
            }
            fn visit_str<E>(self, v: &str) -> Result<IsError, E> {
                Ok(IsError(v == "error"))
            }
            fn visit_unit<E>(self) -> Result<IsError, E> {
                Ok(IsError(false))
            }
        }
        d.deserialize_any(V)
    }
}

fn decode_payload(
    payload: &str,
    fast: &mut Option<fast::Template>,
    out: &mut Vec<Event>,
) -> Result<(), ProtocolError> {
    if payload == "[DONE]" {
        out.push(Event::Done);
        return Ok(());
    }
    if payload.is_empty() {
        return Ok(()); // `data:` with nothing: nothing to report
    }
    if let Some(template) = fast {
        if let Some(delta) = template.delta(payload) {
            out.push(delta);
            return Ok(());
        }
    }
    decode_chunk(payload, out)
}

/// Decodes one chunk with serde: every shape the protocol allows.
fn decode_chunk(payload: &str, out: &mut Vec<Event>) -> Result<(), ProtocolError> {
    let chunk: Chunk = serde_json::from_str(payload).map_err(|e| {
        ProtocolError(format!(
            "malformed event in SSE stream ({e}): {}",
            preview(payload)
        ))
    })?;
    if let Some(error) = chunk.error.filter(|e| !e.is_null()) {
        out.push(Event::StreamError(error_text(error)));
        return Ok(());
    }
    if chunk.object.0 {
        let message = chunk.message.map(error_text);
        out.push(Event::StreamError(
            message.unwrap_or_else(|| preview(payload)),
        ));
        return Ok(());
    }

    let mut stats = ServerStats::default();
    if let Some(choice) = chunk.choices {
        let (content, reasoning) = match choice.delta {
            Some(d) => (d.content, pick_reasoning(d.reasoning_content, d.reasoning)),
            None => (choice.text, None),
        };
        let content = content.unwrap_or_default();
        let reasoning = reasoning.unwrap_or_default();
        // A finish chunk's empty delta `{}` is not an event of its own.
        if choice.finish_reason.is_none() || !content.is_empty() || !reasoning.is_empty() {
            out.push(Event::Delta { content, reasoning });
        }
        stats.finish_reason = choice.finish_reason;
    }
    let has_usage = chunk.usage.is_some();
    if let Some(usage) = chunk.usage {
        stats.prompt_tokens = usage.prompt_tokens;
        stats.completion_tokens = usage.completion_tokens;
        stats.cached_prompt_tokens = usage.prompt_tokens_details.and_then(|d| d.cached_tokens);
    }
    if let Some(t) = chunk.timings {
        stats.prompt_eval_tokens = t.prompt_n;
        stats.prompt_eval_duration_ns = t.prompt_ms;
        stats.eval_duration_ns = t.predicted_ms;
        stats.cached_prompt_tokens = stats.cached_prompt_tokens.or(t.cache_n);
        if !has_usage {
            // Without usage, the timings are the only counts. The whole
            // prompt is cache_n + prompt_n; without cache_n (older builds)
            // prompt_n may cover only part of it, so leave it unknown.
            stats.completion_tokens = t.predicted_n;
            stats.prompt_tokens = t.cache_n.zip(t.prompt_n).map(|(c, p)| c + p);
        }
    }
    if stats != ServerStats::default() {
        out.push(Event::Stats(stats));
    }
    Ok(())
}

/// `reasoning_content` (llama.cpp, DeepSeek, older vLLM) or `reasoning`
/// (Ollama, vLLM ≥ 0.11); servers in transition may send both with the same
/// text, so take one.
fn pick_reasoning(reasoning_content: Option<String>, reasoning: Option<String>) -> Option<String> {
    match reasoning_content {
        Some(r) if !r.is_empty() => Some(r),
        _ => reasoning,
    }
}

#[path = "openai_fast.rs"]
mod fast;

#[cfg(test)]
#[path = "openai_tests.rs"]
mod tests;
