//! Ollama native API client (NDJSON): the `/api/chat` and `/api/generate`
//! request bodies and the decoder for their streamed replies (spec §1.2–1.8).
//! Settings go into `options` (`max_tokens` becomes `num_predict`, which is
//! always sent when set because Ollama's default is unlimited); the model's
//! pass-through options are merged there too, but the typed settings win on a
//! clash. Every reply line is one JSON object: text in `message.content` /
//! `message.thinking` (chat) or `response` / `thinking` (generate); the
//! `done:true` line carries the metrics (each omitted when zero, so a missing
//! one is unknown, never 0) and may itself carry text, which is kept. An
//! `{"error":…}` line mid-stream becomes `StreamError`; the body then ends
//! without `done:true`, which the executor reports as a failed request.

use super::client::GenRequest;
use super::event::{Decoder, Event, ProtocolError, ServerStats};
use super::json::opt_u64;
use super::lines::{preview, LineBuffer};
use crate::experiment::OllamaApi;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The path of the generation endpoint.
pub(crate) fn path(api: OllamaApi) -> &'static str {
    match api {
        OllamaApi::Chat => "/api/chat",
        OllamaApi::Generate => "/api/generate",
    }
}

/// The JSON body of a streaming `/api/chat` or `/api/generate` request.
pub(crate) fn body(api: OllamaApi, req: &GenRequest) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    match api {
        OllamaApi::Chat => {
            let mut messages = Vec::with_capacity(2);
            if let Some(system) = req.system {
                messages.push(json!({"role": "system", "content": system}));
            }
            messages.push(json!({"role": "user", "content": req.prompt}));
            body.insert("messages".into(), Value::Array(messages));
        }
        OllamaApi::Generate => {
            body.insert("prompt".into(), json!(req.prompt));
            if let Some(system) = req.system {
                body.insert("system".into(), json!(system));
            }
        }
    }
    body.insert("stream".into(), Value::Bool(true));

    let s = req.settings;
    let mut options = req.options.clone();
    let mut set = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            options.insert(key.into(), value);
        }
    };
    set("num_predict", s.max_tokens.map(|v| json!(v)));
    set("temperature", s.temperature.map(|v| json!(v)));
    set("top_p", s.top_p.map(|v| json!(v)));
    set("top_k", s.top_k.map(|v| json!(v)));
    set("seed", s.seed.map(|v| json!(v)));
    set("stop", s.stop.as_ref().map(|v| json!(v)));
    if !options.is_empty() {
        body.insert("options".into(), Value::Object(options));
    }
    if let Some(keep_alive) = &s.keep_alive {
        body.insert("keep_alive".into(), keep_alive_value(keep_alive));
    }
    if let Some(think) = s.think {
        body.insert("think".into(), Value::Bool(think));
    }
    Value::Object(body)
}

/// Ollama reads a JSON number as seconds and a string as a Go duration, in
/// which a bare number such as `"-1"` is invalid (400). So a bare number is
/// sent as a number; anything else (`"30m"`, `"0"`…) as the string.
fn keep_alive_value(text: &str) -> Value {
    let trimmed = text.trim();
    if let Ok(n) = trimmed.parse::<i64>() {
        return json!(n);
    }
    match trimmed.parse::<f64>() {
        Ok(f) if f.is_finite() => json!(f),
        _ => json!(text),
    }
}

/// Decodes an Ollama NDJSON body (either endpoint).
#[derive(Debug, Default)]
pub(crate) struct NdjsonDecoder {
    lines: LineBuffer,
}

impl NdjsonDecoder {
    pub(crate) fn new() -> Self {
        Self::default()
    }
}

impl Decoder for NdjsonDecoder {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event>) -> Result<(), ProtocolError> {
        self.lines.feed(bytes, |line| decode_line(line, out))
    }

    fn finish(&mut self, out: &mut Vec<Event>) -> Result<(), ProtocolError> {
        self.lines.finish(|line| decode_line(line, out))
    }
}

/// One NDJSON record. Strings are owned because they move into events; all
/// other fields (`model`, `created_at`, `context`, …) are skipped unread.
#[derive(Deserialize)]
struct Chunk {
    message: Option<Message>,
    response: Option<String>,
    thinking: Option<String>,
    #[serde(default)]
    done: bool,
    done_reason: Option<String>,
    #[serde(default, deserialize_with = "opt_u64")]
    total_duration: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    load_duration: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    prompt_eval_count: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    prompt_eval_duration: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    eval_count: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    eval_duration: Option<u64>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
    thinking: Option<String>,
}

fn decode_line(line: &str, out: &mut Vec<Event>) -> Result<(), ProtocolError> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(());
    }
    let chunk: Chunk = serde_json::from_str(line).map_err(|e| {
        ProtocolError(format!(
            "malformed line in Ollama stream ({e}): {}",
            preview(line)
        ))
    })?;
    if let Some(error) = chunk.error.filter(|e| !e.is_null()) {
        out.push(Event::StreamError(error_text(error)));
        return Ok(());
    }
    let (mut content, mut reasoning) = (chunk.response, chunk.thinking);
    if let Some(message) = chunk.message {
        content = message.content.or(content);
        reasoning = message.thinking.or(reasoning);
    }
    let content = content.unwrap_or_default();
    let reasoning = reasoning.unwrap_or_default();
    if !chunk.done {
        out.push(Event::Delta { content, reasoning });
        return Ok(());
    }
    if !content.is_empty() || !reasoning.is_empty() {
        out.push(Event::Delta { content, reasoning });
    }
    out.push(Event::Stats(ServerStats {
        finish_reason: chunk.done_reason,
        prompt_tokens: chunk.prompt_eval_count,
        completion_tokens: chunk.eval_count,
        cached_prompt_tokens: None,
        total_duration_ns: chunk.total_duration,
        load_duration_ns: chunk.load_duration,
        prompt_eval_duration_ns: chunk.prompt_eval_duration,
        eval_duration_ns: chunk.eval_duration,
        prompt_eval_tokens: None,
    }));
    out.push(Event::Done);
    Ok(())
}

/// The message of an in-stream error value (a string for Ollama; tolerate an
/// OpenAI-style object too).
pub(crate) fn error_text(error: Value) -> String {
    match error {
        Value::String(s) => s,
        Value::Object(mut o) => match o.remove("message") {
            Some(Value::String(s)) => s,
            _ => Value::Object(o).to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
#[path = "ollama_tests.rs"]
mod tests;
