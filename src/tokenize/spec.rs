//! Tokenizer spec strings (`hf:PATH`, `gguf:PATH`, `tiktoken:cl100k_base`, …):
//! parsing with did-you-mean errors, display that round-trips, and the
//! model-name → spec mapping where the most specific glob wins.

use super::error::TokenizeError;
use super::tiktoken::{check_encoding, KNOWN_ENCODINGS};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Where token counts for a model come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TokenizerSpec {
    /// The counts the server reports (Ollama `eval_count`, OpenAI `usage`).
    Server,
    /// The best available source, in the order documented in docs/tokenizers.md.
    Auto,
    /// A Hugging Face tokenizer.json, or a directory holding one.
    Hf(PathBuf),
    /// `ORG/NAME` looked up offline in the local Hugging Face cache.
    HfCache(String),
    /// The vocabulary inside a GGUF model file.
    Gguf(PathBuf),
    /// `gguf` alone: the vocabulary of an Ollama model, from `/api/show`.
    GgufOllama,
    /// A tiktoken encoding such as `cl100k_base`.
    Tiktoken(String),
    /// llama-server's `/tokenize` endpoint.
    LlamaCpp,
    /// A documented estimate; always flagged as such.
    Heuristic,
}

/// The valid forms, for error messages.
pub const SPEC_FORMS: &str = "server, auto, hf:PATH (tokenizer.json or its directory), \
     hf:ORG/NAME (local Hugging Face cache), gguf:PATH, gguf (Ollama model), \
     tiktoken:ENCODING, llamacpp, heuristic";

const WORDS: &[&str] = &["server", "auto", "gguf", "llamacpp", "heuristic"];
const PREFIXES: &[&str] = &["hf", "gguf", "tiktoken"];

impl TokenizerSpec {
    /// True for the specs [`super::load_local`] can load without a server.
    pub(crate) fn is_local(&self) -> bool {
        matches!(
            self,
            TokenizerSpec::Hf(_)
                | TokenizerSpec::HfCache(_)
                | TokenizerSpec::Gguf(_)
                | TokenizerSpec::Tiktoken(_)
                | TokenizerSpec::Heuristic
        )
    }
}

/// `ORG/NAME` as on the Hugging Face hub: two non-empty parts of `[A-Za-z0-9._-]`,
/// neither starting with a dot.
pub(crate) fn looks_like_repo_id(s: &str) -> bool {
    let mut parts = s.split('/');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none() && !s.ends_with(".json")
}

fn bad(spec: &str, reason: impl Into<String>) -> TokenizeError {
    TokenizeError::BadSpec {
        spec: spec.to_owned(),
        reason: reason.into(),
    }
}

/// "did you mean `X`?" for the closest known word or prefix, if close enough.
fn suggestion(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    let candidates = WORDS
        .iter()
        .map(|w| (*w, w.to_string()))
        .chain(PREFIXES.iter().map(|p| (*p, format!("{p}:…"))))
        .chain([
            ("llama.cpp", "llamacpp".to_string()),
            ("hugging", "hf:…".into()),
        ]);
    let best = candidates
        .map(|(w, shown)| (strsim::damerau_levenshtein(&lower, w), shown))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, shown)) if d <= 2 || lower.starts_with(shown.trim_end_matches(":…")) => {
            format!("; did you mean `{shown}`?")
        }
        _ => String::new(),
    }
}

