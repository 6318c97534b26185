//! Backends: one per server protocol (Ollama native, OpenAI-compatible). A
//! backend builds HTTP requests, supplies a decoder for the streamed body and
//! answers pre-flight questions (is the server up, does it have the model).
//! It never reads the clock: timing belongs to `exec`.

mod event;
mod lines;
pub mod ollama;
pub mod openai;

pub use event::{Decoder, Event, ProtocolError, ServerStats};
