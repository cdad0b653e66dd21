//! Layer normalisation.

use super::Module;
use super::init::Init;
use crate::VarBuilder;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Normalises the last axis to zero mean and unit variance, then scales by
/// `weight` and shifts by `bias` (`torch.nn.LayerNorm(dim)`, parameters
/// `weight` and `bias`, initialised to ones and zeros).
///
/// ```
/// use malmoi_tensor::nn::LayerNorm;
/// use malmoi_tensor::{Tensor, VarBuilder};
/// use ndarray::array;
///
/// let norm = LayerNorm::new(3, 1e-5, VarBuilder::fresh(0))?;
/// let y = norm.forward(&Tensor::constant(array![[1.0_f32, 2.0, 3.0]].into_dyn()))?;
/// assert!(y.data().sum().abs() < 1e-5);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LayerNorm {
    /// Per-feature scale, `(dim,)`.
    pub weight: Tensor,
    /// Per-feature shift, `(dim,)`.
    pub bias: Tensor,
    /// Added to the variance before the square root (PyTorch: `1e-5`).
    pub eps: f32,
}

impl LayerNorm {
    /// A layer over `dim` features: `weight` and `bias` under `vb`, fresh ones a unit scale and
    /// a zero shift.
    ///
    /// # Errors
    /// [`Error::Invalid`] for `dim == 0` or a non-positive `eps`; a tensor `vb` lacks or holds
    /// in another shape.
    pub fn new(dim: usize, eps: f32, vb: VarBuilder) -> Result<Self> {
        if dim == 0 || eps.is_nan() || eps <= 0.0 {
            return Err(Error::Invalid { op: "LayerNorm", reason: format!("dim {dim}, eps {eps}") });
        }
        Ok(LayerNorm {
            weight: vb.parameter_or_init(&[dim], "weight", Init::Ones)?,
            bias: vb.parameter_or_init(&[dim], "bias", Init::Zeros)?,
            eps,
        })
    }

    /// Normalises `x (…, dim)`.
    ///
    /// # Errors
    /// [`Error::Shape`] if the last axis of `x` is not `dim`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.layer_norm(Some(&self.weight), Some(&self.bias), self.eps)
    }
}

impl Module for LayerNorm {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        vec![("weight".to_string(), self.weight.clone()), ("bias".to_string(), self.bias.clone())]
    }
}
