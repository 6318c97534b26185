//! Validation shared by every generation endpoint: body parsing, model lookup, `think`,
//! `keep_alive` and `options` checks in Ollama's order and with its status codes, fault
//! selection, and the decision between a load/unload reply and a real generation.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::config::{Fault, MockModel};
use tokio::sync::mpsc;

use crate::engine::{self, Event, Job};
use crate::state::{valid_name, KeepAlive, State};

/// An error reply before streaming: status and message (rendered natively or OpenAI-style).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

/// Parses a request body as JSON: empty → `missing request body`, otherwise the parser's text.
pub fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(400, "missing request body"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::new(400, e.to_string()))
}

/// Deserialises a typed view of the request; type mismatches are 400s.
pub fn typed<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, ApiError> {
    T::deserialize(v).map_err(|e| ApiError::new(400, e.to_string()))
}

/// Which native handler the request goes through.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Generate { raw: bool },
    Chat,
}

/// The endpoint-neutral parts of a generation request.
#[derive(Debug, Default)]
pub struct Params {
    pub model: String,
    /// Empty prompt / `messages: []`: a load or unload request.
    pub empty: bool,
    pub think: Option<Value>,
    pub keep_alive: Option<Value>,
    pub options: Option<Map<String, Value>>,
    pub prompt_tokens: u64,
    /// The prompt as rendered (messages in order), for the prompt cache.
    pub prompt_text: String,
}

/// What to do with a valid request.
#[derive(Debug)]
pub enum Prepared {
    Load {
        model: MockModel,
        unload: bool,
        keep_alive: KeepAlive,
        num_ctx: Option<u64>,
    },
    Generate(Box<Job>),
}

/// Validates `p` against the model store, like Ollama's handlers.
pub fn prepare(
    state: &State,
    kind: Kind,
    p: Params,
    started: Instant,
) -> Result<Prepared, ApiError> {
    if !valid_name(&p.model) {
        return Err(match kind {
            Kind::Chat => ApiError::new(400, "model is required"),
            Kind::Generate { .. } => ApiError::new(404, format!("model '{}' not found", p.model)),
        });
    }
    let model = state
        .find_model(&p.model)
        .ok_or_else(|| ApiError::new(404, format!("model '{}' not found", p.model)))?;
    let keep_alive = KeepAlive::parse(p.keep_alive.as_ref()).map_err(|e| ApiError::new(400, e))?;
    let think = parse_think(p.think.as_ref())?;
    if think == Some(true) && !model.thinking {
        return Err(ApiError::new(
            400,
            format!("\"{}\" does not support thinking", p.model),
        ));
    }
    let opts = p.options.unwrap_or_default();
    let num_predict = int_option(&opts, "num_predict")?;
    let num_ctx = int_option(&opts, "num_ctx")?
        .and_then(|n| u64::try_from(n).ok())
        .filter(|n| *n > 0);
    let stop = stop_option(&opts)?;
    if p.empty {
        return Ok(Prepared::Load {
            model,
            unload: keep_alive.is_zero(),
            keep_alive,
            num_ctx,
        });
    }
    Ok(Prepared::Generate(Box::new(Job {
        think: model.thinking && think != Some(false),
        model,
        num_predict,
        keep_alive,
        num_ctx,
        stop,
        prompt_tokens: p.prompt_tokens,
        prompt_text: p.prompt_text,
        with_context: kind == Kind::Generate { raw: false },
        cut: None,
        started,
    })))
}

/// `think`: bool, or a level string (which means on). Anything else is a 400.
fn parse_think(v: Option<&Value>) -> Result<Option<bool>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if matches!(s.as_str(), "low" | "medium" | "high" | "max") => Ok(Some(true)),
        Some(other) => Err(ApiError::new(
            400,
            format!("invalid think value: {other} (must be \"low\", \"medium\", \"high\", \"max\", true, or false)"),
        )),
    }
}

fn int_option(opts: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match opts.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)) {
            Some(i) => Ok(Some(i)),
            None => Err(ApiError::new(
                500,
                format!("option \"{key}\" must be of type integer"),
            )),
        },
        Some(_) => Err(ApiError::new(
            500,
            format!("option \"{key}\" must be of type integer"),
        )),
    }
}

