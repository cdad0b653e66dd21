//! # malmoi-transformer
//!
//! The lecture's second half on malmoi-tensor: multi-head [attention], the Transformer
//! [block], [`Gpt`] (a decoder-only language model with a key/value cache), Hugging Face
//! checkpoints in both directions ([`hf`]) and text [generation] with every sampling knob of
//! the OpenAI Playground and `transformers`' `generate`, and [`bert`]: the encoder with its
//! pre-training heads, and its descendants [`electra`] (KoELECTRA, KcELECTRA) and [`roberta`]
//! (KLUE-RoBERTa, XLM-R) as sentence classifiers, any of them loaded by
//! [`SequenceClassifier`].
//!
//! Training runs on the shared engine (`malmoi-train`): [`train`] is GPT pre-training, [`mlm`]
//! and [`nsp`] are BERT's masked-LM and next-sentence pre-training, [`fine_tune`] is the
//! encoders' classification fine-tuning (BERT, ELECTRA, RoBERTa / XLM-R, fully or with LoRA).
//! [`lora`] adds LoRA adapters to GPT, the decoders and the encoders, saved and loaded in PEFT's
//! layout.

pub mod attention;
pub mod attention_map;
pub mod auto;
pub mod bert;
pub mod block;
pub mod causal_lm;
pub mod config;
pub mod config_keys;
pub mod decoder;
pub mod electra;
pub mod error;
pub mod fine_tune;
pub mod generation;
pub mod gpt;
pub mod gpt_neox;
pub mod hf;
pub mod language_model;
pub mod llama;
pub mod lora;
pub mod mlm;
pub mod nsp;
pub mod position;
pub mod roberta;
pub mod rope;
pub mod train;

mod init;

pub use attention::KvCache;
pub use auto::{SequenceClassifier, load_causal_lm};
pub use bert::{Bert, BertConfig, BertForPreTraining, BertForSequenceClassification, BertInput};
pub use causal_lm::CausalLm;
pub use config::{GptConfig, NormPlacement, Positions};
pub use decoder::{Decoder, DecoderConfig};
pub use error::{Error, Result};
pub use generation::{GenerationConfig, Generator};
pub use gpt::{Gpt, IGNORE_INDEX};

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
