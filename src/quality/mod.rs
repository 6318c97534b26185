//! Response quality checks: assertions on model replies, declared with each
//! prompt ([`CheckSpec`]), run after the request ends and off the timing path
//! ([`run_checks`], [`run_many`]), recorded per response ([`CheckResult`])
//! and scored per cell, model and prompt ([`pass_rate`], [`wilson_interval`],
//! [`pass_at_k`]). Text checks are pure; code checks (`python`, `shell`) run
//! model output in a limited child process (see [`sandbox`] and
//! docs/quality.md, which says plainly what that does and does not protect
//! against). A check never panics: one that cannot run is a failed result
//! whose reason says why.

mod code;
mod guard;
mod limits;
pub mod sandbox;
mod schema;
mod score;
mod scoring;
mod seccomp;
mod text;

pub use code::python_interpreter;
pub(crate) use schema::check_schema;
pub use score::{pass_at_k, pass_rate, wilson_interval, PassRate};
pub(crate) use scoring::{score_until, CheckRecord, PendingCheck};

use crate::util::parse_duration;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One check as written in an experiment, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CheckSpec {
    /// The reply contains `value`.
    Contains {
        value: String,
        #[serde(default)]
        ignore_case: bool,
    },
    /// The reply does not contain `value`.
    NotContains {
        value: String,
        #[serde(default)]
        ignore_case: bool,
    },
    /// `pattern` (Rust regex syntax) matches somewhere in the reply.
    Regex { pattern: String },
    /// The reply, trimmed, equals `value`, trimmed.
    Equals {
        value: String,
        #[serde(default)]
        ignore_case: bool,
    },
    /// The reply (or its first ```json block) parses as JSON and, when
    /// given, satisfies `schema` (the subset in docs/quality.md).
    Json {
        #[serde(default)]
        schema: Option<serde_json::Value>,
    },
    /// The reply has at most `value` whitespace-separated words.
    MaxWords { value: usize },
    /// The reply's Python code, with `tests` appended, exits 0.
    Python {
        tests: String,
        #[serde(default = "default_timeout")]
        timeout: String,
        /// Fence language to take the code from (default "python").
        #[serde(default)]
        language_block: Option<String>,
    },
    /// `sh -c command` with the reply on stdin exits 0.
    Shell {
        command: String,
        #[serde(default = "default_timeout")]
        timeout: String,
    },
}

fn default_timeout() -> String {
    "10s".to_string()
}

impl CheckSpec {
    /// The `kind` as written in experiments.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            CheckSpec::Contains { .. } => "contains",
            CheckSpec::NotContains { .. } => "not_contains",
            CheckSpec::Regex { .. } => "regex",
            CheckSpec::Equals { .. } => "equals",
            CheckSpec::Json { .. } => "json",
            CheckSpec::MaxWords { .. } => "max_words",
            CheckSpec::Python { .. } => "python",
            CheckSpec::Shell { .. } => "shell",
        }
    }

    /// Checks the spec before any request is made; the message says how to
    /// fix it.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let kind = self.kind();
        match self {
            CheckSpec::Contains { value, .. } | CheckSpec::NotContains { value, .. }
                if value.is_empty() =>
            {
                Err(format!("{kind}: `value` is empty; write the text to look for"))
            }
            CheckSpec::Regex { pattern } => regex::Regex::new(pattern).map(drop).map_err(|e| {
                format!("regex: `pattern` does not compile ({e}); use Rust regex syntax (no look-around or backreferences)")
            }),
            CheckSpec::Json { schema: Some(schema) } => {
                check_schema(schema).map_err(|e| format!("json: {e}"))
            }
            CheckSpec::MaxWords { value: 0 } => {
                Err("max_words: `value` is 0; give the largest number of words allowed".into())
            }
            CheckSpec::Python { tests, timeout, language_block } => {
                if tests.trim().is_empty() {
                    return Err("python: `tests` is empty; write asserts that call the code, e.g. `assert f(2) == 4`".into());
                }
                if language_block.as_deref().is_some_and(|l| l.trim().is_empty()) {
                    return Err("python: `language_block` is empty; name a fence language such as \"python\" or leave it out".into());
                }
                check_timeout(kind, timeout).map(drop)
            }
            CheckSpec::Shell { command, timeout } => {
                if command.trim().is_empty() {
                    return Err("shell: `command` is empty; write a command that reads the reply on stdin and exits 0 when it is right".into());
                }
                check_timeout(kind, timeout).map(drop)
            }
            _ => Ok(()),
        }
    }
}

