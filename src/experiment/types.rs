//! The resolved experiment: what the rest of llmbench sees after parsing and
//! validation. Every field here has been checked; nothing is raw user text
//! that still needs interpreting. Parsing lives in `manifest.rs`, checking and
//! resolution in `resolve.rs`.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A validated, resolved experiment, ready for planning.
#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    pub name: String,
    pub description: Option<String>,
    /// Where it came from and the exact text that was run.
    pub source: Source,
    /// Named backends. `[backend]` is stored under the name "default".
    pub backends: BTreeMap<String, BackendConfig>,
    pub models: Vec<ModelConfig>,
    pub prompts: Vec<Prompt>,
    /// `[defaults]`: request settings for every model and prompt.
    pub defaults: RequestSettings,
    pub run: RunConfig,
    pub report: ReportConfig,
    /// `[server]`: a server llmbench starts before the run and stops after it.
    pub server: Option<ServerConfig>,
    /// `[matrix]` points (the cartesian product of its axes); one empty
    /// point when there is no matrix.
    pub matrix: Vec<MatrixPoint>,
    /// `[slo]` targets for goodput.
    pub slo: Option<Slo>,
    /// `[monitor]`: resource sampling during the run (on by default).
    pub monitor: crate::monitor::MonitorConfig,
    /// `[thresholds]`: limits checked on every cell after the run (exit 6).
    pub thresholds: Vec<crate::metrics::threshold::Threshold>,
}

/// How requests are offered to the server in one cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Load {
    /// Closed loop: `concurrency` requests in flight; each one that ends starts the next.
    Closed { concurrency: u32 },
    /// Open loop: requests arrive at `rate` per second whatever the server
    /// does; each keeps its scheduled time (no coordinated omission). At most
    /// `max_in_flight` at once; an arrival beyond that is dropped and counted.
    Open {
        rate: f64,
        arrivals: Arrivals,
        seed: u64,
        max_in_flight: u32,
    },
}

impl Load {
    /// Connections needed at most.
    pub(crate) fn max_in_flight(&self) -> u32 {
        match self {
            Load::Closed { concurrency } => *concurrency,
            Load::Open { max_in_flight, .. } => *max_in_flight,
        }
    }
}

/// Open-loop arrival process.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Exponential gaps (seeded): the arrivals of many independent users.
    Poisson,
    /// Evenly spaced.
    Constant,
}

/// One point of the `[matrix]`: the axis values and the settings they set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MatrixPoint {
    /// Axis name → value, in axis order, for labels and reports.
    pub values: Vec<(String, serde_json::Value)>,
    /// The settings this point sets (over `[defaults]`, model and prompt).
    pub settings: RequestSettings,
}

impl MatrixPoint {
    /// This point with one more axis value.
    pub(crate) fn extended(
        &self,
        key: &str,
        value: &toml::Value,
        settings: &RequestSettings,
    ) -> MatrixPoint {
        let mut values = self.values.clone();
        values.push((
            key.to_string(),
            serde_json::to_value(value).unwrap_or_default(),
        ));
        MatrixPoint {
            values,
            settings: self.settings.merged_with(settings),
        }
    }
}

/// Per-request targets (ms); a request meeting all that are set is "good".
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Slo {
    pub ttft_ms: Option<f64>,
    pub tpot_ms: Option<f64>,
    pub e2e_ms: Option<f64>,
}

/// A managed server: started before pre-flight, polled until healthy, its
/// output captured to server.log, stopped at the end (and on error or Ctrl-C).
#[derive(Debug, Clone, Serialize)]
pub struct ServerConfig {
    /// Program and arguments; `{port}`, `{host}` and `{url}` are replaced by the
    /// served backend's URL parts.
    pub command: Vec<String>,
    /// The backend this server serves (its URL gives `{port}` and the health URL).
    pub backend: String,
    /// Extra environment variables (the rest of llmbench's environment is inherited).
    pub env: BTreeMap<String, String>,
    /// Working directory (relative paths resolved against the experiment file's directory).
    pub cwd: PathBuf,
    /// Path polled until it answers 200.
    pub health: String,
    #[serde(with = "crate::util::duration_serde")]
    pub startup_timeout: Duration,
    /// How long to wait after SIGTERM before SIGKILL.
    #[serde(with = "crate::util::duration_serde")]
    pub stop_timeout: Duration,
    /// `[server.matrix]` points, each a set of `{name}` values for the command
    /// and environment; the server is restarted for each. One empty point
    /// when there is no server matrix.
    pub points: Vec<ServerPoint>,
}

