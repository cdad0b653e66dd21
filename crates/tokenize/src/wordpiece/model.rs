//! The WordPiece model: greedy longest-match-first split of one word into vocabulary pieces.

use rustc_hash::FxHashMap;

/// A WordPiece vocabulary with its unknown token and continuing-subword prefix (`##`).
#[derive(Clone, Debug)]
pub(crate) struct WordPieceModel {
    vocab: FxHashMap<String, u32>,
    id_to_token: FxHashMap<u32, String>,
    unk_token: String,
    unk_id: u32,
    prefix: String,
    max_input_chars_per_word: usize,
    /// Length in bytes of the longest vocabulary entry: no longer piece needs to be looked up.
    longest: usize,
}

impl WordPieceModel {
    /// Builds the model; `Err` names the problem (unknown `unk_token`, repeated id).
    pub(crate) fn new(
        vocab: FxHashMap<String, u32>,
        unk_token: String,
        prefix: String,
        max_input_chars_per_word: usize,
    ) -> Result<Self, String> {
        let unk_id =
            *vocab.get(&unk_token).ok_or_else(|| format!("unk_token {unk_token:?} is not in the vocabulary"))?;
        let mut id_to_token = FxHashMap::default();
        for (token, &id) in &vocab {
            if let Some(other) = id_to_token.insert(id, token.clone()) {
                return Err(format!("vocabulary gives id {id} to both {other:?} and {token:?}"));
            }
        }
        let longest = vocab.keys().map(String::len).max().unwrap_or(0);
        Ok(Self { vocab, id_to_token, unk_token, unk_id, prefix, max_input_chars_per_word, longest })
    }

    /// Appends the ids of `word`'s pieces: the longest vocabulary prefix, then the longest
    /// `##`-prefixed piece of the rest, and so on; the whole word is `[UNK]` when some part has no
    /// piece or the word has more than `max_input_chars_per_word` characters.
    /// `scratch` is a reusable buffer.
    pub(crate) fn encode_word(&self, word: &str, scratch: &mut String, ids: &mut Vec<u32>) {
        if word.chars().count() > self.max_input_chars_per_word {
            ids.push(self.unk_id);
            return;
        }
        let first = ids.len();
        let mut start = 0;
        while start < word.len() {
            match self.longest_piece(word, start, scratch) {
                Some((id, end)) => {
                    ids.push(id);
                    start = end;
                }
                None => {
                    ids.truncate(first);
                    ids.push(self.unk_id);
                    return;
                }
            }
        }
    }

    /// The id and end of the longest piece of `word` starting at byte `start`.
    fn longest_piece(&self, word: &str, start: usize, scratch: &mut String) -> Option<(u32, usize)> {
        let prefix = if start > 0 { self.prefix.as_str() } else { "" };
        let mut end = word.len().min(start + self.longest.saturating_sub(prefix.len()));
        while !word.is_char_boundary(end) {
            end -= 1;
        }
        while end > start {
            scratch.clear();
            scratch.push_str(prefix);
            scratch.push_str(&word[start..end]);
            if let Some(&id) = self.vocab.get(scratch.as_str()) {
                return Some((id, end));
            }
            end -= word[..end].chars().next_back().map_or(1, char::len_utf8);
        }
        None
    }

    pub(crate) fn token_to_id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    pub(crate) fn id_to_token(&self, id: u32) -> Option<&str> {
        self.id_to_token.get(&id).map(String::as_str)
    }

    pub(crate) fn len(&self) -> usize {
        self.vocab.len()
    }

    pub(crate) fn unk_token(&self) -> &str {
        &self.unk_token
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn max_input_chars_per_word(&self) -> usize {
        self.max_input_chars_per_word
    }

    /// The vocabulary in id order.
    pub(crate) fn tokens_by_id(&self) -> Vec<(&str, u32)> {
        let mut tokens: Vec<(&str, u32)> = self.vocab.iter().map(|(t, &id)| (t.as_str(), id)).collect();
        tokens.sort_unstable_by_key(|&(_, id)| id);
        tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> WordPieceModel {
        let vocab = ["[UNK]", "un", "##aff", "##able", "a", "##b", "가"];
        let vocab = vocab.iter().enumerate().map(|(i, t)| (t.to_string(), i as u32)).collect();
        WordPieceModel::new(vocab, "[UNK]".into(), "##".into(), 5).unwrap()
    }

    fn encode(word: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        model().encode_word(word, &mut String::new(), &mut ids);
        ids
    }

    #[test]
    fn greedy_longest_match_first() {
        assert_eq!(encode("unaff"), [1, 2]);
        assert_eq!(encode("abb"), [4, 5, 5]);
        assert_eq!(encode("가"), [6]);
    }

    #[test]
    fn unknown_pieces_and_long_words_become_unk() {
        assert_eq!(encode("unx"), [0]);
        assert_eq!(encode("abbbbb"), [0]);
    }

    #[test]
    fn rejects_missing_unk() {
        let vocab = [("a".to_string(), 0)].into_iter().collect();
        assert!(WordPieceModel::new(vocab, "[UNK]".into(), "##".into(), 100).is_err());
    }
}
