//! # malmoi-seq
//!
//! Recurrent sequence models on malmoi-tensor (simple RNN, LSTM, GRU, bidirectional and
//! stacked), the training utilities a Keras user expects (seeded batching, validation split,
//! early stopping, metrics, history and training curves), and the lecture's NSMC movie-review
//! sentiment pipeline.

pub mod batching;
pub mod early_stopping;
pub mod error;
pub mod history;
pub mod io;
pub mod lm;
pub mod metrics;
pub mod nsmc;
pub mod recurrent;
pub mod sentiment;
pub mod seq2seq;

pub use error::{Error, Result};

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
