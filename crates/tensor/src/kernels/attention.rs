//! Scaled dot-product attention with key-padding and causal masks.
//!
//! For each batch element and head, with queries `Q (Tq, D)`, keys
//! `K (Tk, D)` and values `V (Tk, Dv)`:
//!
//! ```text
//! S = scale · Q Kᵀ      (masked entries set to −∞)
//! P = softmax(S)        (row-wise, max-subtracted)
//! O = P V
//! ```
//!
//! and backwards `dV = Pᵀ dO`, `dP = dO Vᵀ`, `dS = P ⊙ (dP − rowsum(dP ⊙ P))`,
//! `dQ = scale · dS K`, `dK = scale · dSᵀ Q`. Batch elements × heads run in
//! parallel.

use ndarray::{Array2, Array4, ArrayD, ArrayView2, ArrayView4, Ix4, s};
use rayon::prelude::*;

use super::{Result, expect_shape, fixed, gemm, invalid, view, view_mut};
use crate::tensor::{Tensor, backward_fn};

/// Which keys each query may attend to.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttentionMask<'a> {
    /// `(B, Tk)`; `true` marks a padding key that no query attends to (the
    /// convention of `nn.MultiheadAttention`'s `key_padding_mask`).
    pub key_padding: Option<ArrayView2<'a, bool>>,
    /// Query `i` attends only to keys `j ≤ i + (Tk − Tq)`: the queries are the
    /// last `Tq` positions of the `Tk` keys. With `Tq == Tk` this is PyTorch's
    /// `is_causal=True`; with a key/value cache (`Tq < Tk`) it lets new tokens
    /// see every earlier one.
    pub causal: bool,
}

impl AttentionMask<'_> {
    /// True when query `i` of batch element `b` may not see key `j`.
    #[inline]
    fn hides(&self, b: usize, i: usize, j: usize, offset: usize) -> bool {
        (self.causal && j > i + offset) || self.key_padding.is_some_and(|pad| pad[[b, j]])
    }
}

/// What [`attention_backward`] needs from the forward pass.
#[derive(Debug, Clone)]
pub struct AttentionCache {
    /// Attention weights `P`, `(B, heads, Tq, Tk)`.
    pub probs: Array4<f32>,
    /// The score scale that was used.
    pub scale: f32,
}

/// Gradients of the queries, keys and values.
#[derive(Debug, Clone)]
pub struct AttentionGrads {
    /// `(B, heads, Tq, D)`.
    pub query: Array4<f32>,
    /// `(B, heads, Tk, D)`.
    pub key: Array4<f32>,
    /// `(B, heads, Tk, Dv)`.
    pub value: Array4<f32>,
}

