//! Typed errors for every fallible operation of the crate.

use std::path::PathBuf;

/// Errors returned by vectorizers, [`KeyedVectors`](crate::KeyedVectors) queries and word2vec.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// No term survived vocabulary building (all documents empty, or `min_df` / `min_count`
    /// removed every term).
    #[error("empty vocabulary: {0}")]
    EmptyVocabulary(String),
    /// A query named a word that the vocabulary does not contain.
    #[error("word '{0}' is not in the vocabulary")]
    UnknownWord(String),
    /// A word2vec vector file could not be parsed; `line` is 1-based (for binary files it
    /// counts entries after the header line).
    #[error("malformed vector file {path}: line {line}: {reason}")]
    MalformedVectorFile {
        /// The file being read.
        path: PathBuf,
        /// 1-based line (or entry) number where parsing failed.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// A parameter was outside its valid range (for example `min_df > max_df`).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// A matrix or vector had the wrong number of columns.
    #[error("dimension mismatch: expected {expected}, got {actual}")]
    DimensionMismatch {
        /// Expected length.
        expected: usize,
        /// Length received.
        actual: usize,
    },
    /// A vectorizer was asked to `transform` before `fit`.
    #[error("the vectorizer is not fitted: call fit or fit_transform first")]
    NotFitted,
    /// An I/O error while reading a corpus or reading/writing a model.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, EmbedError>;
