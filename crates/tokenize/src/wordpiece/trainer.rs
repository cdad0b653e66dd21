//! [`WordPieceTrainer`]: learns a WordPiece vocabulary from a corpus as `tokenizers`'
//! `WordPieceTrainer` does — BPE merges over characters, with `##` marking every character
//! that does not start a word, and the merged tokens as the vocabulary.

use rustc_hash::FxHashMap;

use super::error::{Result, WordPieceError};
use super::normalizer::BertNormalizer;
use super::pretokenize::for_each_word;
use super::tokenizer::WordPiece;
use crate::bpe::trainer::{MergeState, count_words, progress_bar};

/// Trains a [`WordPiece`] tokenizer, builder style.
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
/// let encoding = tokenizer.encode("최고다 영화!")?;
/// assert_eq!(tokenizer.tokens(&encoding.ids), ["[CLS]", "최고", "##다", "영화", "[UNK]", "[SEP]"]);
/// # Ok::<(), malmoi_tokenize::wordpiece::WordPieceError>(())
/// ```
#[derive(Clone, Debug)]
pub struct WordPieceTrainer {
    vocab_size: usize,
    min_frequency: u64,
    special_tokens: Vec<String>,
    limit_alphabet: Option<usize>,
    normalizer: BertNormalizer,
    show_progress: bool,
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
        Self {
            vocab_size: 30_000,
            min_frequency: 0,
            special_tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map(String::from).to_vec(),
            limit_alphabet: None,
            normalizer: BertNormalizer { strip_accents: Some(false), ..BertNormalizer::default() },
            show_progress: false,
        }
    }

    /// Stops merging once the vocabulary has this many tokens (special tokens and alphabet are
    /// always kept, even beyond it).
    pub fn vocab_size(mut self, vocab_size: usize) -> Self {
        self.vocab_size = vocab_size;
        self
    }

    /// Stops merging when the most frequent pair occurs fewer than this many times.
    pub fn min_frequency(mut self, min_frequency: u64) -> Self {
        self.min_frequency = min_frequency;
        self
    }

    /// Special tokens, given the first ids in this order; must include `[UNK]`, `[CLS]` and `[SEP]`.
    pub fn special_tokens<I, S>(mut self, tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.special_tokens = tokens.into_iter().map(Into::into).collect();
        self
    }

    /// Keeps only the this many most frequent characters (ties: the smaller code point is dropped
    /// first); words lose the other characters, as in `tokenizers`.
    pub fn limit_alphabet(mut self, limit: usize) -> Self {
        self.limit_alphabet = Some(limit);
        self
    }

    /// The normalizer applied to the corpus, and by the trained tokenizer.
    pub fn normalizer(mut self, normalizer: BertNormalizer) -> Self {
        self.normalizer = normalizer;
        self
    }

    /// Shows progress on stderr: texts counted, then vocabulary size while merging.
    pub fn show_progress(mut self, show_progress: bool) -> Self {
        self.show_progress = show_progress;
        self
    }

    /// Learns the vocabulary from `texts` (any iterator of strings, e.g. a file's lines).
    pub fn train<I>(&self, texts: I) -> Result<WordPiece>
    where
        I: IntoIterator,
        I::Item: AsRef<str> + Send,
    {
        if let Some(i) = self.special_tokens.iter().position(String::is_empty) {
            return Err(WordPieceError::Config(format!("special token #{i} is empty")));
        }
        let counts = count_words(texts, self.show_progress, |text, add| {
            for_each_word(&self.normalizer.normalize(text), |word| add(word.as_bytes()))
        });
        let mut words: Vec<(String, u64)> =
            counts.into_iter().map(|(w, n)| (String::from_utf8_lossy(&w).into_owned(), n)).collect();
        words.sort_unstable();
        let mut vocab = self.special_tokens.clone();
        vocab.extend(self.alphabet(&words).into_iter().map(String::from));
        let mut state = MergeState::with_vocabulary(vocab, Some(PREFIX.to_owned()));
        let (symbols, counts) = words.iter().map(|(word, n)| (spell(&mut state, word), *n)).unzip();
        state.set_words(symbols, counts);
        let progress = progress_bar(self.show_progress, "merging, vocabulary size", self.vocab_size);
        state.merge_until(self.vocab_size, self.min_frequency, &progress);
        progress.finish_and_clear();
        let specials: Vec<&str> = self.special_tokens.iter().map(String::as_str).collect();
        WordPiece::assemble(state.id_to_token, &specials, self.normalizer.clone())
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
        let excess = self.limit_alphabet.map_or(0, |limit| chars.len().saturating_sub(limit));
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
