//! Attention of one (batch, head) pair, in tiles of query rows.
//!
//! Each tile of [`ROW_TILE`] query rows computes its scores only against the
//! keys some row of the tile may see: under a causal mask the tile of rows
//! `i0..i1` stops at key `i1 + offset`, so the fully masked tiles above the
//! diagonal are never multiplied (about half of `Q Kᵀ`, `P V` and the four
//! backward products at `Tq = Tk`). Inputs and outputs are strided views, so
//! heads can be read from and written to a `(B, T, 3C)` / `(B, T, C)` buffer
//! in place. The softmax runs on the crate's branch-free [`exp`] and
//! 16-lane reductions, which compile to SIMD code (see [`multiversion!`]).

use std::ops::Range;

use ndarray::{ArrayView2, ArrayViewMut2, s};

use crate::kernels::activation::exp;
use crate::kernels::{gemm, view, view_mut};

/// Query rows per tile under a causal mask: small enough that a tile's
/// scores stay in the L1/L2 caches and the skipped triangle is fine-grained,
/// large enough for efficient matrix products.
const ROW_TILE: usize = 64;

/// Lanes of the partial sums and maxima: one AVX-512 register of `f32`.
const LANES: usize = 16;

/// Which keys the queries of one batch element may see.
#[derive(Debug, Clone, Copy)]
pub(super) struct Keys<'a> {
    /// Number of keys, `Tk`.
    pub count: usize,
    /// Under a causal mask, query `i` sees only keys `j ≤ i + offset`.
    pub causal_offset: Option<usize>,
    /// `count` flags, `true` for a padding key that no query sees.
    pub padding: Option<&'a [bool]>,
}

impl Keys<'_> {
    /// Keys `0..seen(i)` are the ones query `i` is not hidden from by the causal mask.
    #[inline(always)]
    fn seen(&self, i: usize) -> usize {
        self.causal_offset.map_or(self.count, |offset| (i + offset + 1).min(self.count))
    }

    /// The tiles of query rows out of `rows`: one tile without a causal mask (every row sees
    /// every key), [`ROW_TILE`] rows with one.
    fn tiles(&self, rows: usize) -> impl Iterator<Item = Range<usize>> + use<> {
        let tile = if self.causal_offset.is_some() { ROW_TILE } else { rows.max(1) };
        (0..rows).step_by(tile).map(move |start| start..(start + tile).min(rows))
    }
}

/// The inputs of one (batch, head) pair: `q (Tq, D)`, `k (Tk, D)`, `v (Tk, Dv)`, any strides.
#[derive(Debug, Clone)]
pub(super) struct Head<'a> {
    /// Queries.
    pub q: ArrayView2<'a, f32>,
    /// Keys.
    pub k: ArrayView2<'a, f32>,
    /// Values.
    pub v: ArrayView2<'a, f32>,
    /// The keys each query sees.
    pub keys: Keys<'a>,
    /// The score scale.
    pub scale: f32,
}

/// The gradients of one (batch, head) pair, any strides. `key` and `value` are accumulated
/// into, so they must be zero on entry; `query` is overwritten.
#[derive(Debug)]
pub(super) struct HeadGrads<'a> {
    /// `(Tq, D)`.
    pub query: ArrayViewMut2<'a, f32>,
    /// `(Tk, D)`.
    pub key: ArrayViewMut2<'a, f32>,
    /// `(Tk, Dv)`.
    pub value: ArrayViewMut2<'a, f32>,
}

/// Working memory a thread reuses from one head to the next.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    probs: Vec<f32>,
    d_scores: Vec<f32>,
}

/// The first `len` elements of `buffer`, grown (never shrunk) to hold them.
fn prefix(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    &mut buffer[..len]
}

