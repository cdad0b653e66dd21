//! Truncation of one sequence or a pair to a maximum length, as `tokenizers` does it.

use serde::{Deserialize, Serialize};

use super::error::{Result, WordPieceError};

/// Which sequence of a pair loses tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TruncationStrategy {
    /// Shorten the longer sequence first (both end up about half of `max_length`).
    #[default]
    #[serde(rename = "LongestFirst")]
    LongestFirst,
    /// Only the first sequence is shortened.
    #[serde(rename = "OnlyFirst")]
    OnlyFirst,
    /// Only the second sequence is shortened.
    #[serde(rename = "OnlySecond")]
    OnlySecond,
}

/// Which end of a sequence loses tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Tokens are removed (or padding added) at the end.
    #[default]
    Right,
    /// Tokens are removed (or padding added) at the start.
    Left,
}

/// `tokenizer.json`'s `truncation`: at most `max_length` ids, special tokens included.
///
/// The tokens cut off are not returned (`tokenizers` keeps them as "overflowing"; `stride` is only
/// kept for saving).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncation {
    /// Which end is cut.
    #[serde(default)]
    pub direction: Direction,
    /// Maximum number of ids of an encoding, special tokens included.
    pub max_length: usize,
    /// Which sequence of a pair is cut.
    #[serde(default)]
    pub strategy: TruncationStrategy,
    /// Overlap of overflowing windows in `tokenizers` (unused here).
    #[serde(default)]
    pub stride: usize,
}

impl Truncation {
    /// Truncation to `max_length` ids, longest sequence first, cutting at the end.
    pub fn new(max_length: usize) -> Self {
        Self { direction: Direction::Right, max_length, strategy: TruncationStrategy::LongestFirst, stride: 0 }
    }

    /// Shortens `a` (and `b`) so that, with `added` special tokens, they fit in `max_length`.
    pub(crate) fn apply(&self, a: &mut Vec<u32>, b: Option<&mut Vec<u32>>, added: usize) -> Result<()> {
        let max = self.max_length.checked_sub(added).ok_or_else(|| {
            WordPieceError::Truncation(format!("max_length {} is below the {added} special tokens", self.max_length))
        })?;
        let total = a.len() + b.as_ref().map_or(0, |b| b.len());
        if total <= max {
            return Ok(());
        }
        let excess = total - max;
        match (self.strategy, b) {
            (TruncationStrategy::LongestFirst, Some(b)) => {
                let (n1, n2) = longest_first_lengths(a.len(), b.len(), max);
                self.cut(a, n1);
                self.cut(b, n2);
            }
            (TruncationStrategy::LongestFirst, None) => self.cut(a, max),
            (TruncationStrategy::OnlyFirst, _) => self.cut_by(a, excess)?,
            (TruncationStrategy::OnlySecond, Some(b)) => self.cut_by(b, excess)?,
            (TruncationStrategy::OnlySecond, None) => {
                return Err(WordPieceError::Truncation("only_second needs a second sequence".into()));
            }
        }
        Ok(())
    }

    /// Removes `excess` ids from `ids`, which must keep at least one.
    fn cut_by(&self, ids: &mut Vec<u32>, excess: usize) -> Result<()> {
        if ids.len() <= excess {
            return Err(WordPieceError::Truncation(format!(
                "sequence of {} ids is too short to remove {excess} and respect max_length {}",
                ids.len(),
                self.max_length
            )));
        }
        self.cut(ids, ids.len() - excess);
        Ok(())
    }

    /// Keeps `len` ids at the end opposite to `direction`.
    fn cut(&self, ids: &mut Vec<u32>, len: usize) {
        if len >= ids.len() {
            return;
        }
        match self.direction {
            Direction::Right => ids.truncate(len),
            Direction::Left => {
                ids.drain(..ids.len() - len);
            }
        }
    }
}

/// `tokenizers`' lengths for a pair of `n1` and `n2` ids cut to `max`: the shorter keeps what it
/// can, the longer the rest; when both are long, each gets half.
fn longest_first_lengths(n1: usize, n2: usize, max: usize) -> (usize, usize) {
    let (short, long) = (n1.min(n2), n1.max(n2));
    let mut kept = (short, if short > max { short } else { short.max(max - short) });
    if kept.0 + kept.1 > max {
        kept = (max / 2, max / 2 + max % 2);
    }
    let kept = (kept.0, kept.1.min(long));
    if n1 > n2 { (kept.1, kept.0) } else { kept }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_first_splits_the_budget() {
        assert_eq!(longest_first_lengths(5, 6, 7), (3, 4));
        assert_eq!(longest_first_lengths(14, 2, 7), (5, 2));
        assert_eq!(longest_first_lengths(2, 14, 7), (2, 5));
    }

    #[test]
    fn left_truncation_keeps_the_end() {
        let truncation = Truncation { direction: Direction::Left, ..Truncation::new(4) };
        let mut ids = vec![1, 2, 3, 4, 5];
        truncation.apply(&mut ids, None, 1).unwrap();
        assert_eq!(ids, [3, 4, 5]);
        assert!(truncation.apply(&mut ids, None, 5).is_err());
    }
}
