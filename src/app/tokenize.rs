//! `llmbench tokenize`: one text counted (and its ids listed) with one
//! tokenizer spec, as a run would count it.

use super::AppError;
use crate::cli::exit;

/// `llmbench tokenize`: the count (and ids) of a text with one spec.
pub(crate) async fn tokenize(args: crate::cli::TokenizeArgs) -> Result<u8, AppError> {
    let text = match args.text {
        Some(text) => text,
        None => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map_err(|e| {
                AppError::new(exit::ERROR, format!("cannot read standard input: {e}"))
            })?;
            String::from_utf8(bytes)
                .map_err(|_| AppError::new(exit::BAD_INPUT, "standard input is not UTF-8 text"))?
        }
    };
    let output =
        crate::tokenize::tokenize_command(&args.tokenizer, &text, args.ids, args.url.as_deref())
            .await
            .map_err(|e| AppError::new(exit::BAD_INPUT, e.to_string()))?;
    crate::util::print(&output)?;
    Ok(exit::OK)
}
