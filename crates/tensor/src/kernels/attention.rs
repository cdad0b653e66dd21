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
//! parallel; each pair runs in tiles of query rows that skip the keys a
//! causal mask hides ([`head`]). Two layouts share that code: heads as their
//! own axis, `(B, heads, T, D)` ([`attention_forward`],
//! [`scaled_dot_product_attention`]), and heads read in place from a fused
//! `(B, T, 3C)` projection and written merged as `(B, T, C)`
//! ([`qkv_attention`]).

mod head;
mod packed;

use std::iter;

use ndarray::{
    Array4, ArrayD, ArrayView2, ArrayView4, ArrayViewMut2, ArrayViewMut3, ArrayViewMut4, CowArray, Ix2, Ix4, s,
};
use rayon::prelude::*;

use self::head::{Head, HeadGrads, Keys, Scratch};
use super::{Result, expect_shape, fixed, invalid};
use crate::tensor::{Tensor, backward_fn};

pub use self::packed::{QkvAttentionCache, qkv_attention, qkv_attention_backward, qkv_attention_forward, split_qkv};

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

/// What [`attention_backward`] needs from the forward pass.
#[derive(Debug, Clone)]
pub struct AttentionCache {
    /// Attention weights `P`, `(B, heads, Tq, Tk)`.
    pub probs: Array4<f32>,
    /// The score scale that was used.
    pub scale: f32,
    /// Whether the causal mask was applied (the backward pass then skips the
    /// keys no query saw).
    pub causal: bool,
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
/// The views may have any strides.
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
    let heads = Heads::new("attention", [query, key, value], mask, scale)?;
    let (batch, n_head, tq, _) = query.dim();
    let (tk, dv) = (key.dim().2, value.dim().3);
    let mut output = Array4::zeros((batch, n_head, tq, dv));
    let mut probs = Array4::zeros((batch, n_head, tq, tk));
    heads.forward(output.view_mut(), Some(row_major(&mut probs)));
    Ok((output, AttentionCache { probs, scale: heads.scale, causal: mask.causal }))
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
    let (batch, n_head, tq, tk) = cache.probs.dim();
    let (d, dv) = (query.dim().3, value.dim().3);
    expect_shape("attention backward", &[batch, n_head, tq, d], query.shape())?;
    expect_shape("attention backward", &[batch, n_head, tk, d], key.shape())?;
    expect_shape("attention backward", &[batch, n_head, tk, dv], value.shape())?;
    expect_shape("attention backward", &[batch, n_head, tq, dv], d_output.shape())?;
    let mask = AttentionMask { key_padding: None, causal: cache.causal };
    let heads = Heads::new("attention backward", [query, key, value], &mask, Some(cache.scale))?;
    let mut grads = AttentionGrads {
        query: Array4::zeros(query.raw_dim()),
        key: Array4::zeros(key.raw_dim()),
        value: Array4::zeros(value.raw_dim()),
    };
    let probs = cache.probs.as_slice().expect("the forward pass allocates row-major weights");
    let d_inputs = [grads.query.view_mut(), grads.key.view_mut(), grads.value.view_mut()];
    heads.backward(d_output, Some(probs), d_inputs);
    Ok(grads)
}

/// The inputs of every (batch, head) pair, `(B, heads, T, ·)` views of any strides, with the
/// mask and scale: what the per-head passes read.
struct Heads<'a, 'm> {
    q: ArrayView4<'a, f32>,
    k: ArrayView4<'a, f32>,
    v: ArrayView4<'a, f32>,
    /// `(B, Tk)` in standard layout, so each batch element's flags are one slice.
    padding: Option<CowArray<'m, bool, Ix2>>,
    causal_offset: Option<usize>,
    scale: f32,
}