impl FromStr for TokenizerSpec {
    type Err = TokenizeError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let s = spec.trim();
        match s {
            "server" => return Ok(TokenizerSpec::Server),
            "auto" => return Ok(TokenizerSpec::Auto),
            "gguf" => return Ok(TokenizerSpec::GgufOllama),
            "llamacpp" => return Ok(TokenizerSpec::LlamaCpp),
            "heuristic" => return Ok(TokenizerSpec::Heuristic),
            "" => return Err(bad(spec, format!("empty; valid forms: {SPEC_FORMS}"))),
            _ => {}
        }
        let Some((prefix, rest)) = s.split_once(':') else {
            return Err(bad(
                spec,
                format!(
                    "unknown tokenizer{}; valid forms: {SPEC_FORMS}",
                    suggestion(s)
                ),
            ));
        };
        if rest.is_empty() && PREFIXES.contains(&prefix) {
            let what = if prefix == "tiktoken" {
                "an encoding"
            } else {
                "a path"
            };
            return Err(bad(
                spec,
                format!("`{prefix}:` needs {what} after the colon"),
            ));
        }
        match prefix {
            "hf" if looks_like_repo_id(rest) && !Path::new(rest).exists() => {
                Ok(TokenizerSpec::HfCache(rest.to_owned()))
            }
            "hf" => Ok(TokenizerSpec::Hf(PathBuf::from(rest))),
            "gguf" => Ok(TokenizerSpec::Gguf(PathBuf::from(rest))),
            "tiktoken" => {
                check_encoding(rest, spec)?;
                Ok(TokenizerSpec::Tiktoken(rest.to_owned()))
            }
            other => Err(bad(
                spec,
                format!(
                    "unknown prefix `{other}:`{}; valid forms: {SPEC_FORMS}",
                    suggestion(other)
                ),
            )),
        }
    }
}

impl fmt::Display for TokenizerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenizerSpec::Server => f.write_str("server"),
            TokenizerSpec::Auto => f.write_str("auto"),
            TokenizerSpec::Hf(path) => write!(f, "hf:{}", path.display()),
            TokenizerSpec::HfCache(repo) => write!(f, "hf:{repo}"),
            TokenizerSpec::Gguf(path) => write!(f, "gguf:{}", path.display()),
            TokenizerSpec::GgufOllama => f.write_str("gguf"),
            TokenizerSpec::Tiktoken(name) => write!(f, "tiktoken:{name}"),
            TokenizerSpec::LlamaCpp => f.write_str("llamacpp"),
            TokenizerSpec::Heuristic => f.write_str("heuristic"),
        }
    }
}

impl serde::Serialize for TokenizerSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for TokenizerSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How specific a glob is: exact names first, then the longest literal prefix,
/// then the fewest wildcards, then the most literal characters.
fn specificity(pattern: &str) -> (bool, usize, std::cmp::Reverse<usize>, usize) {
    let is_wild = |c: char| matches!(c, '*' | '?' | '[');
    let wildcards = pattern.chars().filter(|&c| is_wild(c)).count();
    let prefix = pattern.chars().take_while(|&c| !is_wild(c)).count();
    let literal = pattern.chars().count() - wildcards;
    (
        wildcards == 0,
        prefix,
        std::cmp::Reverse(wildcards),
        literal,
    )
}

/// The spec for `model` from a mapping of glob patterns (`"qwen2.5*"`, `"*"`):
/// the most specific matching pattern wins (see [`specificity`]); on a tie the
/// earlier entry wins. Matching ignores ASCII case; a pattern that is not a
/// valid glob only matches the identical name.
pub fn resolve_mapping(model: &str, mapping: &[(String, TokenizerSpec)]) -> Option<TokenizerSpec> {
    let options = glob::MatchOptions {
        case_sensitive: false,
        require_literal_separator: false,
        require_literal_leading_dot: false,
    };
    let mut best: Option<(_, &TokenizerSpec)> = None;
    for (pattern, spec) in mapping {
        let matched = match glob::Pattern::new(pattern) {
            Ok(p) => p.matches_with(model, options),
            Err(_) => pattern.eq_ignore_ascii_case(model),
        };
        if !matched {
            continue;
        }
        let rank = specificity(pattern);
        if best.as_ref().is_none_or(|(b, _)| rank > *b) {
            best = Some((rank, spec));
        }
    }
    best.map(|(_, spec)| spec.clone())
}