impl Head<'_> {
    /// `out = softmax(scale · Q Kᵀ) V`. With `probs`, the row-major `(Tq, Tk)` weights are
    /// written there (zero where masked); without, each tile's weights live in `scratch` only.
    pub fn forward(&self, mut out: ArrayViewMut2<f32>, mut probs: Option<&mut [f32]>, scratch: &mut Scratch) {
        let tk = self.keys.count;
        for rows in self.keys.tiles(self.q.nrows()) {
            let end = self.keys.seen(rows.end - 1);
            let (tile, width) = match probs.as_deref_mut() {
                Some(probs) => (&mut probs[rows.start * tk..rows.end * tk], tk),
                None => (prefix(&mut scratch.probs, rows.len() * end), end),
            };
            self.probabilities(&rows, tile, width);
            let p = view(tile, width);
            gemm(p.slice(s![.., ..end]), self.v.slice(s![..end, ..]), &mut out.slice_mut(s![rows, ..]), false, false);
        }
    }

    /// Back-propagates `d_out (Tq, Dv)` into `grads`. `probs` are the forward's weights if it
    /// kept them; otherwise each tile's weights are recomputed, exactly as the forward made them.
    pub fn backward(
        &self,
        d_out: ArrayView2<f32>,
        probs: Option<&[f32]>,
        grads: &mut HeadGrads,
        scratch: &mut Scratch,
    ) {
        let tk = self.keys.count;
        for rows in self.keys.tiles(self.q.nrows()) {
            let end = self.keys.seen(rows.end - 1);
            let p = match probs {
                Some(probs) => view(&probs[rows.start * tk..rows.end * tk], tk),
                None => {
                    let tile = prefix(&mut scratch.probs, rows.len() * end);
                    self.probabilities(&rows, tile, end);
                    view(tile, end)
                }
            };
            let p = p.slice(s![.., ..end]);
            let d_out = d_out.slice(s![rows.clone(), ..]);
            let d_scores = prefix(&mut scratch.d_scores, rows.len() * end);
            gemm(d_out, self.v.slice(s![..end, ..]).t(), &mut view_mut(d_scores, end), false, false);
            softmax_backward_rows(p, d_scores, self.scale);
            let d_scores = view(d_scores, end);
            gemm(p.t(), d_out, &mut grads.value.slice_mut(s![..end, ..]), true, false);
            gemm(
                d_scores.t(),
                self.q.slice(s![rows.clone(), ..]),
                &mut grads.key.slice_mut(s![..end, ..]),
                true,
                false,
            );
            gemm(d_scores, self.k.slice(s![..end, ..]), &mut grads.query.slice_mut(s![rows, ..]), false, false);
        }
    }

    /// The attention weights of query `rows` into `tile`, row-major with `width` columns:
    /// every key a row of the tile may see, zeros for masked keys up to `width`.
    fn probabilities(&self, rows: &Range<usize>, tile: &mut [f32], width: usize) {
        let end = self.keys.seen(rows.end - 1);
        let mut scores = view_mut(tile, width);
        let q = self.q.slice(s![rows.clone(), ..]);
        gemm(q, self.k.slice(s![..end, ..]).t(), &mut scores.slice_mut(s![.., ..end]), false, false);
        softmax_rows(tile, width, rows.start, &self.keys, self.scale);
    }
}

multiversion! {
    /// Turns the raw scores in each `width`-long row of `tile` (query `first_row` onwards)
    /// into the row's attention weights: scaled, masked, softmax over the keys the query sees,
    /// zeros after them.
    fn softmax_rows(tile: &mut [f32], width: usize, first_row: usize, keys: &Keys<'_>, scale: f32) {
        for (i, row) in (first_row..).zip(tile.chunks_exact_mut(width)) {
            let seen = keys.seen(i);
            let (visible, hidden) = row.split_at_mut(seen);
            hidden.fill(0.0);
            softmax_row(visible, keys.padding.map(|padding| &padding[..seen]), scale);
        }
    }
}

