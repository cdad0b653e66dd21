//! Hugging Face `tokenizer.json` in full: one [`Tokenizer`] (normalizer → pre-tokenizer → model
//! → post-processor, decoder, added tokens, truncation, padding) giving one [`Encoding`].
//!
//! The pipeline is Hugging Face's own Rust crate `tokenizers` (pure Rust: its fancy-regex
//! engine, no Oniguruma, no C++ suffix arrays), so every component and every id is the one Python
//! `tokenizers` gives; this module adds malmoi's typed errors naming files and unknown
//! components, atomic saving, untrusted-text encoding and a [`DecodeStream`] whose output is
//! exactly the full decoding.
//!
//! - [`Tokenizer`]: `from_file` / `from_json_str` / `save`, `encode`, `encode_pair`,
//!   `encode_batch` (parallel), `encode_untrusted`, `decode`, vocabulary look-ups, truncation
//!   and padding.
//! - [`Encoding`]: ids, tokens, byte offsets, type ids, attention and special-tokens masks.
//! - [`DecodeStream`]: text of ids arriving one at a time, never a premature U+FFFD.

mod added;
mod bytes;
mod components;
mod encoding;
mod error;
mod padding;
mod pipeline;
mod scores;
mod stream;
mod truncation;
mod untrusted;
mod vocabulary;

pub use added::AddedToken;
pub use encoding::Encoding;
pub use error::{Result, TokenizerError};
pub use padding::{Padding, PaddingLength};
pub use pipeline::Tokenizer;
pub use stream::DecodeStream;
pub use truncation::{Direction, Truncation, TruncationStrategy};