impl<'a, 'm> Heads<'a, 'm> {
    /// Checks the shapes of `[query, key, value]` and the mask, and fixes the scale
    /// (default `1/√D`).
    fn new(
        op: &'static str,
        [q, k, v]: [ArrayView4<'a, f32>; 3],
        mask: &AttentionMask<'m>,
        scale: Option<f32>,
    ) -> Result<Self> {
        let (batch, n_head, tq, d) = q.dim();
        let (tk, dv) = (k.dim().2, v.dim().3);
        expect_shape(op, &[batch, n_head, tk, d], k.shape())?;
        expect_shape(op, &[batch, n_head, tk, dv], v.shape())?;
        if let Some(pad) = mask.key_padding {
            expect_shape(op, &[batch, tk], pad.shape())?;
        }
        if tk == 0 || d == 0 || dv == 0 {
            return Err(invalid(op, format!("empty keys or features: Tk={tk}, D={d}, Dv={dv}")));
        }
        if mask.causal && tq > tk {
            return Err(invalid(op, format!("causal mask with {tq} queries but only {tk} keys")));
        }
        Ok(Heads {
            q,
            k,
            v,
            padding: mask.key_padding.map(standard_layout),
            causal_offset: mask.causal.then(|| tk - tq),
            scale: scale.unwrap_or(1.0 / (d as f32).sqrt()),
        })
    }

    /// The pair `index = b · heads + head`.
    fn head(&self, index: usize) -> Head<'_> {
        let n_head = self.q.dim().1;
        let (b, h) = (index / n_head, index % n_head);
        let padding = self.padding.as_ref().map(|pad| pad.row(b).to_slice().expect("standard layout"));
        Head {
            q: self.q.slice(s![b, h, .., ..]),
            k: self.k.slice(s![b, h, .., ..]),
            v: self.v.slice(s![b, h, .., ..]),
            keys: Keys { count: self.k.dim().2, causal_offset: self.causal_offset, padding },
            scale: self.scale,
        }
    }

    /// Writes every pair's output into `out (B, heads, Tq, Dv)` and, when given, its weights
    /// into `probs`, row-major `(B, heads, Tq, Tk)`; pairs in parallel.
    fn forward(&self, out: ArrayViewMut4<f32>, probs: Option<&mut [f32]>) {
        let per_head = (self.q.dim().2 * self.k.dim().2).max(1);
        let probs = probs.into_iter().flat_map(|p| p.chunks_mut(per_head)).map(Some).chain(iter::repeat_with(|| None));
        let work: Vec<_> = heads_mut(out).zip(probs).collect();
        work.into_par_iter().enumerate().for_each_init(Scratch::default, |scratch, (index, (out, probs))| {
            self.head(index).forward(out, probs, scratch)
        });
    }

    /// Back-propagates `d_out (B, heads, Tq, Dv)` into `[d_query, d_key, d_value]` (the last two
    /// zero on entry), from the forward's `probs` if it kept them; pairs in parallel.
    fn backward(&self, d_out: ArrayView4<f32>, probs: Option<&[f32]>, [dq, dk, dv]: [ArrayViewMut4<f32>; 3]) {
        let per_head = (self.q.dim().2 * self.k.dim().2).max(1);
        let probs = probs.into_iter().flat_map(|p| p.chunks(per_head)).map(Some).chain(iter::repeat(None));
        let grads = heads_mut(dq).zip(heads_mut(dk)).zip(heads_mut(dv));
        let work: Vec<_> = grads.map(|((query, key), value)| HeadGrads { query, key, value }).zip(probs).collect();
        let n_head = self.q.dim().1;
        work.into_par_iter().enumerate().for_each_init(Scratch::default, |scratch, (index, (mut grads, probs))| {
            let d_out = d_out.slice(s![index / n_head, index % n_head, .., ..]);
            self.head(index).backward(d_out, probs, &mut grads, scratch);
        });
    }
}

/// The `(T, ·)` matrices of a `(B, heads, T, ·)` view, pair by pair.
fn heads_mut(a: ArrayViewMut4<'_, f32>) -> impl Iterator<Item = ArrayViewMut2<'_, f32>> {
    a.into_outer_iter_mut().flat_map(ArrayViewMut3::into_outer_iter_mut)
}

/// `a` itself when its rows are contiguous, else a standard-layout copy.
fn standard_layout<T: Clone>(a: ArrayView2<'_, T>) -> CowArray<'_, T, Ix2> {
    if a.is_standard_layout() { a.into() } else { a.to_owned().into() }
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
