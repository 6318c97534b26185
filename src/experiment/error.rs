//! `ExperimentError`: one mistake in an experiment (or prompt) file, with
//! where it is (file, line, column), which key it concerns, what is wrong and,
//! when we can tell, how to fix it. Every failure of `load`/`load_str` is one
//! of these; its `Display` is the exact text users see:
//!
//! ```text
//! experiments/x.toml:12:1: run.repetitons: unknown key
//!   help: did you mean `repetitions`? (valid keys: repetitions, warmup, concurrency, ollama_api)
//! ```

use std::fmt;
use std::path::PathBuf;

/// A mistake in an experiment file, a prompt file or a `--set` override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentError {
    /// The file the mistake is in; for a `--set` override, `--set KEY=VALUE`.
    pub file: PathBuf,
    /// 1-based line, when the mistake has a place in the file.
    pub line: Option<usize>,
    /// 1-based column (in characters), when known.
    pub column: Option<usize>,
    /// Key path such as `run.repetitions`, `models[1].backend`, `prompts[0].text`.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when we can tell.
    pub help: Option<String>,
}

impl ExperimentError {
    /// An error about a whole file (cannot read it, ...): no line, no key.
    pub(crate) fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        ExperimentError {
            file: file.into(),
            line: None,
            column: None,
            key: None,
            message: message.into(),
            help: None,
        }
    }

    /// The same error with `help` set.
    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The same error with `help` set when there is one.
    pub(crate) fn with_optional_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// `file:line:column` (the parts that are known), as used in messages
    /// that point at another place ("first defined at ...").
    pub(crate) fn place(&self) -> String {
        let mut out = self.file.display().to_string();
        if let Some(line) = self.line {
            out.push_str(&format!(":{line}"));
            if let Some(column) = self.column {
                out.push_str(&format!(":{column}"));
            }
        }
        out
    }
}

impl fmt::Display for ExperimentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.place())?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ExperimentError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_every_part() {
        let error = ExperimentError {
            file: PathBuf::from("experiments/x.toml"),
            line: Some(12),
            column: Some(1),
            key: Some("run.repetitons".into()),
            message: "unknown key".into(),
            help: Some("did you mean `repetitions`?".into()),
        };
        assert_eq!(
            error.to_string(),
            "experiments/x.toml:12:1: run.repetitons: unknown key\n  help: did you mean `repetitions`?"
        );
    }

    #[test]
    fn omits_unknown_parts() {
        let error = ExperimentError::file("x.toml", "cannot read");
        assert_eq!(error.to_string(), "x.toml: cannot read");
        let error = ExperimentError {
            line: Some(3),
            ..ExperimentError::file("x.toml", "bad")
        };
        assert_eq!(error.to_string(), "x.toml:3: bad");
    }
}