/// Attention of `query (B, heads, Tq, D)` over `key (B, heads, Tk, D)` and
/// `value (B, heads, Tk, Dv)`; returns `(B, heads, Tq, Dv)` and the cache.
///
/// `scale` defaults to `1/√D`. A query whose keys are all masked gets a zero
/// output and zero gradients (PyTorch returns NaN there).
///
/// # Errors
/// [`Error::Shape`](crate::error::Error::Shape) if the shapes disagree;
/// [`Error::Invalid`](crate::error::Error::Invalid) for a causal mask with
/// more queries than keys.
pub fn attention_forward(
    query: ArrayView4<f32>,
    key: ArrayView4<f32>,
    value: ArrayView4<f32>,
    mask: &AttentionMask,
    scale: Option<f32>,
) -> Result<(Array4<f32>, AttentionCache)> {
    let (batch, heads, tq, d) = query.dim();
    let (tk, dv) = (key.dim().2, value.dim().3);
    expect_shape("attention", &[batch, heads, tk, d], key.shape())?;
    expect_shape("attention", &[batch, heads, tk, dv], value.shape())?;
    if let Some(pad) = mask.key_padding {
        expect_shape("attention", &[batch, tk], pad.shape())?;
    }
    if tk == 0 || d == 0 || dv == 0 {
        return Err(invalid("attention", format!("empty keys or features: Tk={tk}, D={d}, Dv={dv}")));
    }
    if mask.causal && tq > tk {
        return Err(invalid("attention", format!("causal mask with {tq} queries but only {tk} keys")));
    }
    let scale = scale.unwrap_or(1.0 / (d as f32).sqrt());
    let offset = tk.saturating_sub(tq); // read only by the causal mask, which needs tq ≤ tk

    let mut output = Array4::zeros((batch, heads, tq, dv));
    let mut probs = Array4::zeros((batch, heads, tq, tk));
    per_head(&mut output, &mut probs, |index, out, p| {
        let (b, head) = (index / heads, index % heads);
        let q = query.slice(s![b, head, .., ..]);
        let k = key.slice(s![b, head, .., ..]);
        let v = value.slice(s![b, head, .., ..]);
        let mut scores = view_mut(p, tk);
        gemm(q, k.t(), &mut scores, false, false);
        for (i, mut row) in scores.rows_mut().into_iter().enumerate() {
            let row = row.as_slice_mut().expect("row-major scores");
            for (j, s) in row.iter_mut().enumerate() {
                *s = if mask.hides(b, i, j, offset) { f32::NEG_INFINITY } else { *s * scale };
            }
            softmax_in_place(row);
        }
        gemm(view(p, tk), v, &mut view_mut(out, dv), false, false);
    });
    Ok((output, AttentionCache { probs, scale }))
}

/// Row softmax over the unmasked (finite) entries; an all-masked row becomes zeros.
fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        row.fill(0.0);
        return;
    }
    let mut sum = 0.0;
    for s in row.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|s| *s *= inv);
}

/// Back-propagates `d_output (B, heads, Tq, Dv)` through [`attention_forward`]
/// called with these `query`, `key` and `value`.
///
/// # Errors
/// [`Error::Shape`](crate::error::Error::Shape) if `d_output` or the inputs do
/// not match the cached forward pass.
pub fn attention_backward(
    cache: &AttentionCache,
    query: ArrayView4<f32>,
    key: ArrayView4<f32>,
    value: ArrayView4<f32>,
    d_output: ArrayView4<f32>,
) -> Result<AttentionGrads> {
    let (batch, heads, tq, tk) = cache.probs.dim();
    let (d, dv) = (query.dim().3, value.dim().3);
    expect_shape("attention backward", &[batch, heads, tq, d], query.shape())?;
    expect_shape("attention backward", &[batch, heads, tk, d], key.shape())?;
    expect_shape("attention backward", &[batch, heads, tk, dv], value.shape())?;
    expect_shape("attention backward", &[batch, heads, tq, dv], d_output.shape())?;

    let mut d_query = Array4::zeros((batch, heads, tq, d));
    let mut d_key = Array4::zeros((batch, heads, tk, d));
    let mut d_value = Array4::zeros((batch, heads, tk, dv));
    let probs = cache.probs.as_slice().expect("row-major probabilities");
    row_major(&mut d_query)
        .par_chunks_mut((tq * d).max(1))
        .zip(row_major(&mut d_key).par_chunks_mut(tk * d))
        .zip(row_major(&mut d_value).par_chunks_mut(tk * dv))
        .enumerate()
        .for_each(|(index, ((dq, dk), dval))| {
            let (b, head) = (index / heads, index % heads);
            let p = view(&probs[index * tq * tk..(index + 1) * tq * tk], tk);
            let d_out = d_output.slice(s![b, head, .., ..]);
            gemm(p.t(), d_out, &mut view_mut(dval, dv), false, false);
            let mut d_scores = Array2::zeros((tq, tk));
            gemm(d_out, value.slice(s![b, head, .., ..]).t(), &mut d_scores.view_mut(), false, false);
            for (mut ds, p) in d_scores.rows_mut().into_iter().zip(p.rows()) {
                let dot: f32 = ds.iter().zip(p.iter()).map(|(g, p)| g * p).sum();
                ds.zip_mut_with(&p, |g, &p| *g = cache.scale * p * (*g - dot));
            }
            gemm(d_scores.view(), key.slice(s![b, head, .., ..]), &mut view_mut(dq, d), false, false);
            gemm(d_scores.t(), query.slice(s![b, head, .., ..]), &mut view_mut(dk, d), false, false);
        });
    Ok(AttentionGrads { query: d_query, key: d_key, value: d_value })
}

