//! # malmoi-lm
//!
//! Statistical language models over token sequences — n-gram counts with interpolated
//! modified Kneser-Ney (as KenLM's `lmplz` estimates it) or stupid backoff, scoring and
//! next-word suggestions with KenLM's query semantics, ARPA files in and out — and the
//! [`LanguageModel`] interface (`score`, `next_words`) that the neural models of the upper
//! layers share.

pub mod arpa;
pub mod builder;
mod counts;
pub mod error;
mod kneser_ney;
pub mod model;
pub mod ngram;
pub mod smoothing;
mod stupid_backoff;
pub mod tokenized;
pub mod vocab;

pub use builder::NgramBuilder;
pub use error::{Error, Result};
pub use model::{CorpusScore, LanguageModel, NextWord, SENTENCE_END, SentenceScore, corpus_score};
pub use ngram::{Entry, MAX_ORDER, NgramModel};
pub use smoothing::Smoothing;
pub use tokenized::{TokenLanguageModel, Tokenize, TokenizedLm};
pub use vocab::Vocab;

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
