//! RMSprop with Keras' defaults and formula.

use ndarray::Zip;

use super::{Optimizer, ParamSlots, check_range, optimizer_bookkeeping};
use crate::error::Result;
use crate::ops::PARALLEL_MIN_ELEMENTS;
use crate::tensor::Tensor;

/// State of the default rule.
const PLAIN_BUFFERS: &[&str] = &["velocity"];
/// State with momentum or centring.
const FULL_BUFFERS: &[&str] = &["velocity", "momentum", "average_gradient"];

/// RMSprop as Keras implements it (`keras.optimizers.RMSprop`; defaults
/// `learning_rate = 0.001`, `rho = 0.9`, `epsilon = 1e-7`, no momentum, not
/// centred):
///
/// ```text
/// v ← ρ·v + (1 − ρ)·g²
/// a ← ρ·a + (1 − ρ)·g                    (centred only)
/// Δ ← η·g / √(v − a² + ε)                (ε inside the square root)
/// m ← μ·m + Δ;  θ ← θ − m                (θ ← θ − Δ without momentum)
/// ```
///
/// PyTorch's `torch.optim.RMSprop` differs in where ε goes: it divides by
/// `√v + ε` (outside the root), and its defaults are `lr = 0.01`,
/// `alpha = 0.99`, `eps = 1e-8`. With Keras' ε = 1e-7 inside the root, the
/// floor on the denominator is √1e-7 ≈ 3.2e-4 rather than 1e-7, which damps
/// the first steps of rarely-updated weights (embedding rows) much more.
/// The lecture's model trains with Keras, so this follows Keras.
///
/// ```
/// use malmoi_tensor::optim::{Optimizer, RmsProp};
/// use malmoi_tensor::Tensor;
/// use ndarray::array;
///
/// let w = Tensor::parameter(array![1.0_f32].into_dyn());
/// let mut rmsprop = RmsProp::new(vec![("w".into(), w.clone())])?;
/// w.mul_scalar(3.0).sum().backward()?; // grad = 3
/// rmsprop.step()?;
/// let v = 0.1 * 9.0_f32;
/// assert!((w.data()[0] - (1.0 - 0.001 * 3.0 / (v + 1e-7).sqrt())).abs() < 1e-7);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct RmsProp {
    slots: ParamSlots,
    learning_rate: f32,
    rho: f32,
    epsilon: f32,
    momentum: f32,
    centered: bool,
}

impl RmsProp {
    /// RMSprop with Keras' defaults.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::error::Error::Invalid) for repeated names.
    pub fn new(params: Vec<(String, Tensor)>) -> Result<Self> {
        Ok(RmsProp {
            slots: ParamSlots::new("rmsprop", params, PLAIN_BUFFERS)?,
            learning_rate: 0.001,
            rho: 0.9,
            epsilon: 1e-7,
            momentum: 0.0,
            centered: false,
        })
    }

    /// Sets the learning rate `η`.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::error::Error::Invalid) if negative.
    pub fn with_learning_rate(mut self, learning_rate: f32) -> Result<Self> {
        check_range("rmsprop", "learning_rate", learning_rate, 0.0..)?;
        self.learning_rate = learning_rate;
        Ok(self)
    }

    /// Sets the decay `ρ` of the squared-gradient average and `ε`.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::error::Error::Invalid) unless `0 ≤ ρ < 1` and `ε > 0`.
    pub fn with_rho_epsilon(mut self, rho: f32, epsilon: f32) -> Result<Self> {
        check_range("rmsprop", "rho", rho, 0.0..1.0)?;
        check_range("rmsprop", "epsilon", epsilon, f32::MIN_POSITIVE..)?;
        (self.rho, self.epsilon) = (rho, epsilon);
        Ok(self)
    }

    /// Adds momentum `μ` and/or centring (normalising by the gradient's
    /// estimated variance instead of its second moment).
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::error::Error::Invalid) unless `0 ≤ μ < 1`.
    pub fn with_momentum(mut self, momentum: f32, centered: bool) -> Result<Self> {
        check_range("rmsprop", "momentum", momentum, 0.0..1.0)?;
        (self.momentum, self.centered) = (momentum, centered);
        if momentum > 0.0 || centered {
            let params = std::mem::take(&mut self.slots.params);
            self.slots = ParamSlots::new("rmsprop", params, FULL_BUFFERS)?;
        }
        Ok(self)
    }

    fn update(&mut self) -> Result<()> {
        let (lr, rho, eps, mu, centered) = (self.learning_rate, self.rho, self.epsilon, self.momentum, self.centered);
        self.slots.update(lr, |param, grad, buffers, _, _| {
            let [velocity, momentum, average] = buffers else {
                // the plain (default) rule keeps only the velocity; a large table (an
                // embedding) is split over the rayon threads: sqrt and division per element
                // make it compute-bound
                let zip = Zip::from(param).and(grad).and(&mut buffers[0]);
                let rule = |p: &mut f32, &g: &f32, v: &mut f32| {
                    *v = rho * *v + (1.0 - rho) * g * g;
                    *p -= lr * g / (*v + eps).sqrt();
                };
                if zip.size() >= PARALLEL_MIN_ELEMENTS {
                    zip.par_for_each(rule);
                } else {
                    zip.for_each(rule);
                }
                return;
            };
            Zip::from(param).and(grad).and(velocity).and(momentum).and(average).for_each(|p, &g, v, m, a| {
                *v = rho * *v + (1.0 - rho) * g * g;
                let mut denominator = *v + eps;
                if centered {
                    *a = rho * *a + (1.0 - rho) * g;
                    denominator -= *a * *a;
                }
                let increment = lr * g / denominator.sqrt();
                if mu > 0.0 {
                    *m = mu * *m + increment;
                    *p -= *m;
                } else {
                    *p -= increment;
                }
            });
        })
    }
}

impl Optimizer for RmsProp {
    optimizer_bookkeeping!();
}
