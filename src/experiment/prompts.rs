//! Prompts: the `[[prompts]]` of the experiment, then those of every file the
//! `prompt_files` globs match (relative to the experiment's directory; each
//! file holds only `[[prompts]]`). Ids must be unique across all of them; an
//! error inside a prompt file names that file. A pattern that matches no file
//! is an error, and so is an experiment left with no prompts at all.

use super::document::Document;
use super::error::ExperimentError;
use super::locate::KeyPath;
use super::manifest::{PromptFile, RawPrompt};
use super::resolve::check_name;
use super::settings;
use super::types::Prompt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Prompts gathered so far, with where each id was first defined.
#[derive(Default)]
struct Gathered {
    prompts: Vec<Prompt>,
    first_defined: HashMap<String, String>,
}

/// Every prompt of the experiment, in order: its own, then each file's.
pub(crate) fn prompts(
    doc: &Document<'_>,
    own: Option<Vec<RawPrompt>>,
    files: Option<Vec<String>>,
    base_dir: &Path,
) -> Result<Vec<Prompt>, ExperimentError> {
    let mut gathered = Gathered::default();
    for (i, raw) in own.unwrap_or_default().into_iter().enumerate() {
        gathered.add(doc, &KeyPath::top("prompts").index(i), raw)?;
    }
    let mut read: Vec<PathBuf> = Vec::new();
    for (i, pattern) in files.unwrap_or_default().iter().enumerate() {
        let at = KeyPath::top("prompt_files").index(i);
        for path in expand(doc, &at, pattern, base_dir)? {
            if !read.contains(&path) {
                gathered.add_file(&path)?;
                read.push(path);
            }
        }
    }
    if gathered.prompts.is_empty() {
        return Err(doc
            .error(&KeyPath::top("prompts"), "the experiment has no prompts")
            .with_help(
                "add [[prompts]] tables with id and text, or prompt_files = [\"prompts/*.toml\"]",
            ));
    }
    Ok(gathered.prompts)
}

/// The files `pattern` matches, sorted; at least one.
fn expand(
    doc: &Document<'_>,
    at: &KeyPath,
    pattern: &str,
    base_dir: &Path,
) -> Result<Vec<PathBuf>, ExperimentError> {
    if pattern.trim().is_empty() {
        return Err(doc
            .error(at, "the pattern is empty")
            .with_help("e.g. prompt_files = [\"prompts/*.toml\"]"));
    }
    let full = if Path::new(pattern).is_absolute() {
        pattern.to_owned()
    } else {
        let base = glob::Pattern::escape(&base_dir.to_string_lossy());
        Path::new(&base)
            .join(pattern)
            .to_string_lossy()
            .into_owned()
    };
    let matches = glob::glob(&full).map_err(|e| {
        doc.error(
            at,
            format!("`{pattern}` is not a valid glob pattern: {}", e.msg),
        )
        .with_help("use *, ** and ? as wildcards, e.g. \"prompts/**/*.toml\"")
    })?;
    let mut files = Vec::new();
    for entry in matches {
        let path = entry.map_err(|e| {
            doc.error(
                at,
                format!("cannot read {}: {}", e.path().display(), e.error()),
            )
        })?;
        if path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(doc
            .error(at, format!("`{pattern}` matches no files"))
            .with_help(format!(
            "patterns are relative to the experiment file's directory; this one looked for `{full}`"
        )));
    }
    files.sort();
    Ok(files)
}

impl Gathered {
    fn add_file(&mut self, path: &Path) -> Result<(), ExperimentError> {
        if path.extension().is_some_and(|e| e == "jsonl") {
            return self.add_dataset(path);
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            ExperimentError::file(path, format!("cannot read the prompt file: {e}"))
        })?;
        let doc = Document::parse(path, &text)?;
        let file: PromptFile = doc.deserialize()?;
        if file.prompts.is_empty() {
            return Err(doc
                .error(&KeyPath::top("prompts"), "the prompt file has no prompts")
                .with_help("add [[prompts]] tables with id and text"));
        }
        for (i, raw) in file.prompts.into_iter().enumerate() {
            self.add(&doc, &KeyPath::top("prompts").index(i), raw)?;
        }
        Ok(())
    }

    /// A JSONL dataset's prompts; ids must still be unique.
    fn add_dataset(&mut self, path: &Path) -> Result<(), ExperimentError> {
        for prompt in super::dataset::read(path)? {
            let place = format!("{} ({})", path.display(), prompt.id);
            if let Some(first) = self.first_defined.insert(prompt.id.clone(), place) {
                return Err(ExperimentError::file(
                    path,
                    format!("duplicate prompt id {:?}", prompt.id),
                )
                .with_help(format!(
                    "it is first defined at {first}; give the line an \"id\""
                )));
            }
            self.prompts.push(prompt);
        }
        Ok(())
    }

    fn add(
        &mut self,
        doc: &Document<'_>,
        at: &KeyPath,
        raw: RawPrompt,
    ) -> Result<(), ExperimentError> {
        let id_at = at.key("id");
        check_name(doc, &id_at, "prompt id", &raw.id)?;
        if let Some(first) = self.first_defined.get(&raw.id) {
            return Err(doc
                .error(&id_at, format!("duplicate prompt id {:?}", raw.id))
                .with_help(format!(
                    "it is first defined at {first}; ids must be unique across the experiment and its prompt files"
                )));
        }
        let (text, input_tokens) = super::synthetic::prompt_text(doc, at, &raw)?;
        if raw.system.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(doc
                .error(&at.key("system"), "the system prompt is empty")
                .with_help("leave system out to send no system prompt"));
        }
        let settings = raw.settings();
        settings::check(doc, at, &settings)?;
        let checks = raw.checks.unwrap_or_default();
        for (i, check) in checks.iter().enumerate() {
            check.validate().map_err(|message| {
                doc.error(&at.key("checks").index(i), message)
                    .with_help("see docs/quality.md for the check kinds and their keys")
            })?;
        }
        self.first_defined.insert(raw.id.clone(), doc.place(&id_at));
        self.prompts.push(Prompt {
            id: raw.id,
            system: raw.system,
            text,
            input_tokens,
            settings,
            checks,
            defined_in: doc.path.clone(),
        });
        Ok(())
    }
}
