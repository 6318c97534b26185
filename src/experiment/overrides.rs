//! `--set KEY=VALUE` overrides, grafted onto the parsed document before it is
//! deserialised, so an override goes through exactly the checks the file
//! does. KEY is a dotted path (`run.repetitions`, `backends.gpu.url`); array
//! elements are addressed as `models.0.name` or `models[0].name`. VALUE is
//! read as a TOML value when it parses as one (`5`, `0.2`, `true`,
//! `["json"]`), otherwise taken as a string (`http://127.0.0.1:9999`).

use super::document::Document;
use super::error::ExperimentError;
use super::locate::KeyPath;
use std::borrow::Cow;
use std::ops::Range;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// One step of an override's key, with its span in the override's region.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    /// A key; all digits may also index an array (`models.0`).
    Key(String),
    /// `[n]`.
    Index(usize),
}

/// Applies each override in order to `doc`.
pub(crate) fn apply<'i>(
    doc: &mut Document<'i>,
    overrides: &'i [String],
) -> Result<(), ExperimentError> {
    for text in overrides {
        apply_one(doc, text)?;
    }
    Ok(())
}

fn apply_one<'i>(doc: &mut Document<'i>, text: &'i str) -> Result<(), ExperimentError> {
    let fail = |key: &str, message: String, help: &str| ExperimentError {
        key: Some(key.trim().to_owned()).filter(|k| !k.is_empty()),
        ..ExperimentError::file(shown(text), message).with_help(help)
    };
    let Some((key_text, value_text)) = text.split_once('=') else {
        return Err(fail(
            "",
            format!("`{text}` is not KEY=VALUE"),
            "write the key, `=` and the value, e.g. --set run.repetitions=5",
        ));
    };
    let parts = parse_key(key_text).map_err(|message| {
        fail(
            key_text,
            message,
            "write a dotted key, e.g. run.repetitions=5 or models.0.name=qwen3:0.6b",
        )
    })?;
    let base = doc.add_region(text, shown(text));
    let value = parse_value(value_text, base + key_text.len() + 1);
    let key_span = base..base + key_text.len();
    set_in_table(
        doc.root.get_mut(),
        &parts,
        key_span,
        value,
        KeyPath::default(),
    )
    .map_err(|(message, help)| fail(key_text, message, &help))
}

/// How an override is named in errors. The value of `api_key_env` is hidden
/// in case a key was pasted there.
fn shown(text: &str) -> String {
    match text.split_once('=') {
        Some((key, _)) if key.trim().ends_with("api_key_env") => format!("--set {key}=<hidden>"),
        _ => format!("--set {text}"),
    }
}

fn parse_key(key: &str) -> Result<Vec<Part>, String> {
    let key = key.trim();
    if key.is_empty() {
        return Err("the key is empty".to_owned());
    }
    let mut parts = Vec::new();
    for piece in key.split('.') {
        let (name, mut rest) = piece.split_at(piece.find('[').unwrap_or(piece.len()));
        if name.is_empty() && parts.is_empty() {
            return Err(format!("`{key}` does not start with a key"));
        }
        if !name.is_empty() {
            parts.push(Part::Key(name.to_owned()));
        } else if rest.is_empty() {
            return Err(format!("`{key}` has an empty part"));
        }
        while !rest.is_empty() {
            let index = rest
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .and_then(|(n, after)| Some((n.parse::<usize>().ok()?, after)));
            let Some((index, after)) = index else {
                return Err(format!("`{piece}` is not a key or key[INDEX]"));
            };
            parts.push(Part::Index(index));
            rest = after;
        }
    }
    Ok(parts)
}

/// A TOML value when `text` is one, else `text` as a string; spans start at `at`.
fn parse_value(text: &str, at: usize) -> Spanned<DeValue<'_>> {
    let trimmed = text.trim();
    let lead = text.len() - text.trim_start().len();
    match DeValue::parse(trimmed) {
        Ok(mut value) => {
            shift(&mut value, at + lead);
            value
        }
        Err(_) => Spanned::new(at..at + text.len(), DeValue::String(Cow::Borrowed(text))),
    }
}

/// Moves every span in `value` by `by` bytes.
fn shift(value: &mut Spanned<DeValue<'_>>, by: usize) {
    match value.get_mut() {
        DeValue::Table(table) => {
            for (key, mut item) in std::mem::take(table) {
                shift(&mut item, by);
                let span = key.span();
                table.insert(
                    Spanned::new(span.start + by..span.end + by, key.into_inner()),
                    item,
                );
            }
        }
        DeValue::Array(array) => array.iter_mut().for_each(|item| shift(item, by)),
        _ => {}
    }
    let span = value.span();
    let inner = std::mem::replace(value.get_mut(), DeValue::Boolean(false));
    *value = Spanned::new(span.start + by..span.end + by, inner);
}

type SetError = (String, String);