/// `row ← softmax(scale · row)` over the keys `padding` does not hide; hidden keys get 0, and
/// a row with every key hidden becomes zeros.
#[inline(always)]
fn softmax_row(row: &mut [f32], padding: Option<&[bool]>, scale: f32) {
    match padding {
        Some(padding) => {
            for (s, &hidden) in row.iter_mut().zip(padding) {
                *s = if hidden { f32::NEG_INFINITY } else { *s * scale };
            }
        }
        None => row.iter_mut().for_each(|s| *s *= scale),
    }
    let max = lane_reduce(row, f32::NEG_INFINITY, |a, b| if b > a { b } else { a });
    if max == f32::NEG_INFINITY {
        row.fill(0.0);
        return;
    }
    for s in row.iter_mut() {
        *s = if *s == f32::NEG_INFINITY { 0.0 } else { exp(*s - max) };
    }
    let inv = 1.0 / lane_reduce(row, 0.0, |a, b| a + b);
    row.iter_mut().for_each(|s| *s *= inv);
}

multiversion! {
    /// `dS ← scale · P ⊙ (dP − rowsum(dP ⊙ P))` row by row: `d_scores` holds `dP`, row-major
    /// with `p`'s shape.
    fn softmax_backward_rows(p: ArrayView2<'_, f32>, d_scores: &mut [f32], scale: f32) {
        for (p, ds) in p.rows().into_iter().zip(d_scores.chunks_exact_mut(p.ncols().max(1))) {
            let p = p.to_slice().expect("weight rows are contiguous");
            let mut acc = [0.0; LANES];
            let (p_chunks, ds_chunks) = (p.chunks_exact(LANES), ds.chunks_exact(LANES));
            let (p_rest, ds_rest) = (p_chunks.remainder(), ds_chunks.remainder());
            for (p, ds) in p_chunks.zip(ds_chunks) {
                for lane in 0..LANES {
                    acc[lane] += p[lane] * ds[lane];
                }
            }
            for (lane, (p, ds)) in p_rest.iter().zip(ds_rest).enumerate() {
                acc[lane] += p * ds;
            }
            let dot = acc.iter().sum::<f32>();
            for (ds, &p) in ds.iter_mut().zip(p) {
                *ds = scale * p * (*ds - dot);
            }
        }
    }
}

/// `xs` folded with `f` in [`LANES`] independent lanes, then across the lanes, so the loop
/// vectorises; the order depends only on `xs.len()`.
#[inline(always)]
fn lane_reduce(xs: &[f32], init: f32, f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for lane in 0..LANES {
            acc[lane] = f(acc[lane], chunk[lane]);
        }
    }
    for (lane, &x) in rest.iter().enumerate() {
        acc[lane] = f(acc[lane], x);
    }
    acc.into_iter().fold(init, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_row_matches_the_definition_and_masks() {
        let mut row: Vec<f32> = (0..37).map(|j| (j as f32 * 0.37).sin() * 4.0).collect();
        let padding: Vec<bool> = (0..37).map(|j| j % 5 == 3).collect();
        let raw = row.clone();
        softmax_row(&mut row, Some(&padding), 0.5);
        let max = raw.iter().zip(&padding).filter(|(_, h)| !**h).map(|(s, _)| s * 0.5).fold(f32::MIN, f32::max);
        let weights: Vec<f64> =
            raw.iter().zip(&padding).map(|(s, &h)| if h { 0.0 } else { ((s * 0.5 - max) as f64).exp() }).collect();
        let sum: f64 = weights.iter().sum();
        for (got, want) in row.iter().zip(&weights) {
            assert!((*got as f64 - want / sum).abs() < 1e-6, "{got} vs {}", want / sum);
        }
        assert!(row.iter().zip(&padding).all(|(p, &h)| !h || *p == 0.0));
        let mut hidden = vec![1.0; 5];
        softmax_row(&mut hidden, Some(&[true; 5]), 1.0);
        assert_eq!(hidden, vec![0.0; 5]);
    }

    #[test]
    fn causal_tiles_cover_the_rows_once() {
        let keys = Keys { count: 200, causal_offset: Some(3), padding: None };
        let tiles: Vec<_> = keys.tiles(150).collect();
        assert_eq!(tiles, vec![0..64, 64..128, 128..150]);
        assert_eq!(keys.seen(0), 4);
        assert_eq!(keys.seen(199), 200);
        let all = Keys { causal_offset: None, ..keys };
        assert_eq!(all.tiles(150).collect::<Vec<_>>(), vec![0..150]);
        assert_eq!(all.seen(0), 200);
    }
}
