//! Errors of the text utilities.

use std::path::PathBuf;

/// What can go wrong in the text utilities (reading user lists).
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// A stopword file could not be read.
    #[error("cannot read stopword file {}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}
