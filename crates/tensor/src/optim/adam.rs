//! Adam (and, configured for decoupled weight decay, AdamW).

use ndarray::Zip;

use super::{Optimizer, ParamGroup, ParamSlots, check_range, optimizer_bookkeeping};
use crate::error::Result;
use crate::tensor::Tensor;

/// How weight decay `λ` enters the update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum WeightDecay {
    /// Added to the gradient (`g ← g + λθ`): Adam's L2 penalty.
    L2,
    /// Applied to the weights directly (`θ ← θ(1 − ηλ)`): AdamW.
    Decoupled,
}

/// Adam with PyTorch's update rule (`torch.optim.Adam`; defaults
/// `betas = (0.9, 0.999)`, `eps = 1e-8`, no weight decay):
///
/// ```text
/// t ← t + 1;  g ← ∇ + λ·θ
/// m ← β₁·m + (1 − β₁)·g;   v ← β₂·v + (1 − β₂)·g²
/// θ ← θ − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
///
/// [`AdamW::new`](super::AdamW::new) builds the same optimiser with
/// decoupled weight decay.
///
/// ```
/// use malmoi_tensor::optim::{Adam, Optimizer};
/// use malmoi_tensor::Tensor;
/// use ndarray::array;
///
/// let w = Tensor::parameter(array![0.5_f32].into_dyn());
/// let mut adam = Adam::new(vec![("w".into(), w.clone())], 0.01)?;
/// w.mul_scalar(4.0).sum().backward()?;
/// adam.step()?;
/// // the first Adam step moves each weight by about the learning rate
/// assert!((w.data()[0] - (0.5 - 0.01)).abs() < 1e-6);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct Adam {
    slots: ParamSlots,
    learning_rate: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    decay_mode: WeightDecay,
}

impl Adam {
    /// Adam over named parameters with PyTorch's defaults.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::error::Error::Invalid) for a negative
    /// learning rate or repeated names.
    pub fn new(params: Vec<(String, Tensor)>, learning_rate: f32) -> Result<Self> {
        Self::groups(vec![ParamGroup::new(params)], learning_rate)
    }

    /// Adam over parameter groups (each may set its own weight decay, an L2
    /// gradient term here), with PyTorch's defaults otherwise.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::error::Error::Invalid) for a negative
    /// learning rate or group decay, or repeated names.
    pub fn groups(groups: Vec<ParamGroup>, learning_rate: f32) -> Result<Self> {
        Self::build("adam", groups, learning_rate, 0.0, WeightDecay::L2)
    }

    pub(super) fn build(
        kind: &'static str,
        groups: Vec<ParamGroup>,
        learning_rate: f32,
        weight_decay: f32,
        decay_mode: WeightDecay,
    ) -> Result<Self> {
        check_range(kind, "learning_rate", learning_rate, 0.0..)?;
        Ok(Adam {
            slots: ParamSlots::grouped(kind, groups, &["exp_avg", "exp_avg_sq"])?,
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            decay_mode,
        })
    }

    /// Sets the moment decays `β₁`, `β₂` and `ε`.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::error::Error::Invalid) unless both betas are
    /// in `[0, 1)` and `ε ≥ 0`.
    pub fn with_betas(mut self, beta1: f32, beta2: f32, eps: f32) -> Result<Self> {
        check_range(self.slots.kind, "beta1", beta1, 0.0..1.0)?;
        check_range(self.slots.kind, "beta2", beta2, 0.0..1.0)?;
        check_range(self.slots.kind, "eps", eps, 0.0..)?;
        (self.beta1, self.beta2, self.eps) = (beta1, beta2, eps);
        Ok(self)
    }

    /// Sets the weight decay `λ` (an L2 gradient term for Adam, decoupled
    /// for AdamW) of every group that does not set its own.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::error::Error::Invalid) for a negative `λ`.
    pub fn with_weight_decay(mut self, weight_decay: f32) -> Result<Self> {
        check_range(self.slots.kind, "weight_decay", weight_decay, 0.0..)?;
        self.weight_decay = weight_decay;
        Ok(self)
    }

    fn update(&mut self) -> Result<()> {
        let (lr, beta1, beta2, eps) = (self.learning_rate, self.beta1, self.beta2, self.eps);
        let (default_decay, mode) = (self.weight_decay, self.decay_mode);
        self.slots.update(lr, |param, grad, buffers, step, group_decay| {
            let weight_decay = group_decay.unwrap_or(default_decay);
            let (l2, decoupled) = match mode {
                WeightDecay::L2 => (weight_decay, 1.0),
                WeightDecay::Decoupled => (0.0, 1.0 - lr * weight_decay),
            };
            let bias_correction1 = 1.0 - beta1.powi(step as i32);
            let bias_correction2_sqrt = (1.0 - beta2.powi(step as i32)).sqrt();
            let step_size = lr / bias_correction1;
            let (m, v) = buffers.split_at_mut(1);
            Zip::from(param).and(grad).and(&mut m[0]).and(&mut v[0]).for_each(|p, &g, m, v| {
                *p *= decoupled;
                let g = g + l2 * *p;
                *m = beta1 * *m + (1.0 - beta1) * g;
                *v = beta2 * *v + (1.0 - beta2) * g * g;
                *p -= step_size * *m / (v.sqrt() / bias_correction2_sqrt + eps);
            });
        })
    }
}

impl Optimizer for Adam {
    optimizer_bookkeeping!();
}
