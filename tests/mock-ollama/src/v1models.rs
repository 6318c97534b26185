//! Ollama's `/v1` model listing: `GET /v1/models` (with `data: null` when nothing is
//! installed, a Go nil slice) and `GET /v1/models/{model}` (OpenAI-shaped 404).

use std::sync::Arc;

use axum::extract::{Path, State as Ext};
use axum::response::Response;
use jiff::Timestamp;
use serde::Serialize;

use crate::info::MODIFIED_AT;
use crate::request::ApiError;
use crate::state::State;
use crate::wire::{self, openai_error};

#[derive(Serialize)]
struct ModelObject<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    owned_by: &'a str,
}

fn model_object(name: &str) -> ModelObject<'_> {
    let created = MODIFIED_AT
        .parse::<Timestamp>()
        .map_or(0, |t| t.as_second());
    let owned_by = name
        .rsplit_once('/')
        .map(|(prefix, _)| prefix.rsplit('/').next().unwrap_or(prefix))
        .unwrap_or("library");
    ModelObject {
        id: name,
        object: "model",
        created,
        owned_by,
    }
}

/// `GET /v1/models`: `data` is `null` when nothing is installed (Go nil slice).
pub async fn models(Ext(state): Ext<Arc<State>>) -> Response {
    let data: Vec<ModelObject> = state
        .config
        .models
        .iter()
        .map(|m| model_object(&m.name))
        .collect();
    let data = (!data.is_empty()).then_some(data);
    wire::json(
        200,
        &ModelList {
            object: "list",
            data,
        },
    )
}

#[derive(Serialize)]
struct ModelList<'a> {
    object: &'static str,
    data: Option<Vec<ModelObject<'a>>>,
}

/// `GET /v1/models/{model}`.
pub async fn model(Ext(state): Ext<Arc<State>>, Path(name): Path<String>) -> Response {
    match state.find_model(&name) {
        Some(m) => wire::json(200, &model_object(&m.name)),
        None => openai_error(&ApiError::new(404, format!("model '{name}' not found"))),
    }
}
