//! Frequency statistics over tokens, in the spirit of NLTK's `FreqDist`
//! (and Python's `collections.Counter`).
//!
//! [`FreqDist`] counts tokens and remembers the order in which each token was
//! first seen, so every ordering it reports is deterministic: ties in
//! [`FreqDist::most_common`] are broken by first occurrence, exactly as
//! `Counter.most_common` and Keras' `Tokenizer` do.

use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

/// A frequency distribution: how often each token occurred.
///
/// The lecture's `nltk.Text(tokens).vocab()` is `FreqDist::from_iter(tokens)`:
///
/// ```
/// use malmoi_tokenize::freq::FreqDist;
///
/// let fd: FreqDist = "the cat and the hat and the bat".split(' ').collect();
/// assert_eq!(fd.total(), 8);          // len(tokens)
/// assert_eq!(fd.unique(), 5);         // len(set(tokens))
/// assert_eq!(fd.most_common(2), vec![("the", 3), ("and", 2)]);
/// assert_eq!(fd.count("cat"), 1);
/// assert_eq!(fd.freq("the"), 3.0 / 8.0);
/// assert_eq!(fd.hapaxes(), vec!["cat", "hat", "bat"]);
/// ```
///
/// Equality compares counts only, not first-occurrence order, as Python's
/// `Counter` does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FreqDist {
    /// Fx hashing: several times faster than SipHash on short tokens.
    counts: IndexMap<String, usize, FxBuildHasher>,
    total: usize,
}

impl FreqDist {
    /// An empty distribution.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one occurrence of `token`.
    pub fn add(&mut self, token: &str) {
        self.add_count(token, 1);
    }

    /// Counts `n` occurrences of `token` (allocates only for a new token).
    pub fn add_count(&mut self, token: &str, n: usize) {
        if n == 0 {
            return;
        }
        match self.counts.get_mut(token) {
            Some(count) => *count += n,
            None => {
                self.counts.insert(token.to_owned(), n);
            }
        }
        self.total += n;
    }

    /// Adds every count of `other` to this distribution (`Counter.update`).
    /// Tokens new to `self` are appended in `other`'s first-occurrence order.
    pub fn merge(&mut self, other: &FreqDist) {
        for (token, n) in other.iter() {
            self.add_count(token, n);
        }
    }

    /// Number of tokens counted, with repetition (NLTK's `N()`, `len(tokens)`).
    pub fn total(&self) -> usize {
        self.total
    }

    /// Number of distinct tokens (NLTK's `B()`, `len(set(tokens))`).
    pub fn unique(&self) -> usize {
        self.counts.len()
    }

    /// True when nothing has been counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// How often `token` occurred (0 when never seen).
    pub fn count(&self, token: &str) -> usize {
        self.counts.get(token).copied().unwrap_or(0)
    }

    /// Relative frequency of `token`: `count(token) / total()`, 0 for an empty
    /// distribution.
    pub fn freq(&self, token: &str) -> f64 {
        if self.total == 0 { 0.0 } else { self.count(token) as f64 / self.total as f64 }
    }

    /// The `n` most frequent tokens with their counts, most frequent first;
    /// equal counts keep first-occurrence order. `n` larger than
    /// [`unique`](Self::unique) returns every token.
    pub fn most_common(&self, n: usize) -> Vec<(&str, usize)> {
        // (count descending, first occurrence ascending) is a total order on
        // distinct positions, so an unstable selection is deterministic.
        let key = |&i: &usize| (std::cmp::Reverse(self.counts[i]), i);
        let mut order: Vec<usize> = (0..self.counts.len()).collect();
        let n = n.min(order.len());
        if n < order.len() && n > 0 {
            order.select_nth_unstable_by_key(n - 1, key);
        }
        order.truncate(n);
        order.sort_unstable_by_key(key);
        order.into_iter().map(|i| self.entry(i)).collect()
    }

    /// The most frequent token (first seen among ties), `None` when empty.
    pub fn max(&self) -> Option<&str> {
        self.most_common(1).first().map(|&(token, _)| token)
    }

    /// Tokens that occurred exactly once, in first-occurrence order.
    pub fn hapaxes(&self) -> Vec<&str> {
        self.iter().filter(|&(_, n)| n == 1).map(|(token, _)| token).collect()
    }

