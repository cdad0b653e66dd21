//! # malmoi-seq
//!
//! Recurrent sequence models built on malmoi-tensor's layers (`malmoi_tensor::nn::{Rnn, Lstm,
//! Gru, Recurrent}`, which live there so that using one needs no Korean dictionary) and trained
//! on the shared engine (malmoi-train: early stopping, checkpoints and exact resume, one
//! `TrainLog`): the lecture's NSMC movie-review sentiment pipeline, a seq2seq translator with
//! attention and an LSTM language model. The data utilities a Keras user expects live below
//! it: the NSMC reader in `malmoi_fs::datasets`, seeded length-bucketed batches, the validation
//! split and the confusion matrix in `malmoi_train::{batching, metrics}`; this crate keeps
//! the padding of its id batches ([`batching::pad_ids`]).

pub mod batching;
pub mod error;
pub mod io;
pub mod lstm_lm;
pub mod sentiment;
pub mod seq2seq;
mod sizes;

pub use error::{Error, Result};

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
