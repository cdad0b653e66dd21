//! Seeded inverted dropout.

use ndarray::{ArrayD, Zip};
use rand::Rng;

use crate::error::{Error, Result};
use crate::tensor::{Tensor, backward_fn};

impl Tensor {
    /// Zeroes each element with probability `p` and scales the rest by
    /// `1 / (1 − p)` (inverted dropout, so evaluation needs no rescaling).
    /// The random mask comes from `rng`, which the caller seeds. Call it only
    /// in training; `p = 0` returns `self` unchanged.
    ///
    /// ```
    /// use malmoi_tensor::Tensor;
    /// use rand::{SeedableRng, rngs::StdRng};
    /// let x = Tensor::constant(ndarray::ArrayD::ones(ndarray::IxDyn(&[1000])));
    /// let y = x.dropout(0.5, &mut StdRng::seed_from_u64(7))?;
    /// let kept = y.data().iter().filter(|&&v| v == 2.0).count();
    /// assert!((400..600).contains(&kept));
    /// # Ok::<(), malmoi_tensor::Error>(())
    /// ```
    pub fn dropout(&self, p: f32, rng: &mut impl Rng) -> Result<Tensor> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::Invalid { op: "dropout", reason: format!("p must be in [0, 1), got {p}") });
        }
        if p == 0.0 {
            return Ok(self.clone());
        }
        let scale = 1.0 / (1.0 - p);
        let data = self.data();
        // `0` for dropped elements, `1 / (1 − p)` for kept ones; the backward multiplies by it too
        let mask: ArrayD<f32> = data.map(|_| if rng.random::<f32>() < p { 0.0 } else { scale });
        let mut value = data.to_owned();
        drop(data);
        Zip::from(&mut value).and(&mask).for_each(|x, &m| *x *= m);
        Ok(Tensor::from_op(value, vec![self.clone()], backward_fn("dropout", move |grad, _| vec![Some(grad * &mask)])))
    }
}
