//! The raw experiment file: serde types that mirror the TOML exactly, with
//! `deny_unknown_fields` on every table so no key is ignored. Only shape and
//! types are checked here; ranges, references, paths and defaults are the
//! business of `resolve.rs`. Field order is the order "valid keys: ..." lists
//! them in error messages.

use super::schema::{
    AxisTable, Concurrency, DurationText, MatrixTable, OptionsTable, Rate, SloTable, WarmupValue,
};
use super::types::{Arrivals, BackendKind, OllamaApi, ReportFormat, RequestSettings};
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Defines a struct whose own fields are followed by the request-settings
/// keys (`max_tokens`, `temperature`, ...) written inline, as in `[[models]]`
/// and `[[prompts]]`. serde's `flatten` would lose `deny_unknown_fields` and
/// spans, so the keys are spelled out once here instead.
macro_rules! with_request_settings {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        pub(crate) struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Request setting: most tokens generated per response (sent to Ollama as `num_predict`).
            #[schemars(range(min = 1), extend("examples" = [64, 512]))]
            pub max_tokens: Option<u32>,
            /// Request setting: sampling temperature, 0 to 2; 0 is greedy.
            #[schemars(range(min = 0, max = 2), extend("examples" = [0.0, 0.6]))]
            pub temperature: Option<f64>,
            /// Request setting: nucleus sampling, > 0 and ≤ 1.
            #[schemars(range(max = 1), extend("exclusiveMinimum" = 0))]
            pub top_p: Option<f64>,
            /// Request setting: top-k sampling, ≥ 1.
            #[schemars(range(min = 1))]
            pub top_k: Option<u32>,
            /// Request setting: sampling seed, for repeatable outputs.
            #[schemars(extend("examples" = [42]))]
            pub seed: Option<i64>,
            /// Request setting: stop sequences (non-empty strings).
            #[schemars(extend("examples" = [["</answer>"]]))]
            pub stop: Option<Vec<String>>,
            /// Request setting: Ollama `think` for thinking models; not sent to OpenAI-compatible servers.
            pub think: Option<bool>,
            /// Request setting: Ollama `keep_alive`, a duration, "0" (unload at once) or "-1" (keep loaded); note the quotes.
            #[schemars(extend("examples" = ["30m", "-1"]))]
            pub keep_alive: Option<String>,
        }

        impl $name {
            /// The request settings written inline in this entry.
            pub(crate) fn settings(&self) -> RequestSettings {
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

/// An llmbench experiment file (docs/experiment-format.md).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// "if absent, then required" rather than `anyOf` of `required`s, so an
// editor says "backend is a required property" instead of "not valid under
// any of the schemas listed in anyOf".
#[schemars(extend("allOf" = [
    {"if": {"not": {"required": ["backends"]}}, "then": {"required": ["backend"]}},
    {"if": {"not": {"required": ["prompt_files"]}}, "then": {"required": ["prompts"]}},
]))]
pub(crate) struct Manifest {
    /// Names the experiment and its directory under benchmarks/; letters, digits, `.`, `_` and `-`.
    #[schemars(length(max = 128), extend("pattern" = "^[A-Za-z0-9._-]+$", "examples" = ["coding-small"]))]
    pub name: String,
    /// Free text, shown in reports.
    pub description: Option<String>,
    /// One server, stored as the backend named "default".
    pub backend: Option<RawBackend>,
    /// Named servers: `[backends.NAME]`, same keys as `[backend]`.
    pub backends: Option<BTreeMap<String, RawBackend>>,
    /// `[[models]]`: the models to benchmark (at least one).
    #[schemars(length(min = 1))]
    pub models: Vec<RawModel>,
    /// Request settings for every model and prompt (the bottom layer).
    pub defaults: Option<RequestSettings>,
    /// How many requests, and under what load.
    pub run: Option<RawRun>,
    /// `[[prompts]]`: the prompts, inline.
    pub prompts: Option<Vec<RawPrompt>>,
    /// Glob patterns of prompt files (TOML or .jsonl datasets), relative to this file.
    #[schemars(extend("examples" = [["../prompts/coding/*.toml"]]))]
    pub prompt_files: Option<Vec<String>>,
    /// Which reports to write.
    pub report: Option<RawReport>,
    /// A server llmbench starts before the run and stops after it.
    pub server: Option<RawServer>,
    /// Request settings to sweep: each key a request setting, each value a non-empty list.
    #[schemars(with = "Option<MatrixTable>", extend("examples" = [{"temperature": [0.0, 0.8], "max_tokens": [128, 512]}]))]
    pub matrix: Option<toml::Table>,
    /// Resource sampling during the run (on by default).
    pub monitor: Option<crate::monitor::MonitorConfig>,
    /// Model-name glob pattern → tokenizer spec (docs/tokenizers.md).
    #[schemars(extend("examples" = [{"qwen2.5*": "hf:tokenizers/qwen2.5/tokenizer.json", "*": "server"}]))]
    pub tokenizers: Option<BTreeMap<String, String>>,
    /// Limits checked on every cell after the run (exit 6), metric → condition (docs/compare.md).
    pub thresholds: Option<BTreeMap<String, String>>,
    /// Per-request latency targets for goodput.
    #[schemars(with = "Option<SloTable>")]
    pub slo: Option<BTreeMap<String, String>>,
}

