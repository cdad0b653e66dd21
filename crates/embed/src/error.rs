//! Typed errors for every fallible operation of the crate.

use std::path::{Path, PathBuf};

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
    /// An I/O error that concerns no one file (see [`EmbedError::File`] for those that do).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A file could not be opened, read or written: names the file, and the 1-based line
    /// where one is known.
    #[error("{}{}: {source}", .path.display(), .line.map(|l| format!(":{l}")).unwrap_or_default())]
    File {
        /// The file.
        path: PathBuf,
        /// The 1-based line being read when the failure happened, if known.
        line: Option<usize>,
        /// The underlying failure.
        source: std::io::Error,
    },
}

impl EmbedError {
    /// Wraps an I/O failure on `path` (no line known) as [`EmbedError::File`].
    pub(crate) fn file(path: &Path) -> impl FnOnce(std::io::Error) -> EmbedError + '_ {
        move |source| EmbedError::File { path: path.to_path_buf(), line: None, source }
    }

    /// Wraps an I/O failure on line `line` (1-based) of `path` as [`EmbedError::File`].
    pub(crate) fn file_line(path: &Path, line: usize) -> impl FnOnce(std::io::Error) -> EmbedError + '_ {
        move |source| EmbedError::File { path: path.to_path_buf(), line: Some(line), source }
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, EmbedError>;
