//! GPT-2 style byte-level BPE, compatible with Hugging Face `tokenizer.json`.
//!
//! - [`ByteLevelBpe`]: encode (`encode`, `encode_batch` in parallel with a shared word cache),
//!   decode, vocabulary look-ups, `from_file` / `save` in `tokenizer.json` format.
//! - [`BpeTrainer`]: learns merges from a corpus the way `tokenizers`' `BpeTrainer` does.
//! - [`gpt2_words`] and [`ByteLevelPreTokenizer`]: GPT-2's split into words.
//! - [`byte_level`]: GPT-2's byte ↔ printable character map.
//!
//! Layout after Hugging Face `tokenizers`: one module per stage (added tokens →
//! pre-tokenizer → model → post-processor), plus the trainer and the JSON format.

pub(crate) mod added_tokens;
pub mod byte_level;
mod cache;
mod error;
pub(crate) mod hf_json;
mod model;
pub(crate) mod post_process;
mod pretokenize;
mod tokenizer;
pub(crate) mod trainer;

pub use added_tokens::AddedToken;
pub use error::{BpeError, Result};
pub use pretokenize::{ByteLevelPreTokenizer, Gpt2Words, gpt2_words};
pub use tokenizer::{ByteLevelBpe, Encoding};
pub use trainer::BpeTrainer;
