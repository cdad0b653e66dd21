//! Numerically stable `softmax` and `log_softmax` along an axis.
//!
//! Both subtract each lane's maximum before exponentiating, so large logits
//! never overflow; the backward passes use the saved output only.

use ndarray::{ArrayD, ArrayViewMut1, Axis, Zip};

use super::{PARALLEL_MIN_ELEMENTS, normalize_axis};
use crate::error::Result;
use crate::tensor::{Tensor, backward_fn, grad_needed};

/// The gradient of `softmax` / `log_softmax` along `axis` from the saved output `y`:
/// softmax `∂x = y ⊙ (g − Σ g⊙y)`, log-softmax `∂x = g − eʸ Σ g`.
fn softmax_grad(grad: &ArrayD<f32>, output: &ArrayD<f32>, axis: usize, log: bool) -> ArrayD<f32> {
    let mut out = grad.clone();
    let axis = Axis(axis);
    let parallel = out.len() >= PARALLEL_MIN_ELEMENTS;
    zip_for_each!(parallel, Zip::from(out.lanes_mut(axis)).and(output.lanes(axis)), |mut g, y| {
        if log {
            let total: f32 = g.sum();
            g.zip_mut_with(&y, |g, &y| *g -= y.exp() * total);
        } else {
            let dot: f32 = g.iter().zip(y.iter()).map(|(g, y)| g * y).sum();
            g.zip_mut_with(&y, |g, &y| *g = y * (*g - dot));
        }
    });
    out
}

/// In-place stable softmax (or log-softmax) of one lane; returns the
/// shift `max` and `Σ e^(x − max)`, so `log Σ e^x = max + ln(total)`.
pub(crate) fn softmax_lane(mut lane: ArrayViewMut1<'_, f32>, log: bool) -> (f32, f32) {
    let max = lane.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let max = if max.is_finite() { max } else { 0.0 };
    if log {
        let total = lane.iter().map(|&v| (v - max).exp()).sum::<f32>();
        let log_total = total.ln();
        lane.mapv_inplace(|v| v - max - log_total);
        (max, total)
    } else {
        lane.mapv_inplace(|v| (v - max).exp());
        let total: f32 = lane.sum();
        let inverse = 1.0 / total;
        lane.mapv_inplace(|v| v * inverse);
        (max, total)
    }
}

impl Tensor {
    fn softmax_impl(&self, axis: isize, log: bool) -> Result<Tensor> {
        let op = if log { "log_softmax" } else { "softmax" };
        let mut value = self.data().to_owned();
        let axis = normalize_axis(op, axis, value.ndim())?;
        let parallel = value.len() >= PARALLEL_MIN_ELEMENTS;
        zip_for_each!(parallel, Zip::from(value.lanes_mut(Axis(axis))), |lane| {
            softmax_lane(lane, log);
        });
        let output = if grad_needed(&[self]) { value.clone() } else { ArrayD::zeros(ndarray::IxDyn(&[])) };
        let backward = backward_fn(op, move |grad, _| vec![Some(softmax_grad(grad, &output, axis, log))]);
        Ok(Tensor::from_op(value, vec![self.clone()], backward))
    }

    /// `exp(x) / Σ exp(x)` along `axis` (negative allowed), computed stably.
    pub fn softmax(&self, axis: isize) -> Result<Tensor> {
        self.softmax_impl(axis, false)
    }

    /// `x − log Σ exp(x)` along `axis`, computed stably (no `log(0)`).
    pub fn log_softmax(&self, axis: isize) -> Result<Tensor> {
        self.softmax_impl(axis, true)
    }
}
