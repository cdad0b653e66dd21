//! Gradient-norm clipping (`torch.nn.utils.clip_grad_norm_`).

use ndarray::ArrayD;

use crate::error::{Error, Result};
use crate::row_grad::RowGrad;
use crate::tensor::Tensor;

/// Scales the gradients of `params` in place so that their joint L2 norm is
/// at most `max_norm`, and returns the norm before clipping.
///
/// Parameters without a gradient are skipped; row-sparse gradients
/// ([`RowGrad`]) count with their values and stay row-sparse. A NaN or infinite norm is
/// returned as [`Error::NonFinite`] and leaves the gradients untouched, so a
/// training loop can skip the step.
///
/// ```
/// use malmoi_tensor::{Tensor, clip_grad_norm};
/// use ndarray::array;
/// let w = Tensor::parameter(array![3.0_f32, 4.0].into_dyn());
/// w.mul(&w)?.sum().mul_scalar(0.5).backward()?;          // grad = w = [3, 4]
/// assert_eq!(clip_grad_norm(&[w.clone()], 1.0)?, 5.0);
/// assert!((w.grad().unwrap()[0] - 0.6).abs() < 1e-6);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
pub fn clip_grad_norm(params: &[Tensor], max_norm: f32) -> Result<f32> {
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(Error::Invalid { op: "clip_grad_norm", reason: format!("max_norm must be >= 0, got {max_norm}") });
    }
    let squared: f64 = params
        .iter()
        .map(|p| {
            p.with_grad_parts(|dense, rows| match (dense, rows) {
                (Some(dense), Some(rows)) => {
                    let mut whole = dense.clone();
                    rows.add_to(&mut whole);
                    squared_norm(&whole)
                }
                (dense, rows) => dense.map_or(0.0, squared_norm) + rows.map_or(0.0, RowGrad::squared_norm),
            })
        })
        .sum();
    let norm = squared.sqrt() as f32;
    if !norm.is_finite() {
        return Err(Error::NonFinite { what: "gradient norm".into() });
    }
    // PyTorch's rule: scale by max_norm / (norm + 1e-6) when that is below 1.
    let scale = max_norm / (norm + 1e-6);
    if scale < 1.0 {
        for p in params {
            p.update_grad_parts(|g| g.mapv_inplace(|v| v * scale), |rows| rows.scale(scale));
        }
    }
    Ok(norm)
}

/// Sum of squares in `f64`.
fn squared_norm(grad: &ArrayD<f32>) -> f64 {
    grad.iter().map(|&v| v as f64 * v as f64).sum()
}
