//! Multi-head self-attention read straight from a fused query/key/value projection.
//!
//! GPT-2's `c_attn` gives `qkv (B, T, 3C)`: queries, keys and values as three column blocks of
//! width `C`, each head a sub-block of width `D = C / heads`. Splitting the heads out as
//! `(B, heads, T, D)` arrays and merging the output back costs a dozen full copies per layer
//! (forward and backward); here every head is a strided view of `qkv`, the output is written
//! in place as `(B, T, C)` (the layout the output projection reads) and the backward pass
//! writes one `(B, T, 3C)` gradient. Nothing of size `T × T` is kept between the passes: the
//! backward pass recomputes each tile's weights from `qkv`.

use std::array;

use ndarray::{
    Array2, Array3, ArrayBase, ArrayD, ArrayView3, ArrayView4, ArrayViewMut3, ArrayViewMut4, Ix3, Ix5, RawData,
};

use super::{AttentionMask, Heads, standard_layout};
use crate::kernels::{Result, expect_shape, fixed, invalid};
use crate::tensor::{Tensor, backward_fn};

/// What [`qkv_attention_backward`] needs from the forward pass: the settings, not the weights.
#[derive(Debug, Clone)]
pub struct QkvAttentionCache {
    /// Number of heads.
    pub n_head: usize,
    /// The score scale that was used.
    pub scale: f32,
    /// Whether the causal mask was applied.
    pub causal: bool,
    /// The key-padding mask `(B, T)`, if any.
    pub key_padding: Option<Array2<bool>>,
}

impl QkvAttentionCache {
    /// The mask of the forward pass.
    fn mask(&self) -> AttentionMask<'_> {
        AttentionMask { key_padding: self.key_padding.as_ref().map(|pad| pad.view()), causal: self.causal }
    }
}

/// Self-attention of `n_head` heads over `qkv (B, T, 3C)` (queries, keys, values as column
/// blocks, heads as sub-blocks of width `D = C / n_head`, any strides); returns `(B, T, C)`
/// with the heads side by side: what splitting the heads out, [`attention_forward`] and
/// merging them back give. `scale` defaults to `1/√D`; the mask's key padding is `(B, T)`.
///
/// [`attention_forward`]: super::attention_forward
///
/// # Errors
/// [`Error::Invalid`](crate::error::Error::Invalid) when the width is not `3 · n_head · D` with
/// `D ≥ 1`, or `T = 0`; [`Error::Shape`](crate::error::Error::Shape) for a padding mask of
/// another shape.
pub fn qkv_attention_forward(
    qkv: ArrayView3<f32>,
    n_head: usize,
    mask: &AttentionMask,
    scale: Option<f32>,
) -> Result<(Array3<f32>, QkvAttentionCache)> {
    let (batch, t, width) = qkv.dim();
    check_width("qkv attention", width, n_head)?;
    let qkv = qkv.as_standard_layout();
    let heads = Heads::new("qkv attention", parts(qkv.view(), n_head), mask, scale)?;
    let mut output = Array3::zeros((batch, t, width / 3));
    let [out] = parts_mut(output.view_mut(), n_head);
    heads.forward(out, None);
    let key_padding = mask.key_padding.map(|pad| standard_layout(pad).into_owned());
    Ok((output, QkvAttentionCache { n_head, scale: heads.scale, causal: mask.causal, key_padding }))
}

/// Back-propagates `d_output (B, T, C)` through [`qkv_attention_forward`] called with this
/// `qkv`; returns the gradient of `qkv`, `(B, T, 3C)`.
///
/// # Errors
/// [`Error::Shape`](crate::error::Error::Shape) if `qkv` or `d_output` do not match the cached
/// forward pass.
pub fn qkv_attention_backward(
    cache: &QkvAttentionCache,
    qkv: ArrayView3<f32>,
    d_output: ArrayView3<f32>,
) -> Result<Array3<f32>> {
    let (batch, t, width) = qkv.dim();
    check_width("qkv attention backward", width, cache.n_head)?;
    expect_shape("qkv attention backward", &[batch, t, width / 3], d_output.shape())?;
    let qkv = qkv.as_standard_layout();
    let mask = cache.mask();
    let heads = Heads::new("qkv attention backward", parts(qkv.view(), cache.n_head), &mask, Some(cache.scale))?;
    let d_output = d_output.as_standard_layout();
    let [d_out] = parts(d_output.view(), cache.n_head);
    let mut d_qkv = Array3::zeros((batch, t, width));
    heads.backward(d_out, None, parts_mut(d_qkv.view_mut(), cache.n_head));
    Ok(d_qkv)
}