/// One point of `[server.matrix]`: axis name → value, axes in key order.
/// Values keep their TOML type (string, integer, float, boolean) for the
/// manifest and summary; [`axis_text`] gives the text the command gets.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerPoint {
    pub values: Vec<(String, serde_json::Value)>,
}

/// A server axis value as it goes into the command: a string as it is,
/// a number or boolean as TOML wrote it (`1.0` as `1`, as Rust prints it).
pub(crate) fn axis_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => n.as_f64().map_or_else(|| n.to_string(), |f| f.to_string()),
        },
        other => other.to_string(),
    }
}

impl ServerConfig {
    /// This server's command and environment with `point`'s values filled in.
    pub fn at_point(&self, point: &ServerPoint) -> ServerConfig {
        ServerConfig {
            command: self.command.iter().map(|arg| point.fill(arg)).collect(),
            env: self
                .env
                .iter()
                .map(|(k, v)| (k.clone(), point.fill(v)))
                .collect(),
            points: vec![point.clone()],
            ..self.clone()
        }
    }
}

impl ServerPoint {
    /// `{name}` replaced by this point's value in `text`.
    pub(crate) fn fill(&self, text: &str) -> String {
        self.values
            .iter()
            .fold(text.to_string(), |text, (name, value)| {
                text.replace(&format!("{{{name}}}"), &axis_text(value))
            })
    }

    /// "parallel=4 threads=2": for logs and labels.
    pub fn label(&self) -> String {
        let parts: Vec<String> = self
            .values
            .iter()
            .map(|(k, v)| format!("{k}={}", axis_text(v)))
            .collect();
        parts.join(" ")
    }
}

/// The experiment file as read.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub path: PathBuf,
    /// The file's text as read from disk (before overrides).
    pub text: String,
    /// `--set key=value` overrides applied on top, in order.
    pub overrides: Vec<String>,
}

