//! The crate-wide error type.

use std::path::PathBuf;

/// Everything that can go wrong in malmoi-lm, and in the language models of other crates
/// through [`Error::Model`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O failure, with the path it concerned.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// An ARPA file is malformed: a wrong `\data\` count, a bad line or a bad number.
    #[error("ARPA line {line}: {reason}")]
    Arpa {
        /// The 1-based line number in the file.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
    /// An argument is out of range (order 0, a discount outside (0, 1), …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Kneser-Ney discounts cannot be estimated for an order (small or artificial data); give
    /// fallback discounts to the builder.
    #[error("cannot estimate Kneser-Ney discounts for order {order}: {reason}; set fallback discounts")]
    Discount {
        /// The n-gram order.
        order: usize,
        /// Which count-of-counts is missing or which discount is out of range.
        reason: String,
    },
    /// The model has no estimates (it was built from no sentences).
    #[error("the model is empty: it was built from no sentences")]
    EmptyModel,
    /// A failure of another crate's language model or tokenizer (a tensor error, the Korean
    /// analyzer's dictionary, …), carried unchanged.
    #[error(transparent)]
    Model(#[from] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// Wraps another crate's error as [`Error::Model`].
    pub fn model(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Model(Box::new(error))
    }
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