fn set_in_table<'i>(
    table: &mut DeTable<'i>,
    parts: &[Part],
    key_span: Range<usize>,
    value: Spanned<DeValue<'i>>,
    walked: KeyPath,
) -> Result<(), SetError> {
    let (first, rest) = match parts.split_first() {
        Some((Part::Key(key), rest)) => (key, rest),
        Some((Part::Index(index), _)) => {
            return Err((
                format!("`{walked}` is a table; it has no element [{index}]"),
                "address table entries by key".to_owned(),
            ))
        }
        None => return Ok(()),
    };
    let walked = walked.key(first);
    if rest.is_empty() {
        table.remove(first.as_str());
        table.insert(Spanned::new(key_span, Cow::Owned(first.clone())), value);
        return Ok(());
    }
    let entry = table
        .entry(Spanned::new(key_span.clone(), Cow::Owned(first.clone())))
        .or_insert_with(|| Spanned::new(key_span.clone(), DeValue::Table(DeTable::default())));
    set_in_value(entry.get_mut(), rest, key_span, value, walked)
}

fn set_in_value<'i>(
    node: &mut DeValue<'i>,
    parts: &[Part],
    key_span: Range<usize>,
    value: Spanned<DeValue<'i>>,
    walked: KeyPath,
) -> Result<(), SetError> {
    match node {
        DeValue::Table(table) => set_in_table(table, parts, key_span, value, walked),
        DeValue::Array(array) => {
            let index = match parts.first() {
                Some(Part::Index(index)) => Some(*index),
                Some(Part::Key(key)) => key.parse::<usize>().ok(),
                None => None,
            };
            let Some(index) = index else {
                return Err((
                    format!("`{walked}` is an array"),
                    format!("address its elements by number, e.g. {walked}.0 or {walked}[0]"),
                ));
            };
            let count = array.len();
            let Some(element) = array.get_mut(index) else {
                return Err((
                    format!("`{walked}` has {count} element(s); there is no {walked}[{index}]"),
                    "indexes start at 0; an override can change elements but not add them"
                        .to_owned(),
                ));
            };
            let walked = walked.index(index);
            if parts.len() == 1 {
                *element = value;
                return Ok(());
            }
            set_in_value(element.get_mut(), &parts[1..], key_span, value, walked)
        }
        other => Err((
            format!(
                "`{walked}` is {}, not a table",
                with_article(other.type_str())
            ),
            format!("set `{walked}` itself, e.g. --set {walked}=..."),
        )),
    }
}

fn with_article(noun: &str) -> String {
    match noun.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {noun}"),
        _ => format!("a {noun}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn value_at(text: &str, overrides: &[String], path: &[&str]) -> Result<String, String> {
        let mut doc = Document::parse(Path::new("x.toml"), text).map_err(|e| e.to_string())?;
        apply(&mut doc, overrides).map_err(|e| e.to_string())?;
        let table: toml::Table = doc.deserialize().map_err(|e| e.to_string())?;
        let mut value = toml::Value::Table(table);
        for key in path {
            value = match key.parse::<usize>() {
                Ok(i) => value.get(i).cloned(),
                Err(_) => value.get(*key).cloned(),
            }
            .ok_or("missing")?;
        }
        Ok(value.to_string())
    }

    fn sets(list: &[&str]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn values_parse_as_toml_or_fall_back_to_strings() {
        let doc = "[run]\nrepetitions = 1\n[[models]]\nname = 'a'\n";
        assert_eq!(
            value_at(doc, &sets(&["run.repetitions=5"]), &["run", "repetitions"]).unwrap(),
            "5"
        );
        assert_eq!(
            value_at(doc, &sets(&["backend.url=http://h:1"]), &["backend", "url"]).unwrap(),
            "\"http://h:1\""
        );
        assert_eq!(
            value_at(
                doc,
                &sets(&["report.formats=[\"json\"]"]),
                &["report", "formats"]
            )
            .unwrap(),
            "[\"json\"]"
        );
        assert_eq!(
            value_at(doc, &sets(&["models.0.name=b"]), &["models", "0", "name"]).unwrap(),
            "\"b\""
        );
        assert_eq!(
            value_at(
                doc,
                &sets(&["models[0].name = c"]),
                &["models", "0", "name"]
            )
            .unwrap(),
            "\" c\""
        );
    }

    #[test]
    fn malformed_overrides_name_the_override() {
        let doc = "[run]\nrepetitions = 1\n[[models]]\nname = 'a'\n";
        let err = value_at(doc, &sets(&["run.repetitions"]), &[]).unwrap_err();
        assert!(
            err.starts_with("--set run.repetitions: `run.repetitions` is not KEY=VALUE"),
            "{err}"
        );
        let err = value_at(doc, &sets(&["models.3.name=x"]), &[]).unwrap_err();
        assert!(err.contains("there is no models[3]"), "{err}");
        let err = value_at(doc, &sets(&["run.repetitions.x=1"]), &[]).unwrap_err();
        assert!(err.contains("`run.repetitions` is an integer"), "{err}");
        let err = value_at(doc, &sets(&["run..x=1"]), &[]).unwrap_err();
        assert!(err.contains("empty part"), "{err}");
    }

    #[test]
    fn hides_api_keys_in_names() {
        assert_eq!(
            shown("backend.api_key_env=sk-123"),
            "--set backend.api_key_env=<hidden>"
        );
        assert_eq!(shown("run.warmup=1"), "--set run.warmup=1");
    }
}
