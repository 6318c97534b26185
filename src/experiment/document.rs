//! A parsed TOML document that remembers where everything came from: the
//! file's text, its spanned tree (`toml::de::DeTable`), and the `--set`
//! overrides grafted onto it. Values from overrides carry spans past the end
//! of the file, one region per override, so any span — from serde or from
//! `locate` — maps back to "file:line:column" or to "--set KEY=VALUE".
//! Every `ExperimentError` that points into a document is built here.

use super::error::ExperimentError;
use super::locate::{self, KeyPath, LineIndex};
use super::suggest::{self, Problem};
use serde::de::DeserializeOwned;
use std::cell::OnceCell;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::de::DeTable;
use toml::Spanned;

/// Where a span lies: the file's own text or one `--set` override.
struct Region<'i> {
    /// Virtual offsets: the override's byte `i` is at `span.start + i`.
    span: Range<usize>,
    /// The override as written.
    text: &'i str,
    /// Shown as the "file" of errors in this override.
    shown: String,
}

pub(crate) struct Document<'i> {
    pub path: PathBuf,
    text: &'i str,
    /// Line starts of `text`, built on first use: `place` is called for
    /// every prompt id, and scanning from the file's start each time made
    /// loading quadratic in the number of prompts.
    lines: OnceCell<LineIndex>,
    pub root: Spanned<DeTable<'i>>,
    regions: Vec<Region<'i>>,
}

impl<'i> Document<'i> {
    /// Parses `text`; a TOML syntax error keeps the toml crate's position.
    pub(crate) fn parse(path: &Path, text: &'i str) -> Result<Self, ExperimentError> {
        let root = DeTable::parse(text).map_err(|error| {
            let (line, column) = locate::line_column(text, error.span().map_or(0, |s| s.start));
            ExperimentError {
                line: Some(line),
                column: Some(column),
                ..ExperimentError::file(path, format!("invalid TOML: {}", error.message()))
            }
            .with_optional_help(syntax_help(error.message()))
        })?;
        Ok(Document {
            path: path.to_owned(),
            text,
            lines: OnceCell::new(),
            root,
            regions: Vec::new(),
        })
    }

    /// Reserves a region of virtual offsets for an override and returns its
    /// first offset. `shown` is how errors in it name their "file".
    pub(crate) fn add_region(&mut self, text: &'i str, shown: String) -> usize {
        let start = self
            .regions
            .last()
            .map_or(self.text.len() + 1, |r| r.span.end + 1);
        self.regions.push(Region {
            span: start..start + text.len(),
            text,
            shown,
        });
        start
    }

    /// Deserialises the whole document, turning serde's error into ours.
    pub(crate) fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ExperimentError> {
        T::deserialize(toml::de::Deserializer::from(self.root.clone()))
            .map_err(|e| self.serde_error(&e))
    }

    /// An error about the key or value at `path`, placed at its key (or at
    /// the nearest ancestor that was written).
    pub(crate) fn error(&self, path: &KeyPath, message: impl Into<String>) -> ExperimentError {
        let mut span = locate::locate(&self.root, path);
        if span == self.root.span() {
            span = 0..0; // nothing on the path was written: no line to show
        }
        self.error_at(&span, Some(path), message)
    }

    /// Where `path` is, as "file:line:column", for pointing at a first definition.
    pub(crate) fn place(&self, path: &KeyPath) -> String {
        self.error(path, "").place()
    }

    /// An error placed at `span`, about `key`.
    pub(crate) fn error_at(
        &self,
        span: &Range<usize>,
        key: Option<&KeyPath>,
        message: impl Into<String>,
    ) -> ExperimentError {
        let key = key.filter(|k| !k.is_root()).map(ToString::to_string);
        let mut error = ExperimentError {
            key,
            ..ExperimentError::file(&self.path, message)
        };
        if span.start > self.text.len() {
            if let Some(region) = self
                .regions
                .iter()
                .rev()
                .find(|r| r.span.start <= span.start)
            {
                error.file = PathBuf::from(&region.shown);
                return error;
            }
        }
        if !(span.is_empty() && span.start == 0) {
            let lines = self.lines.get_or_init(|| LineIndex::new(self.text));
            let (line, column) = lines.line_column(self.text, span.start);
            error.line = Some(line);
            error.column = Some(column);
        }
        error
    }

