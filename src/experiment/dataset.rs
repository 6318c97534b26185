//! Prompt datasets: a `prompt_files` entry ending in `.jsonl` holds one prompt
//! per line, either `{"text": ..., "system"?: ..., "id"?: ...}` or a
//! ShareGPT-style conversation `{"conversations": [{"from": "system" |
//! "human" | "gpt", "value": ...}, ...]}`, whose first human turn is the
//! prompt (and a system turn its system prompt). Ids default to
//! `<file stem>-<line number>`. Blank lines are skipped; a line that is not
//! one of these shapes is an error naming the file and the line.

use super::error::ExperimentError;
use super::types::{Prompt, RequestSettings};
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
struct Line {
    id: Option<String>,
    text: Option<String>,
    system: Option<String>,
    conversations: Option<Vec<Turn>>,
}

#[derive(Deserialize)]
struct Turn {
    from: String,
    value: String,
}

/// The prompts of one JSONL dataset.
pub(crate) fn read(path: &Path) -> Result<Vec<Prompt>, ExperimentError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ExperimentError::file(path, format!("cannot read the dataset: {e}")))?;
    // Editors on Windows start UTF-8 files with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("dataset");
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut prompts = Vec::new();
    for (index, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let number = index + 1;
        let fail = |message: String| ExperimentError {
            line: Some(number),
            column: Some(1),
            ..ExperimentError::file(path, message)
        };
        let parsed: Line =
            serde_json::from_str(line).map_err(|e| fail(format!("not a JSON object: {e}")))?;
        let (system, text) = prompt_of(parsed.system, parsed.text, parsed.conversations)
            .ok_or_else(|| {
                fail(
                    "no prompt: give \"text\", or \"conversations\" with a \"human\" turn"
                        .to_string(),
                )
            })?;
        prompts.push(Prompt {
            id: parsed.id.unwrap_or_else(|| format!("{stem}-{number}")),
            system,
            text,
            input_tokens: None,
            settings: RequestSettings::default(),
            checks: Vec::new(),
            defined_in: path.to_path_buf(),
        });
    }
    if prompts.is_empty() {
        return Err(ExperimentError::file(path, "the dataset has no prompts"));
    }
    Ok(prompts)
}

fn prompt_of(
    system: Option<String>,
    text: Option<String>,
    turns: Option<Vec<Turn>>,
) -> Option<(Option<String>, String)> {
    if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
        return Some((system, text));
    }
    let turns = turns?;
    let system = system.or_else(|| {
        turns
            .iter()
            .find(|t| t.from == "system")
            .map(|t| t.value.clone())
    });
    let human = turns
        .iter()
        .find(|t| matches!(t.from.as_str(), "human" | "user"))?;
    Some((system, human.value.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(text: &str) -> Result<Vec<Prompt>, ExperimentError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("share gpt.jsonl");
        std::fs::write(&path, text).expect("write");
        read(&path)
    }

    #[test]
    fn reads_plain_and_sharegpt_lines() {
        let text = concat!(
            "{\"text\": \"Say hi.\"}\n",
            "\n",
            "{\"id\": \"named\", \"text\": \"Count.\", \"system\": \"Be brief.\"}\n",
            "{\"conversations\": [{\"from\": \"system\", \"value\": \"S\"}, {\"from\": \"human\", \"value\": \"Q1\"}, {\"from\": \"gpt\", \"value\": \"A1\"}]}\n",
        );
        let prompts = dataset(text).expect("reads");
        let ids: Vec<&str> = prompts.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["share-gpt-1", "named", "share-gpt-4"]);
        assert_eq!(prompts[1].system.as_deref(), Some("Be brief."));
        assert_eq!(
            (prompts[2].system.as_deref(), prompts[2].text.as_str()),
            (Some("S"), "Q1")
        );
    }

    #[test]
    fn a_bad_line_is_named() {
        let error = dataset(
            "{\"text\": \"ok\"}\n{\"conversations\": [{\"from\": \"gpt\", \"value\": \"A\"}]}\n",
        )
        .unwrap_err();
        assert_eq!(error.line, Some(2));
        assert!(error.to_string().contains("no prompt"), "{error}");
        let error = dataset("not json\n").unwrap_err();
        assert!(
            error.to_string().contains(":1:1") && error.to_string().contains("not a JSON object"),
            "{error}"
        );
    }
}
