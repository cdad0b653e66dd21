//! Errors of the BPE trainer.

use crate::tokenizer::TokenizerError;

/// What can go wrong when training a byte-level BPE with [`BpeTrainer`](super::BpeTrainer).
#[derive(Debug, thiserror::Error)]
pub enum BpeError {
    /// The trainer's settings cannot produce a tokenizer.
    #[error("invalid trainer configuration: {0}")]
    Config(String),
    /// The trained vocabulary and merges do not form a tokenizer `tokenizers` accepts.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
}

/// Result type of the `bpe` module.
pub type Result<T> = std::result::Result<T, BpeError>;
