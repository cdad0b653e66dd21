//! Luong attention (Luong et al., 2015), after the decoder RNN: each decoder state `h_t`
//! scores the encoder states `h_s` (`h_tᵀ h_s`, or `h_tᵀ W_a h_s` with the keys precomputed
//! as `W_a h_s`), the scores are softmaxed over the source's valid positions, and the context
//! is the weighted sum of the encoder states. One batched call serves a teacher-forced target;
//! one decoding step also returns the weights for the heat map.

use malmoi_tensor::Tensor;
use malmoi_tensor::kernels::{AttentionMask, attention_forward, scaled_dot_product_attention};
use ndarray::{Array2, Axis, Ix4};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// How a decoder state `h_t` scores an encoder state `h_s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AttentionScore {
    /// `h_tᵀ h_s`.
    Dot,
    /// `h_tᵀ W_a h_s`.
    #[default]
    General,
}

/// The contexts of every decoder state `(batch, target, H)` over `keys` / `values`
/// `(batch, source, H)`, padded source positions (`padding`, `(batch, source)`, true = pad)
/// left out; with gradients, in one fused call.
pub(crate) fn attend_all(decoded: &Tensor, keys: &Tensor, values: &Tensor, padding: &Array2<bool>) -> Result<Tensor> {
    let mask = AttentionMask { key_padding: Some(padding.view()), causal: false };
    let heads = |t: &Tensor| t.unsqueeze(1);
    let context = scaled_dot_product_attention(&heads(decoded)?, &heads(keys)?, &heads(values)?, &mask, Some(1.0))?;
    Ok(context.reshape(&decoded.shape())?)
}

/// Attention of one decoder step `(n, 1, H)`, without gradients: its context and its weights
/// `(n, source)`.
pub(crate) fn attend(
    decoded: &Tensor,
    keys: &Tensor,
    values: &Tensor,
    padding: &Array2<bool>,
) -> Result<(Tensor, Array2<f32>)> {
    let mask = AttentionMask { key_padding: Some(padding.view()), causal: false };
    let as_heads = |t: &Tensor| t.to_array().insert_axis(Axis(1)).into_dimensionality::<Ix4>().expect("3-D states");
    let (query, key, value) = (as_heads(decoded), as_heads(keys), as_heads(values));
    let (context, cache) = attention_forward(query.view(), key.view(), value.view(), &mask, Some(1.0))?;
    let (n, source) = (cache.probs.dim().0, cache.probs.dim().3);
    let attention = cache.probs.into_shape_with_order((n, source)).expect("one query per row");
    let context = context.into_shape_with_order(decoded.shape()).expect("same size").into_dyn();
    Ok((Tensor::constant(context), attention))
}
