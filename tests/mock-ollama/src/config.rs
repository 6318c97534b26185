//! Configuration of the mock: which models it serves, how fast it "generates", and which
//! faults and version quirks it injects. Everything here is plain data with sensible
//! defaults (`MockConfig::default()`), so tests override only the knobs they care about
//! with struct-update syntax.

use std::time::Duration;

/// Everything that shapes the mock's behaviour.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Reported by `GET /api/version`.
    pub version: String,
    /// Locally "installed" models (`/api/tags`, `/api/show`, generation).
    pub models: Vec<MockModel>,
    /// Delay before the first chunk of a generation (after any load); becomes `prompt_eval_duration`.
    pub ttft: Duration,
    /// Delay between two generated chunks; `eval_duration` is made of these.
    pub inter_token: Duration,
    /// Simulated load time on the first request to a model that is not loaded.
    pub load_delay: Duration,
    /// Tokens carried by one chunk (at least 1).
    pub tokens_per_chunk: usize,
    /// Tokens a generation produces when `num_predict` / `max_tokens` does not cut it short.
    pub response_tokens: usize,
    /// Old-version cache-hit quirk: omit `prompt_eval_count` and `prompt_eval_duration`.
    pub omit_prompt_eval_count: bool,
    /// Interleave empty chunks (`"response":""` / `"content":""`) before every real chunk.
    pub empty_chunks: bool,
    /// Write every NDJSON line / SSE event in two pieces, split mid-record (mid UTF-8 char
    /// where the record has a multi-byte character).
    pub split_writes: bool,
    /// Error injection for generation requests.
    pub fail: Option<Fault>,
    /// Prompt cache, as Ollama (v0.33) runs it: each model keeps the last
    /// prompt it evaluated, a new prompt's common prefix with it is reused,
    /// and the prefill (`ttft` for a whole prompt) shrinks to the share of
    /// the prompt not reused — while `prompt_eval_count` still counts the
    /// whole prompt and no cached count is reported.
    pub prompt_cache: bool,
    /// Ollama answers an unload request before the runner is gone: for this
    /// long after the reply the model stays loaded (and listed by
    /// `/api/ps`), so a request sent at once finds it warm.
    pub unload_lag: Duration,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            version: "0.33.0-rc2".to_string(),
            models: vec![
                MockModel::new("qwen3:0.6b", false),
                MockModel::new("thinker:1b", true),
            ],
            ttft: Duration::ZERO,
            inter_token: Duration::ZERO,
            load_delay: Duration::ZERO,
            tokens_per_chunk: 1,
            response_tokens: 20,
            omit_prompt_eval_count: false,
            empty_chunks: false,
            split_writes: false,
            fail: None,
            prompt_cache: false,
            unload_lag: Duration::ZERO,
        }
    }
}

/// One locally available model.
#[derive(Debug, Clone, PartialEq)]
pub struct MockModel {
    pub name: String,
    /// Has the `thinking` capability (thinking is on unless `think:false`).
    pub thinking: bool,
    /// Also used as `general.architecture`.
    pub family: String,
    pub parameter_size: String,
    pub quantization: String,
    pub parameter_count: u64,
    /// Training context (`<arch>.context_length` in `/api/show`).
    pub context_length: u64,
    /// Hex digest without the `sha256:` prefix.
    pub digest: String,
    /// Bytes on disk.
    pub size: u64,
}

impl MockModel {
    /// A model with the given name and plausible qwen3-like details; `thinking` selects the
    /// thinking capability. The details depend only on `thinking`, the digest on the name.
    pub fn new(name: &str, thinking: bool) -> MockModel {
        let (parameter_size, parameter_count, size, context_length) = if thinking {
            ("1.0B", 1_003_520_000, 815_319_040, 32_768)
        } else {
            ("751.63M", 751_632_384, 522_653_767, 40_960)
        };
        MockModel {
            name: name.to_string(),
            thinking,
            family: "qwen3".to_string(),
            parameter_size: parameter_size.to_string(),
            quantization: "Q4_K_M".to_string(),
            parameter_count,
            context_length,
            digest: fake_digest(name),
            size,
        }
    }
}

/// Error injection, applied to generation requests (not to load/unload requests).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Before streaming: `{"error": message}` with this status (e.g. 500, or 503
    /// `server busy, please try again.  maximum pending requests exceeded`).
    Status { status: u16, message: String },
    /// Status 200, `after_chunks` chunks, then an `{"error":…}` line and no `done:true`.
    /// With `after_chunks: 0` nothing was written yet, so (as in Ollama) the client gets a
    /// plain 500 JSON error instead.
    MidStream {
        after_chunks: usize,
        message: String,
    },
    /// End the body after `after_chunks` chunks with no final record (no `[DONE]` on /v1).
    TruncateStream { after_chunks: usize },
    /// Every n-th generation request (1-based: n, 2n, …) fails before streaming.
    EveryNth {
        n: usize,
        status: u16,
        message: String,
    },
}

/// A deterministic 64-hex-digit digest derived from the model name (FNV-1a rounds).
fn fake_digest(name: &str) -> String {
    let mut out = String::with_capacity(64);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for round in 0u64..4 {
        for b in name.bytes().chain(round.to_le_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        out.push_str(&format!("{h:016x}"));
    }
    out
}
