//! # malmoi-tokenize
//!
//! Text → tokens → ids: Korean morphological analysis (lindera + mecab-ko-dic),
//! text cleaning and jamo utilities, frequency statistics and word clouds,
//! Keras-style integer encoding and GPT-2 style byte-level BPE.

pub mod bpe;
pub mod encoding;
pub mod freq;
pub mod korean;
pub mod text;
pub mod wordcloud;
