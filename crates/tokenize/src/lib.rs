//! # malmoi-tokenize
//!
//! Text → tokens → ids: Korean morphological analysis (mecab-ko-dic on lindera),
//! text cleaning and jamo utilities, frequency statistics and word clouds,
//! Keras-style integer encoding, and Hugging Face `tokenizer.json` tokenizers
//! ([`tokenizer::Tokenizer`]: every component, ids equal to Python `tokenizers`) with
//! byte-level BPE and WordPiece trainers.
//!
//! ```
//! use malmoi_tokenize::{Analyzer, FreqDist, KerasTokenizer};
//!
//! let analyzer = Analyzer::new()?; // finds or builds the dictionary on first use
//! assert_eq!(analyzer.morphs("아버지가방에들어가신다")?, ["아버지", "가", "방", "에", "들어가", "신다"]);
//! let docs = analyzer.batch_morphs(&["영화 정말 재밌다", "영화 최악"], true)?;
//! let counts: FreqDist = docs.iter().flatten().map(String::as_str).collect();
//! assert_eq!(counts.most_common(1)[0].0, "영화");
//! let mut tokenizer = KerasTokenizer::new();
//! tokenizer.fit_on_texts(&docs);
//! assert_eq!(tokenizer.texts_to_sequences(&docs)[1].len(), 2);
//! # Ok::<(), malmoi_tokenize::Error>(())
//! ```

#[macro_use]
mod macros;

pub mod bpe;
pub mod chat_template;
pub mod encoding;
pub mod freq;
pub mod korean;
pub mod text;
pub mod tokenizer;
pub mod wordcloud;
pub mod wordpiece;

pub use bpe::{BpeError, BpeTrainer};
pub use encoding::{EncodingError, KerasTokenizer, PadOptions, pad_sequences};
pub use freq::FreqDist;
pub use korean::{Analyzer, KoreanError, UserEntry};
pub use text::{HangulCleaner, Stopwords, TextError, word_tokenize};
pub use tokenizer::TokenizerError;
pub use wordcloud::{WordCloud, WordCloudError};
pub use wordpiece::{WordPieceError, WordPieceTrainer};

/// Any error of this crate: each module's own error type, wrapped and shown as it is.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub enum Error {
    /// Korean analysis or its dictionary.
    Korean(#[from] KoreanError),
    /// Byte-level BPE training.
    Bpe(#[from] BpeError),
    /// Integer encoding: tokenizer JSON files.
    Encoding(#[from] EncodingError),
    /// Text utilities: stopword files.
    Text(#[from] TextError),
    /// Word clouds: options and output files.
    WordCloud(#[from] WordCloudError),
    /// WordPiece training.
    WordPiece(#[from] WordPieceError),
    /// Hugging Face `tokenizer.json` tokenizers: files, components, unknown ids, streams.
    Tokenizer(#[from] TokenizerError),
}

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
