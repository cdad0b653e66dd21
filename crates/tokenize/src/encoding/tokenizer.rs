//! Keras' `Tokenizer` over token lists: frequency-ranked vocabulary,
//! `num_words`, OOV token, sequences ↔ texts, and its JSON format.

use rustc_hash::FxHashSet;
use std::borrow::Cow;
use std::path::Path;

use indexmap::{IndexMap, IndexSet};
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};

use super::EncodingError;
use crate::freq::{FreqDist, RareWords};

/// Keras' default `filters`: characters `text_to_word_sequence` drops.
const KERAS_FILTERS: &str = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n";

/// Keras' `text_to_word_sequence` with its defaults: lower-case, turn the
/// default filter characters into spaces, split on spaces.
///
/// ```
/// use malmoi_tokenize::encoding::text_to_word_sequence;
/// assert_eq!(text_to_word_sequence("Hello, World! 안녕"), vec!["hello", "world", "안녕"]);
/// ```
pub fn text_to_word_sequence(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c| c == ' ' || KERAS_FILTERS.contains(c))
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Keras' `Tokenizer`, fitted on token lists (e.g. the output of
/// `korean::Analyzer::morphs`).
///
/// Index 0 is reserved for padding. With an OOV token it takes index 1; the
/// other words follow by descending frequency, ties in first-occurrence order.
/// `num_words = n` keeps only indices below `n` when converting.
///
/// ```
/// use malmoi_tokenize::encoding::KerasTokenizer;
///
/// let docs = vec![vec!["영화", "정말", "재밌다"], vec!["영화", "별로"], vec!["정말", "영화"]];
/// let mut tokenizer = KerasTokenizer::new().with_oov_token("<OOV>").with_num_words(4);
/// tokenizer.fit_on_texts(&docs);
/// assert_eq!(tokenizer.index_of("<OOV>"), Some(1));
/// assert_eq!(tokenizer.index_of("영화"), Some(2));   // 3 times
/// assert_eq!(tokenizer.index_of("정말"), Some(3));   // 2 times
/// assert_eq!(tokenizer.index_of("재밌다"), Some(4)); // 1 time, seen before 별로
///
/// // 재밌다 (index 4) is outside num_words = 4, 꿀잼 is unknown: both become OOV.
/// let seqs = tokenizer.texts_to_sequences(&[vec!["영화", "재밌다", "꿀잼"]]);
/// assert_eq!(seqs, vec![vec![2, 1, 1]]);
/// assert_eq!(tokenizer.sequences_to_texts(&seqs), vec!["영화 <OOV> <OOV>"]);
/// ```
#[derive(Debug, Clone)]
pub struct KerasTokenizer {
    num_words: Option<usize>,
    oov_token: Option<String>,
    lower: bool,
    document_count: usize,
    word_counts: FreqDist,
    word_docs: FreqDist,
    /// The word at position `p` has index `p + 1`.
    vocab: IndexSet<String, FxBuildHasher>,
}

/// Equal when settings, counts and every word's index agree; unlike
/// `FreqDist`'s, this equality is order-sensitive, since first-occurrence
/// order decides the index of future ties.
impl PartialEq for KerasTokenizer {
    fn eq(&self, other: &Self) -> bool {
        self.num_words == other.num_words
            && self.oov_token == other.oov_token
            && self.lower == other.lower
            && self.document_count == other.document_count
            && self.word_counts.iter().eq(other.word_counts.iter())
            && self.word_docs == other.word_docs
            && self.vocab.iter().eq(other.vocab.iter())
    }
}

impl Default for KerasTokenizer {
    fn default() -> Self {
        Self {
            num_words: None,
            oov_token: None,
            lower: true,
            document_count: 0,
            word_counts: FreqDist::new(),
            word_docs: FreqDist::new(),
            vocab: IndexSet::default(),
        }
    }
}

impl KerasTokenizer {
    /// An unfitted tokenizer with Keras' defaults: no `num_words` limit, no
    /// OOV token, tokens lower-cased.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keep only indices `< num_words` when converting (Keras treats 0 as no
    /// limit, and so does this).
    pub fn with_num_words(mut self, num_words: usize) -> Self {
        self.num_words = Some(num_words);
        self
    }

    /// Map unknown and out-of-range words to `token`, which gets index 1.
    pub fn with_oov_token(mut self, token: impl Into<String>) -> Self {
        self.oov_token = Some(token.into());
        self.rebuild_vocab();
        self
    }

