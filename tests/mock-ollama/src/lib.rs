//! A faithful mock of Ollama's HTTP API (v0.33 wire format, quirks included) plus its
//! OpenAI-compatible `/v1` SSE layer, for llmbench's integration tests. Start one with
//! [`MockServer::start`] (on the caller's tokio runtime) or [`spawn_blocking`] (own thread),
//! shape it with [`MockConfig`], inject faults with [`Fault`], and inspect what it received
//! with [`MockServer::requests`].

mod completions;
mod config;
mod engine;
mod info;
mod native;
mod openai;
mod request;
mod server;
mod state;
mod text;
mod v1models;
mod wire;

pub use config::{Fault, MockConfig, MockModel};
pub use server::MockServer;

/// Starts a mock on a background thread with its own runtime (see [`MockServer::spawn_blocking`]).
pub fn spawn_blocking(config: MockConfig) -> std::io::Result<MockServer> {
    MockServer::spawn_blocking(config)
}
