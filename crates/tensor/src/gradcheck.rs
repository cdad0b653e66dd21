//! Finite-difference gradient checking.
//!
//! [`check_gradients`] compares the gradients that [`Tensor::backward`]
//! produces with central differences `(L(x+h) − L(x−h)) / 2h`, element by
//! element. A non-scalar output is reduced to `L = Σ wᵢ·outᵢ` with fixed
//! pseudo-random weights, so every output element (and every broadcast path)
//! is exercised. The forward passes run in `f32`, but the reduction and the
//! difference quotient are computed in `f64`, and the actual step is taken as
//! the difference of the two rounded `f32` inputs, which removes the input
//! rounding error from the quotient.

use ndarray::ArrayD;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::{Error, Result};
use crate::tensor::{Tensor, no_grad};

/// Step size and tolerances of [`check_gradients`].
#[derive(Clone, Copy, Debug)]
pub struct GradCheckOptions {
    /// Half-width of the central difference (in input units).
    pub eps: f32,
    /// Absolute tolerance on `|analytic − numeric|`.
    pub atol: f64,
    /// Relative tolerance, scaled by `max(|analytic|, |numeric|)`.
    pub rtol: f64,
    /// Seed of the weights that reduce a non-scalar output to a scalar.
    pub seed: u64,
}

impl Default for GradCheckOptions {
    /// `eps = 1e-3`, `atol = 2e-3`, `rtol = 1e-2`: f32 forward passes leave
    /// about `1e-7·|L| / eps` of noise in each quotient, well under these.
    fn default() -> Self {
        GradCheckOptions { eps: 1e-3, atol: 2e-3, rtol: 1e-2, seed: 0 }
    }
}

/// What a passing gradient check measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct GradCheckReport {
    /// How many input elements were checked.
    pub checked: usize,
    /// Largest `|analytic − numeric|` seen.
    pub max_abs_error: f64,
    /// Largest `|analytic − numeric| / max(|analytic|, |numeric|)` seen
    /// (among elements whose gradients are not both zero).
    pub max_rel_error: f64,
}

/// Checks the gradients of `f` at `inputs` against central differences.
///
/// `f` receives one parameter tensor per input array and returns any tensor.
/// Returns the report when every element agrees within
/// `atol + rtol·max(|analytic|, |numeric|)`, otherwise
/// [`Error::GradientMismatch`] for the first element that does not. Cost:
/// one backward and `2 × Σ inputs' sizes` forward passes.
///
/// ```
/// use malmoi_tensor::gradcheck::{check_gradients, GradCheckOptions};
/// use ndarray::array;
///
/// let x = array![[0.3_f32, -1.2], [2.0, 0.5]].into_dyn();
/// let report = check_gradients(|t| Ok(t[0].tanh()), &[x], GradCheckOptions::default())?;
/// assert_eq!(report.checked, 4);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
pub fn check_gradients(
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[ArrayD<f32>],
    opts: GradCheckOptions,
) -> Result<GradCheckReport> {
    let params: Vec<Tensor> = inputs.iter().cloned().map(Tensor::parameter).collect();
    let output = f(&params)?;
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let weights: ArrayD<f32> = if output.len() == 1 {
        ArrayD::ones(output.data().raw_dim())
    } else {
        output.data().map(|_| rng.random_range(0.5_f32..1.5) * if rng.random::<bool>() { 1.0 } else { -1.0 })
    };
    // An output that does not depend on the inputs has zero gradients.
    if output.requires_grad() {
        output.backward_with(weights.clone())?;
    }
    let analytic: Vec<ArrayD<f32>> =
        params.iter().map(|p| p.grad().unwrap_or_else(|| ArrayD::zeros(p.data().raw_dim()))).collect();

    let weighted_loss = |values: &[ArrayD<f32>]| -> Result<f64> {
        let constants: Vec<Tensor> = values.iter().cloned().map(Tensor::constant).collect();
        let out = no_grad(|| f(&constants))?;
        let out = out.data();
        Ok(out.iter().zip(weights.iter()).map(|(&o, &w)| o as f64 * w as f64).sum())
    };

    let mut report = GradCheckReport::default();
    // Standard (row-major) layout, so the flat slice matches `grads.iter()`.
    let mut values: Vec<ArrayD<f32>> = inputs.iter().map(|a| a.as_standard_layout().into_owned()).collect();
    for (input, grads) in analytic.iter().enumerate() {
        for (index, &analytic) in grads.iter().enumerate() {
            let original = values[input].as_slice().expect("standard layout")[index];
            let (up, down) = (original + opts.eps, original - opts.eps);
            let mut loss_at = |value: f32| {
                values[input].as_slice_mut().expect("standard layout")[index] = value;
                weighted_loss(&values)
            };
            let (loss_up, loss_down) = (loss_at(up)?, loss_at(down)?);
            values[input].as_slice_mut().expect("standard layout")[index] = original;

            let numeric = (loss_up - loss_down) / (up as f64 - down as f64);
            let analytic = analytic as f64;
            let abs_error = (analytic - numeric).abs();
            let scale = analytic.abs().max(numeric.abs());
            if abs_error.is_nan() || abs_error > opts.atol + opts.rtol * scale {
                return Err(Error::GradientMismatch { input, index, analytic, numeric });
            }
            report.checked += 1;
            report.max_abs_error = report.max_abs_error.max(abs_error);
            if scale > 0.0 {
                report.max_rel_error = report.max_rel_error.max(abs_error / scale);
            }
        }
    }
    Ok(report)
}
