//! Typed errors of the RLHF crate.

use std::path::PathBuf;

/// Everything that can go wrong in `malmoi-rlhf`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model layer refused something (shapes, checkpoints, generation settings…).
    #[error(transparent)]
    Transformer(#[from] malmoi_transformer::Error),
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] malmoi_tensor::Error),
    /// A prompt template without its `{prompt}` slot, or with more than one.
    #[error("prompt template must contain `{{prompt}}` exactly once: {0:?}")]
    Template(String),
    /// A record of a data file is malformed.
    #[error("{path}:{line}: {reason}")]
    Record {
        /// The file.
        path: PathBuf,
        /// 1-based line number (for a JSON array: the line the record starts on).
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// An input the trainers cannot take (an empty prompt, a prompt longer than the context…).
    #[error("invalid input: {0}")]
    Input(String),
    /// The training engine: a checkpoint, a log, a bad run config, or a loss, reward, KL or
    /// held-out metric that came out NaN or infinite during training
    /// ([`malmoi_train::Error::NonFinite`]: training stopped, the last checkpoint is kept).
    #[error(transparent)]
    Train(#[from] malmoi_train::Error),
    /// A reward model and a policy do not share one vocabulary, so its scores of the policy's
    /// tokens would be meaningless.
    #[error("vocabulary mismatch: {0}")]
    VocabularyMismatch(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
