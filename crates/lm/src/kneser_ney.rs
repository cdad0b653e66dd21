//! Interpolated modified Kneser-Ney estimation, following KenLM's `lmplz`.
//!
//! 1. Adjusted counts: the highest order keeps raw counts; a lower-order n-gram counts its
//!    distinct left extensions (`<s>` included), except n-grams that begin with `<s>`, which
//!    cannot be extended and keep their raw counts.
//! 2. Discounts per order from the count-of-counts n1..n4 of the adjusted counts (Chen &
//!    Goodman eq. 26): `Y = n1 / (n1 + 2 n2)`, `D_j = j - (j + 1) Y n_{j+1} / n_j`.
//! 3. `p(w | h) = (a(h w) - D(a(h w))) / Σ_x a(h x) + γ(h) p(w | h')` with
//!    `γ(h) = Σ_j D_j N_j(h) / Σ_x a(h x)`, down to the uniform distribution over the
//!    vocabulary (`<unk>` included, `<s>` excluded) below the unigrams.
//! 4. The backoff weight of a context `h` is `log10 γ(h)`.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::counts::{CountMap, add};
use crate::error::{Error, Result};
use crate::ngram::{BOS_LOG10_PROB, Entry, Table};
use crate::vocab::{BOS, EOS, UNK};

/// The normaliser and the left-over mass of one context.
struct Context {
    denominator: f64,
    gamma: f64,
}

/// Estimates the tables of every order from the padded highest-order counts.
pub(crate) fn estimate(order: usize, full: CountMap, fallback: Option<[f64; 3]>) -> Result<Vec<Table>> {
    let adjusted = adjusted_counts(order, full);
    let discounts: Vec<[f64; 3]> =
        adjusted.iter().enumerate().map(|(i, counts)| discounts(i + 1, counts, fallback)).collect::<Result<_>>()?;
    let contexts: Vec<FxHashMap<Box<[u32]>, Context>> =
        adjusted.par_iter().zip(&discounts).map(|(counts, d)| contexts(counts, d)).collect();
    let mut tables = interpolate(adjusted, &discounts, &contexts);
    set_backoffs(&mut tables, &contexts);
    Ok(tables)
}

/// Step 1: the adjusted counts of every order (index `m - 1` holds the m-grams).
fn adjusted_counts(order: usize, full: CountMap) -> Vec<CountMap> {
    let mut tables: Vec<CountMap> = (0..order - 1).map(|_| CountMap::default()).collect();
    let mut top = full;
    top.retain(|gram, &mut count| match gram.iter().rposition(|&w| w == BOS) {
        // Padding: the part from the last <s> on is a sentence-initial n-gram of a lower order.
        Some(last_bos) if last_bos >= 1 => {
            tables[order - last_bos - 1].insert(gram[last_bos..].into(), count);
            false
        }
        _ => true,
    });
    tables.push(top);
    for m in (1..order).rev() {
        let (lower, higher) = tables.split_at_mut(m);
        let lower = &mut lower[m - 1];
        for gram in higher[0].keys().filter(|gram| gram[1] != BOS) {
            add(lower, &gram[1..], 1);
        }
    }
    for special in [UNK, BOS] {
        tables[0].entry(Box::new([special])).or_insert(0);
    }
    tables
}

/// Step 2: D1, D2, D3+ of one order.
fn discounts(order: usize, counts: &CountMap, fallback: Option<[f64; 3]>) -> Result<[f64; 3]> {
    let mut n = [0u64; 5];
    for &count in counts.values() {
        if (1..=4).contains(&count) {
            n[count as usize] += 1;
        }
    }
    let estimate = || -> std::result::Result<[f64; 3], String> {
        if let Some(j) = (1..=3).find(|&j| n[j] == 0) {
            return Err(format!("no {order}-grams have adjusted count {j}"));
        }
        let y = n[1] as f64 / (n[1] as f64 + 2.0 * n[2] as f64);
        let mut d = [0.0; 3];
        for j in 1..=3 {
            d[j - 1] = j as f64 - (j + 1) as f64 * y * n[j + 1] as f64 / n[j] as f64;
            if !(0.0..=j as f64).contains(&d[j - 1]) {
                return Err(format!("the {order}-gram discount D{j} = {} is outside [0, {j}]", d[j - 1]));
            }
        }
        Ok(d)
    };
    match (estimate(), fallback) {
        (Ok(d), _) => Ok(d),
        (Err(_), Some(d)) => Ok(d),
        (Err(reason), None) => Err(Error::Discount { order, reason }),
    }
}

fn discount(d: &[f64; 3], count: u64) -> f64 {
    if count == 0 { 0.0 } else { d[count.min(3) as usize - 1] }
}

/// Step 3a: the denominator and γ of every context of one order.
fn contexts(counts: &CountMap, d: &[f64; 3]) -> FxHashMap<Box<[u32]>, Context> {
    let mut contexts: FxHashMap<Box<[u32]>, Context> = FxHashMap::default();
    for (gram, &count) in counts {
        let context = &gram[..gram.len() - 1];
        let stats = match contexts.get_mut(context) {
            Some(stats) => stats,
            None => contexts.entry(context.into()).or_insert(Context { denominator: 0.0, gamma: 0.0 }),
        };
        stats.denominator += count as f64;
        stats.gamma += discount(d, count);
    }
    for stats in contexts.values_mut() {
        stats.gamma /= stats.denominator;
    }
    contexts
}

/// Step 3b: interpolated probabilities, lowest order first.
fn interpolate(
    adjusted: Vec<CountMap>,
    discounts: &[[f64; 3]],
    contexts: &[FxHashMap<Box<[u32]>, Context>],
) -> Vec<Table> {
    let uniform = 1.0 / (adjusted[0].len() - 1) as f64;
    let mut tables: Vec<Table> = Vec::with_capacity(adjusted.len());
    for (m, counts) in adjusted.into_iter().enumerate() {
        let lower = tables.last();
        let table: Table = counts
            .into_iter()
            .map(|(gram, count)| {
                let context = &contexts[m][&gram[..m]];
                let lower_prob = lower.map_or(uniform, |lower| 10f64.powf(lower[&gram[1..]].log10_prob));
                let prob =
                    (count as f64 - discount(&discounts[m], count)) / context.denominator + context.gamma * lower_prob;
                (gram, Entry { log10_prob: prob.log10(), backoff: 0.0 })
            })
            .collect();
        tables.push(table);
    }
    if let Some(bos) = tables[0].get_mut(&[BOS][..]) {
        bos.log10_prob = BOS_LOG10_PROB;
    }
    tables
}

/// Step 4: `log10 γ(h)` on every n-gram that is a context of the next order.
fn set_backoffs(tables: &mut [Table], contexts: &[FxHashMap<Box<[u32]>, Context>]) {
    for (m, table) in tables.iter_mut().enumerate().take(contexts.len() - 1) {
        for (gram, entry) in table.iter_mut() {
            let last = gram[gram.len() - 1];
            if last != UNK
                && last != EOS
                && let Some(context) = contexts[m + 1].get(gram)
            {
                entry.backoff = context.gamma.log10();
            }
        }
    }
}
