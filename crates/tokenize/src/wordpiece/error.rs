//! Errors of the WordPiece tokenizer.

use std::path::PathBuf;

/// Everything that can go wrong when loading, saving or using a [`WordPiece`](super::WordPiece) tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum WordPieceError {
    /// A tokenizer file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A tokenizer file is not valid JSON or does not have the shape of a `tokenizer.json`.
    #[error("{path}: not a valid tokenizer.json: {source}")]
    Json {
        /// The file involved (`<memory>` for JSON given as a string).
        path: PathBuf,
        /// The parser's description of the problem, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A `tokenizer.json` parses but is inconsistent or uses a component this crate does not implement.
    #[error("{path}: {message}")]
    Format {
        /// The file involved (`<memory>` for JSON given as a string).
        path: PathBuf,
        /// What is wrong, naming the offending field or token.
        message: String,
    },
    /// `decode` was given an id that is not in the vocabulary.
    #[error("unknown token id {id} (vocabulary has {vocab_size} tokens)")]
    UnknownId {
        /// The offending id.
        id: u32,
        /// Number of tokens of the vocabulary.
        vocab_size: usize,
    },
    /// The truncation settings cannot be met (as in `tokenizers`, e.g. `only_second` with a short second text).
    #[error("truncation: {0}")]
    Truncation(String),
    /// Settings that cannot work (padding, truncation or trainer options).
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Result type of the `wordpiece` module.
pub type Result<T> = std::result::Result<T, WordPieceError>;
