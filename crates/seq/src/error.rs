//! The crate-wide error type.

use std::path::PathBuf;

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
    /// A row of a labelled TSV file could not be read.
    #[error("{path}:{line}: {reason}")]
    MalformedRow {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with the row.
        reason: String,
    },
    /// A tensor operation failed (mismatched shapes, non-finite loss, bad checkpoint, …).
    #[error(transparent)]
    Tensor(#[from] malmoi_tensor::Error),
    /// Arguments that do not fit together (empty data, a fraction outside 0..1, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Shorthand for results with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
