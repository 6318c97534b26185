//! llmbench: benchmark large language models the way their users run them.
//!
//! The pipeline (docs/architecture.md): experiment file → `experiment`
//! (parse, validate, resolve) → `plan` (cells) → `exec` (streaming requests,
//! timestamps) → `store` (run directory) → `metrics`/`stats`/`aggregate` →
//! `report` (Handlebars templates). `pipeline` runs those stages for one
//! experiment as a library; `cli` and `app` make them commands.

pub mod aggregate;
pub mod app;
pub mod backend;
pub mod cli;
pub mod compare;
pub(crate) mod error;
pub mod exec;
pub mod experiment;
pub mod history;
pub mod metrics;
pub mod monitor;
pub mod pipeline;
pub mod plan;
pub mod quality;
pub mod record;
pub mod report;
mod rng;
pub(crate) mod scale;
pub(crate) mod server;
pub mod stats;
pub mod store;
pub mod tokenize;
pub mod util;