fn check_timeout(kind: &str, timeout: &str) -> Result<Duration, String> {
    match parse_duration(timeout) {
        Ok(duration) if duration.is_zero() => Err(format!(
            "{kind}: `timeout` is zero; give the code time to run, e.g. \"10s\""
        )),
        Ok(duration) => Ok(duration),
        Err(e) => Err(format!("{kind}: `timeout`: {e}")),
    }
}

/// The outcome of one check on one response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's kind, e.g. "python".
    pub kind: String,
    pub passed: bool,
    /// Why it failed (which assertion, the exception line, "timed out after
    /// 10s; killed", …); empty when it passed, unless there is a note such as
    /// "output truncated".
    pub reason: String,
    /// Time the check took, including any child process.
    pub duration_ms: f64,
}

/// Runs every check on one response, in order. Never panics; a check that
/// cannot run is a failed result with the reason.
pub async fn run_checks(checks: &[CheckSpec], response: &str) -> Vec<CheckResult> {
    let mut results = Vec::with_capacity(checks.len());
    for check in checks {
        results.push(run_one(check, response).await);
    }
    results
}

async fn run_one(check: &CheckSpec, response: &str) -> CheckResult {
    let start = Instant::now();
    let (passed, reason) = match check.validate() {
        Err(reason) => (false, format!("invalid check: {reason}")),
        Ok(()) => evaluate(check, response).await,
    };
    CheckResult {
        kind: check.kind().to_string(),
        passed,
        reason,
        duration_ms: start.elapsed().as_secs_f64() * 1e3,
    }
}

async fn evaluate(check: &CheckSpec, response: &str) -> (bool, String) {
    match check {
        CheckSpec::Contains { value, ignore_case } => text::contains(response, value, *ignore_case),
        CheckSpec::NotContains { value, ignore_case } => {
            text::not_contains(response, value, *ignore_case)
        }
        CheckSpec::Regex { pattern } => text::regex(response, pattern),
        CheckSpec::Equals { value, ignore_case } => text::equals(response, value, *ignore_case),
        CheckSpec::Json { schema } => text::json(response, schema.as_ref()),
        CheckSpec::MaxWords { value } => text::max_words(response, *value),
        CheckSpec::Python {
            tests,
            timeout,
            language_block,
        } => match check_timeout("python", timeout) {
            Ok(timeout) => code::python(response, tests, timeout, language_block.as_deref()).await,
            Err(reason) => (false, reason),
        },
        CheckSpec::Shell { command, timeout } => match check_timeout("shell", timeout) {
            Ok(timeout) => code::shell(response, command, timeout).await,
            Err(reason) => (false, reason),
        },
    }
}

/// Runs many `(id, checks, response)` jobs, at most `parallel` at once (at
/// least one), and returns `(id, results)` in the jobs' order. Meant to run
/// after the requests it scores: code checks use CPU that would disturb a
/// server measured on the same machine. Dropping the future stops every
/// check (their processes are killed).
pub async fn run_many(
    jobs: Vec<(usize, Vec<CheckSpec>, String)>,
    parallel: usize,
) -> Vec<(usize, Vec<CheckResult>)> {
    let permits = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut running = tokio::task::JoinSet::new();
    let mut positions = std::collections::HashMap::with_capacity(jobs.len());
    let mut done: Vec<Option<(usize, Vec<CheckResult>)>> = Vec::with_capacity(jobs.len());
    for (position, (id, checks, response)) in jobs.into_iter().enumerate() {
        let kinds: Vec<&'static str> = checks.iter().map(CheckSpec::kind).collect();
        let permits = permits.clone();
        let task = running.spawn(async move {
            let _permit = permits.acquire_owned().await.ok();
            run_checks(&checks, &response).await
        });
        positions.insert(task.id(), (position, id, kinds));
        done.push(None);
    }
    while let Some(finished) = running.join_next_with_id().await {
        let (task, results) = match finished {
            Ok((task, results)) => (task, results),
            Err(error) => {
                let Some((_, _, kinds)) = positions.get(&error.id()) else {
                    continue;
                };
                let results = kinds
                    .iter()
                    .map(|kind| CheckResult {
                        kind: kind.to_string(),
                        passed: false,
                        reason: format!("the check task failed: {error}"),
                        duration_ms: 0.0,
                    })
                    .collect();
                (error.id(), results)
            }
        };
        if let Some((position, id, _)) = positions.get(&task) {
            done[*position] = Some((*id, results));
        }
    }
    done.into_iter().flatten().collect()
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
