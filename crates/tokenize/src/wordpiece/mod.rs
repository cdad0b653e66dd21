//! BERT's WordPiece tokenizer, compatible with Hugging Face `tokenizer.json`.
//!
//! - [`WordPiece`]: encode one text or a pair (`[CLS] a [SEP] b [SEP]`, type ids, attention
//!   mask), batches in parallel with padding, truncation, decode, `from_file` / `save`.
//! - [`BertNormalizer`]: clean text, space out CJK ideographs, strip accents, lowercase.
//! - [`Truncation`] and [`Padding`]: `tokenizer.json`'s `truncation` and `padding`.
//! - [`WordPieceTrainer`]: learns a vocabulary from a corpus (`tokenizers`' `WordPieceTrainer`).
//!
//! Layout after Hugging Face `tokenizers`: one module per stage (added tokens, shared with
//! [`bpe`](crate::bpe) → normalizer → pre-tokenizer → model → post-processor → truncation and
//! padding), plus the JSON format.

mod error;
mod hf_json;
mod model;
mod normalizer;
mod padding;
mod post_process;
mod pretokenize;
mod tokenizer;
mod trainer;
mod truncation;

pub use error::{Result, WordPieceError};
pub use normalizer::BertNormalizer;
pub use padding::{Padding, PaddingLength};
pub use tokenizer::{Encoding, WordPiece};
pub use trainer::WordPieceTrainer;
pub use truncation::{Direction, Truncation, TruncationStrategy};
