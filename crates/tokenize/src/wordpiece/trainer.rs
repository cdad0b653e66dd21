//! [`WordPieceTrainer`]: learns a WordPiece vocabulary from a corpus as `tokenizers`'
//! `WordPieceTrainer` does — BPE merges over characters, with `##` marking every character
//! that does not start a word, and the merged tokens as the vocabulary.

use std::sync::Mutex;

use rustc_hash::FxHashMap;
use serde_json::{Value, json};

use super::error::{Result, WordPieceError};
use super::normalizer::BertNormalizer;
use crate::bpe::MergeTrainer;
use crate::bpe::merges::MergeState;
use crate::bpe::trainer::{count_words, special_tokens_json};
use crate::tokenizer::{Tokenizer, TokenizerError};

/// The special tokens a BERT tokenizer needs: the unknown token and the template's two.
const REQUIRED: [&str; 3] = ["[UNK]", "[CLS]", "[SEP]"];

/// Trains a WordPiece [`Tokenizer`] (BERT's layout), builder style.
///
/// The vocabulary is: the special tokens, the alphabet (characters of the normalized words,
/// sorted by code point; with [`limit_alphabet`](Self::limit_alphabet) only the most frequent),
/// `##`-prefixed characters in order of first appearance (words taken in sorted order), then one
/// token per merge, the most frequent adjacent pair first (`a` + `##b` → `ab`, `##a` + `##b` →
/// `##ab`). Same corpus and settings, same tokenizer. (`tokenizers` visits words in hash order,
/// so its ids for `##` characters, and hence tie-breaks, vary from run to run.)
///
/// ```
/// use malmoi_tokenize::wordpiece::WordPieceTrainer;
///
/// let corpus = ["영화 정말 재밌다", "영화 정말 최고", "재밌다 재밌다"];
/// let tokenizer = WordPieceTrainer::new().vocab_size(60).train(corpus)?;
/// let encoding = tokenizer.encode("최고다 영화!", true)?;
/// assert_eq!(encoding.tokens, ["[CLS]", "최고", "##다", "영화", "[UNK]", "[SEP]"]);
/// # Ok::<(), malmoi_tokenize::wordpiece::WordPieceError>(())
/// ```
pub type WordPieceTrainer = MergeTrainer<WordPieceSettings>;

/// What only a WordPiece trainer ([`WordPieceTrainer`]) sets.
#[derive(Clone, Debug)]
pub struct WordPieceSettings {
    limit_alphabet: Option<usize>,
    normalizer: BertNormalizer,
}

impl Default for WordPieceTrainer {
    fn default() -> Self {
        Self::new()
    }
}

impl WordPieceTrainer {
    /// `tokenizers`' defaults (30,000 tokens, no minimum frequency, no alphabet limit) with BERT's
    /// special tokens `[PAD] [UNK] [CLS] [SEP] [MASK]` (ids 0–4), and a normalizer that lowercases
    /// but keeps accents, so that Hangul syllables stay whole (BERT's uncased normalizer would
    /// decompose them into jamo; see [`normalizer`](Self::normalizer)).
    pub fn new() -> Self {
        let special_tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map(String::from).to_vec();
        let normalizer = BertNormalizer { strip_accents: Some(false), ..BertNormalizer::default() };
        Self::with_defaults(special_tokens, WordPieceSettings { limit_alphabet: None, normalizer })
    }

    /// Keeps only the this many most frequent characters (ties: the smaller code point is dropped
    /// first); words lose the other characters, as in `tokenizers`.
    pub fn limit_alphabet(mut self, limit: usize) -> Self {
        self.kind.limit_alphabet = Some(limit);
        self
    }

    /// The normalizer applied to the corpus, and by the trained tokenizer (words are then split
    /// by BERT's pre-tokenizer: at whitespace and around each punctuation character).
    pub fn normalizer(mut self, normalizer: BertNormalizer) -> Self {
        self.kind.normalizer = normalizer;
        self
    }

    /// Learns the vocabulary from `texts` (any iterator of strings, e.g. a file's lines).
    ///
    /// [`WordPieceError::Config`] if a special token is empty or `[UNK]`, `[CLS]` or `[SEP]` is missing.
    pub fn train(&self, texts: impl IntoIterator<Item: AsRef<str> + Send>) -> Result<Tokenizer> {
        self.check_special_tokens()?;
        let mut words: Vec<(String, u64)> =
            self.count_words(texts)?.into_iter().map(|(w, n)| (String::from_utf8_lossy(&w).into_owned(), n)).collect();
        words.sort_unstable();
        let mut vocab = self.special_tokens.clone();
        vocab.extend(self.alphabet(&words).into_iter().map(String::from));
        let mut state = MergeState::with_vocabulary(vocab, Some(PREFIX.to_owned()));
        let (symbols, counts) = words.iter().map(|(word, n)| (spell(&mut state, word), *n)).unzip();
        state.set_words(symbols, counts);
        self.merge(&mut state);
        Ok(Tokenizer::from_json_value(self.tokenizer_json(&state))?)
    }

