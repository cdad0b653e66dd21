//! Text utilities: the lecture's Hangul cleaning, jamo decomposition and
//! composition, an English word tokenizer and stopword lists.

pub mod clean;
pub mod english;
pub mod jamo;
pub mod romanize;
pub mod stopwords;

pub use clean::{HangulCleaner, clean_hangul};
pub use english::word_tokenize;
pub use jamo::{Syllable, compose, decompose, decompose_conjoining};
pub use stopwords::{KOREAN_STOPWORDS, Stopwords};

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
