//! The crate-wide error type.

use std::path::PathBuf;

use malmoi_fs::datasets::DatasetError;

/// Everything that can go wrong in malmoi-seq.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O failure, with the path it concerned.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// A dataset file or a file of texts could not be read: [`DatasetError::Io`], or
    /// [`DatasetError::MalformedRow`] naming the file, the 1-based line and what is wrong.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// A tensor operation failed (mismatched shapes, a bad checkpoint, …).
    #[error(transparent)]
    Tensor(#[from] malmoi_tensor::Error),
    /// Korean analysis failed (the dictionary could not be found or built, …).
    #[error(transparent)]
    Analyzer(#[from] malmoi_tokenize::korean::KoreanError),
    /// The vocabulary file could not be read or written.
    #[error(transparent)]
    Encoding(#[from] malmoi_tokenize::encoding::EncodingError),
    /// The training engine: a non-finite loss or metric ([`malmoi_train::Error::NonFinite`],
    /// naming the step), a checkpoint written by another run, a log or chart that could not be
    /// written.
    #[error(transparent)]
    Train(#[from] malmoi_train::Error),
    /// A saved model directory is incomplete, of another version, or does not fit its config.
    #[error("model directory {path}: {reason}")]
    ModelDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Arguments that do not fit together (empty data, a fraction outside 0..1, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Shorthand for results with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
