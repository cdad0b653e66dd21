//! Stupid backoff (Brants et al. 2007): relative frequencies of raw counts at every order.

use rustc_hash::FxHashMap;

use crate::counts::{CountMap, add};
use crate::ngram::{BOS_LOG10_PROB, Entry, Table};
use crate::vocab::{BOS, UNK};

/// The tables of every order: `log10 (c(h w) / c(h ·))`. `<unk>` scores as a word seen
/// once among all tokens; `<s>` is never predicted.
pub(crate) fn estimate(order: usize, full: CountMap) -> Vec<Table> {
    let raw = raw_counts(order, full);
    let mut tables: Vec<Table> = raw.iter().map(relative_frequencies).collect();
    let tokens: u64 = raw[0].values().sum();
    tables[0].insert(Box::new([UNK]), Entry { log10_prob: -(tokens as f64).log10(), backoff: 0.0 });
    tables[0].insert(Box::new([BOS]), Entry { log10_prob: BOS_LOG10_PROB, backoff: 0.0 });
    tables
}

/// Raw counts of every order from the padded highest-order counts (each n-gram occurrence is
/// the suffix of exactly one padded highest-order n-gram).
fn raw_counts(order: usize, full: CountMap) -> Vec<CountMap> {
    let mut raw: Vec<CountMap> = (0..order).map(|_| CountMap::default()).collect();
    for (gram, count) in &full {
        for m in 1..=order {
            let suffix = &gram[order - m..];
            if m >= 2 && suffix[1] == BOS {
                break;
            }
            add(&mut raw[m - 1], suffix, *count);
        }
    }
    raw
}

fn relative_frequencies(counts: &CountMap) -> Table {
    let mut totals: FxHashMap<&[u32], u64> = FxHashMap::default();
    for (gram, &count) in counts {
        *totals.entry(&gram[..gram.len() - 1]).or_insert(0) += count;
    }
    counts
        .iter()
        .map(|(gram, &count)| {
            let total = totals[&gram[..gram.len() - 1]];
            (gram.clone(), Entry { log10_prob: (count as f64 / total as f64).log10(), backoff: 0.0 })
        })
        .collect()
}