/// One value, or a list of them (a sweep axis).
#[derive(Debug, Clone)]
pub(crate) enum OneOrMany<T> {
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
    pub(crate) fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(value) => vec![value],
            OneOrMany::Many(values) => values,
        }
    }
}

/// `[server]`: a server llmbench starts, waits for and stops.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    /// The program and its arguments, one per element (no shell); `{port}`, `{host}` and `{url}` are filled in.
    #[schemars(length(min = 1), extend("examples" = [["llama-server", "--port", "{port}"]]))]
    pub command: Vec<String>,
    /// The backend this server serves (default: `[backend]`, or the only `[backends.NAME]`).
    pub backend: Option<String>,
    /// Extra environment variables (strings); the rest of llmbench's environment is passed on.
    #[schemars(extend("examples" = [{"CUDA_VISIBLE_DEVICES": "0"}]))]
    pub env: Option<BTreeMap<String, String>>,
    /// Working directory, relative to the experiment file's directory.
    #[schemars(extend("default" = "."))]
    pub cwd: Option<String>,
    /// Path polled until it answers HTTP 200.
    #[schemars(extend("default" = "/health", "pattern" = "^/"))]
    pub health: Option<String>,
    /// How long to wait for the server to become healthy.
    #[schemars(with = "Option<DurationText>", extend("default" = "120s"))]
    pub startup_timeout: Option<String>,
    /// How long to wait after SIGTERM before SIGKILL.
    #[schemars(with = "Option<DurationText>", extend("default" = "10s"))]
    pub stop_timeout: Option<String>,
    /// `[server.matrix]`: server settings as sweep axes (each point restarts the server).
    #[schemars(with = "Option<AxisTable>", extend("examples" = [{"parallel": [1, 4], "threads": [4, 8]}]))]
    pub matrix: Option<toml::Table>,
}

/// `[backend]` or `[backends.NAME]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBackend {
    /// The server's protocol.
    pub kind: BackendKind,
    /// The server's base URL with its port, without `/v1` or `/api`.
    #[schemars(extend("pattern" = "^https?://", "examples" = ["http://127.0.0.1:11434"]))]
    pub url: String,
    /// Whole-request timeout.
    #[schemars(with = "Option<DurationText>", extend("default" = "120s", "examples" = ["60s", "10m"]))]
    pub timeout: Option<String>,
    /// The NAME of the environment variable holding the API key (never the key itself).
    #[schemars(extend("pattern" = "^[A-Za-z_][A-Za-z0-9_]*$", "examples" = ["OPENAI_API_KEY"]))]
    pub api_key_env: Option<String>,
}