    /// Every `(token, count)` in first-occurrence order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, usize)> + '_ {
        self.counts.iter().map(|(token, &n)| (token.as_str(), n))
    }

    /// Statistics on the tokens seen fewer than `threshold` times (the
    /// lecture's "rare words" check before choosing a vocabulary size).
    pub fn rare_words(&self, threshold: usize) -> RareWords {
        let (mut rare, mut rare_freq) = (0, 0);
        for (_, n) in self.iter().filter(|&(_, n)| n < threshold) {
            rare += 1;
            rare_freq += n;
        }
        RareWords { threshold, total: self.unique(), rare, total_freq: self.total, rare_freq }
    }

    fn entry(&self, index: usize) -> (&str, usize) {
        let (token, &n) = self.counts.get_index(index).expect("index from 0..len");
        (token.as_str(), n)
    }
}

impl<S: AsRef<str>> FromIterator<S> for FreqDist {
    fn from_iter<I: IntoIterator<Item = S>>(tokens: I) -> Self {
        let mut fd = FreqDist::new();
        fd.extend(tokens);
        fd
    }
}

impl<S: AsRef<str>> Extend<S> for FreqDist {
    fn extend<I: IntoIterator<Item = S>>(&mut self, tokens: I) {
        for token in tokens {
            self.add(token.as_ref());
        }
    }
}

/// How much of a vocabulary is made of rare words: those seen fewer than
/// `threshold` times. Mirrors the lecture's check:
///
/// ```
/// use malmoi_tokenize::freq::FreqDist;
///
/// let fd: FreqDist = "a a a b b c d".split(' ').collect();
/// let rare = fd.rare_words(2);        // words seen once: c, d
/// assert_eq!((rare.total, rare.rare), (4, 2));
/// assert_eq!((rare.total_freq, rare.rare_freq), (7, 2));
/// assert_eq!(rare.rare_ratio(), 0.5);
/// assert_eq!(rare.vocab_size_without_rare(), 3); // a, b and padding index 0
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RareWords {
    /// Words seen fewer than this many times are rare.
    pub threshold: usize,
    /// Distinct words in the vocabulary.
    pub total: usize,
    /// Distinct words seen fewer than `threshold` times.
    pub rare: usize,
    /// Occurrences of all words.
    pub total_freq: usize,
    /// Occurrences of rare words.
    pub rare_freq: usize,
}

impl RareWords {
    /// Share of the vocabulary that is rare (0 for an empty vocabulary).
    pub fn rare_ratio(&self) -> f64 {
        if self.total == 0 { 0.0 } else { self.rare as f64 / self.total as f64 }
    }

    /// Share of all occurrences that belong to rare words (0 when empty).
    pub fn rare_freq_ratio(&self) -> f64 {
        if self.total_freq == 0 { 0.0 } else { self.rare_freq as f64 / self.total_freq as f64 }
    }

    /// The Keras `num_words` that keeps every non-rare word:
    /// `total - rare + 1`, the `+ 1` being padding index 0.
    pub fn vocab_size_without_rare(&self) -> usize {
        self.total - self.rare + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_common_breaks_ties_by_first_occurrence() {
        let fd: FreqDist = ["b", "a", "c", "a", "b", "d"].into_iter().collect();
        assert_eq!(fd.most_common(10), vec![("b", 2), ("a", 2), ("c", 1), ("d", 1)]);
        assert_eq!(fd.most_common(3), vec![("b", 2), ("a", 2), ("c", 1)]);
        assert_eq!(fd.most_common(0), vec![]);
        assert_eq!(fd.max(), Some("b"));
    }

    #[test]
    fn empty_distribution_is_harmless() {
        let fd = FreqDist::new();
        assert_eq!((fd.total(), fd.unique()), (0, 0));
        assert!(fd.most_common(5).is_empty());
        assert_eq!(fd.freq("x"), 0.0);
        assert_eq!(fd.max(), None);
        let rare = fd.rare_words(3);
        assert_eq!((rare.rare_ratio(), rare.rare_freq_ratio()), (0.0, 0.0));
        assert_eq!(rare.vocab_size_without_rare(), 1);
    }

    #[test]
    fn merge_adds_counts_and_appends_new_tokens() {
        let mut a: FreqDist = ["x", "y"].into_iter().collect();
        let b: FreqDist = ["z", "y", "y"].into_iter().collect();
        a.merge(&b);
        let all: Vec<_> = a.iter().collect();
        assert_eq!(all, vec![("x", 1), ("y", 3), ("z", 1)]);
        assert_eq!(a.total(), 5);
    }
}
