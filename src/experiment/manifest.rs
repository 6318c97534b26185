//! The raw experiment file: serde types that mirror the TOML exactly, with
//! `deny_unknown_fields` on every table so no key is ignored. Only shape and
//! types are checked here; ranges, references, paths and defaults are the
//! business of `resolve.rs`. Field order is the order "valid keys: ..." lists
//! them in error messages.

use super::types::{Arrivals, BackendKind, OllamaApi, ReportFormat, RequestSettings};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Defines a struct whose own fields are followed by the request-settings
/// keys (`max_tokens`, `temperature`, ...) written inline, as in `[[models]]`
/// and `[[prompts]]`. serde's `flatten` would lose `deny_unknown_fields` and
/// spans, so the keys are spelled out once here instead.
macro_rules! with_request_settings {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            pub max_tokens: Option<u32>,
            pub temperature: Option<f64>,
            pub top_p: Option<f64>,
            pub top_k: Option<u32>,
            pub seed: Option<i64>,
            pub stop: Option<Vec<String>>,
            pub think: Option<bool>,
            pub keep_alive: Option<String>,
        }

        impl $name {
            /// The request settings written inline in this entry.
            pub fn settings(&self) -> RequestSettings {
                RequestSettings {
                    max_tokens: self.max_tokens,
                    temperature: self.temperature,
                    top_p: self.top_p,
                    top_k: self.top_k,
                    seed: self.seed,
                    stop: self.stop.clone(),
                    think: self.think,
                    keep_alive: self.keep_alive.clone(),
                }
            }
        }
    };
}

/// The experiment file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub description: Option<String>,
    pub backend: Option<RawBackend>,
    pub backends: Option<BTreeMap<String, RawBackend>>,
    pub models: Vec<RawModel>,
    pub defaults: Option<RequestSettings>,
    pub run: Option<RawRun>,
    pub prompts: Option<Vec<RawPrompt>>,
    pub prompt_files: Option<Vec<String>>,
    pub report: Option<RawReport>,
    pub server: Option<RawServer>,
    pub matrix: Option<toml::Table>,
    pub monitor: Option<crate::monitor::MonitorConfig>,
    pub tokenizers: Option<BTreeMap<String, String>>,
    pub thresholds: Option<BTreeMap<String, String>>,
    pub slo: Option<BTreeMap<String, String>>,
}

/// One value, or a list of them (a sweep axis).
#[derive(Debug, Clone)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

/// By hand rather than `untagged`, whose error ("data did not match any
/// variant") says nothing about what was expected.
impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let expected = match std::any::type_name::<T>() {
            "u32" | "u64" => "a whole number",
            "f64" | "f32" => "a number",
            _ => "a value",
        };
        let found = |value: &toml::Value| match value {
            toml::Value::String(s) => format!("the string {s:?}"),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            other => format!("a {}", other.type_str()),
        };
        match toml::Value::deserialize(deserializer)? {
            toml::Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let shown = found(&item);
                    item.try_into().map_err(|_| {
                        D::Error::custom(format!(
                            "item {} of the list: expected {expected}, found {shown}",
                            i + 1
                        ))
                    })
                })
                .collect::<Result<Vec<T>, D::Error>>()
                .map(OneOrMany::Many),
            value => {
                let shown = found(&value);
                value.try_into().map(OneOrMany::One).map_err(|_| {
                    D::Error::custom(format!(
                        "expected {expected} or a list of them, found {shown}"
                    ))
                })
            }
        }
    }
}

impl<T> OneOrMany<T> {
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(value) => vec![value],
            OneOrMany::Many(values) => values,
        }
    }
}

/// `[server]`: a server llmbench starts, waits for and stops.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub command: Vec<String>,
    pub backend: Option<String>,
    pub env: Option<BTreeMap<String, String>>,
    pub cwd: Option<String>,
    pub health: Option<String>,
    pub startup_timeout: Option<String>,
    pub stop_timeout: Option<String>,
    /// `[server.matrix]`: server settings as sweep axes (each point restarts the server).
    pub matrix: Option<toml::Table>,
}

/// `[backend]` or `[backends.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackend {
    pub kind: BackendKind,
    pub url: String,
    pub timeout: Option<String>,
    pub api_key_env: Option<String>,
}

with_request_settings! {
    /// One `[[models]]` entry.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RawModel {
        pub name: String,
        pub label: Option<String>,
        pub backend: Option<String>,
        pub options: Option<toml::Table>,
        pub tokenizer: Option<String>,
    }
}

with_request_settings! {
    /// One `[[prompts]]` entry, in the experiment or in a prompt file.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RawPrompt {
        pub id: String,
        pub text: Option<String>,
        /// A synthetic prompt of this many tokens instead of `text`.
        pub input_tokens: Option<u32>,
        pub system: Option<String>,
        pub checks: Option<Vec<crate::quality::CheckSpec>>,
    }
}

/// `[run]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    pub repetitions: Option<u32>,
    /// A request count or a duration ("10s").
    pub warmup: Option<toml::Value>,
    pub mix_prompts: Option<bool>,
    pub mix_seed: Option<u64>,
    pub concurrency: Option<OneOrMany<u32>>,
    pub rate: Option<OneOrMany<f64>>,
    pub arrivals: Option<Arrivals>,
    pub arrival_seed: Option<u64>,
    pub max_in_flight: Option<u32>,
    pub duration: Option<String>,
    pub ollama_api: Option<OllamaApi>,
    pub cold_start: Option<bool>,
    pub cold_repetitions: Option<u32>,
    pub prompt_nonce: Option<bool>,
}

/// `[report]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    pub formats: Option<Vec<ReportFormat>>,
    pub save_responses: Option<bool>,
    pub templates: Option<Vec<String>>,
}

/// A prompt file: only `[[prompts]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptFile {
    pub prompts: Vec<RawPrompt>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_settings_are_collected() {
        let model: RawModel =
            toml::from_str("name = 'm'\ntemperature = 0.5\nstop = ['x']\n").unwrap();
        let settings = model.settings();
        assert_eq!(settings.temperature, Some(0.5));
        assert_eq!(settings.stop, Some(vec!["x".to_owned()]));
        assert_eq!(settings.max_tokens, None);
    }

    #[test]
    fn unknown_keys_are_rejected_everywhere() {
        assert!(toml::from_str::<RawModel>("name = 'm'\ntemp = 0.5\n").is_err());
        assert!(toml::from_str::<RawPrompt>("id = 'a'\ntext = 't'\nsytem = 's'\n").is_err());
        assert!(toml::from_str::<RawRun>("reps = 1\n").is_err());
        assert!(toml::from_str::<RawReport>("format = ['json']\n").is_err());
        assert!(
            toml::from_str::<RawBackend>("kind = 'ollama'\nurl = 'http://h'\nkey = 'K'\n").is_err()
        );
    }
}
