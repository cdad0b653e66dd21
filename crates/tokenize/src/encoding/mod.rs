//! Integer encoding in the style of Keras' text preprocessing:
//! [`KerasTokenizer`] maps tokens to frequency-ranked indices and back, and
//! [`pad_sequences`] makes the resulting sequences one length.

mod error;
mod padding;
mod tokenizer;

pub use error::EncodingError;
pub use padding::{PadOptions, Padded, Side, pad_sequences};
pub use tokenizer::{KerasTokenizer, text_to_word_sequence};
