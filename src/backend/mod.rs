//! Backends: one per server protocol (Ollama native, OpenAI-compatible). A
//! backend builds HTTP requests, supplies a decoder for the streamed body and
//! answers pre-flight questions (is the server up, does it have the model).
//! It never reads the clock: timing belongs to `exec`.

mod event;
mod lines;
pub(crate) mod ollama;
pub(crate) mod openai;

mod client;
mod error;
pub(crate) mod http1;
mod json;
mod lifecycle;
mod preflight;
mod probe_ollama;
mod probe_openai;
#[cfg(test)]
mod testutil;

pub(crate) use event::{Decoder, Event, ServerStats};

pub(crate) use crate::util::closed_while_idle;
pub use client::{Backend, GenRequest, REDACTED_KEY};
pub(crate) use error::{error_message, BackendError};
pub(crate) use lifecycle::lists as ps_lists;
pub(crate) use preflight::ServerInfo;
