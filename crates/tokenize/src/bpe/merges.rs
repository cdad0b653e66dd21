//! The merge loop shared by the BPE and WordPiece trainers: words as symbol ids, pair counts,
//! and a max-heap of pairs, merge for merge as Hugging Face `tokenizers`' trainers do.
//!
//! The bookkeeping (a max-heap of pairs with the words they occur in, counts refreshed lazily
//! when popped) follows `tokenizers` exactly, including its quirk that a pair pushed again with
//! new occurrences may be merged in two steps, so the same corpus and settings give the same
//! merges. A merge rewrites each word it occurs in in one pass (read and write positions), so a
//! merge costs time linear in the length of the words it touches, however many times the pair
//! occurs in them: training on one huge word (a million `a`s) is linear in its length for each
//! merge, not quadratic.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use indicatif::ProgressBar;
use rustc_hash::FxHashMap;

/// Two adjacent symbols, by id.
pub(crate) type Pair = (u32, u32);

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

    /// The id of `token`, if it is in the vocabulary.
    pub(crate) fn id(&self, token: &str) -> Option<u32> {
        self.token_to_id.get(token).copied()
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
/// `tokenizers`). One pass: symbols are copied from a read position to a write position
/// that lags one behind per merge, so the cost is linear in the word's length.
fn merge_in_word(word: &mut Vec<u32>, (a, b): Pair, merged: u32, changes: &mut Vec<(Pair, i64)>) {
    let len = word.len();
    let (mut read, mut write) = (0, 0);
    while read < len {
        if read + 1 < len && word[read] == a && word[read + 1] == b {
            if write > 0 {
                let previous = word[write - 1];
                changes.push(((previous, a), -1));
                changes.push(((previous, merged), 1));
            }
            read += 2;
            if read < len {
                changes.push(((b, word[read]), -1));
                changes.push(((merged, word[read]), 1));
            }
            word[write] = merged;
        } else {
            word[write] = word[read];
            read += 1;
        }
        write += 1;
    }
    word.truncate(write);
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
    fn runs_of_merges_and_neighbours() {
        // a b a b c with (a, b) → 9: two merges, the second after a merged symbol
        let mut word = vec![1, 2, 1, 2, 3];
        let mut changes = Vec::new();
        merge_in_word(&mut word, (1, 2), 9, &mut changes);
        assert_eq!(word, [9, 9, 3]);
        assert_eq!(changes, [((2, 1), -1), ((9, 1), 1), ((9, 1), -1), ((9, 9), 1), ((2, 3), -1), ((9, 3), 1)]);
        let mut long = vec![5; 100_001];
        merge_in_word(&mut long, (5, 5), 6, &mut changes);
        assert_eq!(long.len(), 50_001);
        assert_eq!((long[0], long[49_999], long[50_000]), (6, 6, 5));
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
