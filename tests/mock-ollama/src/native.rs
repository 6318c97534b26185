//! Ollama's native generation endpoints, `POST /api/generate` and `POST /api/chat`: request
//! decoding and checks, the load/unload replies, NDJSON streaming with Go's field order and
//! `omitempty` rules, and the aggregated `stream:false` reply.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State as Ext;
use axum::response::Response;
use bytes::Bytes;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::engine::{collect, Event, Metrics};
use crate::request::{self, parse_body, prepare, typed, ApiError, Kind, Params, Prepared};
use crate::state::State;
use crate::text::{chat_prompt_tokens, generate_prompt_tokens, rendered};
use crate::wire::{self, native_error, Encoder};

#[derive(Deserialize, Default)]
#[serde(default)]
struct GenerateRequest {
    model: Option<String>,
    prompt: Option<String>,
    system: Option<String>,
    template: Option<String>,
    context: Option<Vec<i64>>,
    stream: Option<bool>,
    raw: Option<bool>,
    keep_alive: Option<Value>,
    options: Option<Map<String, Value>>,
    think: Option<Value>,
    top_logprobs: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChatRequest {
    model: Option<String>,
    messages: Option<Vec<NativeMessage>>,
    stream: Option<bool>,
    keep_alive: Option<Value>,
    options: Option<Map<String, Value>>,
    think: Option<Value>,
    top_logprobs: Option<i64>,
}

/// Only here to reject ill-typed messages like Go's JSON binding does.
#[derive(Deserialize, Default)]
#[serde(default)]
#[allow(dead_code)]
struct NativeMessage {
    role: Option<String>,
    content: Option<String>,
    thinking: Option<String>,
}

#[derive(Serialize)]
struct GenerateResponse<'a> {
    model: &'a str,
    created_at: String,
    response: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    thinking: &'a str,
    done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    done_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<&'a [u32]>,
    #[serde(flatten)]
    metrics: Metrics,
}

#[derive(Serialize)]
struct ChatResponse<'a> {
    model: &'a str,
    created_at: String,
    message: Message<'a>,
    done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    done_reason: Option<&'a str>,
    #[serde(flatten)]
    metrics: Metrics,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    thinking: &'a str,
}

fn check_top_logprobs(n: Option<i64>) -> Result<(), ApiError> {
    match n {
        Some(n) if !(0..=20).contains(&n) => {
            Err(ApiError::new(400, "top_logprobs must be between 0 and 20"))
        }
        _ => Ok(()),
    }
}

/// `POST /api/generate`.
pub async fn generate(Ext(state): Ext<Arc<State>>, body: Bytes) -> Response {
    let started = Instant::now();
    let value = match parse_body(&body) {
        Ok(v) => v,
        Err(e) => return native_error(&e),
    };
    state.record(value.clone());
    let req: GenerateRequest = match typed(&value) {
        Ok(r) => r,
        Err(e) => return native_error(&e),
    };
    let raw = req.raw.unwrap_or(false);
    let prompt = req.prompt.unwrap_or_default();
    let system = req.system.unwrap_or_default();
    let context_len = req.context.as_ref().map_or(0, Vec::len);
    if raw
        && (!req.template.unwrap_or_default().is_empty() || !system.is_empty() || context_len > 0)
    {
        return native_error(&ApiError::new(
            400,
            "raw mode does not support template, system, or context",
        ));
    }
    if let Err(e) = check_top_logprobs(req.top_logprobs) {
        return native_error(&e);
    }
    let model = req.model.unwrap_or_default();
    let params = Params {
        model: model.clone(),
        empty: prompt.is_empty(),
        think: req.think,
        keep_alive: req.keep_alive,
        options: req.options,
        prompt_tokens: generate_prompt_tokens(&prompt, &system, raw, context_len),
        prompt_text: format!("{system}\n{prompt}"),
    };
    let flavor = Flavor::Generate { model };
    respond(
        &state,
        prepare(&state, Kind::Generate { raw }, params, started),
        req.stream,
        flavor,
    )
    .await
}