    /// The text written at `span` (in the file or in an override).
    pub(crate) fn raw(&self, span: &Range<usize>) -> Option<&'i str> {
        if span.end <= self.text.len() {
            return self.text.get(span.clone());
        }
        let region = self
            .regions
            .iter()
            .find(|r| r.span.start <= span.start && span.end <= r.span.end)?;
        region
            .text
            .get(span.start - region.span.start..span.end - region.span.start)
    }

    fn serde_error(&self, error: &toml::de::Error) -> ExperimentError {
        let span = error.span().unwrap_or(0..0);
        let path = locate::path_at(&self.root, &span);
        match suggest::parse_problem(error.message()) {
            Problem::UnknownField { name, expected } => {
                let names: Vec<&str> = expected.iter().map(String::as_str).collect();
                self.error_at(&span, Some(&path), "unknown key")
                    .with_help(suggest::unknown_help(&name, &names, "keys"))
            }
            Problem::UnknownVariant { name, expected } => {
                let names: Vec<&str> = expected.iter().map(String::as_str).collect();
                self.error_at(&span, Some(&path), format!("unknown value {name:?}"))
                    .with_help(suggest::unknown_help(&name, &names, "values"))
            }
            Problem::MissingField(name) => self
                .error_at(&span, Some(&path.key(&name)), "missing required key")
                .with_optional_help(suggest::missing_help(&name, &path.to_string())),
            Problem::Mismatch { found, expected } => {
                let message = format!(
                    "expected {}, found {}",
                    suggest::describe_expected(&expected),
                    suggest::describe_found(&found)
                );
                let help = self.type_help(&span, &path, &expected);
                self.error_at(&span, Some(&path), message)
                    .with_optional_help(help)
            }
            Problem::Other(message) => self.error_at(&span, Some(&path), message),
        }
    }
}

impl Document<'_> {
    /// "remove the quotes: `repetitions = 3`", or in an override
    /// "remove the quotes: `--set 'run.repetitions=3'`".
    fn type_help(&self, span: &Range<usize>, path: &KeyPath, expected: &str) -> Option<String> {
        let key = path.last_key().unwrap_or_default();
        let (what, value) = suggest::type_fix_at(key, expected, self.raw(span)?)?;
        if span.start > self.text.len() {
            return Some(format!("{what}: `--set '{path}={value}'`"));
        }
        Some(format!("{what}: `{} = {value}`", path.last_key()?))
    }
}

fn syntax_help(message: &str) -> Option<String> {
    if message.starts_with("string values must be quoted") {
        Some("put text in quotes, e.g. url = \"http://127.0.0.1:11434\"".to_owned())
    } else if message.starts_with("duplicate key") {
        Some("each key may appear only once in a table".to_owned())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Run {
        repetitions: Option<u32>,
        warmup: Option<u32>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Top {
        name: String,
        run: Option<Run>,
    }

    fn load(text: &str) -> String {
        let doc = Document::parse(Path::new("x.toml"), text).map_err(|e| e.to_string());
        match doc.and_then(|d| d.deserialize::<Top>().map_err(|e| e.to_string())) {
            Ok(_) => "ok".into(),
            Err(e) => e,
        }
    }

    #[test]
    fn serde_errors_get_place_key_and_help() {
        assert_eq!(
            load("name = 'x'\n[run]\nrepetitons = 3\n"),
            "x.toml:3:1: run.repetitons: unknown key\n  help: did you mean `repetitions`? (valid keys: repetitions, warmup)"
        );
        assert_eq!(
            load("name = 'x'\n[run]\nrepetitions = \"3\"\n"),
            "x.toml:3:15: run.repetitions: expected a whole number ≥ 0, found the string \"3\"\n  help: remove the quotes: `repetitions = 3`"
        );
        assert_eq!(
            load("[run]\n"),
            "x.toml: name: missing required key\n  help: add it, e.g. name = \"my-experiment\""
        );
    }

    #[test]
    fn syntax_errors_keep_toml_positions() {
        let text = "name = 'x'\n[run\n";
        let ours = load(text);
        let theirs = toml::from_str::<toml::Table>(text).unwrap_err().to_string();
        assert!(ours.starts_with("x.toml:2:5: invalid TOML: "), "{ours}");
        assert!(theirs.contains("line 2, column 5"), "{theirs}");
    }
}
