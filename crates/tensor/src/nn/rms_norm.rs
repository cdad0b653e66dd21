//! Root-mean-square layer normalisation (Zhang & Sennrich, 2019), Llama's norm.

use ndarray::ArrayD;

use super::Module;
use super::init::Init;
use crate::VarBuilder;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Scales the last axis by the inverse of its root mean square, then by `weight`:
/// `x / √(mean(x²) + eps) · weight` (`LlamaRMSNorm`, parameter `weight`, initialised to ones).
/// Unlike [`LayerNorm`](super::LayerNorm) it neither subtracts the mean nor adds a bias.
///
/// ```
/// use malmoi_tensor::nn::RmsNorm;
/// use malmoi_tensor::{Tensor, VarBuilder};
/// use ndarray::array;
///
/// let norm = RmsNorm::new(2, 1e-6, VarBuilder::fresh(0))?;
/// let y = norm.forward(&Tensor::constant(array![[3.0_f32, 4.0]].into_dyn()))?;
/// let expected = [3.0 / 12.5f32.sqrt(), 4.0 / 12.5f32.sqrt()];
/// assert!(y.data().iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-5));
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RmsNorm {
    /// Per-feature scale, `(dim,)`.
    pub weight: Tensor,
    /// Added to the mean square before the square root.
    pub eps: f32,
}

impl RmsNorm {
    /// A layer over `dim` features: `weight` under `vb`, a fresh one a unit scale.
    ///
    /// # Errors
    /// [`Error::Invalid`] for `dim == 0` or a non-positive `eps`; a tensor `vb` lacks or holds
    /// in another shape.
    pub fn new(dim: usize, eps: f32, vb: VarBuilder) -> Result<Self> {
        if dim == 0 {
            return Err(Error::Invalid { op: "RmsNorm", reason: "dim 0".into() });
        }
        Self::from_weight(vb.get_or_init(&[dim], "weight", Init::Ones)?, eps)
    }

    /// A layer with a trained scale `(dim,)`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty or non-vector weight, or a non-positive `eps`.
    pub fn from_weight(weight: ArrayD<f32>, eps: f32) -> Result<Self> {
        if weight.ndim() != 1 || weight.is_empty() || eps.is_nan() || eps <= 0.0 {
            return Err(Error::Invalid { op: "RmsNorm", reason: format!("weight {:?}, eps {eps}", weight.shape()) });
        }
        Ok(RmsNorm { weight: Tensor::parameter(weight), eps })
    }

    /// Normalises `x (…, dim)`.
    ///
    /// # Errors
    /// [`Error::Shape`] if the last axis of `x` is not `dim`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dim = self.weight.len();
        if x.shape().last() != Some(&dim) {
            return Err(Error::Shape { op: "RmsNorm", expected: vec![dim], got: x.shape() });
        }
        let inverse_rms = x.mul(x)?.mean_axes(&[-1], true)?.add_scalar(self.eps).powf(-0.5);
        x.mul(&inverse_rms)?.mul(&self.weight)
    }
}

impl Module for RmsNorm {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        vec![("weight".to_string(), self.weight.clone())]
    }
}
