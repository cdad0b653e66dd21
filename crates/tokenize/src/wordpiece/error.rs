//! Errors of the WordPiece trainer.

use crate::tokenizer::TokenizerError;

/// What can go wrong when training a WordPiece vocabulary with [`WordPieceTrainer`](super::WordPieceTrainer).
#[derive(Debug, thiserror::Error)]
pub enum WordPieceError {
    /// Settings that cannot produce a tokenizer (a missing or empty special token).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The trained vocabulary does not form a tokenizer `tokenizers` accepts, or normalizing the corpus failed.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
}

/// Result type of the `wordpiece` module.
pub type Result<T> = std::result::Result<T, WordPieceError>;
