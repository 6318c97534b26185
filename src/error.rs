//! `AppError`: how a command fails: the documented exit code (`cli::exit`),
//! the message the user sees, and the error it came from, kept for callers
//! that want to look at the cause (`std::error::Error::source`).

use crate::cli::exit;
use std::fmt;

/// A failure with its exit code, a message for the user and its cause.
#[derive(Debug)]
pub struct AppError {
    pub code: u8,
    pub message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl AppError {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> AppError {
        AppError {
            code,
            message: message.into(),
            source: None,
        }
    }

    /// An error whose message is `source`'s, which it keeps as its cause.
    pub(crate) fn caused_by(
        code: u8,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> AppError {
        AppError {
            code,
            message: source.to_string(),
            source: Some(Box::new(source)),
        }
    }
}

impl AppError {
    /// This error, keeping `source` as its cause (the message stays as is).
    pub(crate) fn because(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> AppError {
        self.source = Some(Box::new(source));
        self
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let source = self.source.as_ref()?;
        Some(source.as_ref())
    }
}

impl From<crate::experiment::ExperimentError> for AppError {
    fn from(error: crate::experiment::ExperimentError) -> AppError {
        AppError::caused_by(exit::BAD_INPUT, error)
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(error: crate::store::StoreError) -> AppError {
        AppError::caused_by(exit::ERROR, error)
    }
}

impl From<crate::util::StdoutError> for AppError {
    fn from(error: crate::util::StdoutError) -> AppError {
        AppError::caused_by(exit::ERROR, error)
    }
}

impl From<crate::scale::ScaleError> for AppError {
    fn from(error: crate::scale::ScaleError) -> AppError {
        let code = match error {
            crate::scale::ScaleError::Input(_)
            | crate::scale::ScaleError::Shard(_)
            | crate::scale::ScaleError::Start(_) => exit::BAD_INPUT,
            crate::scale::ScaleError::Store(_) => exit::ERROR,
        };
        AppError::caused_by(code, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn a_store_error_keeps_its_io_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let error = AppError::from(crate::store::StoreError::new("/x".as_ref(), io));
        assert_eq!(
            (error.code, error.message.as_str()),
            (exit::ERROR, "/x: denied")
        );
        let cause = error.source().expect("the store error");
        assert!(cause.source().is_some(), "and its io error");
        let io = std::io::Error::other("refused");
        let error = AppError::new(exit::SERVER, "backend `b`: refused").because(io);
        assert_eq!(
            error.source().map(|e| e.to_string()),
            Some("refused".into())
        );
    }
}
