//! Errors of saving and loading an encoding [`KerasTokenizer`](super::KerasTokenizer).

use std::path::{Path, PathBuf};

/// What can go wrong saving or loading a [`KerasTokenizer`](super::KerasTokenizer).
#[derive(Debug, thiserror::Error)]
pub enum EncodingError {
    /// The file could not be read or written.
    #[error("cannot {action} tokenizer file {}: {source}", path.display())]
    Io {
        /// `"read"` or `"write"`.
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The JSON is not a Keras `Tokenizer.to_json()` document or is inconsistent.
    #[error("malformed tokenizer JSON{}: {reason}", in_file(path.as_deref()))]
    Malformed {
        /// The file, when the JSON came from one.
        path: Option<PathBuf>,
        /// What is wrong with it.
        reason: String,
    },
}

fn in_file(path: Option<&Path>) -> String {
    path.map(|p| format!(" in {}", p.display())).unwrap_or_default()
}