    /// Whether tokens are lower-cased before counting and lookup (Keras'
    /// `lower`, default `true`).
    pub fn with_lower(mut self, lower: bool) -> Self {
        self.lower = lower;
        self
    }

    /// Counts the tokens of every document and re-ranks the vocabulary.
    /// Can be called repeatedly; counts accumulate as in Keras.
    pub fn fit_on_texts<D, S>(&mut self, texts: impl IntoIterator<Item = D>)
    where
        D: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for doc in texts {
            let doc: Vec<S> = doc.into_iter().collect();
            let mut seen = FxHashSet::default();
            for token in &doc {
                let token = self.normalise(token.as_ref());
                self.word_counts.add(&token);
                if !seen.contains(token.as_ref()) {
                    self.word_docs.add(&token);
                    seen.insert(token);
                }
            }
            self.document_count += 1;
        }
        self.rebuild_vocab();
    }

    /// Converts one token list to indices (Keras' `texts_to_sequences` for a
    /// single text). Unknown or out-of-range words become the OOV index, or
    /// are dropped when there is no OOV token.
    pub fn text_to_sequence<S: AsRef<str>>(&self, tokens: impl IntoIterator<Item = S>) -> Vec<u32> {
        let oov = self.oov_index();
        tokens
            .into_iter()
            .filter_map(|token| {
                let token = self.normalise(token.as_ref());
                match self.vocab.get_index_of(token.as_ref()) {
                    Some(pos) if self.keeps(pos + 1) => Some(pos as u32 + 1),
                    _ => oov,
                }
            })
            .collect()
    }

    /// Converts every token list to indices.
    pub fn texts_to_sequences<D, S>(&self, texts: impl IntoIterator<Item = D>) -> Vec<Vec<u32>>
    where
        D: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        texts.into_iter().map(|doc| self.text_to_sequence(doc)).collect()
    }

    /// Converts indices back to space-joined words. As in Keras, an index
    /// without a word (padding 0 included) or outside `num_words` becomes
    /// the OOV token, or is dropped when there is none.
    pub fn sequence_to_text(&self, sequence: &[u32]) -> String {
        let oov = self.oov_token.as_deref();
        let words: Vec<&str> = sequence
            .iter()
            .filter_map(|&index| match self.word_of(index) {
                Some(word) if self.keeps(index as usize) => Some(word),
                _ => oov,
            })
            .collect();
        words.join(" ")
    }

    /// Converts every index sequence back to text.
    pub fn sequences_to_texts<S: AsRef<[u32]>>(&self, sequences: &[S]) -> Vec<String> {
        sequences.iter().map(|seq| self.sequence_to_text(seq.as_ref())).collect()
    }

    /// The index of `word` in the full vocabulary (Keras' `word_index[word]`),
    /// whether or not it is below `num_words`.
    pub fn index_of(&self, word: &str) -> Option<u32> {
        self.vocab.get_index_of(word).map(|pos| pos as u32 + 1)
    }

    /// The word with `index` (Keras' `index_word[index]`).
    pub fn word_of(&self, index: u32) -> Option<&str> {
        let pos = (index as usize).checked_sub(1)?;
        self.vocab.get_index(pos).map(String::as_str)
    }

    /// `(word, index)` pairs in index order (Keras' `word_index`).
    pub fn word_index(&self) -> impl ExactSizeIterator<Item = (&str, u32)> + '_ {
        self.vocab.iter().enumerate().map(|(pos, word)| (word.as_str(), pos as u32 + 1))
    }

    /// Number of indexed words, OOV token included (`len(word_index)`).
    pub fn len(&self) -> usize {
        self.vocab.len()
    }

    /// True before fitting (and without an OOV token).
    pub fn is_empty(&self) -> bool {
        self.vocab.is_empty()
    }

    /// Size of an embedding table for the produced indices: the highest
    /// index that can occur plus one (padding 0). The OOV index 1 can occur
    /// even when `num_words` is 1, as in Keras.
    pub fn vocab_size(&self) -> usize {
        let all = self.vocab.len() + 1;
        let kept = match self.num_words {
            Some(n) if n > 0 => n.min(all),
            _ => all,
        };
        match self.oov_index() {
            Some(oov) => kept.max(oov as usize + 1),
            None => kept,
        }
    }

    /// How often each word was seen, in first-occurrence order (Keras'
    /// `word_counts`).
    pub fn word_counts(&self) -> &FreqDist {
        &self.word_counts
    }

    /// In how many documents each word occurs (Keras' `word_docs`).
    pub fn word_docs(&self) -> &FreqDist {
        &self.word_docs
    }

    /// Number of documents fitted.
    pub fn document_count(&self) -> usize {
        self.document_count
    }

    /// The `num_words` limit, if any.
    pub fn num_words(&self) -> Option<usize> {
        self.num_words
    }

    /// The OOV token, if any.
    pub fn oov_token(&self) -> Option<&str> {
        self.oov_token.as_deref()
    }

    /// Statistics on words seen fewer than `threshold` times; its
    /// [`vocab_size_without_rare`](RareWords::vocab_size_without_rare) is the
    /// `num_words` the lecture passes to a second tokenizer.
    pub fn rare_words(&self, threshold: usize) -> RareWords {
        self.word_counts.rare_words(threshold)
    }

    /// The token lower-cased as Python's `str.lower` does, borrowed when that changes nothing
    /// (most tokens). Title-case letters such as `ῌ` change without being upper-case, so the
    /// test is whether a character lower-cases to something else.
    fn normalise<'a>(&self, token: &'a str) -> Cow<'a, str> {
        let changes = |c: char| {
            let mut lower = c.to_lowercase();
            !(lower.next() == Some(c) && lower.next().is_none())
        };
        if self.lower && token.chars().any(changes) { Cow::Owned(token.to_lowercase()) } else { Cow::Borrowed(token) }
    }

    fn keeps(&self, index: usize) -> bool {
        match self.num_words {
            Some(n) if n > 0 => index < n,
            _ => true,
        }
    }

    fn oov_index(&self) -> Option<u32> {
        self.oov_token.as_ref().map(|_| 1)
    }

    /// Ranks words by count (ties by first occurrence) after the OOV token.
    /// Unlike Keras, an OOV token that also occurs in the texts keeps index 1
    /// instead of being given a second index.
    fn rebuild_vocab(&mut self) {
        let mut vocab = IndexSet::with_capacity_and_hasher(self.word_counts.unique() + 1, FxBuildHasher);
        vocab.extend(self.oov_token.clone());
        for (word, _) in self.word_counts.most_common(usize::MAX) {
            if !vocab.contains(word) {
                vocab.insert(word.to_owned());
            }
        }
        self.vocab = vocab;
    }
}

