//! Turning mistakes into advice: "did you mean" over a list of valid names
//! (strsim), and serde's terse messages (`unknown field`, `invalid type: ...,
//! expected u32`) rewritten in the words of the file format, with help where
//! we can tell what was meant. Pure functions over strings; `document.rs`
//! supplies the key path and the text the user wrote.

/// The valid name closest to `word`, when it is close enough to be a likely
/// typo (`repetitons` → `repetitions`, `olama` → `ollama`).
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_lowercase();
    candidates
        .iter()
        .map(|candidate| {
            (
                strsim::jaro_winkler(&word, &candidate.to_lowercase()),
                *candidate,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// Help for an unknown name: the likely one, then every valid one.
/// `what` is "keys", "values", "backends", ...
pub(crate) fn unknown_help(word: &str, candidates: &[&str], what: &str) -> String {
    let list = if candidates.is_empty() {
        format!("there are no {what}")
    } else {
        format!("valid {what}: {}", candidates.join(", "))
    };
    match did_you_mean(word, candidates) {
        Some(best) => format!("did you mean `{best}`? ({list})"),
        None => list,
    }
}

/// A serde error message, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    UnknownField {
        name: String,
        expected: Vec<String>,
    },
    UnknownVariant {
        name: String,
        expected: Vec<String>,
    },
    MissingField(String),
    /// `invalid type` or `invalid value`: what was found, what was expected.
    Mismatch {
        found: String,
        expected: String,
    },
    Other(String),
}

/// Reads the messages serde's derive and primitive visitors produce.
pub(crate) fn parse_problem(message: &str) -> Problem {
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (name, expected) = name_and_expected(rest);
        return Problem::UnknownField { name, expected };
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (name, expected) = name_and_expected(rest);
        return Problem::UnknownVariant { name, expected };
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return Problem::MissingField(rest.trim_matches('`').to_owned());
    }
    let mismatch = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    if let Some((found, expected)) = mismatch.and_then(|rest| rest.rsplit_once(", expected ")) {
        return Problem::Mismatch {
            found: found.to_owned(),
            expected: expected.to_owned(),
        };
    }
    if message == "wanted string or table" {
        return Problem::Mismatch {
            found: "another type".to_owned(),
            expected: "a string".to_owned(),
        };
    }
    Problem::Other(message.to_owned())
}

/// "`name`, expected one of `a`, `b`" → ("name", ["a", "b"]).
fn name_and_expected(rest: &str) -> (String, Vec<String>) {
    let mut quoted = rest.split('`').skip(1).step_by(2).map(str::to_owned);
    let name = quoted.next().unwrap_or_default();
    (name, quoted.collect())
}

/// serde's name for an expected type, in the words of the file format.
pub(crate) fn describe_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number ≥ 0".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a sequence" => "an array".to_owned(),
        "a map" => "a table".to_owned(),
        "a borrowed string" => "a string".to_owned(),
        other if other.starts_with("struct ") => "a table".to_owned(),
        other => other.to_owned(),
    }
}

/// serde's description of a found value ("string \"3\"", "integer `1`").
pub(crate) fn describe_found(found: &str) -> String {
    let inner = found.split('`').nth(1);
    match (found.split(' ').next(), inner) {
        (Some("string"), _) => format!("the string {}", &found["string ".len()..]),
        (Some("integer" | "boolean"), Some(inner)) => inner.to_owned(),
        (Some("floating"), Some(inner)) => inner.to_owned(),
        (Some("sequence"), _) => "an array".to_owned(),
        (Some("map"), _) => "a table".to_owned(),
        _ => found.to_owned(),
    }
}

/// Keys whose value is a duration string ("60s", "10m"): a bare number
/// there needs a unit as well as quotes (`"120"` has no unit and is refused).
const DURATION_KEYS: [&str; 4] = ["timeout", "startup_timeout", "stop_timeout", "duration"];

/// A fix for a value of the wrong type at `key`, given the text the user
/// wrote: what to do and the value to write instead
/// (`("remove the quotes", "3")`).
pub(crate) fn type_fix_at(key: &str, expected: &str, raw: &str) -> Option<(&'static str, String)> {
    let raw = raw.trim();
    let is_number = !raw.is_empty() && raw.chars().all(|c| c.is_ascii_digit() || c == '.');
    if DURATION_KEYS.contains(&key) && is_number && describe_expected(expected) == "a string" {
        return Some((
            "write a duration with its unit, in quotes",
            format!("\"{raw}s\""),
        ));
    }
    type_fix(expected, raw)
}

