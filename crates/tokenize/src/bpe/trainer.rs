//! [`BpeTrainer`]: learns byte-level BPE merges from a corpus, merge for merge as Hugging
//! Face `tokenizers`' `BpeTrainer` does, and returns the trained [`Tokenizer`].
//!
//! The vocabulary starts with the special tokens, then the 256 byte symbols sorted by code
//! point. Each step merges the most frequent adjacent pair; ties go to the pair with the
//! smaller ids ([`merges`](super::merges) holds the loop). Words are split by
//! [`gpt2_words`](super::gpt2_words), which gives the words of `tokenizers`' ByteLevel
//! pre-tokenizer about ten times faster.

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde_json::{Value, json};

use super::byte_level::{BYTE_TO_CHAR, alphabet};
use super::error::{BpeError, Result};
use super::merge_trainer::MergeTrainer;
use super::merges::MergeState;
use super::pretokenize::gpt2_words;
use crate::tokenizer::Tokenizer;

/// Texts are pre-tokenized in parallel in chunks of this many.
const CHUNK: usize = 4096;

/// Word (raw bytes) → number of occurrences in the corpus.
pub(crate) type WordCounts = FxHashMap<Box<[u8]>, u64>;

/// Trains a byte-level BPE [`Tokenizer`] (GPT-2's layout), builder style.
///
/// ```
/// use malmoi_tokenize::bpe::BpeTrainer;
///
/// let tokenizer = BpeTrainer::new()
///     .vocab_size(280)
///     .min_frequency(2)
///     .special_tokens(["<pad>", "<unk>", "</s>", "<mask>"])
///     .train(["low lower lowest", "new newer newest", "low new"])?;
/// assert_eq!(tokenizer.token_to_id("<pad>"), Some(0));
/// assert!(tokenizer.token_to_id("Ġlow").is_some());
/// let ids = tokenizer.encode_ids("newer low</s>", true)?;
/// assert_eq!(tokenizer.decode(&ids, false)?, "newer low</s>");
/// # Ok::<(), malmoi_tokenize::bpe::BpeError>(())
/// ```
pub type BpeTrainer = MergeTrainer<ByteLevelSettings>;

/// What only a byte-level BPE trainer ([`BpeTrainer`]) sets.
#[derive(Clone, Debug)]
pub struct ByteLevelSettings {
    add_prefix_space: bool,
}

impl Default for BpeTrainer {
    fn default() -> Self {
        Self::new()
    }
}

impl BpeTrainer {
    /// A trainer with `tokenizers`' defaults: 30,000 tokens, no minimum frequency, no
    /// special tokens, GPT-2 split without prefix space, no progress bar.
    pub fn new() -> Self {
        Self::with_defaults(Vec::new(), ByteLevelSettings { add_prefix_space: false })
    }

    /// Whether the trained tokenizer prepends a space to each text (off by default, so that
    /// decoding returns the text unchanged).
    pub fn add_prefix_space(mut self, add_prefix_space: bool) -> Self {
        self.kind.add_prefix_space = add_prefix_space;
        self
    }

    /// Learns merges from `texts` (any iterator of strings, e.g. a file's lines).
    ///
    /// Time is linear in the corpus for each merge, also for pathological corpora (one word of
    /// a million characters); [`BpeError::Config`] for an empty special token.
    pub fn train(&self, texts: impl IntoIterator<Item: AsRef<str> + Send>) -> Result<Tokenizer> {
        if let Some(reason) = self.empty_special_token() {
            return Err(BpeError::Config(reason));
        }
        let words = self.count_words(texts);
        let mut state = byte_level_state(&self.special_tokens, words);
        let merges = self.merge(&mut state);
        Ok(Tokenizer::from_json_value(self.tokenizer_json(&state, &merges))?)
    }

    /// Pre-tokenizes the corpus in parallel chunks and counts each distinct word.
    fn count_words(&self, texts: impl IntoIterator<Item: AsRef<str> + Send>) -> WordCounts {
        count_words(texts, self.show_progress, |text, add| {
            if self.kind.add_prefix_space && !text.is_empty() && !text.starts_with(' ') {
                gpt2_words(&format!(" {text}")).for_each(|word| add(word.as_bytes()));
            } else {
                gpt2_words(text).for_each(|word| add(word.as_bytes()));
            }
        })
    }

