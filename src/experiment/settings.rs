//! Checks on request settings (`[defaults]`, and the same keys inline in
//! `[[models]]` and `[[prompts]]`): ranges for the sampling knobs, non-empty
//! stop sequences, and `keep_alive` in a form Ollama accepts. Each layer is
//! checked where it is written, so the error points at that line.

use super::document::Document;
use super::error::ExperimentError;
use super::locate::KeyPath;
use super::types::RequestSettings;
use crate::util::parse_duration;

/// Checks the settings written at `at` (e.g. `defaults`, `models[0]`).
pub(crate) fn check(
    doc: &Document<'_>,
    at: &KeyPath,
    settings: &RequestSettings,
) -> Result<(), ExperimentError> {
    let fail = |key: &str, message: String, help: &str| {
        Err(doc.error(&at.key(key), message).with_help(help))
    };
    if settings.max_tokens == Some(0) {
        return fail(
            "max_tokens",
            "must be at least 1".into(),
            "max_tokens is the most tokens generated per response",
        );
    }
    if let Some(t) = settings.temperature.filter(|t| !(0.0..=2.0).contains(t)) {
        return fail(
            "temperature",
            format!("must be between 0 and 2, found {t}"),
            "0 is greedy decoding; 0.7 to 1.0 is typical for sampling",
        );
    }
    if let Some(p) = settings.top_p.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
        return fail(
            "top_p",
            format!("must be greater than 0 and at most 1, found {p}"),
            "top_p = 1 turns nucleus sampling off",
        );
    }
    if settings.top_k == Some(0) {
        return fail(
            "top_k",
            "must be at least 1".into(),
            "leave top_k out to use the server's default",
        );
    }
    for (i, stop) in settings.stop.iter().flatten().enumerate() {
        if stop.is_empty() {
            let key = at.key("stop").index(i);
            return Err(doc
                .error(&key, "a stop sequence is empty")
                .with_help("remove it; an empty stop sequence would end every response at once"));
        }
    }
    if let Some(keep_alive) = &settings.keep_alive {
        if let Err(why) = check_keep_alive(keep_alive) {
            return fail(
                "keep_alive",
                why,
                "write a duration such as \"30m\", \"0\" to unload right after each request, or \"-1\" to keep the model loaded",
            );
        }
    }
    Ok(())
}

/// `"-1"` (forever), `"0"` (unload now) or a duration (`"30m"`), optionally
/// negative (Ollama treats any negative duration as forever).
fn check_keep_alive(text: &str) -> Result<(), String> {
    let trimmed = text.trim();
    if trimmed == "0" || trimmed == "-1" {
        return Ok(());
    }
    parse_duration(trimmed.strip_prefix('-').unwrap_or(trimmed))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn check_text(text: &str) -> Result<(), String> {
        let doc = Document::parse(Path::new("x.toml"), text).map_err(|e| e.to_string())?;
        let settings: RequestSettings = toml::from_str(text).map_err(|e| e.to_string())?;
        check(&doc, &KeyPath::default(), &settings).map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_sensible_settings() {
        let text = "max_tokens = 64\ntemperature = 0.0\ntop_p = 1.0\ntop_k = 40\nseed = -3\nstop = ['END']\nthink = false\nkeep_alive = '30m'\n";
        assert_eq!(check_text(text), Ok(()));
        assert_eq!(check_text("temperature = 2\nkeep_alive = '-1'\n"), Ok(()));
        assert_eq!(check_text("keep_alive = '0'\n"), Ok(()));
    }

    #[test]
    fn rejects_values_out_of_range() {
        let cases = [
            (
                "max_tokens = 0\n",
                "x.toml:1:1: max_tokens: must be at least 1",
            ),
            (
                "\ntemperature = 2.5\n",
                "x.toml:2:1: temperature: must be between 0 and 2, found 2.5",
            ),
            (
                "top_p = 0.0\n",
                "top_p: must be greater than 0 and at most 1, found 0",
            ),
            ("top_k = 0\n", "top_k: must be at least 1"),
            (
                "stop = ['a', '']\n",
                "x.toml:1:14: stop[1]: a stop sequence is empty",
            ),
            ("keep_alive = '30'\n", "keep_alive: `30` has no unit"),
        ];
        for (text, expected) in cases {
            let error = check_text(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