/// `POST /api/chat`.
pub async fn chat(Ext(state): Ext<Arc<State>>, body: Bytes) -> Response {
    let started = Instant::now();
    let value = match parse_body(&body) {
        Ok(v) => v,
        Err(e) => return native_error(&e),
    };
    state.record(value.clone());
    let req: ChatRequest = match typed(&value) {
        Ok(r) => r,
        Err(e) => return native_error(&e),
    };
    if let Err(e) = check_top_logprobs(req.top_logprobs) {
        return native_error(&e);
    }
    let messages = value
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let model = req.model.unwrap_or_default();
    let params = Params {
        model: model.clone(),
        empty: req.messages.is_none_or(|m| m.is_empty()),
        think: req.think,
        keep_alive: req.keep_alive,
        options: req.options,
        prompt_tokens: chat_prompt_tokens(&messages),
        prompt_text: rendered(&messages),
    };
    let flavor = Flavor::Chat { model };
    respond(
        &state,
        prepare(&state, Kind::Chat, params, started),
        req.stream,
        flavor,
    )
    .await
}

/// Which native reply shape to produce; carries the model name as requested.
#[derive(Clone)]
enum Flavor {
    Generate { model: String },
    Chat { model: String },
}

impl Flavor {
    /// One record: a chunk (`done:false`) or the final record (`done:true`).
    fn record(
        &self,
        at: Timestamp,
        thinking: &str,
        content: &str,
        end: Option<(&str, Metrics, Option<&[u32]>)>,
    ) -> Vec<u8> {
        let (done_reason, metrics, context) = match end {
            Some((reason, m, ctx)) => (Some(reason), m, ctx),
            None => (None, Metrics::default(), None),
        };
        match self {
            Flavor::Generate { model } => wire::ndjson(&GenerateResponse {
                model,
                created_at: at.to_string(),
                response: content,
                thinking,
                done: done_reason.is_some(),
                done_reason,
                context,
                metrics,
            }),
            Flavor::Chat { model } => wire::ndjson(&ChatResponse {
                model,
                created_at: at.to_string(),
                message: Message {
                    role: "assistant",
                    content,
                    thinking,
                },
                done: done_reason.is_some(),
                done_reason,
                metrics,
            }),
        }
    }
}

impl Encoder for Flavor {
    fn encode(&mut self, ev: Event) -> Vec<Vec<u8>> {
        let rec = match ev {
            Event::Chunk {
                at,
                thinking,
                content,
            } => self.record(at, &thinking, &content, None),
            Event::Done {
                at,
                reason,
                metrics,
                context,
            } => self.record(at, "", "", Some((reason, metrics, context.as_deref()))),
            Event::Error(message) => wire::ndjson(&serde_json::json!({ "error": message })),
        };
        vec![rec]
    }
}

async fn respond(
    state: &Arc<State>,
    prepared: Result<Prepared, ApiError>,
    stream: Option<bool>,
    flavor: Flavor,
) -> Response {
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => return native_error(&e),
    };
    let job = match prepared {
        Prepared::Generate(job) => *job,
        load => {
            let reason = request::load_or_unload(state, &load).await;
            let rec = flavor.record(
                Timestamp::now(),
                "",
                "",
                Some((reason, Metrics::default(), None)),
            );
            return wire::json_bytes(200, rec);
        }
    };
    let started = match request::start(state, job).await {
        Ok(s) => s,
        Err(e) => return native_error(&e),
    };
    if stream.unwrap_or(true) {
        let split = state.config.split_writes;
        return wire::stream(
            "application/x-ndjson",
            started.first,
            started.rx,
            Box::new(flavor),
            split,
        );
    }
    let (first, mut rx) = (started.first, started.rx);
    let Some(first) = first else {
        return wire::aborted();
    };
    let all = collect(first, &mut rx).await;
    if let Some(message) = all.error {
        return native_error(&ApiError::new(500, message));
    }
    match all.done {
        Some((at, reason, metrics, context)) => {
            let rec = flavor.record(
                at,
                &all.thinking,
                &all.content,
                Some((reason, metrics, context.as_deref())),
            );
            wire::json_bytes(200, rec)
        }
        None => wire::aborted(),
    }
}
