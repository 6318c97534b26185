//! llama.cpp's pre-tokenizers for byte-level BPE vocabularies, chosen by a
//! GGUF's `tokenizer.ggml.pre`, as `tokenizers` pre-tokenizers. llama.cpp
//! splits text with a list of regexes; each becomes a `Split` with `Isolated`
//! behaviour (matches and the gaps between them both become pieces, as in
//! llama.cpp's `unicode_regex_split`), followed by a byte-level mapping with
//! no regex of its own. Contractions are spelled `'[sS]` rather than `(?i:'s)`
//! as llama.cpp does (Unicode case folding would also match `'ſ`).

use super::vocab::VocabError;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::SplitDelimiterBehavior;

/// A pre-tokenizer and whether whole words found in the vocabulary skip merging.
pub(crate) struct PreTokenizer {
    pub wrapper: PreTokenizerWrapper,
    pub ignore_merges: bool,
}

const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
const CONTRACTIONS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const LLAMA3_REST: &str =
    r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_REST: &str =
    r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN35_REST: &str = r"|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const UPPER: &str = r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]";
const LOWER: &str = r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]";

/// The `tokenizer.ggml.pre` families rebuilt here (see docs/tokenizers.md).
pub(crate) const SUPPORTED_PRE: &[&str] = &[
    "default",
    "gpt-2",
    "phi-2",
    "mpt",
    "olmo",
    "jais",
    "trillion",
    "smollm",
    "starcoder",
    "refact",
    "command-r",
    "codeshell",
    "exaone",
    "minerva-7b",
    "llama3",
    "llama-v3",
    "llama-bpe",
    "falcon3",
    "dbrx",
    "smaug-bpe",
    "glm4",
    "chatglm-bpe",
    "qwen2",
    "deepseek-r1-qwen",
    "megrez",
    "stablelm2",
    "qwen35",
    "gpt-4o",
    "llama4",
    "tekken",
    "falcon",
];

/// llama.cpp's split regexes for a `tokenizer.ggml.pre` value.
pub(crate) fn pre_tokenizer_for(pre: &str) -> Result<PreTokenizer, VocabError> {
    let llama3 = format!("{CONTRACTIONS}{LLAMA3_REST}");
    let gpt4o_tail = r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    let cased = |tail: &str, c: &str| {
        format!(
            r"[^\r\n\p{{L}}\p{{N}}]?{UPPER}*{LOWER}+{c}|[^\r\n\p{{L}}\p{{N}}]?{UPPER}+{LOWER}*{c}{tail}"
        )
    };
    let (regexes, ignore_merges): (Vec<String>, bool) = match pre {
        "default" => (
            vec![
                r"[\p{P}\$\+<=>\^~\|]+".into(),
                GPT2.into(),
                r"\p{N}+".into(),
                "[0-9][0-9][0-9]".into(),
            ],
            false,
        ),
        "gpt-2" | "phi-2" | "mpt" | "olmo" | "jais" | "trillion" => (vec![GPT2.into()], false),
        "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva-7b" => {
            (vec![r"\p{N}".into(), GPT2.into()], false)
        }
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" => (vec![llama3], true),
        "dbrx" | "smaug-bpe" | "glm4" | "chatglm-bpe" => (vec![llama3], false),
        "qwen2" | "deepseek-r1-qwen" | "megrez" | "stablelm2" => {
            (vec![format!("{CONTRACTIONS}{QWEN2_REST}")], false)
        }
        "qwen35" => (vec![format!("{CONTRACTIONS}{QWEN35_REST}")], false),
        "gpt-4o" | "llama4" => (vec![cased(gpt4o_tail, &format!("{CONTRACTIONS}?"))], false),
        "tekken" => (
            vec![cased(
                r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
                "",
            )],
            true,
        ),
        "falcon" => (
            vec![
                r"[\p{P}\$\+<=>\^~\|`]+".into(),
                GPT2.into(),
                "[0-9][0-9][0-9]".into(),
            ],
            false,
        ),
        other => {
            return Err(VocabError::Unsupported(format!(
                "tokenizer.ggml.pre `{other}` is not supported yet (supported: {}); \
                 use an `hf:` tokenizer.json for this model",
                SUPPORTED_PRE.join(", ")
            )))
        }
    };
    let mut steps: Vec<PreTokenizerWrapper> = Vec::with_capacity(regexes.len() + 1);
    for regex in regexes {
        let split = Split::new(
            SplitPattern::Regex(regex),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| VocabError::Malformed(format!("pre-tokenizer regex: {e}")))?;
        steps.push(split.into());
    }
    steps.push(ByteLevel::new(false, false, false).into());
    Ok(PreTokenizer {
        wrapper: Sequence::new(steps).into(),
        ignore_merges,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer as _};

    fn pieces(pre: &str, text: &str) -> Vec<String> {
        let p = pre_tokenizer_for(pre).expect("pre");
        let mut s = PreTokenizedString::from(text);
        p.wrapper.pre_tokenize(&mut s).expect("pre_tokenize");
        s.get_splits(OffsetReferential::Original, OffsetType::Byte)
            .into_iter()
            .map(|(piece, _, _)| piece.replace('Ġ', " ").replace('Ċ', "\n"))
            .collect()
    }

    #[test]
    fn every_supported_pre_builds() {
        for pre in SUPPORTED_PRE {
            assert!(pre_tokenizer_for(pre).is_ok(), "{pre}");
        }
        let err = pre_tokenizer_for("deepseek-llm")
            .err()
            .expect("unsupported");
        assert!(matches!(err, VocabError::Unsupported(m) if m.contains("deepseek-llm")));
    }

    #[test]
    fn pre_tokenizers_split_like_llama_cpp() {
        assert_eq!(pieces("smollm", "ab 123"), ["ab", " ", "1", "2", "3"]);
        assert_eq!(pieces("gpt-2", "ab 123  x"), ["ab", " 123", " ", " x"]);
        assert_eq!(pieces("llama-bpe", "1234567"), ["123", "456", "7"]);
        assert_eq!(pieces("llama-bpe", "I'M ok"), ["I", "'M", " ok"]);
        assert_eq!(pieces("qwen2", "12 ab\n\n"), ["1", "2", " ab", "\n\n"]);
        assert_eq!(
            pieces("gpt-4o", "HelloWorld 12345"),
            ["Hello", "World", " ", "123", "45"]
        );
    }
}
