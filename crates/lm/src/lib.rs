//! # malmoi-lm
//!
//! Statistical language models over token sequences and the [`LanguageModel`] interface
//! (`score`, `next_words`) that the neural models of the upper layers share.

pub mod error;
pub mod model;

pub use error::{Error, Result};
pub use model::{CorpusScore, LanguageModel, NextWord, SENTENCE_END, SentenceScore, corpus_score};
