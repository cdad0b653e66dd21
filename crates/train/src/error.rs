//! The engine's errors. A model crate's own error type wraps them (`From<malmoi_train::Error>`).

use std::path::{Path, PathBuf};

/// What can go wrong while training, saving or resuming.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation, an optimiser or a safetensors file failed.
    #[error(transparent)]
    Tensor(#[from] malmoi_tensor::Error),
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A run state or log that is not the JSON this engine writes.
    #[error("{path}: {reason}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A configuration that cannot train (a zero batch size, a validation fraction outside
    /// `[0, 1)`, no examples, …), or a checkpoint written with another configuration.
    #[error("invalid training config: {0}")]
    Config(String),
    /// A loss or metric that is NaN or infinite; the last checkpoint is left as it was.
    #[error("{what} is not finite at step {step}")]
    NonFinite {
        /// The value (`"loss"`, `"held-out val_loss"`, …).
        what: String,
        /// The step it happened at (0: before training).
        step: usize,
    },
    /// A chart could not be drawn.
    #[error("{path}: drawing failed: {reason}")]
    Plot {
        /// The image's path.
        path: PathBuf,
        /// The drawing library's message.
        reason: String,
    },
}

impl Error {
    /// An [`Error::Io`] maker for `map_err`.
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io { path: path.to_path_buf(), source }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
