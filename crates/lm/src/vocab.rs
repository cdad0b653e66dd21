//! Interning tokens to `u32` ids, with the three special tokens at fixed ids.

use rustc_hash::FxHashMap;

/// Id of `<unk>`: every token outside the vocabulary is scored as this one.
pub const UNK: u32 = 0;
/// Id of `<s>`, the sentence start (a context only, never predicted).
pub const BOS: u32 = 1;
/// Id of `</s>`, the sentence end (predicted after the last token).
pub const EOS: u32 = 2;

/// The special tokens' spellings, at ids [`UNK`], [`BOS`], [`EOS`].
pub const SPECIALS: [&str; 3] = ["<unk>", "<s>", "</s>"];

/// The token ↔ id table of an n-gram model: `<unk>`, `<s>`, `</s>` first, then the words in
/// order of first appearance.
#[derive(Debug, Clone)]
pub struct Vocab {
    words: Vec<String>,
    ids: FxHashMap<String, u32>,
}

impl Default for Vocab {
    fn default() -> Self {
        let mut vocab = Self { words: Vec::new(), ids: FxHashMap::default() };
        for word in SPECIALS {
            vocab.intern(word);
        }
        vocab
    }
}

impl Vocab {
    /// The id of `word`, adding it if it is new.
    pub fn intern(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let id = self.words.len() as u32;
        self.words.push(word.to_owned());
        self.ids.insert(word.to_owned(), id);
        id
    }

    /// The id of `word`, or `None` if it is out of the vocabulary.
    pub fn get(&self, word: &str) -> Option<u32> {
        self.ids.get(word).copied()
    }

    /// The id of `word`, or [`UNK`].
    pub fn id_or_unk(&self, word: &str) -> u32 {
        self.get(word).unwrap_or(UNK)
    }

    /// The spelling of `id`.
    ///
    /// # Panics
    /// If `id` is not an id of this vocabulary.
    pub fn word(&self, id: u32) -> &str {
        &self.words[id as usize]
    }

    /// Every entry's spelling, in id order (the special tokens first).
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Number of entries, the three special tokens included.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Always false: the special tokens are always there.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}
