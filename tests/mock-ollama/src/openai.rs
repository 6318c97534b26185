//! Ollama's OpenAI-compatible layer, chat half: `POST /v1/chat/completions` (request
//! mapping onto the native chat path, the exact v0.33 SSE event sequence, the
//! `chat.completion` object, OpenAI-shaped errors). Types and helpers shared with
//! `/v1/completions` live here too.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State as Ext;
use axum::response::Response;
use bytes::Bytes;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::engine::{collect, Event, Metrics};
use crate::request::{self, parse_body, prepare, typed, ApiError, Kind, Params, Prepared, Started};
use crate::state::State;
use crate::text::chat_prompt_tokens;
use crate::wire::{self, openai_error, Encoder};

pub const FINGERPRINT: &str = "fp_ollama";

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StreamOptions {
    pub include_usage: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Reasoning {
    effort: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChatCompletionRequest {
    model: Option<String>,
    messages: Option<Vec<Value>>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<i64>,
    stop: Option<Value>,
    reasoning_effort: Option<String>,
    reasoning: Option<Reasoning>,
}

#[derive(Serialize, Clone, Copy, Default)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

impl Usage {
    pub fn from(m: &Metrics) -> Usage {
        Usage {
            prompt_tokens: m.prompt_eval_count,
            completion_tokens: m.eval_count,
            total_tokens: m.prompt_eval_count + m.eval_count,
        }
    }
}

/// `max_tokens` and `stop` as native options (`stop` may be a string or an array).
pub fn options(max_tokens: Option<i64>, stop: Option<Value>) -> Map<String, Value> {
    let mut o = Map::new();
    if let Some(n) = max_tokens {
        o.insert("num_predict".into(), json!(n));
    }
    match stop {
        Some(Value::String(s)) => {
            o.insert("stop".into(), json!([s]));
        }
        Some(v @ Value::Array(_)) => {
            o.insert("stop".into(), v);
        }
        _ => {}
    }
    o
}

/// A response id like Ollama's: a small random number, not unique across requests.
pub fn response_id(prefix: &str) -> String {
    let n = Timestamp::now().subsec_nanosecond().unsigned_abs() % 999;
    format!("{prefix}-{n}")
}

/// Runs the native part of a /v1 request: errors come back OpenAI-shaped.
pub async fn start(
    state: &Arc<State>,
    prepared: Result<Prepared, ApiError>,
) -> Result<Result<Started, &'static str>, Response> {
    let prepared = prepared.map_err(|e| openai_error(&e))?;
    match prepared {
        Prepared::Generate(job) => request::start(state, *job)
            .await
            .map(Ok)
            .map_err(|e| openai_error(&e)),
        load => Ok(Err(request::load_or_unload(state, &load).await)),
    }
}

/// `reasoning_effort` / `reasoning.effort` → native `think`.
fn think(effort: Option<String>) -> Result<Option<Value>, ApiError> {
    let Some(e) = effort else { return Ok(None) };
    Ok(Some(match e.as_str() {
        "none" => json!(false),
        "minimal" => json!("low"),
        "low" | "medium" | "high" | "max" => json!(e),
        "xhigh" | "ultra" => json!("max"),
        _ => {
            return Err(ApiError::new(
                400,
                format!("invalid reasoning value: '{e}' (must be \"high\", \"medium\", \"low\", or \"none\")"),
            ))
        }
    }))
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(Ext(state): Ext<Arc<State>>, body: Bytes) -> Response {
    let started = Instant::now();
    let value = match parse_body(&body) {
        Ok(v) => v,
        Err(e) => return openai_error(&e),
    };
    state.record(value.clone());
    let req: ChatCompletionRequest = match typed(&value) {
        Ok(r) => r,
        Err(e) => return openai_error(&e),
    };
    let messages = req.messages.unwrap_or_default();
    if messages.is_empty() {
        return openai_error(&ApiError::new(400, "[] is too short - 'messages'"));
    }
    let effort = req
        .reasoning_effort
        .or(req.reasoning.and_then(|r| r.effort));
    let think = match think(effort) {
        Ok(t) => t,
        Err(e) => return openai_error(&e),
    };
    let model = req.model.unwrap_or_default();
    let params = Params {
        model: model.clone(),
        empty: false,
        think,
        keep_alive: None,
        options: Some(options(req.max_tokens, req.stop)),
        prompt_tokens: chat_prompt_tokens(&messages),
        prompt_text: crate::text::rendered(&messages),
    };
    let Started { first, mut rx } =
        match start(&state, prepare(&state, Kind::Chat, params, started)).await {
            Ok(Ok(s)) => s,
            Ok(Err(_)) => return openai_error(&ApiError::new(400, "[] is too short - 'messages'")),
            Err(r) => return r,
        };
    let include_usage = req
        .stream_options
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    let id = response_id("chatcmpl");
    if req.stream.unwrap_or(false) {
        let enc = ChatSse {
            id,
            model,
            created: None,
            role_sent: false,
            include_usage,
        };
        return wire::stream(
            "text/event-stream",
            first,
            rx,
            Box::new(enc),
            state.config.split_writes,
        );
    }
    let Some(first) = first else {
        return wire::aborted();
    };
    let all = collect(first, &mut rx).await;
    if let Some(m) = all.error {
        return openai_error(&ApiError::new(500, m));
    }
    let Some((at, reason, metrics, _)) = all.done else {
        return wire::aborted();
    };
    let choice = ChatChoice {
        index: 0,
        message: OutMessage {
            role: "assistant",
            content: &all.content,
            reasoning: &all.thinking,
        },
        finish_reason: reason,
    };
    let resp = Completion {
        id,
        object: "chat.completion",
        created: at.as_second(),
        model,
        system_fingerprint: FINGERPRINT,
        choices: vec![choice],
        usage: Usage::from(&metrics),
    };
    wire::json(200, &resp)
}

/// A non-streaming completion object (`chat.completion` / `text_completion`).
#[derive(Serialize)]
pub struct Completion<C> {
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub model: String,
    pub system_fingerprint: &'static str,
    pub choices: Vec<C>,
    pub usage: Usage,
}

#[derive(Serialize)]
struct ChatChoice<'a> {
    index: u32,
    message: OutMessage<'a>,
    finish_reason: &'a str,
}

#[derive(Serialize)]
struct OutMessage<'a> {
    role: &'static str,
    content: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reasoning: &'a str,
}

