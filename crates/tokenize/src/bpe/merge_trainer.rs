//! [`MergeTrainer`]: the builder both merge-based trainers share — the settings of the merge
//! loop (vocabulary size, minimum pair frequency, special tokens, progress) and the loop itself.
//! [`BpeTrainer`](super::BpeTrainer) and [`WordPieceTrainer`](crate::wordpiece::WordPieceTrainer)
//! are this builder with the settings of their kind of tokenizer.

use super::merges::MergeState;

/// A trainer that learns a vocabulary by merging the most frequent adjacent pairs of symbols,
/// builder style; `K` holds the settings only its kind of tokenizer has
/// ([`BpeTrainer`](super::BpeTrainer), [`WordPieceTrainer`](crate::wordpiece::WordPieceTrainer)).
#[derive(Clone, Debug)]
pub struct MergeTrainer<K> {
    pub(crate) vocab_size: usize,
    pub(crate) min_frequency: u64,
    pub(crate) special_tokens: Vec<String>,
    pub(crate) show_progress: bool,
    pub(crate) kind: K,
}

impl<K> MergeTrainer<K> {
    /// `tokenizers`' defaults — 30,000 tokens, no minimum frequency, no progress bar — with
    /// these special tokens and settings of the kind.
    pub(crate) fn with_defaults(special_tokens: Vec<String>, kind: K) -> Self {
        Self { vocab_size: 30_000, min_frequency: 0, special_tokens, show_progress: false, kind }
    }

    setters! {
        /// Stops merging once the vocabulary has this many tokens; the special tokens and the
        /// initial symbols (BPE's 256 bytes, WordPiece's alphabet) are always kept, even beyond it.
        vocab_size => vocab_size: usize;
        /// Stops merging when the most frequent pair occurs fewer than this many times.
        min_frequency => min_frequency: u64;
        /// Shows progress on stderr: texts counted, then vocabulary size while merging.
        show_progress => show_progress: bool;
    }

    /// Special tokens, given the first ids in this order and matched verbatim when encoding
    /// (a WordPiece trainer needs `[UNK]`, `[CLS]` and `[SEP]` among them).
    pub fn special_tokens<I, S>(mut self, tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.special_tokens = tokens.into_iter().map(Into::into).collect();
        self
    }

    /// Why the special tokens cannot make a tokenizer, if one of them is empty.
    pub(crate) fn empty_special_token(&self) -> Option<String> {
        let i = self.special_tokens.iter().position(String::is_empty)?;
        Some(format!("special token #{i} is empty"))
    }

    /// Runs the merge loop on `state` up to the vocabulary size; returns the merges in rank order.
    pub(crate) fn merge(&self, state: &mut MergeState) -> Vec<(String, String)> {
        let progress =
            malmoi_fs::progress::bar(self.vocab_size as u64, 0, "vocabulary entries (merging)", self.show_progress);
        let merges = state.merge_until(self.vocab_size, self.min_frequency, &progress);
        progress.finish_and_clear();
        merges
    }
}
