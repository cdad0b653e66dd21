//! Byte-level BPE training (GPT-2's layout): [`BpeTrainer`] learns merges from a corpus and
//! returns a [`Tokenizer`](crate::tokenizer::Tokenizer), which encodes, decodes and saves.
//!
//! - [`BpeTrainer`]: merge for merge what `tokenizers`' `BpeTrainer` learns.
//! - [`gpt2_words`]: GPT-2's split into words, as the trainer counts them.
//! - [`byte_level`]: GPT-2's byte ↔ printable character map.

pub mod byte_level;
mod error;
mod merge_trainer;
pub(crate) mod merges;
mod pretokenize;
pub(crate) mod trainer;

pub use error::{BpeError, Result};
pub use merge_trainer::MergeTrainer;
pub use pretokenize::{Gpt2Words, gpt2_words};
pub use trainer::{BpeTrainer, ByteLevelSettings};
