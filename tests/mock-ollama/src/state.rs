//! Shared server state: the model store (name normalisation and case-insensitive lookup),
//! the simulated scheduler (which models are loaded, with what context and until when,
//! including `keep_alive` parsing), the log of generation request bodies, and counters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::config::{MockConfig, MockModel};

/// Context allocated when a request does not set `num_ctx` (v0.33 default below 24 GiB VRAM).
pub const DEFAULT_NUM_CTX: u64 = 4096;
/// Ollama's default `OLLAMA_KEEP_ALIVE`.
const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(300);
/// Simulated KV-cache bytes per context token, for `/api/ps` sizes.
const KV_BYTES_PER_TOKEN: u64 = 28_672;

/// How long a model stays loaded after a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeepAlive {
    Default,
    Forever,
    For(Duration),
}

impl KeepAlive {
    /// Parses the JSON `keep_alive` value: number = seconds, string = Go duration,
    /// negative = forever. The error text mimics Go's.
    pub fn parse(v: Option<&Value>) -> Result<KeepAlive, String> {
        let secs = match v {
            None | Some(Value::Null) => return Ok(KeepAlive::Default),
            Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
            Some(Value::String(s)) => parse_go_duration(s)
                .ok_or_else(|| format!("time: invalid duration \"{s}\""))?,
            Some(other) => return Err(format!("json: cannot unmarshal {other} into Go struct field .keep_alive of type api.Duration")),
        };
        Ok(if secs < 0.0 {
            KeepAlive::Forever
        } else {
            KeepAlive::For(Duration::from_secs_f64(secs))
        })
    }

    pub fn is_zero(&self) -> bool {
        matches!(self, KeepAlive::For(d) if d.is_zero())
    }

    fn expiry(&self, now: Timestamp) -> Option<Timestamp> {
        let d = match self {
            KeepAlive::Forever => return None,
            KeepAlive::Default => DEFAULT_KEEP_ALIVE,
            KeepAlive::For(d) => *d,
        };
        let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
        now.checked_add(d).ok()
    }
}

/// Parses a Go `time.ParseDuration` string into seconds.
fn parse_go_duration(s: &str) -> Option<f64> {
    let (sign, mut rest) = match s.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Some(sign * total)
}

/// Adds `:latest` to the last path segment when it has no tag.
pub fn with_tag(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

/// The display-shortest form: tag added, default registry and namespace dropped.
pub fn shortest(name: &str) -> String {
    let n = with_tag(name);
    let n = n.strip_prefix("registry.ollama.ai/").unwrap_or(&n);
    n.strip_prefix("library/").unwrap_or(n).to_string()
}

/// Whether a model name is syntactically usable (Ollama's `ParseName(..).IsValid()`, roughly).
pub fn valid_name(name: &str) -> bool {
    !name.trim().is_empty() && !name.contains(char::is_whitespace)
}

/// A loaded runner in the simulated scheduler.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub model: MockModel,
    pub num_ctx: u64,
    /// `None` = keep loaded forever.
    pub expires: Option<Timestamp>,
}

impl Loaded {
    /// Memory of the loaded model: weights plus a KV cache proportional to the context.
    pub fn size(&self) -> u64 {
        self.model.size + self.num_ctx * KV_BYTES_PER_TOKEN
    }
}

/// Everything the handlers share.
pub struct State {
    pub config: MockConfig,
    loaded: Mutex<HashMap<String, Loaded>>,
    sched: tokio::sync::Mutex<()>,
    requests: Mutex<Vec<Value>>,
    /// Model → the last prompt it evaluated (`MockConfig::prompt_cache`).
    prompts: Mutex<HashMap<String, String>>,
    generations: AtomicUsize,
    in_flight: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    /// Prompt tokens of `prompt` (of `tokens` in all) the model's cache
    /// holds: its common prefix with the last prompt, as a share of the
    /// prompt; at least one token is always evaluated, as in llama.cpp.
    /// The prompt then becomes the cached one.
    pub fn reuse_prompt(&self, model: &str, prompt: &str, tokens: u64) -> u64 {
        let mut prompts = lock(&self.prompts);
        let common = prompts.get(model).map_or(0, |last| {
            last.bytes()
                .zip(prompt.bytes())
                .take_while(|(a, b)| a == b)
                .count()
        });
        prompts.insert(model.to_string(), prompt.to_string());
        let share = common as f64 / prompt.len().max(1) as f64;
        ((tokens as f64 * share) as u64).min(tokens.saturating_sub(1))
    }