/// [`qkv_attention_forward`] as one autograd operation: `qkv (B, T, 3C)` gives `(B, T, C)`,
/// and the backward pass writes the gradient of `qkv` directly.
///
/// ```
/// use malmoi_tensor::Tensor;
/// use malmoi_tensor::kernels::{AttentionMask, qkv_attention};
/// use ndarray::ArrayD;
///
/// let qkv = Tensor::parameter(ArrayD::from_shape_fn(&[2, 5, 12][..], |i| (i[1] * 12 + i[2]) as f32 * 0.01));
/// let mask = AttentionMask { key_padding: None, causal: true };
/// let y = qkv_attention(&qkv, 2, &mask, None)?;
/// assert_eq!(y.shape(), vec![2, 5, 4]);
/// y.sum().backward()?;
/// assert_eq!(qkv.grad().unwrap().shape(), &[2, 5, 12]);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
///
/// # Errors
/// As [`qkv_attention_forward`], plus [`Error::Invalid`](crate::error::Error::Invalid) when
/// `qkv` is not 3-D.
pub fn qkv_attention(qkv: &Tensor, n_head: usize, mask: &AttentionMask, scale: Option<f32>) -> Result<Tensor> {
    let (output, cache) = qkv_attention_forward(fixed("qkv attention", &qkv.data())?, n_head, mask, scale)?;
    let backward = backward_fn("qkv_attention", move |grad, parents| {
        let qkv = parents[0].data();
        let d_qkv =
            qkv_attention_backward(&cache, view3(&qkv), view3(grad)).expect("shapes were checked by the forward pass");
        vec![Some(d_qkv.into_dyn())]
    });
    Ok(Tensor::from_op(output.into_dyn(), vec![qkv.clone()], backward))
}

/// The queries, keys and values of `qkv (B, T, 3C)` as `(B, n_head, T, C / n_head)` views
/// into it, without a copy: for callers that run [`attention_forward`] on them (a key/value
/// cache, the attention weights).
///
/// [`attention_forward`]: super::attention_forward
///
/// # Errors
/// [`Error::Invalid`](crate::error::Error::Invalid) when `qkv`'s rows are not contiguous
/// (`as_standard_layout` first) or its width is not `3 · n_head · D` with `D ≥ 1`.
pub fn split_qkv(qkv: ArrayView3<'_, f32>, n_head: usize) -> Result<[ArrayView4<'_, f32>; 3]> {
    check_width("split qkv", qkv.dim().2, n_head)?;
    if !qkv.is_standard_layout() {
        return Err(invalid("split qkv", "the (B, T, 3C) array is not in standard layout".into()));
    }
    Ok(parts(qkv, n_head))
}

/// Checks that `width` is `3 · n_head · D` with `D ≥ 1`.
fn check_width(op: &'static str, width: usize, n_head: usize) -> Result<()> {
    if n_head == 0 || width == 0 || !width.is_multiple_of(3 * n_head) {
        return Err(invalid(op, format!("width {width} does not split into 3 × {n_head} heads")));
    }
    Ok(())
}

/// A 3-D array that the forward pass already checked.
fn view3(a: &ArrayD<f32>) -> ArrayView3<'_, f32> {
    a.view().into_dimensionality::<Ix3>().expect("checked by the forward pass")
}

/// `(B, T, P · heads · D)` in standard layout as `(P, B, heads, T, D)`, without a copy.
fn blocks<S: RawData<Elem = f32>>(a: ArrayBase<S, Ix3>, parts: usize, n_head: usize) -> ArrayBase<S, Ix5> {
    let (batch, t, width) = a.dim();
    a.into_shape_with_order((batch, t, parts, n_head, width / (parts * n_head)))
        .expect("a standard-layout buffer")
        .permuted_axes([2, 0, 3, 1, 4])
}

/// The `P` column blocks of a standard-layout `(B, T, P · heads · D)` view, each as
/// `(B, heads, T, D)`.
fn parts<const P: usize>(a: ArrayView3<'_, f32>, n_head: usize) -> [ArrayView4<'_, f32>; P] {
    let mut blocks = blocks(a, P, n_head).into_outer_iter();
    array::from_fn(|_| blocks.next().expect("P blocks"))
}

/// [`parts`] of a mutable view.
fn parts_mut<const P: usize>(a: ArrayViewMut3<'_, f32>, n_head: usize) -> [ArrayViewMut4<'_, f32>; P] {
    let mut blocks = blocks(a, P, n_head).into_outer_iter_mut();
    array::from_fn(|_| blocks.next().expect("P blocks"))
}
