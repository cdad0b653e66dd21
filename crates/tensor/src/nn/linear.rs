//! Fully connected layer.

use ndarray::ArrayD;
use rand::Rng;

use super::Module;
use super::init::{self, Fan, Nonlinearity};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// `y = x Wᵀ + b` over the last axis (`torch.nn.Linear`, Keras' `Dense`
/// without activation).
///
/// `weight` is `(out_features, in_features)` as in PyTorch, so PyTorch
/// checkpoints load unchanged; parameters are named `weight` and `bias`.
///
/// ```
/// use malmoi_tensor::nn::Linear;
/// use malmoi_tensor::Tensor;
/// use ndarray::ArrayD;
/// use rand::{SeedableRng, rngs::StdRng};
///
/// let layer = Linear::new(4, 3, true, &mut StdRng::seed_from_u64(0))?;
/// let x = Tensor::constant(ArrayD::ones(&[2, 5, 4][..]));
/// assert_eq!(layer.forward(&x)?.shape(), vec![2, 5, 3]);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Linear {
    /// `(out_features, in_features)`.
    pub weight: Tensor,
    /// `(out_features,)`, if the layer has a bias.
    pub bias: Option<Tensor>,
}

impl Linear {
    /// A layer with PyTorch's default initialisation: weight and bias
    /// uniform in `±1/√in_features`.
    ///
    /// # Errors
    /// [`Error::Invalid`] if `in_features` or `out_features` is zero.
    pub fn new(in_features: usize, out_features: usize, bias: bool, rng: &mut impl Rng) -> Result<Self> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::Invalid { op: "Linear", reason: format!("empty layer {in_features} → {out_features}") });
        }
        let weight = init::kaiming_uniform(&[out_features, in_features], Fan::In, Nonlinearity::LeakyRelu(5f32.sqrt()), rng)?;
        let bound = 1.0 / (in_features as f32).sqrt();
        let bias = bias.then(|| init::uniform(&[out_features], -bound, bound, rng)).transpose()?;
        Self::from_weights(weight, bias)
    }

    /// A layer with the given weight `(out, in)` and optional bias `(out,)`.
    ///
    /// # Errors
    /// [`Error::Shape`] if the shapes do not fit together.
    pub fn from_weights(weight: ArrayD<f32>, bias: Option<ArrayD<f32>>) -> Result<Self> {
        if weight.ndim() != 2 {
            return Err(Error::Invalid { op: "Linear", reason: format!("weight must be 2-D, got {:?}", weight.shape()) });
        }
        if let Some(b) = &bias
            && b.shape() != [weight.shape()[0]]
        {
            return Err(Error::Shape { op: "Linear", expected: vec![weight.shape()[0]], got: b.shape().to_vec() });
        }
        Ok(Linear { weight: Tensor::parameter(weight), bias: bias.map(Tensor::parameter) })
    }

    /// Number of input features.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Number of output features.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }

    /// Applies the layer to `x (…, in_features)`, giving `(…, out_features)`.
    ///
    /// # Errors
    /// [`Error::Shape`] if the last axis of `x` is not `in_features`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.matmul(&self.weight.transpose(0, 1)?)?;
        match &self.bias {
            Some(bias) => y.add(bias),
            None => Ok(y),
        }
    }
}

impl Module for Linear {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut params = vec![("weight".to_string(), self.weight.clone())];
        params.extend(self.bias.iter().map(|b| ("bias".to_string(), b.clone())));
        params
    }
}
