//! BERT's WordPiece training: [`WordPieceTrainer`] learns a vocabulary from a corpus as
//! `tokenizers`' `WordPieceTrainer` does and returns a [`Tokenizer`](crate::tokenizer::Tokenizer)
//! (BERT normalizer and pre-tokenizer, `[CLS] a [SEP] b [SEP]` template, WordPiece decoder).

mod error;
mod normalizer;
mod trainer;

pub use error::{Result, WordPieceError};
pub use normalizer::BertNormalizer;
pub use trainer::{WordPieceSettings, WordPieceTrainer};