    /// The trained tokenizer's `tokenizer.json`: GPT-2's ByteLevel pre-tokenizer, post-processor
    /// and decoder, the vocabulary, the merges in rank order, the special tokens as added tokens.
    fn tokenizer_json(&self, state: &MergeState, merges: &[(String, String)]) -> Value {
        let vocab: serde_json::Map<String, Value> =
            state.id_to_token.iter().enumerate().map(|(id, token)| (token.clone(), json!(id))).collect();
        let byte_level = |add_prefix_space: bool| json!({"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": true, "use_regex": true});
        json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": special_tokens_json(&self.special_tokens, state),
            "normalizer": null,
            "pre_tokenizer": byte_level(self.kind.add_prefix_space),
            "post_processor": byte_level(true),
            "decoder": byte_level(true),
            "model": {
                "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": vocab,
                "merges": merges.iter().map(|(a, b)| [a, b]).collect::<Vec<_>>(),
            }
        })
    }
}

/// `tokenizer.json`'s `added_tokens` for special tokens already in the vocabulary (a repeated
/// token kept once): matched verbatim, not normalized, skipped by `decode(…, true)`.
pub(crate) fn special_tokens_json(special_tokens: &[String], state: &MergeState) -> Vec<Value> {
    let mut seen = Vec::new();
    special_tokens
        .iter()
        .filter_map(|content| {
            let id = state.id(content)?;
            (!seen.contains(&id)).then(|| {
                seen.push(id);
                json!({"id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false,
                       "normalized": false, "special": true})
            })
        })
        .collect()
}

/// Special tokens, then the byte alphabet, then every word spelled in byte symbols.
fn byte_level_state(special_tokens: &[String], word_counts: WordCounts) -> MergeState {
    let mut tokens = special_tokens.to_vec();
    tokens.extend(alphabet().into_iter().map(|c| c.to_string()));
    let mut state = MergeState::with_vocabulary(tokens, None);
    let byte_ids: Vec<u32> = BYTE_TO_CHAR.iter().filter_map(|c| state.id(&c.to_string())).collect();
    let (words, counts) =
        word_counts.into_iter().map(|(w, n)| (w.iter().map(|&b| byte_ids[b as usize]).collect(), n)).unzip();
    state.set_words(words, counts);
    state
}

/// Counts each distinct word of `texts`, in parallel chunks; `split(text, add)` calls `add` on
/// each word of a text.
pub(crate) fn count_words<I, F>(texts: I, show_progress: bool, split: F) -> WordCounts
where
    I: IntoIterator,
    I::Item: AsRef<str> + Send,
    F: Fn(&str, &mut dyn FnMut(&[u8])) + Sync,
{
    let progress = malmoi_fs::progress::counter("texts read (counting words)", show_progress);
    let mut total = WordCounts::default();
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut texts = texts.into_iter().peekable();
    while texts.peek().is_some() {
        chunk.extend(texts.by_ref().take(CHUNK));
        let chunk_len = chunk.len() as u64;
        let counts = chunk
            .par_drain(..)
            .fold(WordCounts::default, |mut counts, text| {
                split(text.as_ref(), &mut |word| add_count(&mut counts, word, 1));
                counts
            })
            .reduce(WordCounts::default, merge_counts);
        total = merge_counts(total, counts);
        progress.inc(chunk_len);
    }
    progress.finish_and_clear();
    total
}

fn add_count(counts: &mut WordCounts, word: &[u8], n: u64) {
    match counts.get_mut(word) {
        Some(count) => *count += n,
        None => {
            counts.insert(word.into(), n);
        }
    }
}

fn merge_counts(mut into: WordCounts, from: WordCounts) -> WordCounts {
    if into.len() < from.len() {
        return merge_counts(from, into);
    }
    for (word, n) in from {
        *into.entry(word).or_insert(0) += n;
    }
    into
}