    pub fn new(config: MockConfig) -> State {
        State {
            config,
            loaded: Mutex::new(HashMap::new()),
            sched: tokio::sync::Mutex::new(()),
            requests: Mutex::new(Vec::new()),
            prompts: Mutex::new(HashMap::new()),
            generations: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Case-insensitive lookup; a missing tag means `:latest`.
    pub fn find_model(&self, requested: &str) -> Option<MockModel> {
        let want = shortest(requested).to_lowercase();
        self.config
            .models
            .iter()
            .find(|m| shortest(&m.name).to_lowercase() == want)
            .cloned()
    }

    pub fn record(&self, body: Value) {
        lock(&self.requests).push(body);
    }

    pub fn requests(&self) -> Vec<Value> {
        lock(&self.requests).clone()
    }

    /// 1-based sequence number of a generating (non-load) request, for `Fault::EveryNth`.
    pub fn next_generation(&self) -> usize {
        self.generations.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Marks a generation as running until the guard is dropped.
    pub fn start_generation(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// Makes sure `model` is loaded (with `num_ctx` if given), sleeping `load_delay` when
    /// it is not, and refreshes its expiry. Concurrent callers queue like in Ollama's
    /// scheduler, so their wait shows up in their `load_duration`.
    pub async fn acquire(&self, model: &MockModel, num_ctx: Option<u64>, keep_alive: KeepAlive) {
        let _sched = self.sched.lock().await;
        let current = self.loaded_entry(&model.name);
        let needs_load = match &current {
            None => true,
            Some(l) => num_ctx.is_some_and(|n| n != l.num_ctx),
        };
        if needs_load && !self.config.load_delay.is_zero() {
            tokio::time::sleep(self.config.load_delay).await;
        }
        let num_ctx = num_ctx
            .or(current.map(|l| l.num_ctx))
            .unwrap_or(DEFAULT_NUM_CTX);
        let entry = Loaded {
            model: model.clone(),
            num_ctx,
            expires: keep_alive.expiry(Timestamp::now()),
        };
        lock(&self.loaded).insert(model.name.clone(), entry);
    }

    /// Called when a request finishes: restart the keep-alive timer, or unload on `0`.
    pub fn release(&self, model: &MockModel, keep_alive: KeepAlive) {
        let mut loaded = lock(&self.loaded);
        if keep_alive.is_zero() {
            loaded.remove(&model.name);
        } else if let Some(l) = loaded.get_mut(&model.name) {
            l.expires = keep_alive.expiry(Timestamp::now());
        }
    }

    /// Unloads `model`: at once, or `unload_lag` from now (the runner
    /// shutting down after Ollama has answered).
    pub fn unload(&self, model: &MockModel) {
        lock(&self.prompts).remove(&model.name);
        let lag = self.config.unload_lag;
        let mut loaded = lock(&self.loaded);
        if lag.is_zero() {
            loaded.remove(&model.name);
        } else if let Some(l) = loaded.get_mut(&model.name) {
            let gone = Timestamp::now() + jiff::SignedDuration::try_from(lag).unwrap_or_default();
            l.expires = Some(gone);
        }
    }

    fn loaded_entry(&self, name: &str) -> Option<Loaded> {
        self.purge_expired();
        lock(&self.loaded).get(name).cloned()
    }

    fn purge_expired(&self) {
        let now = Timestamp::now();
        lock(&self.loaded).retain(|_, l| l.expires.is_none_or(|e| e > now));
    }

    /// Loaded models, longest remaining time first.
    pub fn loaded(&self) -> Vec<Loaded> {
        self.purge_expired();
        let mut list: Vec<Loaded> = lock(&self.loaded).values().cloned().collect();
        list.sort_by(|a, b| match (a.expires, b.expires) {
            (None, None) => a.model.name.cmp(&b.model.name),
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => y.cmp(&x),
        });
        list
    }
}

/// Guard counting a running generation.
pub struct InFlight(Arc<State>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keep_alive_forms() {
        let p = |v: Value| KeepAlive::parse(Some(&v));
        assert_eq!(p(json!(0)), Ok(KeepAlive::For(Duration::ZERO)));
        assert_eq!(p(json!("0")), Ok(KeepAlive::For(Duration::ZERO)));
        assert_eq!(p(json!(-1)), Ok(KeepAlive::Forever));
        assert_eq!(p(json!("-1m")), Ok(KeepAlive::Forever));
        assert_eq!(
            p(json!("1h30m")),
            Ok(KeepAlive::For(Duration::from_secs(5400)))
        );
        assert_eq!(
            p(json!(1.5)),
            Ok(KeepAlive::For(Duration::from_millis(1500)))
        );
        assert!(p(json!("30")).is_err());
        assert!(p(json!("abc")).is_err());
        assert_eq!(KeepAlive::parse(None), Ok(KeepAlive::Default));
    }

    #[test]
    fn names_match_case_insensitively_with_latest() {
        let mut cfg = MockConfig::default();
        cfg.models.push(MockModel::new("Llama3:latest", false));
        let s = State::new(cfg);
        assert!(s.find_model("QWEN3:0.6B").is_some());
        assert!(s.find_model("llama3").is_some());
        assert!(s.find_model("registry.ollama.ai/library/llama3").is_some());
        assert!(s.find_model("qwen3").is_none());
        assert_eq!(shortest("nope"), "nope:latest");
        assert_eq!(with_tag("host:5000/ns/m"), "host:5000/ns/m:latest");
    }
}
