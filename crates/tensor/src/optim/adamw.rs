//! AdamW: Adam with decoupled weight decay.

use super::ParamGroup;
use super::adam::{Adam, WeightDecay};
use crate::error::Result;
use crate::tensor::Tensor;

/// AdamW (Loshchilov & Hutter; `torch.optim.AdamW`, default weight decay
/// `0.01`): before the Adam update, every weight shrinks by `θ ← θ·(1 − ηλ)`
/// instead of `λθ` being added to the gradient, so the decay is not rescaled
/// by Adam's per-weight step sizes.
///
/// [`AdamW::new`] returns an [`Adam`] configured this way; its builder
/// methods and state handling are Adam's (its state is tagged `"adamw"`).
///
/// ```
/// use malmoi_tensor::optim::{AdamW, Optimizer};
/// use malmoi_tensor::Tensor;
/// use ndarray::array;
///
/// let w = Tensor::parameter(array![2.0_f32].into_dyn());
/// let mut adamw = AdamW::new(vec![("w".into(), w.clone())], 0.1)?.with_weight_decay(0.5)?;
/// w.mul_scalar(0.0).sum().backward()?; // zero gradient: only the decay acts
/// adamw.step()?;
/// assert!((w.data()[0] - 2.0 * (1.0 - 0.1 * 0.5)).abs() < 1e-6);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AdamW;

impl AdamW {
    /// AdamW over named parameters with PyTorch's defaults
    /// (`betas = (0.9, 0.999)`, `eps = 1e-8`, `weight_decay = 0.01`).
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::error::Error::Invalid) for a negative
    /// learning rate or repeated names.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(params: Vec<(String, Tensor)>, learning_rate: f32) -> Result<Adam> {
        Self::groups(vec![ParamGroup::new(params)], learning_rate)
    }

    /// AdamW over parameter groups, each with its own decoupled weight decay
    /// (`torch.optim.AdamW([{"params": …, "weight_decay": …}, …])`); one
    /// optimiser and one state file for the whole model.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::error::Error::Invalid) for a negative
    /// learning rate or group decay, or repeated names.
    #[allow(clippy::new_ret_no_self)]
    pub fn groups(groups: Vec<ParamGroup>, learning_rate: f32) -> Result<Adam> {
        Adam::build("adamw", groups, learning_rate, 0.01, WeightDecay::Decoupled)
    }
}
