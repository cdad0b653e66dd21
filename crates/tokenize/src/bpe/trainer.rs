//! [`BpeTrainer`]: learns byte-level BPE merges from a corpus, merge for merge as Hugging
//! Face `tokenizers`' `BpeTrainer` does.
//!
//! The vocabulary starts with the special tokens, then the 256 byte symbols sorted by code
//! point. Each step merges the most frequent adjacent pair; ties go to the pair with the
//! smaller ids. The bookkeeping (a max-heap of pairs with the words they occur in, counts
//! refreshed lazily when popped) follows `tokenizers` exactly, including its quirk that a
//! pair pushed again with new occurrences may be merged in two steps, so the same corpus
//! and settings give the same merges.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde_json::json;

use super::added_tokens::{AddedToken, AddedVocabulary};
use super::byte_level::{BYTE_TO_CHAR, alphabet};
use super::error::{BpeError, Result};
use super::model::{BpeModel, Pair};
use super::post_process::PostProcessor;
use super::pretokenize::ByteLevelPreTokenizer;
use super::tokenizer::ByteLevelBpe;

/// Texts are pre-tokenized in parallel in chunks of this many.
const CHUNK: usize = 4096;

/// Word (raw bytes) → number of occurrences in the corpus.
pub(crate) type WordCounts = FxHashMap<Box<[u8]>, u64>;

/// Trains a [`ByteLevelBpe`] tokenizer, builder style.
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
/// # Ok::<(), malmoi_tokenize::bpe::BpeError>(())
/// ```
#[derive(Clone, Debug)]
pub struct BpeTrainer {
    vocab_size: usize,
    min_frequency: u64,
    special_tokens: Vec<String>,
    pre_tokenizer: ByteLevelPreTokenizer,
    show_progress: bool,
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
        Self {
            vocab_size: 30_000,
            min_frequency: 0,
            special_tokens: Vec::new(),
            pre_tokenizer: ByteLevelPreTokenizer::default(),
            show_progress: false,
        }
    }

    /// Stops merging once the vocabulary (special tokens + 256 bytes + merges) has this many
    /// tokens; the special tokens and the 256 byte symbols are always kept, even beyond it.
    pub fn vocab_size(mut self, vocab_size: usize) -> Self {
        self.vocab_size = vocab_size;
        self
    }

    /// Stops merging when the most frequent pair occurs fewer than this many times.
    pub fn min_frequency(mut self, min_frequency: u64) -> Self {
        self.min_frequency = min_frequency;
        self
    }

    /// Special tokens, given the first ids in this order and matched verbatim when encoding.
    pub fn special_tokens<I, S>(mut self, tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.special_tokens = tokens.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the trained tokenizer prepends a space to each text (off by default, so that
    /// decoding returns the text unchanged).
    pub fn add_prefix_space(mut self, add_prefix_space: bool) -> Self {
        self.pre_tokenizer.add_prefix_space = add_prefix_space;
        self
    }

    /// Shows progress on stderr: texts counted, then vocabulary size while merging.
    pub fn show_progress(mut self, show_progress: bool) -> Self {
        self.show_progress = show_progress;
        self
    }

    /// Learns merges from `texts` (any iterator of strings, e.g. a file's lines).
    pub fn train<I>(&self, texts: I) -> Result<ByteLevelBpe>
    where
        I: IntoIterator,
        I::Item: AsRef<str> + Send,
    {
        if let Some(i) = self.special_tokens.iter().position(String::is_empty) {
            return Err(BpeError::Config(format!("special token #{i} is empty")));
        }
        let words = self.count_words(texts);
        let mut state = MergeState::new(&self.special_tokens, words);
        let progress = self.progress_bar("merging, vocabulary size", self.vocab_size);
        let merges = state.merge_until(self.vocab_size, self.min_frequency, &progress);
        progress.finish_and_clear();
        self.build_tokenizer(state.id_to_token, &merges)
    }

    /// Pre-tokenizes the corpus in parallel chunks and counts each distinct word.
    fn count_words<I>(&self, texts: I) -> WordCounts
    where
        I: IntoIterator,
        I::Item: AsRef<str> + Send,
    {
        count_words(texts, self.show_progress, |text, add| {
            self.pre_tokenizer.for_each_word(text, |word| add(word.as_bytes()))
        })
    }

    fn progress_bar(&self, message: &'static str, len: usize) -> ProgressBar {
        progress_bar(self.show_progress, message, len)
    }

    /// Assembles the tokenizer: vocabulary, merges in rank order, special tokens as added tokens.
    fn build_tokenizer(&self, id_to_token: Vec<String>, merges: &[(String, String)]) -> Result<ByteLevelBpe> {
        let vocab = id_to_token.iter().enumerate().map(|(id, token)| (token.clone(), id as u32)).collect();
        let source = std::path::Path::new("<trainer>");
        let model = BpeModel::new(vocab, merges, None, false, false, source)?;
        let specials = self
            .special_tokens
            .iter()
            .filter_map(|content| Some(AddedToken::special(model.token_to_id(content)?, content)))
            .fold(Vec::<AddedToken>::new(), |mut tokens, token| {
                if !tokens.iter().any(|t| t.id == token.id) {
                    tokens.push(token);
                }
                tokens
            });
        let added = AddedVocabulary::new(specials).map_err(BpeError::Config)?;
        let byte_level_json =
            json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true});
        let post_processor = PostProcessor::from_json(byte_level_json).map_err(BpeError::Config)?;
        let decoder = ByteLevelPreTokenizer { add_prefix_space: true, ..ByteLevelPreTokenizer::default() };
        Ok(ByteLevelBpe::from_parts(model, added, self.pre_tokenizer, decoder, post_processor))
    }
}

