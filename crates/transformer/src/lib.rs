//! # malmoi-transformer
//!
//! The lecture's second half on malmoi-tensor: multi-head [attention], the Transformer
//! [block], [`Gpt`] (a decoder-only language model with a key/value cache), Hugging Face
//! checkpoints in both directions ([`hf`]) and text [generation] with every sampling knob of
//! the OpenAI Playground and `transformers`' `generate`, and [`bert`]: the encoder with its
//! pre-training heads.

pub mod attention;
pub mod attention_map;
pub mod auto;
pub mod bert;
pub mod block;
pub mod causal_lm;
pub mod config;
pub mod config_keys;
pub mod decoder;
pub mod error;
pub mod generation;
pub mod gpt;
pub mod gpt_neox;
pub mod hf;
pub mod llama;
pub mod lm;
pub mod plot;
pub mod position;
pub mod rope;
pub mod train;

mod init;

pub use attention::KvCache;
pub use auto::load_causal_lm;
pub use causal_lm::CausalLm;
pub use config::{GptConfig, NormPlacement, Positions};
pub use decoder::{Decoder, DecoderConfig};
pub use error::{Error, Result};
pub use gpt::{Gpt, IGNORE_INDEX};

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