/// Runs `f(index, output block, probability block)` for every (batch, head)
/// pair in parallel, `index = b · heads + head`.
fn per_head(output: &mut Array4<f32>, probs: &mut Array4<f32>, f: impl Fn(usize, &mut [f32], &mut [f32]) + Sync) {
    let (_, _, tq, dv) = output.dim();
    let tk = probs.dim().3;
    row_major(output)
        .par_chunks_mut((tq * dv).max(1))
        .zip(row_major(probs).par_chunks_mut((tq * tk).max(1)))
        .enumerate()
        .for_each(|(index, (out, p))| f(index, out, p));
}

/// The elements of an array this module allocated, in row-major order.
fn row_major(a: &mut Array4<f32>) -> &mut [f32] {
    a.as_slice_mut().expect("kernel buffers are row-major")
}

/// Scaled dot-product attention as one autograd operation, like
/// `torch.nn.functional.scaled_dot_product_attention`: `query
/// (B, heads, Tq, D)`, `key (B, heads, Tk, D)`, `value (B, heads, Tk, Dv)`
/// give `(B, heads, Tq, Dv)`. See [`attention_forward`] for the mask and
/// `scale`.
///
/// ```
/// use malmoi_tensor::Tensor;
/// use malmoi_tensor::kernels::{AttentionMask, scaled_dot_product_attention};
/// use ndarray::{Array2, ArrayD};
///
/// let q = Tensor::parameter(ArrayD::from_elem(&[1, 2, 3, 4][..], 0.5));
/// let kv = Tensor::parameter(ArrayD::from_elem(&[1, 2, 3, 4][..], 0.25));
/// let padding = Array2::from_shape_vec((1, 3), vec![false, false, true]).unwrap();
/// let mask = AttentionMask { key_padding: Some(padding.view()), causal: true };
/// let out = scaled_dot_product_attention(&q, &kv, &kv, &mask, None)?;
/// assert_eq!(out.shape(), vec![1, 2, 3, 4]);
/// out.sum().backward()?;
/// assert!(q.grad().is_some());
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
///
/// # Errors
/// As [`attention_forward`], plus [`Error::Invalid`](crate::error::Error::Invalid)
/// when a tensor is not 4-D.
pub fn scaled_dot_product_attention(
    query: &Tensor,
    key: &Tensor,
    value: &Tensor,
    mask: &AttentionMask,
    scale: Option<f32>,
) -> Result<Tensor> {
    let (output, cache) = {
        let (q, k, v) = (query.data(), key.data(), value.data());
        attention_forward(fixed("attention", &q)?, fixed("attention", &k)?, fixed("attention", &v)?, mask, scale)?
    };
    let parents = vec![query.clone(), key.clone(), value.clone()];
    let backward = backward_fn("scaled_dot_product_attention", move |grad, parents| {
        let (q, k, v) = (parents[0].data(), parents[1].data(), parents[2].data());
        let grads = attention_backward(&cache, view4(&q), view4(&k), view4(&v), view4(grad))
            .expect("shapes were checked by the forward pass");
        vec![Some(grads.query.into_dyn()), Some(grads.key.into_dyn()), Some(grads.value.into_dyn())]
    });
    Ok(Tensor::from_op(output.into_dyn(), parents, backward))
}

/// A 4-D array that the forward pass already checked.
fn view4(a: &ArrayD<f32>) -> ArrayView4<'_, f32> {
    a.view().into_dimensionality::<Ix4>().expect("checked by the forward pass")
}