/// Counts each distinct word of `texts`, in parallel chunks; `split(text, add)` calls `add` on
/// each word of a text.
pub(crate) fn count_words<I, F>(texts: I, show_progress: bool, split: F) -> WordCounts
where
    I: IntoIterator,
    I::Item: AsRef<str> + Send,
    F: Fn(&str, &mut dyn FnMut(&[u8])) + Sync,
{
    let progress = progress_bar(show_progress, "counting words, texts read", 0);
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

/// A progress bar on stderr (hidden unless `show`); `len` 0 gives a counter.
pub(crate) fn progress_bar(show: bool, message: &'static str, len: usize) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let (bar, template) = match len {
        0 => (ProgressBar::new_spinner(), "{msg} {pos} [{elapsed_precise}]"),
        _ => (ProgressBar::new(len as u64), "{msg} {wide_bar} {pos}/{len} [{elapsed_precise}]"),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.with_message(message)
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

/// A pair waiting in the merge queue with its count when pushed and the words it was seen in.
#[derive(Debug)]
struct QueuedPair {
    count: u64,
    pair: Pair,
    words: Vec<usize>,
}

impl PartialEq for QueuedPair {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for QueuedPair {}

impl PartialOrd for QueuedPair {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for QueuedPair {
    /// Higher counts first; among equal counts the smaller pair of ids first.
    fn cmp(&self, other: &Self) -> Ordering {
        self.count.cmp(&other.count).then_with(|| other.pair.cmp(&self.pair))
    }
}

/// Everything the merge loop updates: vocabulary, words as symbol ids, pair statistics.
pub(crate) struct MergeState {
    pub(crate) id_to_token: Vec<String>,
    token_to_id: FxHashMap<String, u32>,
    words: Vec<Vec<u32>>,
    counts: Vec<u64>,
    pair_counts: FxHashMap<Pair, i64>,
    queue: BinaryHeap<QueuedPair>,
    /// WordPiece's continuing-subword prefix, dropped from the right token of a merge (`a` + `##b` → `ab`).
    prefix: Option<String>,
}

impl MergeState {
    /// Special tokens, then the byte alphabet, then every word spelled in byte symbols.
    fn new(special_tokens: &[String], word_counts: WordCounts) -> Self {
        let mut tokens = special_tokens.to_vec();
        tokens.extend(alphabet().into_iter().map(|c| c.to_string()));
        let mut state = Self::with_vocabulary(tokens, None);
        let byte_ids: Vec<u32> = BYTE_TO_CHAR.iter().map(|c| state.token_to_id[&c.to_string()]).collect();
        let (words, counts) =
            word_counts.into_iter().map(|(w, n)| (w.iter().map(|&b| byte_ids[b as usize]).collect(), n)).unzip();
        state.set_words(words, counts);
        state
    }

    /// A state with this initial vocabulary (repeats kept once) and no words yet.
    pub(crate) fn with_vocabulary(tokens: Vec<String>, prefix: Option<String>) -> Self {
        let mut state = Self {
            id_to_token: Vec::new(),
            token_to_id: FxHashMap::default(),
            words: Vec::new(),
            counts: Vec::new(),
            pair_counts: FxHashMap::default(),
            queue: BinaryHeap::new(),
            prefix,
        };
        for token in tokens {
            state.intern(token);
        }
        state
    }

    /// Sets the corpus: each distinct word as symbol ids, with its number of occurrences.
    pub(crate) fn set_words(&mut self, words: Vec<Vec<u32>>, counts: Vec<u64>) {
        self.words = words;
        self.counts = counts;
        self.count_pairs();
    }

    /// True when `token` is in the vocabulary.
    pub(crate) fn contains(&self, token: &str) -> bool {
        self.token_to_id.contains_key(token)
    }

    /// The id of `token`, adding it to the vocabulary if new.
    pub(crate) fn intern(&mut self, token: String) -> u32 {
        if let Some(&id) = self.token_to_id.get(&token) {
            return id;
        }
        let id = self.id_to_token.len() as u32;
        self.token_to_id.insert(token.clone(), id);
        self.id_to_token.push(token);
        id
    }

    /// Counts every adjacent pair (weighted by word count) and queues each pair once.
    fn count_pairs(&mut self) {
        let mut where_seen: FxHashMap<Pair, Vec<usize>> = FxHashMap::default();
        for (i, word) in self.words.iter().enumerate() {
            for window in word.windows(2) {
                let pair = (window[0], window[1]);
                *self.pair_counts.entry(pair).or_insert(0) += self.counts[i] as i64;
                let seen = where_seen.entry(pair).or_default();
                if seen.last() != Some(&i) {
                    seen.push(i);
                }
            }
        }
        self.queue_pairs(where_seen);
    }

    /// Pushes pairs with a positive count onto the queue with the words they were seen in.
    fn queue_pairs(&mut self, where_seen: FxHashMap<Pair, Vec<usize>>) {
        for (pair, words) in where_seen {
            let count = self.pair_counts[&pair];
            if count > 0 {
                self.queue.push(QueuedPair { count: count as u64, pair, words });
            }
        }
    }

    /// Merges until the vocabulary reaches `vocab_size`, no pair is left, or the best pair is
    /// rarer than `min_frequency`. Returns the merges in the order they were made.
    pub(crate) fn merge_until(
        &mut self,
        vocab_size: usize,
        min_frequency: u64,
        progress: &ProgressBar,
    ) -> Vec<(String, String)> {
        let mut merges = Vec::new();
        while self.id_to_token.len() < vocab_size {
            let Some(mut top) = self.queue.pop() else {
                break;
            };
            // Counts change as other pairs merge: re-queue stale entries with the current count
            // (a negative count wraps around as in `tokenizers`).
            let current = self.pair_counts[&top.pair] as u64;
            if top.count != current {
                top.count = current;
                self.queue.push(top);
                continue;
            }
            if top.count < 1 || top.count < min_frequency {
                break;
            }
            let (left, right) = (&self.id_to_token[top.pair.0 as usize], &self.id_to_token[top.pair.1 as usize]);
            merges.push((left.clone(), right.clone()));
            let right = self.prefix.as_deref().and_then(|p| right.strip_prefix(p)).unwrap_or(right);
            let merged = self.intern(format!("{left}{right}"));
            self.apply_merge(top.pair, merged, &top.words);
            progress.set_position(self.id_to_token.len() as u64);
        }
        merges
    }

    /// Replaces `pair` by `merged` in the given words and updates the pair statistics.
    fn apply_merge(&mut self, pair: Pair, merged: u32, words: &[usize]) {
        let mut changes = Vec::new();
        let mut where_seen: FxHashMap<Pair, Vec<usize>> = FxHashMap::default();
        for &i in words {
            changes.clear();
            merge_in_word(&mut self.words[i], pair, merged, &mut changes);
            for &(changed, delta) in &changes {
                *self.pair_counts.entry(changed).or_insert(0) += delta * self.counts[i] as i64;
                if delta > 0 {
                    let seen = where_seen.entry(changed).or_default();
                    if seen.last() != Some(&i) {
                        seen.push(i);
                    }
                }
            }
        }
        self.queue_pairs(where_seen);
    }
}

/// Merges every occurrence of `pair` in `word` left to right, recording how the counts of
/// the neighbouring pairs change (the merged pair's own count is left as is, as in
/// `tokenizers`).
fn merge_in_word(word: &mut Vec<u32>, (a, b): Pair, merged: u32, changes: &mut Vec<(Pair, i64)>) {
    let mut i = 0;
    while i + 1 < word.len() {
        if word[i] == a && word[i + 1] == b {
            if i > 0 {
                changes.push(((word[i - 1], a), -1));
                changes.push(((word[i - 1], merged), 1));
            }
            word[i] = merged;
            word.remove(i + 1);
            if i + 1 < word.len() {
                changes.push(((b, word[i + 1]), -1));
                changes.push(((merged, word[i + 1]), 1));
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_in_word_reports_neighbour_changes() {
        // h e l l o with (l, l) → 9
        let mut word = vec![0, 1, 2, 2, 3];
        let mut changes = Vec::new();
        merge_in_word(&mut word, (2, 2), 9, &mut changes);
        assert_eq!(word, [0, 1, 9, 3]);
        assert_eq!(changes, [((1, 2), -1), ((1, 9), 1), ((2, 3), -1), ((9, 3), 1)]);
    }

    #[test]
    fn overlapping_pairs_merge_left_to_right() {
        let mut word = vec![5, 5, 5];
        let mut changes = Vec::new();
        merge_in_word(&mut word, (5, 5), 7, &mut changes);
        assert_eq!(word, [7, 5]);
        assert_eq!(changes, [((5, 5), -1), ((7, 5), 1)]);
    }

    #[test]
    fn queue_prefers_count_then_smaller_pair() {
        let mut queue = BinaryHeap::new();
        for (count, pair) in [(3, (4, 5)), (5, (9, 9)), (5, (2, 8)), (1, (0, 0))] {
            queue.push(QueuedPair { count, pair, words: vec![] });
        }
        let order: Vec<Pair> = std::iter::from_fn(|| queue.pop().map(|q| q.pair)).collect();
        assert_eq!(order, [(2, 8), (9, 9), (4, 5), (0, 0)]);
    }
}
