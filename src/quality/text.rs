//! Checks on the text of a reply (`contains`, `not_contains`, `regex`,
//! `equals`, `json`, `max_words`), fenced code block extraction, and the small
//! text helpers the reasons use. Every check returns `(passed, reason)`; the
//! reason is empty when the check passed.

use super::schema;

/// Case-folds when asked (Unicode lowercase).
fn fold(text: &str, ignore_case: bool) -> String {
    if ignore_case {
        text.to_lowercase()
    } else {
        text.to_string()
    }
}

pub(crate) fn contains(response: &str, value: &str, ignore_case: bool) -> (bool, String) {
    if fold(response, ignore_case).contains(&fold(value, ignore_case)) {
        (true, String::new())
    } else {
        (false, format!("{} not found", quoted(value, 60)))
    }
}

pub(crate) fn not_contains(response: &str, value: &str, ignore_case: bool) -> (bool, String) {
    let haystack = fold(response, ignore_case);
    match haystack.find(&fold(value, ignore_case)) {
        None => (true, String::new()),
        Some(at) => (false, format!("{} found at byte {at}", quoted(value, 60))),
    }
}

pub(crate) fn regex(response: &str, pattern: &str) -> (bool, String) {
    match regex::Regex::new(pattern) {
        Err(error) => (false, format!("regex does not compile: {error}")),
        Ok(re) if re.is_match(response) => (true, String::new()),
        Ok(_) => (false, format!("no match for /{}/", preview(pattern, 60))),
    }
}

pub(crate) fn equals(response: &str, value: &str, ignore_case: bool) -> (bool, String) {
    let (got, want) = (response.trim(), value.trim());
    if fold(got, ignore_case) == fold(want, ignore_case) {
        (true, String::new())
    } else {
        (
            false,
            format!("expected {}, got {}", quoted(want, 60), quoted(got, 60)),
        )
    }
}

pub(crate) fn json(response: &str, schema: Option<&serde_json::Value>) -> (bool, String) {
    let value = match parse_json_reply(response) {
        Ok(value) => value,
        Err(reason) => return (false, reason),
    };
    match schema.map(|schema| schema::validate(schema, &value)) {
        Some(Err(reason)) => (false, format!("schema: {reason}")),
        _ => (true, String::new()),
    }
}