/// A server's protocol.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Ollama's native API (/api/chat or /api/generate).
    Ollama,
    /// Any OpenAI-compatible server (llama.cpp's llama-server, vLLM, LM Studio, Ollama's /v1): /v1/chat/completions.
    Openai,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackendConfig {
    pub name: String,
    pub kind: BackendKind,
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:11434`.
    pub url: String,
    /// Whole-request timeout.
    #[serde(with = "crate::util::duration_serde")]
    pub timeout: Duration,
    /// Name of the environment variable holding the API key. The key itself is
    /// read only when a request is built and is never stored.
    pub api_key_env: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelConfig {
    /// The id sent to the server.
    pub name: String,
    /// Display name (defaults to `name`).
    pub label: String,
    /// Key into `Experiment::backends`.
    pub backend: String,
    /// Per-model request settings (override `[defaults]`).
    pub settings: RequestSettings,
    /// Passed through to the server untouched: Ollama `options` (num_ctx, …);
    /// for OpenAI-compatible servers, merged into the request body
    /// (e.g. llama.cpp's `cache_prompt`).
    pub options: serde_json::Map<String, serde_json::Value>,
    /// How output tokens are counted: the model's own `tokenizer`, else the
    /// best `[tokenizers]` match; `None` means `auto`.
    pub tokenizer: Option<crate::tokenize::TokenizerSpec>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Prompt {
    pub id: String,
    pub system: Option<String>,
    pub text: String,
    /// A synthetic prompt: `text` is generated to this many tokens (refitted
    /// with each model's tokenizer at run time).
    pub input_tokens: Option<u32>,
    /// Per-prompt request settings (override model and `[defaults]`).
    pub settings: RequestSettings,
    /// Quality checks every response to this prompt gets.
    pub checks: Vec<crate::quality::CheckSpec>,
    /// The file the prompt was defined in (the experiment or a prompt file).
    pub defined_in: PathBuf,
}

impl Prompt {
    /// A prompt with only an id (no text, settings or checks).
    pub(crate) fn named(id: &str) -> Prompt {
        Prompt {
            id: id.to_string(),
            system: None,
            text: String::new(),
            input_tokens: None,
            settings: RequestSettings::default(),
            checks: Vec::new(),
            defined_in: PathBuf::new(),
        }
    }
}

/// Request settings; every field optional so layers can be merged:
/// `[defaults]` < model < prompt. One left out everywhere is not sent, so the
/// server's own default applies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSettings {
    /// Most tokens generated per response (sent to Ollama as `num_predict`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), extend("examples" = [64, 512]))]
    pub max_tokens: Option<u32>,
    /// Sampling temperature, 0 to 2; 0 is greedy.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2), extend("examples" = [0.0, 0.6]))]
    pub temperature: Option<f64>,
    /// Nucleus sampling, > 0 and ≤ 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 1), extend("exclusiveMinimum" = 0))]
    pub top_p: Option<f64>,
    /// Top-k sampling, ≥ 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub top_k: Option<u32>,
    /// Sampling seed, for repeatable outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [42]))]
    pub seed: Option<i64>,
    /// Stop sequences (non-empty strings).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [["</answer>"]]))]
    pub stop: Option<Vec<String>>,
    /// Ollama `think` (thinking models); ignored by OpenAI-compatible servers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub think: Option<bool>,
    /// Ollama `keep_alive`: a duration ("30m"), "0" (unload at once) or "-1" (keep loaded); note the quotes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = ["30m", "-1"]))]
    pub keep_alive: Option<String>,
}

impl RequestSettings {
    /// `self` with every field that `over` sets replaced by `over`'s value.
    pub fn merged_with(&self, over: &RequestSettings) -> RequestSettings {
        RequestSettings {
            max_tokens: over.max_tokens.or(self.max_tokens),
            temperature: over.temperature.or(self.temperature),
            top_p: over.top_p.or(self.top_p),
            top_k: over.top_k.or(self.top_k),
            seed: over.seed.or(self.seed),
            stop: over.stop.clone().or_else(|| self.stop.clone()),
            think: over.think.or(self.think),
            keep_alive: over.keep_alive.clone().or_else(|| self.keep_alive.clone()),
        }
    }
}

/// Which Ollama endpoint to use. OpenAI-compatible servers always get
/// `/v1/chat/completions`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OllamaApi {
    /// /api/chat
    Chat,
    /// /api/generate (the system prompt goes in `system`)
    Generate,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    /// Measured requests per cell (≥ 1).
    pub repetitions: u32,
    /// Requests per cell run first, one at a time, and excluded from statistics.
    pub warmup: u32,
    /// `warmup = "10s"`: each cell first runs under its own load for this
    /// long, unmeasured (instead of `warmup` requests).
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::util::duration_serde::option"
    )]
    pub warmup_duration: Option<Duration>,
    /// `mix_prompts = true`: one cell per model × matrix point × load level
    /// whose requests cycle through every prompt in a seeded shuffled order
    /// (the seed), instead of one cell per prompt.
    pub mix_prompts: Option<u64>,
    /// Load levels: closed-loop concurrency levels and open-loop rates (a
    /// sweep axis when there are several). Default: concurrency 1.
    pub load: Vec<Load>,
    /// Ollama endpoint (default chat).
    pub ollama_api: OllamaApi,
    /// Measured requests of each cell run for this long instead of
    /// `repetitions` times (closed loop: until then; open loop: rate × duration arrivals).
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::util::duration_serde::option"
    )]
    pub duration: Option<Duration>,
    /// Cold starts measured per model before its first cell (0 = off): each
    /// unloads the model, then times a request that has to load it.
    pub cold_repetitions: u32,
    /// `prompt_nonce = true`: every request's first message starts with a
    /// nonce of its own, so no server can serve any of the prompt from its
    /// cache (prefill measurements; see docs/metrics.md).
    #[serde(default)]
    pub prompt_nonce: bool,
    /// `retry = {...}`: resend a request that failed with one of the listed
    /// HTTP statuses (opt-in; none without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
}

/// `[run] retry`: which failed requests are sent again, how often, and how
/// long to wait in between. Every attempt is recorded (`Record::retry`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RetryPolicy {
    /// Retries after the first attempt (1..=10).
    pub max: u32,
    /// HTTP statuses that are retried (e.g. 429, 503).
    pub on: Vec<u16>,
    /// Wait what the server's Retry-After asks (up to `max_wait`).
    pub honour_retry_after: bool,
    /// The longest wait before a retry; a Retry-After asking for more ends
    /// the retries (the request fails with the server's answer).
    #[serde(with = "crate::util::duration_serde")]
    pub max_wait: Duration,
    /// The wait before the first retry without Retry-After, doubled for
    /// each further one (capped at `max_wait`).
    #[serde(with = "crate::util::duration_serde")]
    pub backoff: Duration,
}

/// A built-in report.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// report.md
    Markdown,
    /// report.json
    Json,
    /// report.html: self-contained page with inline SVG charts.
    Html,
    /// cells.csv (one row per cell); the app adds requests.csv (one row per request).
    Csv,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportConfig {
    pub formats: Vec<ReportFormat>,
    /// Write every response's text under responses/.
    pub save_responses: bool,
    /// User templates (paths resolved relative to the experiment file).
    pub templates: Vec<PathBuf>,
}