with_request_settings! {
    /// One `[[models]]` entry: a model on a backend, with its own request settings.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct RawModel {
        /// The model id sent to the server.
        #[schemars(length(min = 1), extend("examples" = ["qwen3:0.6b", "smollm2"]))]
        pub name: String,
        /// Display name in reports (default: `name`).
        #[schemars(length(min = 1), extend("examples" = ["SmolLM2-135M Q4_1"]))]
        pub label: Option<String>,
        /// Name of the backend to use (default: `[backend]`, or the only `[backends.NAME]`).
        pub backend: Option<String>,
        /// Passed through to the server: Ollama `options`; merged into an OpenAI-compatible request body.
        #[schemars(with = "Option<OptionsTable>", extend("examples" = [{"num_ctx": 4096}]))]
        pub options: Option<toml::Table>,
        /// How this model's tokens are counted, a tokenizer spec (default: from `[tokenizers]`, else "auto").
        #[schemars(extend("examples" = ["auto", "server", "tiktoken:o200k_base", "gguf", "llamacpp"]))]
        pub tokenizer: Option<String>,
    }
}

with_request_settings! {
    /// One `[[prompts]]` entry, in the experiment or in a prompt file.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[schemars(extend("oneOf" = [{"required": ["text"]}, {"required": ["input_tokens"]}]))]
    pub struct RawPrompt {
        /// Unique across the experiment and its prompt files; names the prompt in reports and cell ids.
        #[schemars(extend("pattern" = "^[A-Za-z0-9._-]+$", "examples" = ["capital"]))]
        pub id: String,
        /// The user message (this or `input_tokens`), not only blanks.
        #[schemars(extend("pattern" = "\\S"))]
        pub text: Option<String>,
        /// A synthetic prompt of this many tokens instead of `text`.
        #[schemars(range(min = 1, max = 1_000_000), extend("examples" = [512]))]
        pub input_tokens: Option<u32>,
        /// The system prompt.
        #[schemars(extend("examples" = ["You are a concise coding assistant."]))]
        pub system: Option<String>,
        /// `[[prompts.checks]]`: quality checks every response to this prompt gets.
        pub checks: Option<Vec<crate::quality::CheckSpec>>,
    }
}

