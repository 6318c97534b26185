//! `[run] retry`: the opt-in retry policy, checked and resolved. Each key
//! is checked where it is written, with a suggestion; nothing is retried
//! without the key.

use super::document::Document;
use super::error::ExperimentError;
use super::locate::KeyPath;
use super::manifest::RawRetry;
use super::types::RetryPolicy;
use std::time::Duration;

/// The most retries a policy may ask for.
const MAX_RETRIES: u32 = 10;

/// The policy of `[run] retry`, or none without the key.
pub(super) fn policy(
    doc: &Document<'_>,
    raw: Option<RawRetry>,
) -> Result<Option<RetryPolicy>, ExperimentError> {
    let Some(raw) = raw else { return Ok(None) };
    let at = |key: &str| KeyPath::top("run").key("retry").key(key);
    let max = raw.max.unwrap_or(3);
    if !(1..=MAX_RETRIES).contains(&max) {
        return Err(doc
            .error(&at("max"), format!("{max} retries: must be from 1 to {MAX_RETRIES}"))
            .with_help("max counts the retries after the first attempt, e.g. max = 3; leave retry out to send each request once"));
    }
    let on = raw.on.unwrap_or_else(|| vec![429, 503]);
    if on.is_empty() {
        return Err(doc
            .error(&at("on"), "names no HTTP status")
            .with_help("e.g. on = [429, 503] (too many requests, service unavailable)"));
    }
    if let Some(status) = on.iter().find(|s| !(400..=599).contains(*s)) {
        return Err(doc
            .error(&at("on"), format!("{status} is not an HTTP error status"))
            .with_help("list error statuses from 400 to 599, e.g. on = [429, 503]"));
    }
    let max_wait = duration(doc, &at("max_wait"), raw.max_wait.as_deref(), "30s")?;
    let backoff = duration(doc, &at("backoff"), raw.backoff.as_deref(), "1s")?;
    Ok(Some(RetryPolicy {
        max,
        on,
        honour_retry_after: raw.honour_retry_after.unwrap_or(true),
        max_wait,
        backoff: backoff.min(max_wait),
    }))
}

/// A wait of the policy: a duration longer than zero.
fn duration(
    doc: &Document<'_>,
    at: &KeyPath,
    text: Option<&str>,
    default: &str,
) -> Result<Duration, ExperimentError> {
    let help = "a duration such as \"500ms\", \"5s\" or \"1m\"";
    let value = crate::util::parse_duration(text.unwrap_or(default))
        .map_err(|e| doc.error(at, e.to_string()).with_help(help))?;
    if value.is_zero() {
        return Err(doc.error(at, "must be longer than zero").with_help(help));
    }
    Ok(value)
}
