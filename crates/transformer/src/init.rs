//! GPT-2's initialisation: weights normal with a small standard deviation, biases zero.

use ndarray::{ArrayD, IxDyn};
use rand::Rng;

use malmoi_tensor::nn::{Embedding, Linear, init};

use crate::error::Result;

/// A `Linear(in → out)` with weights `N(0, std²)` and a zero bias.
pub(crate) fn linear(
    in_features: usize,
    out_features: usize,
    bias: bool,
    std: f32,
    rng: &mut impl Rng,
) -> Result<Linear> {
    let weight = init::normal(&[out_features, in_features], 0.0, std, rng)?;
    let bias = bias.then(|| ArrayD::zeros(IxDyn(&[out_features])));
    Ok(Linear::from_weights(weight, bias)?)
}

/// An embedding table with rows `N(0, 0.02²)`.
pub(crate) fn embedding(rows: usize, dim: usize, rng: &mut impl Rng) -> Result<Embedding> {
    Ok(Embedding::from_weights(init::normal(&[rows, dim], 0.0, 0.02, rng)?, None)?)
}