/// `[run]`: how many requests, and under what load.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("dependencies" = {
    "arrivals": ["rate"], "arrival_seed": ["rate"], "max_in_flight": ["rate"],
    "mix_seed": ["mix_prompts"], "cold_repetitions": ["cold_start"],
}))]
pub(crate) struct RawRun {
    /// Measured requests per cell.
    #[schemars(range(min = 1), extend("default" = 1, "examples" = [20]))]
    pub repetitions: Option<u32>,
    /// A request count (sent first, one at a time, unmeasured) or a duration each cell first runs under its own load.
    #[schemars(with = "Option<WarmupValue>", extend("default" = 0, "examples" = [2, "10s"]))]
    pub warmup: Option<toml::Value>,
    /// One cell per model × matrix point × load level whose requests cycle through every prompt in a seeded order.
    #[schemars(extend("default" = false))]
    pub mix_prompts: Option<bool>,
    /// The seed of the mixed prompt order; needs `mix_prompts = true`.
    #[schemars(extend("default" = 1))]
    pub mix_seed: Option<u64>,
    /// Closed loop: requests in flight at once; a list is a sweep.
    #[schemars(extend("default" = 1, "examples" = [4, [1, 4, 16]]))]
    #[schemars(with = "Option<OneOrMany<Concurrency>>")]
    pub concurrency: Option<OneOrMany<u32>>,
    /// Open loop: requests per second; a list is a sweep.
    #[schemars(extend("examples" = [2.0, [0.5, 2.0]]))]
    #[schemars(with = "Option<OneOrMany<Rate>>")]
    pub rate: Option<OneOrMany<f64>>,
    /// Open loop: the arrival process; needs `rate`.
    #[schemars(extend("default" = "poisson"))]
    pub arrivals: Option<Arrivals>,
    /// Open loop: seed of the Poisson schedule; needs `rate`.
    #[schemars(extend("default" = 1, "examples" = [7]))]
    pub arrival_seed: Option<u64>,
    /// Open loop: most requests in flight; an arrival beyond that is dropped and counted. Needs `rate`.
    #[schemars(range(min = 1), extend("default" = 1024, "examples" = [64]))]
    pub max_in_flight: Option<u32>,
    /// Run each cell's measured requests for this long instead of `repetitions` times.
    #[schemars(with = "Option<DurationText>", extend("examples" = ["30s"]))]
    pub duration: Option<String>,
    /// Ollama endpoint; OpenAI-compatible servers always get /v1/chat/completions.
    #[schemars(extend("default" = "chat"))]
    pub ollama_api: Option<OllamaApi>,
    /// Measure cold starts (model unloaded first) before each model's cells. Ollama only.
    #[schemars(extend("default" = false))]
    pub cold_start: Option<bool>,
    /// Cold starts per model (3 by default with `cold_start`); needs `cold_start = true`.
    #[schemars(range(min = 1), extend("examples" = [5]))]
    pub cold_repetitions: Option<u32>,
    /// Starts each request's first message with a fresh nonce, so no prompt
    /// is served from the server's prompt cache and prompt_tps is the speed of
    /// the whole prompt's prefill (docs/metrics.md).
    #[schemars(extend("default" = false))]
    pub prompt_nonce: Option<bool>,
    /// Opt-in: send a request again when it fails with one of these HTTP
    /// statuses; every attempt and wait is recorded (docs/reliability.md).
    pub retry: Option<RawRetry>,
}

/// `[run] retry = { max = 3, on = [429, 503], honour_retry_after = true, max_wait = "30s" }`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("examples" = [{"max": 3, "on": [429, 503], "honour_retry_after": true, "max_wait": "30s"}]))]
pub struct RawRetry {
    /// Retries after the first attempt.
    #[schemars(range(min = 1, max = 10), extend("default" = 3))]
    pub max: Option<u32>,
    /// HTTP statuses (400–599) that are retried.
    #[schemars(length(min = 1), extend("uniqueItems" = true, "default" = [429, 503], "items" = {"type": "integer", "minimum": 400, "maximum": 599}))]
    pub on: Option<Vec<u16>>,
    /// Wait what the server's Retry-After header asks (up to max_wait).
    #[schemars(extend("default" = true))]
    pub honour_retry_after: Option<bool>,
    /// The longest wait before a retry; a Retry-After asking for more ends the retries.
    #[schemars(with = "Option<DurationText>", extend("default" = "30s"))]
    pub max_wait: Option<String>,
    /// The wait before the first retry without Retry-After, doubled for each further one.
    #[schemars(with = "Option<DurationText>", extend("default" = "1s"))]
    pub backoff: Option<String>,
}

/// `[report]`: which reports to write.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReport {
    /// Built-in reports to write, each once.
    #[schemars(length(min = 1), extend("uniqueItems" = true, "default" = ["markdown", "json"], "examples" = [["markdown", "html", "csv"]]))]
    pub formats: Option<Vec<ReportFormat>>,
    /// Write every response's text under responses/ in the run directory.
    #[schemars(extend("default" = false))]
    pub save_responses: Option<bool>,
    /// Your own Handlebars templates, relative to the experiment file.
    #[schemars(extend("examples" = [["../templates/examples/team.adoc.hbs"]]))]
    pub templates: Option<Vec<String>>,
}

/// A prompt file: only `[[prompts]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PromptFile {
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
