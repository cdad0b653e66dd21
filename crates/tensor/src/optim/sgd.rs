//! Stochastic gradient descent with momentum (PyTorch's `torch.optim.SGD`).

use ndarray::Zip;

use super::{Optimizer, ParamSlots, check_range, optimizer_bookkeeping};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// SGD with optional (Nesterov) momentum, dampening and L2 weight decay,
/// with PyTorch's update rule:
///
/// ```text
/// g ← ∇ + λ·θ
/// b ← g on the first step, else μ·b + (1 − τ)·g        (if μ ≠ 0)
/// g ← g + μ·b (Nesterov) or b
/// θ ← θ − η·g
/// ```
///
/// (Keras' momentum `v ← μv − ηg; θ ← θ + v` gives the same trajectory for a
/// constant learning rate.)
///
/// ```
/// use malmoi_tensor::optim::{Optimizer, Sgd};
/// use malmoi_tensor::Tensor;
/// use ndarray::array;
///
/// let w = Tensor::parameter(array![1.0_f32, -2.0].into_dyn());
/// let mut sgd = Sgd::new(vec![("w".into(), w.clone())], 0.1)?.with_momentum(0.9, 0.0, true)?;
/// w.mul(&w)?.sum().backward()?; // grad = 2w
/// sgd.step()?;
/// // Nesterov first step: b = g, update = g + 0.9·g = 1.9·g
/// assert!((w.data()[0] - (1.0 - 0.1 * 1.9 * 2.0)).abs() < 1e-6);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct Sgd {
    slots: ParamSlots,
    learning_rate: f32,
    momentum: f32,
    dampening: f32,
    nesterov: bool,
    weight_decay: f32,
}

impl Sgd {
    /// Plain SGD over named parameters.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a negative learning rate or repeated names.
    pub fn new(params: Vec<(String, Tensor)>, learning_rate: f32) -> Result<Self> {
        check_range("sgd", "learning_rate", learning_rate, 0.0..)?;
        Ok(Sgd {
            slots: ParamSlots::new("sgd", params, &["momentum_buffer"])?,
            learning_rate,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        })
    }

    /// Adds momentum `μ` with dampening `τ`, Nesterov's variant if asked.
    ///
    /// # Errors
    /// [`Error::Invalid`] unless `0 ≤ μ < 1` and `0 ≤ τ ≤ 1`, and for
    /// Nesterov without momentum or with dampening (as PyTorch).
    pub fn with_momentum(mut self, momentum: f32, dampening: f32, nesterov: bool) -> Result<Self> {
        check_range("sgd", "momentum", momentum, 0.0..1.0)?;
        check_range("sgd", "dampening", dampening, 0.0..=1.0)?;
        if nesterov && (momentum == 0.0 || dampening != 0.0) {
            return Err(Error::Invalid {
                op: "sgd",
                reason: "Nesterov momentum needs momentum > 0 and zero dampening".into(),
            });
        }
        (self.momentum, self.dampening, self.nesterov) = (momentum, dampening, nesterov);
        Ok(self)
    }

    /// Adds L2 weight decay `λ` to the gradient.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a negative `λ`.
    pub fn with_weight_decay(mut self, weight_decay: f32) -> Result<Self> {
        check_range("sgd", "weight_decay", weight_decay, 0.0..)?;
        self.weight_decay = weight_decay;
        Ok(self)
    }

    fn update(&mut self) -> Result<()> {
        let (lr, mu, dampening, nesterov, decay) =
            (self.learning_rate, self.momentum, self.dampening, self.nesterov, self.weight_decay);
        self.slots.update(lr, |param, grad, buffers, step, group_decay| {
            let decay = group_decay.unwrap_or(decay);
            Zip::from(param).and(grad).and(&mut buffers[0]).for_each(|p, &g, b| {
                let g = g + decay * *p;
                let direction = if mu == 0.0 {
                    g
                } else {
                    *b = if step == 1 { g } else { mu * *b + (1.0 - dampening) * g };
                    if nesterov { g + mu * *b } else { *b }
                };
                *p -= lr * direction;
            });
        })
    }
}

impl Optimizer for Sgd {
    optimizer_bookkeeping!();
}
