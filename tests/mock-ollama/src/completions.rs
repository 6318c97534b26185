//! Ollama's legacy `POST /v1/completions`, mapped onto the native generate path: one
//! `text_completion` event per native chunk, the final chunk as an event with
//! `finish_reason`, the zero-usage quirk on every event with `include_usage` followed by a
//! `choices: []` event with the real usage, then `[DONE]`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State as Ext;
use axum::response::Response;
use bytes::Bytes;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::{collect, Event};
use crate::openai::{options, response_id, start, Completion, StreamOptions, Usage, FINGERPRINT};
use crate::request::{parse_body, prepare, typed, ApiError, Kind, Params, Started};
use crate::state::State;
use crate::text::generate_prompt_tokens;
use crate::wire::{self, openai_error, Encoder};

#[derive(Deserialize, Default)]
#[serde(default)]
struct CompletionRequest {
    model: Option<String>,
    prompt: Option<Value>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<i64>,
    stop: Option<Value>,
}

#[derive(Serialize)]
struct TextChoice<'a> {
    text: &'a str,
    index: u32,
    finish_reason: Option<&'a str>,
}

#[derive(Serialize)]
struct TextChunk<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: Vec<TextChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
}

/// `POST /v1/completions`.
pub async fn completions(Ext(state): Ext<Arc<State>>, body: Bytes) -> Response {
    let started = Instant::now();
    let value = match parse_body(&body) {
        Ok(v) => v,
        Err(e) => return openai_error(&e),
    };
    state.record(value.clone());
    let req: CompletionRequest = match typed(&value) {
        Ok(r) => r,
        Err(e) => return openai_error(&e),
    };
    let prompt = match req.prompt {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(_) => {
            return openai_error(&ApiError::new(
                400,
                "invalid type for 'prompt', expected a string",
            ))
        }
    };
    let model = req.model.unwrap_or_default();
    let params = Params {
        model: model.clone(),
        empty: prompt.is_empty(),
        think: None,
        keep_alive: None,
        options: Some(options(req.max_tokens, req.stop)),
        prompt_tokens: generate_prompt_tokens(&prompt, "", false, 0),
        prompt_text: prompt.clone(),
    };
    let id = response_id("cmpl");
    let started = match start(
        &state,
        prepare(&state, Kind::Generate { raw: false }, params, started),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(reason)) => {
            return object(id, model, Timestamp::now(), "", reason, Usage::default())
        }
        Err(r) => return r,
    };
    let Started { first, mut rx } = started;
    let include_usage = req
        .stream_options
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    if req.stream.unwrap_or(false) {
        let enc = TextSse {
            id,
            model,
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
    match all.done {
        Some((at, reason, metrics, _)) => {
            object(id, model, at, &all.content, reason, Usage::from(&metrics))
        }
        None => wire::aborted(),
    }
}

fn object(
    id: String,
    model: String,
    at: Timestamp,
    text: &str,
    reason: &str,
    usage: Usage,
) -> Response {
    let resp = Completion {
        id,
        object: "text_completion",
        created: at.as_second(),
        model,
        system_fingerprint: FINGERPRINT,
        choices: vec![TextChoice {
            text,
            index: 0,
            finish_reason: Some(reason),
        }],
        usage,
    };
    wire::json(200, &resp)
}

/// SSE encoder for `/v1/completions`.
struct TextSse {
    id: String,
    model: String,
    include_usage: bool,
}

impl TextSse {
    fn event(&self, choices: Vec<TextChoice>, usage: Option<Usage>) -> Vec<u8> {
        wire::sse(&TextChunk {
            id: &self.id,
            object: "text_completion",
            created: Timestamp::now().as_second(),
            model: &self.model,
            system_fingerprint: FINGERPRINT,
            choices,
            usage,
        })
    }

    fn text(&self, text: &str, finish_reason: Option<&str>) -> Vec<u8> {
        let zeros = self.include_usage.then(Usage::default);
        let choice = TextChoice {
            text,
            index: 0,
            finish_reason,
        };
        self.event(vec![choice], zeros)
    }
}

impl Encoder for TextSse {
    fn encode(&mut self, ev: Event) -> Vec<Vec<u8>> {
        match ev {
            // Reasoning is not forwarded here: a thinking chunk becomes an empty text event.
            Event::Chunk { content, .. } => vec![self.text(&content, None)],
            Event::Done {
                reason, metrics, ..
            } => {
                let mut out = vec![self.text("", Some(reason))];
                if self.include_usage {
                    out.push(self.event(Vec::new(), Some(Usage::from(&metrics))));
                }
                out.push(b"data: [DONE]\n\n".to_vec());
                out
            }
            Event::Error(_) => vec![self.text("", None)],
        }
    }
}
