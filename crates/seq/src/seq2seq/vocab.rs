//! Character vocabularies with padding, unknown, start and end symbols.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Id of the padding symbol (ignored by the loss, masked by attention).
pub const PAD: u32 = 0;
/// Id standing for any character the vocabulary does not know.
pub const UNK: u32 = 1;
/// Id the decoder starts from.
pub const BOS: u32 = 2;
/// Id that ends a decoded sequence.
pub const EOS: u32 = 3;
/// Number of special ids before the first character.
const SPECIALS: u32 = 4;

/// The characters of one side of a task, each with an id from 4 on (0–3 are [`PAD`], [`UNK`],
/// [`BOS`], [`EOS`]). Serialised as the string of its characters, in id order.
///
/// ```
/// use malmoi_seq::seq2seq::{CharVocab, UNK};
///
/// let vocab = CharVocab::from_texts(["신라", "백마"]);
/// assert_eq!(vocab.len(), 4 + 4);
/// let (ids, unknown) = vocab.encode("신촌");
/// assert_eq!((ids[1], unknown), (UNK, vec!['촌']));
/// assert_eq!(vocab.decode(&vocab.encode("라마").0), "라마");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct CharVocab {
    chars: Vec<char>,
    index: HashMap<char, u32>,
}

impl CharVocab {
    /// The distinct characters of `texts`, in code-point order.
    pub fn from_texts<S: AsRef<str>>(texts: impl IntoIterator<Item = S>) -> Self {
        let mut chars: Vec<char> = texts.into_iter().flat_map(|t| t.as_ref().chars().collect::<Vec<_>>()).collect();
        chars.sort_unstable();
        chars.dedup();
        Self::from_chars(chars)
    }

    fn from_chars(chars: Vec<char>) -> Self {
        let index = chars.iter().enumerate().map(|(i, &c)| (c, i as u32 + SPECIALS)).collect();
        Self { chars, index }
    }

    /// Number of ids, specials included.
    pub fn len(&self) -> usize {
        self.chars.len() + SPECIALS as usize
    }

    /// Whether no character is known (only the specials).
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The ids of `text`'s characters and, in order, the characters that became [`UNK`].
    pub fn encode(&self, text: &str) -> (Vec<u32>, Vec<char>) {
        let mut unknown = Vec::new();
        let ids = text
            .chars()
            .map(|c| {
                self.index.get(&c).copied().unwrap_or_else(|| {
                    unknown.push(c);
                    UNK
                })
            })
            .collect();
        (ids, unknown)
    }

    /// The character of an id, `None` for the specials and ids outside the vocabulary.
    pub fn char_of(&self, id: u32) -> Option<char> {
        id.checked_sub(SPECIALS).and_then(|i| self.chars.get(i as usize)).copied()
    }

    /// The characters of `ids`, skipping the specials.
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter().filter_map(|&id| self.char_of(id)).collect()
    }
}

impl From<String> for CharVocab {
    fn from(chars: String) -> Self {
        Self::from_chars(chars.chars().collect())
    }
}

impl From<CharVocab> for String {
    fn from(vocab: CharVocab) -> Self {
        vocab.chars.into_iter().collect()
    }
}
