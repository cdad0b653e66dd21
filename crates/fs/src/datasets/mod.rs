//! Readers of the datasets the lectures train on, each in its own module, with one error type.
//!
//! | module | what |
//! | --- | --- |
//! | [`nsmc`] | the NSMC movie-review TSV (`id\tdocument\tlabel`, no quoting) |
//!
//! ```
//! use std::path::Path;
//! use malmoi_fs::datasets::{DatasetError, nsmc};
//!
//! let rows = nsmc::parse_labeled_tsv("id\tdocument\tlabel\n1\t재밌다\t1\n", Path::new("mini.tsv"))?;
//! assert_eq!((rows[0].document.as_str(), rows[0].label), ("재밌다", 1));
//! let missing = nsmc::read_labeled_tsv("no/such/ratings.txt").unwrap_err();
//! assert!(matches!(missing, DatasetError::Io { .. }));
//! # Ok::<(), DatasetError>(())
//! ```

pub mod nsmc;

use std::path::PathBuf;

/// What can go wrong while reading a dataset file.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// A row (or line) of the file could not be read.
    #[error("{path}:{line}: {reason}")]
    MalformedRow {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with the row.
        reason: String,
    },
}
