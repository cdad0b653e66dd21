//! GPT-2's initialisation as [`Init`]s for a [`VarBuilder`]: weights normal with a small
//! standard deviation, biases zero. A loading `VarBuilder` ignores the initialisers and reads
//! the same names.

use malmoi_tensor::VarBuilder;
use malmoi_tensor::nn::init::Init;
use malmoi_tensor::nn::{Embedding, Linear};

use crate::error::Result;

/// GPT-2's and BERT's `initializer_range`.
pub(crate) const STD: f32 = 0.02;

/// `N(0, std²)`.
pub(crate) fn normal(std: f32) -> Init {
    Init::Normal { mean: 0.0, std }
}

/// A `Linear(in → out)` under `vb`, fresh weights `N(0, std²)` and a zero bias.
pub(crate) fn linear(in_features: usize, out_features: usize, bias: bool, std: f32, vb: VarBuilder) -> Result<Linear> {
    Ok(Linear::with_init(in_features, out_features, normal(std), bias.then_some(Init::Zeros), vb)?)
}

/// GPT-2's `Conv1D(in → out)` under `vb` as a `Linear`: a stored weight is `(in, out)` and is
/// transposed on the way in; a fresh one is drawn `(out, in)` from `N(0, std²)`, the bias zero.
pub(crate) fn conv1d(in_features: usize, out_features: usize, bias: bool, std: f32, vb: VarBuilder) -> Result<Linear> {
    let weight = vb.get_transposed_or_init([out_features, in_features], "weight", normal(std))?;
    let bias = bias.then(|| vb.get_or_init(&[out_features], "bias", Init::Zeros)).transpose()?;
    Ok(Linear::from_weights(weight, bias)?)
}

/// An embedding table under `vb`, fresh rows `N(0, 0.02²)`.
pub(crate) fn embedding(rows: usize, dim: usize, vb: VarBuilder) -> Result<Embedding> {
    Ok(Embedding::with_init(rows, dim, None, normal(STD), vb)?)
}
