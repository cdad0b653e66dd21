//! [`Padding`]: encodings padded to a common length, as `tokenizer.json`'s `padding`.

use tokenizers::{PaddingDirection, PaddingParams, PaddingStrategy};

use super::truncation::Direction;

/// To what length encodings are padded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PaddingLength {
    /// The longest encoding of the batch (a single encoding is left as it is).
    #[default]
    BatchLongest,
    /// This many tokens (longer encodings are left as they are).
    Fixed(usize),
}

/// Padding with `pad_id` (attention mask 0, special-tokens mask 1) up to a common length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Padding {
    /// The target length.
    pub length: PaddingLength,
    /// Which side receives the padding.
    pub direction: Direction,
    /// Round the target length up to a multiple of this.
    pub pad_to_multiple_of: Option<usize>,
    /// The id of the padding token.
    pub pad_id: u32,
    /// The type id of padding.
    pub pad_type_id: u32,
    /// The padding token's text.
    pub pad_token: String,
}

impl Padding {
    /// Padding on the right to the longest encoding of the batch with this token.
    pub fn batch_longest(pad_id: u32, pad_token: impl Into<String>) -> Self {
        Self {
            length: PaddingLength::BatchLongest,
            direction: Direction::Right,
            pad_to_multiple_of: None,
            pad_id,
            pad_type_id: 0,
            pad_token: pad_token.into(),
        }
    }

    pub(crate) fn to_hf(&self) -> PaddingParams {
        PaddingParams {
            strategy: match self.length {
                PaddingLength::BatchLongest => PaddingStrategy::BatchLongest,
                PaddingLength::Fixed(n) => PaddingStrategy::Fixed(n),
            },
            direction: match self.direction {
                Direction::Right => PaddingDirection::Right,
                Direction::Left => PaddingDirection::Left,
            },
            pad_to_multiple_of: self.pad_to_multiple_of,
            pad_id: self.pad_id,
            pad_type_id: self.pad_type_id,
            pad_token: self.pad_token.clone(),
        }
    }

    pub(crate) fn from_hf(params: &PaddingParams) -> Self {
        Self {
            length: match params.strategy {
                PaddingStrategy::BatchLongest => PaddingLength::BatchLongest,
                PaddingStrategy::Fixed(n) => PaddingLength::Fixed(n),
            },
            direction: match params.direction {
                PaddingDirection::Right => Direction::Right,
                PaddingDirection::Left => Direction::Left,
            },
            pad_to_multiple_of: params.pad_to_multiple_of,
            pad_id: params.pad_id,
            pad_type_id: params.pad_type_id,
            pad_token: params.pad_token.clone(),
        }
    }
}