/// The reply as JSON, or else its first ```json block, or else its first
/// fenced block of any language.
fn parse_json_reply(response: &str) -> Result<serde_json::Value, String> {
    let whole = serde_json::from_str(response.trim());
    let error = match whole {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    match extract_code_block(response, Some("json")).or_else(|| extract_code_block(response, None))
    {
        Some(block) => serde_json::from_str(&block)
            .map_err(|e| format!("the reply's code block is not JSON: {e}")),
        None => Err(format!("not JSON: {error}")),
    }
}

pub(crate) fn max_words(response: &str, limit: usize) -> (bool, String) {
    let words = response.split_whitespace().count();
    if words <= limit {
        (true, String::new())
    } else {
        (false, format!("{words} words, limit {limit}"))
    }
}

/// Canonical name of a fence language, so ```py finds a "python" block.
fn canonical_language(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    match lower.as_str() {
        "py" | "py3" | "python3" => "python".into(),
        "sh" | "bash" | "shell" | "zsh" => "sh".into(),
        "js" | "node" => "javascript".into(),
        _ => lower,
    }
}

/// The contents of the first fenced code block (``` or ~~~, CommonMark
/// style, indentation of the opening fence removed from its lines) — or,
/// with `language`, of the first block whose info string names that language
/// (`py`, `python3` count as `python`; `bash`, `shell` as `sh`). An unclosed
/// block runs to the end of the reply (a reply cut off by the token limit).
/// `None` when there is no such block.
pub(crate) fn extract_code_block(reply: &str, language: Option<&str>) -> Option<String> {
    let wanted = language.map(canonical_language);
    let mut lines = reply.lines();
    while let Some(line) = lines.next() {
        let Some((fence, indent, info)) = opening_fence(line) else {
            continue;
        };
        let mut body = Vec::new();
        for inner in lines.by_ref() {
            if is_closing_fence(inner, &fence) {
                break;
            }
            body.push(strip_indent(inner, indent));
        }
        let tag = info.split_whitespace().next().unwrap_or("");
        let tag = tag.trim_start_matches(['{', '.']).trim_end_matches('}');
        if wanted
            .as_deref()
            .is_none_or(|w| canonical_language(tag) == w)
        {
            return Some(body.join("\n"));
        }
    }
    None
}

/// `(fence, indentation, info string)` when `line` opens a fenced block.
fn opening_fence(line: &str) -> Option<(String, usize, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let marker = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let count = rest.chars().take_while(|c| *c == marker).count();
    if count < 3 {
        return None;
    }
    let info = &rest[count..];
    if marker == '`' && info.contains('`') {
        return None;
    }
    Some((rest[..count].to_string(), indent, info.trim()))
}

fn is_closing_fence(line: &str, fence: &str) -> bool {
    let trimmed = line.trim();
    let marker = fence.chars().next().unwrap_or('`');
    trimmed.len() >= fence.len() && trimmed.chars().all(|c| c == marker)
}

fn strip_indent(line: &str, indent: usize) -> &str {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    &line[spaces.min(indent)..]
}

/// Removes the indentation common to all non-blank lines (tests written
/// indented inside a TOML string).
pub(crate) fn dedent(text: &str) -> String {
    let common = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    let lines: Vec<&str> = text
        .lines()
        .map(|line| line.get(common..).unwrap_or_else(|| line.trim_start()))
        .collect();
    lines.join("\n")
}

/// At most `max` characters of `text` on one line, with "…" when cut.
pub(crate) fn preview(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

fn quoted(text: &str, max: usize) -> String {
    format!("\"{}\"", preview(text, max))
}

/// The last non-blank line of `text`, trimmed.
pub(crate) fn last_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).rfind(|line| !line.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contains_and_not_contains() {
        assert_eq!(
            contains("The capital is Paris.", "Paris", false),
            (true, String::new())
        );
        assert!(contains("paris", "Paris", true).0);
        assert_eq!(
            contains("paris", "Paris", false),
            (false, "\"Paris\" not found".into())
        );
        assert_eq!(not_contains("fine", "sorry", true), (true, String::new()));
        assert_eq!(
            not_contains("I'm SORRY", "sorry", true),
            (false, "\"sorry\" found at byte 4".into())
        );
    }

    #[test]
    fn regex_equals_and_max_words() {
        assert!(regex("answer: 42", r"\b42\b").0);
        assert_eq!(
            regex("answer: 41", r"\b42\b"),
            (false, r"no match for /\b42\b/".into())
        );
        assert!(regex("x", "(").1.starts_with("regex does not compile"));
        assert!(equals("  Paris\n", "Paris", false).0);
        assert!(equals("PARIS", "paris", true).0);
        assert_eq!(
            equals("Paris.", "Paris", false),
            (false, "expected \"Paris\", got \"Paris.\"".into())
        );
        assert!(max_words("one two  three\nfour", 4).0);
        assert_eq!(
            max_words("one two three", 2),
            (false, "3 words, limit 2".into())
        );
    }

    #[test]
    fn json_reply_block_and_schema() {
        assert!(json(" {\"a\": 1} ", None).0);
        assert!(json("Here:\n```json\n{\"a\": 1}\n```\nDone.", None).0);
        assert!(json("Here:\n```\n[1, 2]\n```", None).0);
        let (ok, reason) = json("no json here", None);
        assert!(!ok && reason.starts_with("not JSON: expected"), "{reason}");
        let (ok, reason) = json("```json\n{oops}\n```", None);
        assert!(
            !ok && reason.starts_with("the reply's code block is not JSON"),
            "{reason}"
        );
        let schema = json!({"type": "object", "required": ["a"]});
        assert!(json("{\"a\": 1}", Some(&schema)).0);
        assert_eq!(
            json("{\"b\": 1}", Some(&schema)),
            (false, "schema: $: missing required property `a`".into())
        );
    }

    #[test]
    fn extracts_code_blocks() {
        let reply = "Intro\n```text\nnot code\n```\n\n```py\ndef f():\n    return 1\n```\n```python\nx = 2\n```";
        assert_eq!(extract_code_block(reply, None).as_deref(), Some("not code"));
        assert_eq!(
            extract_code_block(reply, Some("python")).as_deref(),
            Some("def f():\n    return 1")
        );
        assert_eq!(extract_code_block(reply, Some("rust")), None);
        assert_eq!(extract_code_block("no fences at all", None), None);
        // Indented fence, tilde fence, longer closing fence, unclosed block.
        let indented = "1. Code:\n   ```python\n   def g():\n       pass\n   ```";
        assert_eq!(
            extract_code_block(indented, Some("py")).as_deref(),
            Some("def g():\n    pass")
        );
        assert_eq!(
            extract_code_block("~~~sh\nls\n~~~~", Some("bash")).as_deref(),
            Some("ls")
        );
        assert_eq!(
            extract_code_block("```python\nx = 1\nprint(x)", None).as_deref(),
            Some("x = 1\nprint(x)")
        );
        assert_eq!(
            extract_code_block("```{.python}\nx\n```\r\n", Some("python")).as_deref(),
            Some("x")
        );
        // Inline triple backticks are not a fence.
        assert_eq!(extract_code_block("use ```x``` here", None), None);
    }

    #[test]
    fn helpers() {
        assert_eq!(dedent("    a\n      b\n\n    c"), "a\n  b\n\nc");
        assert_eq!(preview("abcdef", 4), "abc…");
        assert_eq!(preview("a\nb", 4), "a b");
        assert_eq!(preview("ééééé", 3), "éé…");
        assert_eq!(
            last_line("a\nTraceback\nValueError: x\n\n"),
            Some("ValueError: x")
        );
        assert_eq!(last_line(" \n"), None);
    }
}
