//! Small shared helpers: human durations ("250ms", "60s", "2m") and their
//! serde form, the TLS provider every HTTP client needs, whether a
//! request failed on a kept-alive connection the server had closed, and
//! command output on stdout that survives a reader going away.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Set once stdout's reader has gone away: later output is dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` and a newline to standard output, as `println!` would,
/// without its panics. A reader that has gone away (`llmbench plan --json |
/// head -c 10`, `llmbench compare … | true`) is not an error: the rest of
/// the output is dropped quietly and the command finishes as it would, so a
/// gate still exits with its code. Any other failure — a full disk behind
/// `> file` — is returned in words.
pub(crate) fn print(text: &str) -> Result<(), StdoutError> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(StdoutError(e)),
    }
}

/// A write to standard output that failed for another reason than a reader
/// that went away.
#[derive(Debug, thiserror::Error)]
#[error("{}", stdout_error(&.0.to_string()))]
pub(crate) struct StdoutError(#[source] pub std::io::Error);

/// The message for a failed write to standard output.
pub fn stdout_error(cause: &str) -> String {
    format!("cannot write to standard output: {cause} (is the disk behind it full?)")
}

/// reqwest is built without a default TLS provider (see DEPENDENCIES.md):
/// install ring's once before building any client. Idempotent.
pub fn ensure_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Parses a human duration: a number followed by `ns`, `us`, `ms`, `s`, `m` or `h`.
/// Returns a message that says what is accepted when the text does not parse.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| DurationError::NotANumber(text.to_string()))?;
    let seconds = match unit.trim() {
        "ns" => value / 1e9,
        "us" | "µs" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "" => return Err(DurationError::NoUnit(text.to_string())),
        other => {
            return Err(DurationError::UnknownUnit {
                unit: other.to_string(),
                text: text.to_string(),
            })
        }
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(DurationError::NotPositive(text.to_string()));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Why a text is not a duration; each message says what to write.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum DurationError {
    #[error("`{0}` is not a duration; write a number and a unit, e.g. \"250ms\", \"60s\", \"2m\"")]
    NotANumber(String),
    #[error("`{0}` has no unit; add one, e.g. \"{0}s\" or \"{0}ms\"")]
    NoUnit(String),
    #[error("`{unit}` in `{text}` is not a unit; use ns, us, ms, s, m or h")]
    UnknownUnit { unit: String, text: String },
    #[error("`{0}` is not a positive duration")]
    NotPositive(String),
}

/// The JSON Schema of a duration string (experiment files' schema): the
/// form `parse_duration` reads.
/// A duration string such as "250ms" or "1.5s" (docs/experiment-format.md#durations).
pub(crate) struct DurationText;

/// The loader's duration syntax (`util::parse_duration`): a number and a
/// unit, spaces allowed around them, no sign, no compound durations.
pub(crate) const DURATION_PATTERN: &str =
    r"^\s*([0-9]+\.?[0-9]*|\.[0-9]+)\s*(ns|us|µs|ms|s|m|h)\s*$";

impl schemars::JsonSchema for DurationText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A number and a unit: ns, us, ms, s, m or h, e.g. \"250ms\", \"1.5s\", \"2m\".",
        })
    }
}

/// "1 cell", "2 cells": a count with its noun, plural by adding "s".
pub(crate) fn count_of(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Formats a duration the way `parse_duration` reads it back.
pub(crate) fn format_duration(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1e3;
    if ms >= 1000.0 && (ms % 1000.0).abs() < 1e-9 {
        format!("{}s", ms / 1000.0)
    } else {
        format!("{ms}ms")
    }
}

/// Serde for `Duration` as a human string.
pub(crate) mod duration_serde {
    use serde::Serializer;
    use std::time::Duration;

    pub(crate) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_duration(*value))
    }

    /// Reads what `serialize` wrote (plan.json's retry policy).
    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Duration>` (serialising only).
    pub(crate) mod option {
        use serde::Serializer;
        use std::time::Duration;

        pub(crate) fn serialize<S: Serializer>(
            value: &Option<Duration>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(duration) => super::serialize(duration, serializer),
                None => serializer.serialize_none(),
            }
        }
    }
}

/// True when hyper reports that the connection closed before any response
/// byte: the server never answered this request, so sending it again is
/// safe (llama.cpp's server closes kept-alive connections after a while).
pub(crate) fn closed_while_idle(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// `work` on every item, on up to `threads` threads taking the next item
/// from a shared counter; results in the items' order.
pub(crate) fn map_parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let run = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, work(item)));
        }
    };
    let mut all: Vec<(usize, R)> = std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads.max(1)).map(|_| scope.spawn(run)).collect();
        let mut mine = run();
        for other in others {
            match other.join() {
                Ok(theirs) => mine.extend(theirs),
                // A panic in `work` is a bug: pass it on.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        mine
    });
    all.sort_unstable_by_key(|&(i, _)| i);
    all.into_iter().map(|(_, result)| result).collect()
}

/// The text shown where a figure is missing.
pub(crate) const MISSING: &str = "–";

/// A duration given in milliseconds: "0.42 ms", "8.1 ms", "812 ms",
/// "1.23 s", "12.3 s", "2 min 5 s"; "–" when missing.
pub(crate) fn format_ms(value: Option<f64>) -> String {
    let Some(ms) = value else {
        return MISSING.to_string();
    };
    let size = ms.abs();
    if size < 1.0 {
        format!("{ms:.2} ms")
    } else if size < 10.0 {
        format!("{ms:.1} ms")
    } else if size < 999.5 {
        format!("{ms:.0} ms")
    } else if size < 9_995.0 {
        format!("{:.2} s", ms / 1e3)
    } else if size < 59_950.0 {
        format!("{:.1} s", ms / 1e3)
    } else {
        let seconds = (ms / 1e3).round() as i64;
        format!("{} min {} s", seconds / 60, (seconds % 60).abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_their_plural() {
        assert_eq!(count_of(1, "cell"), "1 cell");
        assert_eq!(count_of(0, "cell"), "0 cells");
        assert_eq!(count_of(104, "cell"), "104 cells");
    }

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
    }

    #[test]
    fn rejects_bad_text_with_help() {
        let error = parse_duration("60").unwrap_err();
        assert_eq!(error, DurationError::NoUnit("60".into()));
        assert!(error.to_string().contains("e.g. \"60s\""), "{error}");
        let error = parse_duration("5 parsecs").unwrap_err();
        assert!(matches!(&error, DurationError::UnknownUnit { unit, .. } if unit == "parsecs"));
        assert!(error.to_string().contains("not a unit"), "{error}");
        let error = parse_duration("fast").unwrap_err();
        assert!(error.to_string().contains("not a duration"), "{error}");
    }

    #[test]
    fn formats_round_trip() {
        for text in ["250ms", "60s", "1.5ms"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
    }
}
