//! Text utilities: the lecture's Hangul cleaning, jamo decomposition and
//! composition, an English word tokenizer and stopword lists.

pub mod clean;
pub mod english;
mod error;
pub mod jamo;
pub mod romanize;
pub mod stopwords;

pub use clean::{HangulCleaner, clean_hangul};
pub use english::word_tokenize;
pub use error::TextError;
pub use jamo::{Syllable, compose, decompose, decompose_conjoining};
pub use stopwords::{KOREAN_STOPWORDS, Stopwords};
