//! Next-sentence prediction's data: sentence pairs `[CLS] A [SEP] B [SEP]` where B follows A
//! half of the time and is a random sentence otherwise (label 0 = follows, 1 = random, as
//! `BertForPreTraining` labels them).

use rand::Rng;

/// The ids of BERT's special tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpecialIds {
    /// `[PAD]`.
    pub pad: u32,
    /// `[CLS]`.
    pub cls: u32,
    /// `[SEP]`.
    pub sep: u32,
    /// `[MASK]`.
    pub mask: u32,
}

/// `[CLS] a [SEP] b [SEP]` (or `[CLS] a [SEP]` without `b`) in at most `max_len` tokens — the
/// longer part is cut first — and its token-type ids (0 for `a`, 1 for `b`).
///
/// ```
/// use malmoi_transformer::nsp::{SpecialIds, sentence_pair};
///
/// let special = SpecialIds { pad: 0, cls: 1, sep: 2, mask: 3 };
/// let (ids, types) = sentence_pair(&[10, 11, 12, 13], Some(&[20, 21]), 7, special);
/// assert_eq!(ids, [1, 10, 11, 2, 20, 21, 2]);
/// assert_eq!(types, [0, 0, 0, 0, 1, 1, 1]);
/// ```
pub fn sentence_pair(a: &[u32], b: Option<&[u32]>, max_len: usize, special: SpecialIds) -> (Vec<u32>, Vec<u32>) {
    let budget = max_len.saturating_sub(if b.is_some() { 3 } else { 2 });
    let (mut la, mut lb) = (a.len(), b.map_or(0, <[u32]>::len));
    while la + lb > budget {
        if la >= lb { la -= 1 } else { lb -= 1 }
    }
    let mut ids = vec![special.cls];
    ids.extend_from_slice(&a[..la]);
    ids.push(special.sep);
    let mut types = vec![0; ids.len()];
    if let Some(b) = b {
        ids.extend_from_slice(&b[..lb]);
        ids.push(special.sep);
        types.resize(ids.len(), 1);
    }
    (ids, types)
}

/// A next-sentence example from consecutive `sentences`: sentence `i` and, with probability ½,
/// sentence `i + 1` (label 0), else a random one (label 1). Returns `(a, b, label)`; needs at
/// least two sentences.
pub fn sample_pair(sentences: &[Vec<u32>], rng: &mut impl Rng) -> (usize, usize, usize) {
    let i = rng.random_range(0..sentences.len() - 1);
    let random = rng.random::<bool>();
    let b = if random { rng.random_range(0..sentences.len()) } else { i + 1 };
    (i, b, usize::from(random))
}
