//! Errors of the [`Tokenizer`](super::Tokenizer).

use std::path::PathBuf;

/// The error type Hugging Face `tokenizers` reports (a boxed error).
pub(crate) type HfError = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong when loading, saving or using a [`Tokenizer`](super::Tokenizer).
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A tokenizer file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not JSON, or not shaped like a `tokenizer.json` (a missing field, a bad
    /// regular expression, a merge with a token outside the vocabulary…).
    #[error("{path}: not a valid tokenizer.json: {source}")]
    Json {
        /// The file involved (`<memory>` for JSON given as a string or bytes).
        path: PathBuf,
        /// The parser's description of the problem, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A component names a `type` that `tokenizers` does not know.
    #[error("{path}: unknown {component} type {type_name:?} at {location} (known: {known})")]
    UnknownComponent {
        /// The file involved (`<memory>` for JSON given as a string or bytes).
        path: PathBuf,
        /// The kind of component: `normalizer`, `pre_tokenizer`, `model`, `post_processor` or `decoder`.
        component: &'static str,
        /// The unknown `type` value.
        type_name: String,
        /// Where it sits, as a JSON path (`normalizer.normalizers[1]`).
        location: String,
        /// The types this kind of component can have.
        known: String,
    },
    /// Encoding, decoding or serialising failed inside `tokenizers` (its message is kept).
    #[error("{operation}: {message}")]
    Tokenizers {
        /// What was being done (`encode`, `decode`, `set_truncation`…).
        operation: &'static str,
        /// `tokenizers`' description of the problem.
        message: String,
    },
    /// `decode` (or a decode stream) was given an id that is not in the vocabulary.
    #[error("unknown token id {id} (the largest id is {max_token_id:?})")]
    UnknownId {
        /// The offending id.
        id: u32,
        /// The largest id of the vocabulary and the added tokens (`None` for an empty vocabulary).
        max_token_id: Option<u32>,
    },
    /// The decoder rewrote text a [`DecodeStream`](super::DecodeStream) had already emitted.
    #[error(
        "decode stream: the decoder changed already emitted text at id {id} (expected the decoded text to \
         start with {emitted:?}, got {decoded:?})"
    )]
    StreamDiverged {
        /// The id that was being added.
        id: u32,
        /// The text decoded before, which the new decoding should start with.
        emitted: String,
        /// The new decoding.
        decoded: String,
    },
    /// A tokenizer could not be built from parts (a trainer's vocabulary, merges…).
    #[error("invalid tokenizer: {0}")]
    Invalid(String),
}

impl TokenizerError {
    /// Wraps an error of `tokenizers` raised while doing `operation`.
    pub(crate) fn tokenizers(operation: &'static str, error: HfError) -> Self {
        Self::Tokenizers { operation, message: error.to_string() }
    }
}

/// Result type of the `tokenizer` module.
pub type Result<T> = std::result::Result<T, TokenizerError>;
