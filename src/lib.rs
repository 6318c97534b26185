//! llmbench: benchmark large language models the way their users run them.
//!
//! The pipeline (see docs/ and ARCHITECTURE.md): experiment file → `experiment`
//! (parse, validate, resolve) → `plan` (cells) → `exec` (streaming requests,
//! timestamps) → `store` (run directory) → `metrics`/`stats` (aggregation) →
//! `report` (Handlebars templates). `cli` and `app` glue them together.

pub mod backend;
pub mod experiment;
pub mod stats;
pub mod util;
pub mod plan;
pub mod metrics;
pub mod record;
pub mod store;
