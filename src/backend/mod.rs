//! Backends: one per server protocol (Ollama native, OpenAI-compatible). A
//! backend builds HTTP requests, supplies a decoder for the streamed body and
//! answers pre-flight questions (is the server up, does it have the model).
//! It never reads the clock: timing belongs to `exec`.

mod event;
mod lines;
pub mod ollama;
pub mod openai;

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

pub use event::{Decoder, Event, ProtocolError, ServerStats};

pub use crate::util::closed_while_idle;
pub use client::{Backend, GenRequest};
pub use error::{error_message, BackendError, PreflightError};
pub use ollama::NdjsonDecoder;
pub use openai::SseDecoder;
pub use preflight::{ModelInfo, ServerInfo};
