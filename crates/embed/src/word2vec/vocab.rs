//! Word counting for word2vec's vocabulary: parallel counting, `max_vocab_size` pruning,
//! `min_count` filtering and the subsampling thresholds.

use super::corpus::{Corpus, run_jobs};
use crate::error::Result;
use foldhash::HashMap;

/// Token counts of a corpus.
pub(crate) struct WordCounts {
    /// Count of each distinct token (after `max_vocab_size` pruning).
    pub counts: HashMap<String, u64>,
    /// Number of tokens read, all of them (the learning-rate schedule's unit).
    pub raw_words: u64,
}

/// Counts tokens on `workers` threads. With `max_vocab_size`, whenever a table grows past it,
/// words rarer than a rising threshold are dropped (word2vec.c's and gensim's pruning, applied
/// per thread and again after merging).
pub(crate) fn count_words(corpus: &Corpus<'_>, workers: usize, max_vocab_size: Option<usize>) -> Result<WordCounts> {
    let states = run_jobs(
        corpus,
        1,
        workers,
        |_| (Pruned::default(), 0u64),
        |(table, raw), job| {
            corpus.visit(job, |token| {
                if let Some(token) = token {
                    *raw += 1;
                    table.add(token, 1, max_vocab_size);
                }
            });
        },
    )?;
    let mut merged = Pruned::default();
    let mut raw_words = 0;
    for (table, raw) in states {
        raw_words += raw;
        for (word, count) in table.counts {
            merged.add_owned(word, count, max_vocab_size);
        }
    }
    Ok(WordCounts { counts: merged.counts, raw_words })
}

/// A count table pruned whenever it exceeds the size limit.
#[derive(Default)]
struct Pruned {
    counts: HashMap<String, u64>,
    min_reduce: u64,
}

impl Pruned {
    fn add(&mut self, word: &str, count: u64, limit: Option<usize>) {
        match self.counts.get_mut(word) {
            Some(c) => *c += count,
            None => self.add_owned(word.to_string(), count, limit),
        }
    }

    fn add_owned(&mut self, word: String, count: u64, limit: Option<usize>) {
        *self.counts.entry(word).or_insert(0) += count;
        if let Some(limit) = limit {
            while self.counts.len() > limit {
                self.min_reduce += 1;
                let threshold = self.min_reduce;
                self.counts.retain(|_, c| *c >= threshold);
            }
        }
    }
}

/// Words with at least `min_count` occurrences, most frequent first (ties by word).
pub(crate) fn select_words(counts: HashMap<String, u64>, min_count: u64) -> (Vec<String>, Vec<u64>) {
    let mut kept: Vec<(String, u64)> = counts.into_iter().filter(|(_, c)| *c >= min_count).collect();
    kept.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    kept.into_iter().unzip()
}

/// Per-word keep thresholds for frequent-word subsampling, as `u32` fractions of 2³²
/// (`u32::MAX` = always keep). word2vec's formula, with `t = sample · Σ counts`:
/// `P(keep w) = (sqrt(count(w) / t) + 1) · t / count(w)`.
pub(crate) fn keep_thresholds(counts: &[u64], sample: f64) -> Vec<u32> {
    let total: u64 = counts.iter().sum();
    let t = sample * total as f64;
    counts
        .iter()
        .map(|&c| {
            if sample <= 0.0 {
                return u32::MAX;
            }
            let c = c as f64;
            let keep = ((c / t).sqrt() + 1.0) * t / c;
            (keep.min(1.0) * u32::MAX as f64) as u32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_table_under_the_limit() {
        let mut table = Pruned::default();
        for (i, word) in ["a", "b", "a", "c", "d", "a", "b", "e"].iter().enumerate() {
            table.add(word, 1, Some(3));
            assert!(table.counts.len() <= 3, "after {i} words");
        }
        assert!(table.counts["a"] >= 2);
    }

    #[test]
    fn subsampling_formula() {
        // counts 1000 and 1, sample 1e-3: t = 1.001
        let keep = keep_thresholds(&[1000, 1], 1e-3);
        let t = 1.001f64;
        let expected = ((1000.0 / t).sqrt() + 1.0) * t / 1000.0;
        assert!((keep[0] as f64 / u32::MAX as f64 - expected).abs() < 1e-6);
        assert_eq!(keep[1], u32::MAX);
    }
}
