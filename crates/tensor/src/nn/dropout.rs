//! Dropout layer with train / eval modes.

use std::sync::Mutex;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::Module;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Inverted dropout that is active only in training mode
/// (`torch.nn.Dropout`, Keras' `Dropout`); it has no parameters.
///
/// Masks come from the layer's own generator, seeded at construction, so a
/// run is reproducible. Layers start in training mode;
/// [`Module::set_training`]`(false)` makes `forward` the identity.
///
/// ```
/// use malmoi_tensor::nn::{Dropout, Module};
/// use malmoi_tensor::Tensor;
/// use ndarray::ArrayD;
///
/// let mut dropout = Dropout::new(0.5, 7)?;
/// let x = Tensor::constant(ArrayD::ones(&[100][..]));
/// assert!(dropout.forward(&x)?.data().iter().any(|&v| v == 0.0));
/// dropout.set_training(false);
/// assert_eq!(*dropout.forward(&x)?.data(), *x.data());
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct Dropout {
    p: f32,
    training: bool,
    rng: Mutex<StdRng>,
}

impl Dropout {
    /// Drops each element with probability `p` during training.
    ///
    /// # Errors
    /// [`Error::Invalid`] unless `0 ≤ p < 1`.
    pub fn new(p: f32, seed: u64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::Invalid { op: "Dropout", reason: format!("p must be in [0, 1), got {p}") });
        }
        Ok(Dropout { p, training: true, rng: Mutex::new(StdRng::seed_from_u64(seed)) })
    }

    /// The drop probability.
    pub fn p(&self) -> f32 {
        self.p
    }

    /// True in training mode.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Restarts the masks' generator from `seed`, as if the layer had been built with it; a
    /// trainer does it before each step with that step's seed, so a resumed run draws the masks
    /// the uninterrupted one drew.
    pub fn reseed(&self, seed: u64) {
        *self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = StdRng::seed_from_u64(seed);
    }

    /// Zeroes elements of `x` with probability `p` and scales the rest by
    /// `1/(1 − p)` in training mode; returns `x` unchanged in evaluation mode.
    ///
    /// # Errors
    /// Only those of [`Tensor::dropout`].
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !self.training || self.p == 0.0 {
            return Ok(x.clone());
        }
        let mut rng = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        x.dropout(self.p, &mut *rng)
    }
}

impl Module for Dropout {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}
