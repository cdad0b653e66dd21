//! Errors of the byte-level BPE tokenizer.

use std::path::PathBuf;

/// Everything that can go wrong when loading, saving, training or using a [`ByteLevelBpe`](super::ByteLevelBpe).
#[derive(Debug, thiserror::Error)]
pub enum BpeError {
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
    /// A `tokenizer.json` parses but its content is inconsistent or uses a feature this crate does not implement.
    #[error("{path}: {message}")]
    Format {
        /// The file involved (`<memory>` for JSON given as a string).
        path: PathBuf,
        /// What is wrong, naming the offending field or token.
        message: String,
    },
    /// `decode` was given an id that is not in the vocabulary.
    #[error("unknown token id {id} (vocabulary has ids below {vocab_size})")]
    UnknownId {
        /// The offending id.
        id: u32,
        /// One past the largest id of the vocabulary.
        vocab_size: usize,
    },
    /// A byte of the input has no token in the vocabulary and the model has no `unk_token`.
    ///
    /// Never happens for a tokenizer whose vocabulary holds all 256 byte symbols (every
    /// tokenizer trained by [`BpeTrainer`](super::BpeTrainer) does).
    #[error("byte 0x{byte:02x} has no token in the vocabulary and the model has no unk_token")]
    ByteNotInVocab {
        /// The byte that cannot be encoded.
        byte: u8,
    },
    /// The trainer's settings cannot produce a tokenizer.
    #[error("invalid trainer configuration: {0}")]
    Config(String),
}

/// Result type of the `bpe` module.
pub type Result<T> = std::result::Result<T, BpeError>;
