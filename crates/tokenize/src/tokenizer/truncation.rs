//! [`Truncation`]: at most so many tokens per encoding, as `tokenizer.json`'s `truncation`.

use tokenizers::{TruncationDirection, TruncationParams, TruncationStrategy as HfStrategy};

/// Which end of a sequence loses tokens (truncation) or receives padding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// At the end.
    #[default]
    Right,
    /// At the start.
    Left,
}

/// Which sequence of a pair is shortened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TruncationStrategy {
    /// The longer one first, until both fit.
    #[default]
    LongestFirst,
    /// Only the first.
    OnlyFirst,
    /// Only the second.
    OnlySecond,
}

/// Truncation of encodings to `max_length` tokens, special tokens included.
///
/// The cut-off tokens become [`Encoding::overflowing`](super::Encoding::overflowing) windows that
/// overlap by `stride` tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// Maximum number of tokens of an encoding.
    pub max_length: usize,
    /// Tokens repeated from the previous window in each overflowing window.
    pub stride: usize,
    /// Which sequence of a pair is shortened.
    pub strategy: TruncationStrategy,
    /// Which end is cut.
    pub direction: Direction,
}

impl Truncation {
    /// Truncation to `max_length` tokens at the end, longest sequence first, no stride.
    pub fn new(max_length: usize) -> Self {
        Self { max_length, stride: 0, strategy: TruncationStrategy::LongestFirst, direction: Direction::Right }
    }

    pub(crate) fn to_hf(&self) -> TruncationParams {
        TruncationParams {
            max_length: self.max_length,
            stride: self.stride,
            strategy: match self.strategy {
                TruncationStrategy::LongestFirst => HfStrategy::LongestFirst,
                TruncationStrategy::OnlyFirst => HfStrategy::OnlyFirst,
                TruncationStrategy::OnlySecond => HfStrategy::OnlySecond,
            },
            direction: match self.direction {
                Direction::Right => TruncationDirection::Right,
                Direction::Left => TruncationDirection::Left,
            },
        }
    }

    pub(crate) fn from_hf(params: &TruncationParams) -> Self {
        Self {
            max_length: params.max_length,
            stride: params.stride,
            strategy: match params.strategy {
                HfStrategy::LongestFirst => TruncationStrategy::LongestFirst,
                HfStrategy::OnlyFirst => TruncationStrategy::OnlyFirst,
                HfStrategy::OnlySecond => TruncationStrategy::OnlySecond,
            },
            direction: match params.direction {
                TruncationDirection::Right => Direction::Right,
                TruncationDirection::Left => Direction::Left,
            },
        }
    }
}
