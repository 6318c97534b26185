//! A prompt's text: written (`text`) or synthetic (`input_tokens`, a seeded
//! text of that many tokens; see `plan::synthetic`). Exactly one of the two.

use super::document::Document;
use super::error::ExperimentError;
use super::locate::KeyPath;
use super::manifest::RawPrompt;

/// The largest synthetic prompt: far beyond any context window in use, small
/// enough that fitting it stays quick.
const MAX_INPUT_TOKENS: u32 = 1_000_000;

/// The text to send and, for a synthetic prompt, its length in tokens. The
/// synthetic text here is fitted with the heuristic; the run refits it with
/// each model's own tokenizer.
pub(crate) fn prompt_text(
    doc: &Document<'_>,
    at: &KeyPath,
    raw: &RawPrompt,
) -> Result<(String, Option<u32>), ExperimentError> {
    match (&raw.text, raw.input_tokens) {
        (Some(_), Some(_)) => Err(doc
            .error(
                &at.key("input_tokens"),
                "a prompt has either text or input_tokens, not both",
            )
            .with_help(
                "remove text for a synthetic prompt of input_tokens tokens, or remove input_tokens",
            )),
        (None, None) => Err(doc.error(at, "the prompt has no text").with_help(
            "write text = \"…\", or input_tokens = 512 for a synthetic prompt of that many tokens",
        )),
        (Some(text), None) if text.trim().is_empty() => Err(doc
            .error(&at.key("text"), "the prompt text is empty")
            .with_help("write the prompt, e.g. text = \"What is the capital of France?\"")),
        (Some(text), None) => Ok((text.clone(), None)),
        (None, Some(tokens)) if tokens == 0 || tokens > MAX_INPUT_TOKENS => Err(doc
            .error(
                &at.key("input_tokens"),
                format!("must be between 1 and {MAX_INPUT_TOKENS}, found {tokens}"),
            )
            .with_help("input_tokens is the prompt's length in tokens, e.g. 512")),
        (None, Some(tokens)) => Ok((
            crate::tokenize::synthetic::heuristic_text(&raw.id, tokens),
            Some(tokens),
        )),
    }
}