/// The known tiktoken encodings, comma-separated (for messages and docs).
pub fn known_encodings() -> String {
    KNOWN_ENCODINGS.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> TokenizerSpec {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        s.parse::<TokenizerSpec>().expect_err(s).to_string()
    }

    #[test]
    fn parses_every_form_and_round_trips() {
        let cases = [
            ("server", TokenizerSpec::Server),
            ("auto", TokenizerSpec::Auto),
            (
                "hf:tok/tokenizer.json",
                TokenizerSpec::Hf("tok/tokenizer.json".into()),
            ),
            (
                "hf:./models/qwen",
                TokenizerSpec::Hf("./models/qwen".into()),
            ),
            (
                "hf:Qwen/Qwen2.5-0.5B",
                TokenizerSpec::HfCache("Qwen/Qwen2.5-0.5B".into()),
            ),
            (
                "gguf:models/x.gguf",
                TokenizerSpec::Gguf("models/x.gguf".into()),
            ),
            ("gguf", TokenizerSpec::GgufOllama),
            (
                "tiktoken:cl100k_base",
                TokenizerSpec::Tiktoken("cl100k_base".into()),
            ),
            ("llamacpp", TokenizerSpec::LlamaCpp),
            ("heuristic", TokenizerSpec::Heuristic),
        ];
        for (text, spec) in cases {
            assert_eq!(parse(text), spec, "{text}");
            assert_eq!(spec.to_string(), text);
            assert_eq!(parse(&spec.to_string()), spec);
        }
        assert!(parse("gguf:a.gguf").is_local() && !parse("gguf").is_local());
    }

    #[test]
    fn repo_ids_are_recognised() {
        for yes in ["Qwen/Qwen2.5-0.5B", "HuggingFaceTB/SmolLM2-135M", "a/b"] {
            assert!(looks_like_repo_id(yes), "{yes}");
        }
        for no in [
            "a",
            "a/b/c",
            "/a/b",
            "./a",
            "a/tokenizer.json",
            "a/",
            "a b/c",
            ".a/b",
        ] {
            assert!(!looks_like_repo_id(no), "{no}");
        }
    }

    #[test]
    fn bad_specs_say_what_is_valid() {
        let e = err("tiktok:cl100k_base");
        assert!(e.contains("unknown prefix `tiktok:`"), "{e}");
        assert!(e.contains("did you mean `tiktoken:…`?"), "{e}");
        assert!(e.contains("hf:PATH"), "{e}");
        let e = err("sever");
        assert!(e.contains("did you mean `server`?"), "{e}");
        let e = err("llama.cpp");
        assert!(e.contains("did you mean `llamacpp`?"), "{e}");
        let e = err("gguf:");
        assert!(e.contains("needs a path"), "{e}");
        let e = err("tiktoken:cl100k");
        assert!(e.contains("unknown tiktoken encoding `cl100k`"), "{e}");
        assert!(e.contains("cl100k_base, o200k_base"), "{e}");
        let e = err("");
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn serde_uses_the_spec_string() {
        let spec: TokenizerSpec = serde_json::from_str("\"gguf:m.gguf\"").expect("de");
        assert_eq!(spec, TokenizerSpec::Gguf("m.gguf".into()));
        assert_eq!(
            serde_json::to_string(&spec).expect("ser"),
            "\"gguf:m.gguf\""
        );
        assert!(serde_json::from_str::<TokenizerSpec>("\"nope\"").is_err());
    }

    #[test]
    fn most_specific_pattern_wins() {
        let m = |p: &str, s: &str| (p.to_string(), parse(s));
        let mapping = vec![
            m("*", "server"),
            m("qwen2.5*", "hf:qwen.json"),
            m("qwen2.5-coder*", "gguf"),
            m("qwen2.5-coder:1.5b", "heuristic"),
            m("llama3*", "gguf"),
            m("llama3.?:*", "tiktoken:cl100k_base"),
        ];
        let r = |model: &str| resolve_mapping(model, &mapping).map(|s| s.to_string());
        assert_eq!(r("qwen2.5:7b").as_deref(), Some("hf:qwen.json"));
        assert_eq!(r("qwen2.5-coder:7b").as_deref(), Some("gguf"));
        assert_eq!(r("Qwen2.5-Coder:1.5B").as_deref(), Some("heuristic"));
        assert_eq!(r("llama3.2:1b").as_deref(), Some("tiktoken:cl100k_base"));
        assert_eq!(r("llama3:8b").as_deref(), Some("gguf"));
        assert_eq!(r("mistral").as_deref(), Some("server"));
        assert_eq!(resolve_mapping("x", &mapping[1..2]), None);
        let broken = vec![m("[oops", "heuristic")];
        assert_eq!(
            resolve_mapping("[oops", &broken),
            Some(TokenizerSpec::Heuristic)
        );
    }
}
