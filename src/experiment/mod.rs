//! Experiment files: reading a TOML experiment (and its prompt files),
//! applying `--set` overrides, and checking and resolving it into the
//! `Experiment` the planner consumes. The stages, each in its own file:
//!
//! - `document`: the spanned TOML tree and where every span lies;
//! - `overrides`: `--set KEY=VALUE` grafted onto that tree;
//! - `manifest`: raw serde types, `deny_unknown_fields` everywhere;
//! - `resolve` (+ `backends`, `models`, `settings`, `prompts`): ranges, references,
//!   paths and defaults → `types::Experiment`;
//! - `error`, `locate`, `suggest`: messages with file, line, key and help.
//!
//! The format itself is documented in docs/experiment-format.md.

// The public API returns `ExperimentError` by value (its fields are the
// contract); errors are the cold path, so its size does not matter.
#![allow(clippy::result_large_err)]

mod backends;
mod dataset;
mod document;
mod error;
mod load;
mod locate;
mod manifest;
mod models;
mod overrides;
mod prompts;
mod resolve;
mod retry;
pub mod schema;
mod server;
mod settings;
mod suggest;
mod synthetic;
mod types;

pub(crate) use error::ExperimentError;
pub use types::*;

use std::path::Path;

/// Reads the experiment at `path`, applies `overrides` (`"dotted.key=value"`,
/// in order) and checks and resolves it. Prompt files, templates and other
/// relative paths are resolved against `path`'s directory.
pub fn load(path: &Path, overrides: &[String]) -> Result<Experiment, ExperimentError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let error = ExperimentError::file(path, format!("cannot read the experiment file: {e}"));
        if e.kind() == std::io::ErrorKind::NotFound {
            error.with_help("check the path; a relative path starts from the current directory")
        } else {
            error
        }
    })?;
    load_str(path, &text, overrides)
}

/// Like `load`, with the file's text given: `path` is used in messages and
/// to resolve relative paths (prompt files, templates).
pub fn load_str(
    path: &Path,
    text: &str,
    overrides: &[String],
) -> Result<Experiment, ExperimentError> {
    let mut doc = document::Document::parse(path, text)?;
    overrides::apply(&mut doc, overrides)?;
    let manifest: manifest::Manifest = doc.deserialize()?;
    let source = Source {
        path: path.to_owned(),
        text: text.to_owned(),
        overrides: overrides.to_vec(),
    };
    resolve::resolve(&doc, manifest, source)
}

#[cfg(test)]
mod tests;
