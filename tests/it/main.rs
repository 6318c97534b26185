//! Integration tests: llmbench driven end to end — in-process through
//! `llmbench::app::run` and as the real binary — against the mock Ollama
//! server (tests/mock-ollama) and the real llama.cpp server.

mod cli;
mod clock;
mod crash;
mod fault_server;
mod faults;
mod history;
mod kubernetes;
mod llama;
mod load;
mod mock_exec;
mod mock_faults;
mod pipeline;
mod prefill;
mod quality_monitor;
mod retry;
mod schema;
mod server_points;
mod server_tree;
mod shards;
mod small_fixes;
mod support;
mod tokens;
mod tools;