    fn check_special_tokens(&self) -> Result<()> {
        if let Some(reason) = self.empty_special_token() {
            return Err(WordPieceError::Config(reason));
        }
        match REQUIRED.iter().find(|&&token| !self.special_tokens.iter().any(|s| s == token)) {
            Some(missing) => Err(WordPieceError::Config(format!("the special tokens must include {missing}"))),
            None => Ok(()),
        }
    }

    /// Normalizes and pre-tokenizes the corpus with `tokenizers`' own components, exactly as the
    /// trained tokenizer will, in parallel chunks, and counts each distinct word.
    fn count_words(
        &self,
        texts: impl IntoIterator<Item: AsRef<str> + Send>,
    ) -> Result<crate::bpe::trainer::WordCounts> {
        let splitter = Tokenizer::from_json_value(self.splitter_json())?;
        let failure: Mutex<Option<TokenizerError>> = Mutex::new(None);
        let counts = count_words(texts, self.show_progress, |text, add| {
            let words = splitter.normalize_str(text).and_then(|normalized| splitter.pre_tokenize_str(&normalized));
            match words {
                Ok(words) => words.iter().for_each(|(word, _)| add(word.as_bytes())),
                Err(e) => {
                    failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get_or_insert(e);
                }
            }
        });
        match failure.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()) {
            Some(e) => Err(e.into()),
            None => Ok(counts),
        }
    }

    /// A tokenizer with only the normalizer and pre-tokenizer of the one being trained.
    fn splitter_json(&self) -> Value {
        json!({
            "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
            "normalizer": self.kind.normalizer.to_json(), "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": null, "decoder": null,
            "model": {"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"},
        })
    }

    /// The trained tokenizer's `tokenizer.json`: BERT's normalizer, pre-tokenizer, template
    /// (`[CLS] $A [SEP]`, `[CLS] $A [SEP] $B:1 [SEP]:1`) and decoder, the WordPiece vocabulary.
    fn tokenizer_json(&self, state: &MergeState) -> Value {
        let vocab: serde_json::Map<String, Value> =
            state.id_to_token.iter().enumerate().map(|(id, token)| (token.clone(), json!(id))).collect();
        let special = |name: &str, type_id: u32| json!({"SpecialToken": {"id": name, "type_id": type_id}});
        let sequence = |name: &str, type_id: u32| json!({"Sequence": {"id": name, "type_id": type_id}});
        let template_token = |name: &str| json!({"id": name, "ids": [state.id(name)], "tokens": [name]});
        json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": special_tokens_json(&self.special_tokens, state),
            "normalizer": self.kind.normalizer.to_json(),
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [special("[CLS]", 0), sequence("A", 0), special("[SEP]", 0)],
                "pair": [special("[CLS]", 0), sequence("A", 0), special("[SEP]", 0), sequence("B", 1), special("[SEP]", 1)],
                "special_tokens": {"[CLS]": template_token("[CLS]"), "[SEP]": template_token("[SEP]")},
            },
            "decoder": {"type": "WordPiece", "prefix": PREFIX, "cleanup": true},
            "model": {
                "type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": PREFIX,
                "max_input_chars_per_word": 100, "vocab": vocab,
            },
        })
    }

    /// The characters of the words, weighted by count, the rarest dropped beyond the limit,
    /// sorted by code point.
    fn alphabet(&self, words: &[(String, u64)]) -> Vec<char> {
        let mut counts: FxHashMap<char, u64> = FxHashMap::default();
        for (word, n) in words {
            for c in word.chars() {
                *counts.entry(c).or_insert(0) += n;
            }
        }
        let mut chars: Vec<(u64, char)> = counts.into_iter().map(|(c, n)| (n, c)).collect();
        chars.sort_unstable();
        let excess = self.kind.limit_alphabet.map_or(0, |limit| chars.len().saturating_sub(limit));
        let mut kept: Vec<char> = chars.drain(excess..).map(|(_, c)| c).collect();
        kept.sort_unstable();
        kept
    }
}

/// WordPiece's continuing-subword prefix.
const PREFIX: &str = "##";

/// `word` as symbol ids: its first character, then `##`-prefixed characters (added to the
/// vocabulary when new); characters outside the alphabet are skipped.
fn spell(state: &mut MergeState, word: &str) -> Vec<u32> {
    let mut ids = Vec::with_capacity(word.len());
    for (i, c) in word.char_indices() {
        let mut token = c.to_string();
        if !state.contains(&token) {
            continue;
        }
        if i > 0 {
            token.insert_str(0, PREFIX);
        }
        ids.push(state.intern(token));
    }
    ids
}
