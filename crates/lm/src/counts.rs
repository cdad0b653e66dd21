//! Counting n-grams over sentences of word ids: the counts every smoothing estimates from.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::vocab::{BOS, EOS};

/// Counts of n-grams, keyed by their ids (oldest word first).
pub(crate) type CountMap = FxHashMap<Box<[u32]>, u64>;

/// Counts the `order`-grams of every sentence padded with `order - 1` `<s>` and one `</s>`
/// (the padded n-grams carry the counts of the shorter n-grams at the sentence start).
/// Each thread counts one contiguous share into its own map; the maps are merged once.
pub(crate) fn count(sentences: &[Vec<u32>], order: usize) -> CountMap {
    let share = sentences.len().div_ceil(rayon::current_num_threads()).max(1);
    sentences
        .par_chunks(share)
        .map(|chunk| {
            let mut counts = CountMap::default();
            let mut padded = Vec::new();
            for sentence in chunk {
                padded.clear();
                padded.resize(order - 1, BOS);
                padded.extend_from_slice(sentence);
                padded.push(EOS);
                for gram in padded.windows(order) {
                    add(&mut counts, gram, 1);
                }
            }
            counts
        })
        .reduce(CountMap::default, merge)
}

/// Adds `count` to `gram`, allocating its key only when it is new.
pub(crate) fn add(counts: &mut CountMap, gram: &[u32], count: u64) {
    match counts.get_mut(gram) {
        Some(c) => *c += count,
        None => {
            counts.insert(gram.into(), count);
        }
    }
}

/// Sums two count maps, moving the smaller into the larger.
fn merge(a: CountMap, b: CountMap) -> CountMap {
    let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    for (gram, count) in small {
        *big.entry(gram).or_insert(0) += count;
    }
    big
}