#[derive(Serialize)]
struct ChatChunk<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: Vec<ChunkChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    finish_reason: Option<&'a str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<&'a str>,
}

/// SSE encoder for `/v1/chat/completions`, following Ollama's v0.33 middleware.
struct ChatSse {
    id: String,
    model: String,
    /// Taken from the first chunk and shared by every event.
    created: Option<i64>,
    role_sent: bool,
    include_usage: bool,
}

impl ChatSse {
    fn event(&self, choices: Vec<ChunkChoice>, usage: Option<Usage>) -> Vec<u8> {
        wire::sse(&ChatChunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created.unwrap_or(0),
            model: &self.model,
            system_fingerprint: FINGERPRINT,
            choices,
            usage,
        })
    }

    fn delta(&mut self, content: &str, reasoning: Option<&str>, with_role: bool) -> Vec<u8> {
        let role = (with_role && !self.role_sent).then_some("assistant");
        self.role_sent |= with_role;
        let delta = Delta {
            role,
            content: Some(content),
            reasoning,
        };
        let choice = ChunkChoice {
            index: 0,
            delta,
            finish_reason: None,
        };
        self.event(vec![choice], None)
    }
}

impl Encoder for ChatSse {
    fn encode(&mut self, ev: Event) -> Vec<Vec<u8>> {
        if let Event::Chunk { at, .. } | Event::Done { at, .. } = &ev {
            self.created.get_or_insert(at.as_second());
        }
        match ev {
            Event::Chunk {
                thinking, content, ..
            } => {
                let mut out = Vec::new();
                if !thinking.is_empty() {
                    out.push(self.delta("", Some(&thinking), true));
                }
                if !content.is_empty() || thinking.is_empty() {
                    out.push(self.delta(&content, None, true));
                }
                out
            }
            Event::Done {
                reason, metrics, ..
            } => {
                let finish = ChunkChoice {
                    index: 0,
                    delta: Delta::default(),
                    finish_reason: Some(reason),
                };
                let mut out = vec![self.event(vec![finish], None)];
                if self.include_usage {
                    out.push(self.event(Vec::new(), Some(Usage::from(&metrics))));
                }
                out.push(b"data: [DONE]\n\n".to_vec());
                out
            }
            // The swallowed mid-stream error: one empty content delta, then EOF.
            Event::Error(_) => vec![self.delta("", None, false)],
        }
    }
}