/// Keras' `KerasTokenizer.to_json()` document.
#[derive(Serialize, Deserialize)]
struct KerasJson {
    class_name: String,
    config: KerasConfig,
}

/// The `config` object; maps are themselves JSON strings, as Keras writes them.
#[derive(Serialize, Deserialize)]
struct KerasConfig {
    num_words: Option<usize>,
    #[serde(default = "keras_filters")]
    filters: String,
    #[serde(default = "yes")]
    lower: bool,
    #[serde(default = "space")]
    split: String,
    #[serde(default)]
    char_level: bool,
    oov_token: Option<String>,
    #[serde(default)]
    document_count: usize,
    word_counts: String,
    #[serde(default = "empty_map")]
    word_docs: String,
    #[serde(default = "empty_map")]
    index_docs: String,
    #[serde(default = "empty_map")]
    index_word: String,
    word_index: String,
}

fn keras_filters() -> String {
    KERAS_FILTERS.to_owned()
}
fn yes() -> bool {
    true
}
fn space() -> String {
    " ".to_owned()
}
fn empty_map() -> String {
    "{}".to_owned()
}

impl KerasTokenizer {
    /// Serialises to Keras' `KerasTokenizer.to_json()` format, which
    /// `keras.preprocessing.text.tokenizer_from_json` reads.
    pub fn to_json(&self) -> String {
        let index_docs: IndexMap<String, usize> =
            self.word_docs.iter().filter_map(|(word, n)| Some((self.index_of(word)?.to_string(), n))).collect();
        let index_word: IndexMap<String, &str> = self.word_index().map(|(word, i)| (i.to_string(), word)).collect();
        let word_index: IndexMap<&str, u32> = self.word_index().collect();
        let counts = |fd: &FreqDist| json(&fd.iter().collect::<IndexMap<_, _>>());
        let document = KerasJson {
            class_name: "Tokenizer".to_owned(),
            config: KerasConfig {
                num_words: self.num_words,
                filters: keras_filters(),
                lower: self.lower,
                split: space(),
                char_level: false,
                oov_token: self.oov_token.clone(),
                document_count: self.document_count,
                word_counts: counts(&self.word_counts),
                word_docs: counts(&self.word_docs),
                index_docs: json(&index_docs),
                index_word: json(&index_word),
                word_index: json(&word_index),
            },
        };
        json(&document)
    }

