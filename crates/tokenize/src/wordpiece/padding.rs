//! Padding of encodings to a common length, as `tokenizers` does it.

use serde::{Deserialize, Serialize};

use super::tokenizer::Encoding;
use super::truncation::Direction;

/// To what length encodings are padded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaddingLength {
    /// The longest encoding of the batch (a single encoding is left as is).
    #[default]
    BatchLongest,
    /// This many ids (longer encodings are left as they are).
    Fixed(usize),
}

/// `tokenizer.json`'s `padding`: pad ids with attention mask 0 up to a common length.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Padding {
    /// Target length.
    pub strategy: PaddingLength,
    /// Which side receives the padding.
    #[serde(default)]
    pub direction: Direction,
    /// Round the target length up to a multiple of this.
    #[serde(default)]
    pub pad_to_multiple_of: Option<usize>,
    /// The padding id.
    #[serde(default)]
    pub pad_id: u32,
    /// The type id of padding.
    #[serde(default)]
    pub pad_type_id: u32,
    /// The padding token (`[PAD]`).
    #[serde(default = "default_pad_token")]
    pub pad_token: String,
}

fn default_pad_token() -> String {
    "[PAD]".to_owned()
}

impl Padding {
    /// Padding to the longest of the batch with this `[PAD]` id, on the right.
    pub fn batch_longest(pad_id: u32) -> Self {
        Self {
            strategy: PaddingLength::BatchLongest,
            direction: Direction::Right,
            pad_to_multiple_of: None,
            pad_id,
            pad_type_id: 0,
            pad_token: default_pad_token(),
        }
    }

    /// Pads every encoding to the target length of this batch.
    pub(crate) fn apply(&self, encodings: &mut [Encoding]) {
        let longest = encodings.iter().map(|e| e.ids.len()).max().unwrap_or(0);
        let mut target = match self.strategy {
            PaddingLength::BatchLongest => longest,
            PaddingLength::Fixed(n) => n,
        };
        if let Some(multiple) = self.pad_to_multiple_of.filter(|&m| m > 0) {
            target = target.div_ceil(multiple) * multiple;
        }
        for encoding in encodings {
            self.pad(encoding, target);
        }
    }

    fn pad(&self, encoding: &mut Encoding, target: usize) {
        let Some(missing) = target.checked_sub(encoding.ids.len()).filter(|&m| m > 0) else {
            return;
        };
        let fill = |v: &mut Vec<u32>, value: u32| match self.direction {
            Direction::Right => v.resize(target, value),
            Direction::Left => {
                v.splice(0..0, std::iter::repeat_n(value, missing));
            }
        };
        fill(&mut encoding.ids, self.pad_id);
        fill(&mut encoding.type_ids, self.pad_type_id);
        fill(&mut encoding.attention_mask, 0);
        fill(&mut encoding.special_tokens_mask, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_the_longest_rounded_up() {
        let mut encodings = [Encoding::default(), Encoding::default()];
        encodings[0].push_all(&[5, 6, 7], 0, 0);
        let padding = Padding { pad_to_multiple_of: Some(4), direction: Direction::Left, ..Padding::batch_longest(0) };
        padding.apply(&mut encodings);
        assert_eq!(encodings[0].ids, [0, 5, 6, 7]);
        assert_eq!(encodings[0].attention_mask, [0, 1, 1, 1]);
        assert_eq!(encodings[1].special_tokens_mask, [1, 1, 1, 1]);
    }
}