/// A fix for a value of the wrong type, given the text the user wrote:
/// what to do and the value to write instead (`("remove the quotes", "3")`).
pub(crate) fn type_fix(expected: &str, raw: &str) -> Option<(&'static str, String)> {
    let raw = raw.trim();
    let expected = describe_expected(expected);
    let unquoted = raw.trim_matches(|c| c == '"' || c == '\'');
    let is_quoted = unquoted.len() + 2 == raw.len();
    let wants_number = expected.contains("number");
    let is_number = unquoted.parse::<f64>().is_ok();
    let is_bool = unquoted == "true" || unquoted == "false";
    if is_quoted && ((wants_number && is_number) || (expected == "true or false" && is_bool)) {
        return Some(("remove the quotes", unquoted.to_owned()));
    }
    if expected == "a string" && !raw.starts_with(['"', '\'', '[', '{']) {
        return Some(("put the value in quotes", format!("\"{raw}\"")));
    }
    if expected == "an array" && is_quoted {
        return Some(("write an array", format!("[{raw}]")));
    }
    None
}

/// Help for a required key that is missing from the table at `table`: an
/// example line.
pub(crate) fn missing_help(key: &str, table: &str) -> Option<String> {
    let example = match key {
        "name" => "name = \"my-experiment\"",
        "kind" if table.contains("checks") => {
            "kind = \"contains\" (kinds: contains, not_contains, regex, equals, json, max_words, python, shell; see docs/quality.md)"
        }
        "kind" => "kind = \"ollama\" (or \"openai\")",
        "url" => "url = \"http://127.0.0.1:11434\"",
        "models" => "[[models]] with name = \"llama3.2:1b\"",
        "id" => "id = \"capital\"",
        "text" => "text = \"What is the capital of France?\"",
        "prompts" => "[[prompts]] tables, each with id and text",
        _ => return None,
    };
    Some(format!("add it, e.g. {example}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["repetitions", "warmup", "concurrency", "ollama_api"];
        assert_eq!(did_you_mean("repetitons", &keys), Some("repetitions"));
        assert_eq!(did_you_mean("Warmup", &keys), Some("warmup"));
        assert_eq!(did_you_mean("olama", &["ollama", "openai"]), Some("ollama"));
        assert_eq!(did_you_mean("html", &["markdown", "json"]), None);
        assert_eq!(did_you_mean("seed", &keys), None);
    }

    #[test]
    fn help_lists_valid_names() {
        assert_eq!(
            unknown_help("olama", &["ollama", "openai"], "values"),
            "did you mean `ollama`? (valid values: ollama, openai)"
        );
        assert_eq!(unknown_help("x", &["a", "b"], "keys"), "valid keys: a, b");
    }

    #[test]
    fn reads_serde_messages() {
        assert_eq!(
            parse_problem("unknown field `repetitons`, expected one of `repetitions`, `warmup`"),
            Problem::UnknownField {
                name: "repetitons".into(),
                expected: vec!["repetitions".into(), "warmup".into()]
            }
        );
        assert_eq!(
            parse_problem("unknown variant `olama`, expected `ollama` or `openai`"),
            Problem::UnknownVariant {
                name: "olama".into(),
                expected: vec!["ollama".into(), "openai".into()]
            }
        );
        assert_eq!(
            parse_problem("missing field `url`"),
            Problem::MissingField("url".into())
        );
        assert_eq!(
            parse_problem("invalid type: string \"3\", expected u32"),
            Problem::Mismatch {
                found: "string \"3\"".into(),
                expected: "u32".into()
            }
        );
        assert_eq!(
            parse_problem("something else"),
            Problem::Other("something else".into())
        );
    }

    #[test]
    fn describes_types_in_toml_words() {
        assert_eq!(describe_expected("u32"), "a whole number ≥ 0");
        assert_eq!(describe_expected("struct RawRun"), "a table");
        assert_eq!(describe_found("string \"3\""), "the string \"3\"");
        assert_eq!(describe_found("integer `-1`"), "-1");
        assert_eq!(describe_found("floating point `1.5`"), "1.5");
        assert_eq!(describe_found("sequence"), "an array");
    }

    #[test]
    fn type_fix_fixes_quotes() {
        let fix =
            |expected, raw| type_fix(expected, raw).map(|(what, value)| format!("{what}: {value}"));
        assert_eq!(fix("u32", "\"3\"").as_deref(), Some("remove the quotes: 3"));
        assert_eq!(
            fix("a boolean", "'true'").as_deref(),
            Some("remove the quotes: true")
        );
        assert_eq!(
            fix("a string", "-1").as_deref(),
            Some("put the value in quotes: \"-1\"")
        );
        assert_eq!(
            fix("a sequence", "\"END\"").as_deref(),
            Some("write an array: [\"END\"]")
        );
        assert_eq!(fix("i64", "\"abc\""), None);
    }
}