fn stop_option(opts: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let bad = || ApiError::new(500, "option \"stop\" must be of type array");
    match opts.get("stop") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| s.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// Applies the configured fault to a generating request: a pre-stream error, or a cut
/// stored in the job for the runner.
pub fn apply_fault(state: &State, job: &mut Job) -> Result<(), ApiError> {
    let seq = state.next_generation();
    match &state.config.fail {
        None => Ok(()),
        Some(Fault::Status { status, message }) => Err(ApiError::new(*status, message.clone())),
        Some(Fault::EveryNth { n, status, message }) => {
            if *n > 0 && seq.is_multiple_of(*n) {
                Err(ApiError::new(*status, message.clone()))
            } else {
                Ok(())
            }
        }
        Some(Fault::MidStream {
            after_chunks,
            message,
        }) => {
            job.cut = Some((*after_chunks, Some(message.clone())));
            Ok(())
        }
        Some(Fault::TruncateStream { after_chunks }) => {
            job.cut = Some((*after_chunks, None));
            Ok(())
        }
    }
}

/// Carries out a load (`done_reason:"load"`) or unload request; returns the reason.
pub async fn load_or_unload(state: &State, prepared: &Prepared) -> &'static str {
    match prepared {
        Prepared::Load {
            model,
            unload: true,
            ..
        } => {
            state.unload(model);
            "unload"
        }
        Prepared::Load {
            model,
            keep_alive,
            num_ctx,
            ..
        } => {
            state.acquire(model, *num_ctx, *keep_alive).await;
            "load"
        }
        Prepared::Generate(_) => "stop",
    }
}

/// Applies faults and starts the runner, then waits for its first event (headers go out
/// with the first record, as in Ollama). An error before any record becomes a 500.
pub async fn start(state: &Arc<State>, mut job: Job) -> Result<Started, ApiError> {
    apply_fault(state, &mut job)?;
    let mut rx = engine::spawn(state.clone(), job);
    match rx.recv().await {
        Some(Event::Error(message)) => Err(ApiError::new(500, message)),
        first => Ok(Started { first, rx }),
    }
}

/// A running generation whose first event (if any) has arrived.
pub struct Started {
    pub first: Option<Event>,
    pub rx: mpsc::Receiver<Event>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MockConfig;
    use serde_json::json;

    fn params(model: &str) -> Params {
        Params {
            model: model.to_string(),
            prompt_tokens: 5,
            ..Params::default()
        }
    }

    #[test]
    fn validation_order_and_statuses() {
        let s = State::new(MockConfig::default());
        let t = Instant::now();
        let chat = prepare(&s, Kind::Chat, params(""), t).unwrap_err();
        assert_eq!(chat, ApiError::new(400, "model is required"));
        let gen = prepare(&s, Kind::Generate { raw: false }, params("Nope"), t).unwrap_err();
        assert_eq!(gen, ApiError::new(404, "model 'Nope' not found"));
        let mut p = params("qwen3:0.6b");
        p.think = Some(json!(true));
        let e = prepare(&s, Kind::Chat, p, t).unwrap_err();
        assert_eq!(e.message, "\"qwen3:0.6b\" does not support thinking");
        let mut p = params("qwen3:0.6b");
        p.options = json!({"stop": "x"}).as_object().cloned();
        assert_eq!(prepare(&s, Kind::Chat, p, t).unwrap_err().status, 500);
        let mut p = params("thinker:1b");
        p.options = json!({"num_predict": 3, "num_ctx": 8192})
            .as_object()
            .cloned();
        match prepare(&s, Kind::Generate { raw: true }, p, t) {
            Ok(Prepared::Generate(job)) => {
                assert!(job.think && !job.with_context);
                assert_eq!((job.num_predict, job.num_ctx), (Some(3), Some(8192)));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn body_errors() {
        assert_eq!(
            parse_body(&Bytes::new()).unwrap_err().message,
            "missing request body"
        );
        assert_eq!(
            parse_body(&Bytes::from_static(b"{x")).unwrap_err().status,
            400
        );
    }
}