    /// Reads Keras' `KerasTokenizer.to_json()` format (from Keras or
    /// [`to_json`](Self::to_json)).
    pub fn from_json(text: &str) -> Result<Self, EncodingError> {
        Self::parse(text).map_err(|reason| EncodingError::Malformed { path: None, reason })
    }

    /// Writes [`to_json`](Self::to_json) to `path` atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), EncodingError> {
        let path = path.as_ref();
        malmoi_fs::write_atomically(path, self.to_json().as_bytes()).map_err(|source| EncodingError::Io {
            action: "write",
            path: path.to_owned(),
            source,
        })
    }

    /// Reads a tokenizer saved by [`save`](Self::save) or by Keras.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, EncodingError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| EncodingError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|reason| EncodingError::Malformed { path: Some(path.to_owned()), reason })
    }

    fn parse(text: &str) -> Result<Self, String> {
        let document: KerasJson = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if document.class_name != "Tokenizer" {
            return Err(format!("class_name is {:?}, expected \"Tokenizer\"", document.class_name));
        }
        let config = document.config;
        let word_index: IndexMap<String, u32> = inner_json("word_index", &config.word_index)?;
        let tokenizer = Self {
            num_words: config.num_words,
            oov_token: config.oov_token,
            lower: config.lower,
            document_count: config.document_count,
            word_counts: counts_from(inner_json("word_counts", &config.word_counts)?),
            word_docs: counts_from(inner_json("word_docs", &config.word_docs)?),
            vocab: vocab_from(word_index)?,
        };
        if let Some(oov) = &tokenizer.oov_token
            && tokenizer.index_of(oov) != Some(1)
        {
            return Err(format!("oov_token {oov:?} does not have index 1 in word_index"));
        }
        Ok(tokenizer)
    }
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("maps with string keys always serialise")
}

fn inner_json<T: for<'de> Deserialize<'de>>(field: &str, text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("config.{field}: {e}"))
}

fn counts_from(counts: IndexMap<String, usize>) -> FreqDist {
    let mut fd = FreqDist::new();
    for (word, n) in counts {
        fd.add_count(&word, n);
    }
    fd
}

/// Orders `word_index` by index, which must run 1, 2, …, len without gaps.
fn vocab_from(word_index: IndexMap<String, u32>) -> Result<IndexSet<String, FxBuildHasher>, String> {
    let mut entries: Vec<(String, u32)> = word_index.into_iter().collect();
    entries.sort_unstable_by_key(|&(_, index)| index);
    for (pos, (word, index)) in entries.iter().enumerate() {
        if *index as usize != pos + 1 {
            return Err(format!(
                "word_index must number words 1..={} without gaps; {word:?} has {index}",
                entries.len()
            ));
        }
    }
    Ok(entries.into_iter().map(|(word, _)| word).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_zero_and_unknown_indices_map_to_oov_or_vanish() {
        let mut plain = KerasTokenizer::new();
        plain.fit_on_texts([["a", "b"]]);
        assert_eq!(plain.sequence_to_text(&[0, 1, 2, 99]), "a b");
        let mut with_oov = KerasTokenizer::new().with_oov_token("?");
        with_oov.fit_on_texts([["a", "b"]]);
        assert_eq!(with_oov.sequence_to_text(&[0, 2, 99]), "? a ?");
    }

    #[test]
    fn oov_token_seen_in_texts_keeps_index_one() {
        let mut tokenizer = KerasTokenizer::new().with_oov_token("x");
        tokenizer.fit_on_texts([["y", "x", "x"]]);
        assert_eq!(tokenizer.word_index().collect::<Vec<_>>(), vec![("x", 1), ("y", 2)]);
    }

    #[test]
    fn equality_sees_index_order() {
        let (mut ab, mut ba) = (KerasTokenizer::new(), KerasTokenizer::new());
        ab.fit_on_texts([["a", "b"]]);
        ba.fit_on_texts([["b", "a"]]);
        assert_eq!(ab.word_counts(), ba.word_counts());
        assert_ne!(ab, ba);
    }

    #[test]
    fn lower_applies_to_fit_and_lookup() {
        let mut tokenizer = KerasTokenizer::new();
        tokenizer.fit_on_texts([["Apple", "apple"]]);
        assert_eq!(tokenizer.word_counts().count("apple"), 2);
        assert_eq!(tokenizer.text_to_sequence(["APPLE"]), vec![1]);
        let mut exact = KerasTokenizer::new().with_lower(false);
        exact.fit_on_texts([["Apple", "apple"]]);
        assert_eq!(exact.len(), 2);
    }
}
