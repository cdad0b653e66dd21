//! Layer normalisation over the last axis, with optional affine parameters,
//! as one fused op (forward and backward in a single pass over each row).

use ndarray::{Array1, Array2, ArrayView2, Axis, IxDyn, Zip};

use super::PARALLEL_MIN_ELEMENTS;
use crate::error::{Error, Result};
use crate::tensor::{Backward, Tensor, backward_fn, grad_needed};

/// Backward of `layer_norm` with parents `[x, weight?, bias?]`, from the saved normalised input
/// `(x − mean) · rstd` as `(rows, dim)` and the per-row reciprocal standard deviations
/// `rstd = 1 / sqrt(var + eps)`.
fn layer_norm_backward(normalized: Array2<f32>, rstd: Array1<f32>, has_weight: bool, has_bias: bool) -> impl Backward {
    backward_fn("layer_norm", move |grad, parents| {
        let (rows, dim) = normalized.dim();
        let g = grad.to_shape((rows, dim)).expect("rows × dim");
        let weight = has_weight.then(|| parents[1].data().to_shape(dim).expect("dim").to_owned());
        let mut results = Vec::with_capacity(parents.len());
        results.push(parents[0].requires_grad().then(|| {
            let grad_x = input_grad(g.view(), weight.as_ref(), &normalized, &rstd);
            grad_x.into_shape_with_order(grad.raw_dim()).expect("same size")
        }));
        if has_weight {
            results.push(parents[1].requires_grad().then(|| {
                let weighted = &g * &normalized;
                weighted.sum_axis(Axis(0)).into_shape_with_order(IxDyn(&parents[1].shape())).expect("dim")
            }));
        }
        if has_bias {
            let bias = &parents[parents.len() - 1];
            results.push(
                bias.requires_grad()
                    .then(|| g.sum_axis(Axis(0)).into_shape_with_order(IxDyn(&bias.shape())).expect("dim")),
            );
        }
        results
    })
}

/// The gradient of `layer_norm`'s input from the output gradient `g` `(rows, dim)`.
fn input_grad(
    g: ArrayView2<f32>,
    weight: Option<&Array1<f32>>,
    normalized: &Array2<f32>,
    rstd: &Array1<f32>,
) -> Array2<f32> {
    let (rows, dim) = normalized.dim();
    let mut grad_x = Array2::zeros((rows, dim));
    let inv_dim = 1.0 / dim as f32;
    let parallel = grad_x.len() >= PARALLEL_MIN_ELEMENTS;
    let rows_zip = Zip::from(grad_x.rows_mut()).and(g.rows()).and(normalized.rows()).and(rstd);
    zip_for_each!(parallel, rows_zip, |mut gx, g, xhat, &rstd| {
        // gxhat = g ⊙ w; gx = rstd · (gxhat − mean(gxhat) − xhat · mean(gxhat ⊙ xhat))
        Zip::from(&mut gx).and(&g).for_each(|out, &g| *out = g);
        if let Some(w) = weight {
            gx *= w;
        }
        let mean_g = gx.sum() * inv_dim;
        let mean_gx = gx.iter().zip(xhat.iter()).map(|(a, b)| a * b).sum::<f32>() * inv_dim;
        Zip::from(&mut gx).and(&xhat).for_each(|out, &xh| *out = rstd * (*out - mean_g - xh * mean_gx));
    });
    grad_x
}

impl Tensor {
    /// Normalises each vector along the last axis to zero mean and unit
    /// variance (biased, as PyTorch), then applies `· weight + bias` when
    /// given (`F.layer_norm(x, (dim,), weight, bias, eps)`).
    pub fn layer_norm(&self, weight: Option<&Tensor>, bias: Option<&Tensor>, eps: f32) -> Result<Tensor> {
        let data = self.data();
        let dim =
            *data.shape().last().ok_or_else(|| Error::Invalid { op: "layer_norm", reason: "scalar input".into() })?;
        for param in [weight, bias].into_iter().flatten() {
            if param.len() != dim || param.ndim() != 1 {
                return Err(Error::Shape { op: "layer_norm", expected: vec![dim], got: param.shape() });
            }
        }
        let rows = data.len() / dim.max(1);
        let x = data.to_shape((rows, dim)).expect("rows × dim");
        let mut normalized = Array2::zeros((rows, dim));
        let mut rstd = Array1::zeros(rows);
        let parallel = normalized.len() >= PARALLEL_MIN_ELEMENTS;
        zip_for_each!(parallel, Zip::from(normalized.rows_mut()).and(x.rows()).and(&mut rstd), |mut out, x, rstd| {
            let mean = x.sum() / dim as f32;
            let var = x.iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>() / dim as f32;
            *rstd = 1.0 / (var + eps).sqrt();
            Zip::from(&mut out).and(&x).for_each(|o, &v| *o = (v - mean) * *rstd);
        });
        let shape = data.raw_dim();
        drop(data);
        let mut parents = vec![self.clone()];
        parents.extend(weight.cloned());
        parents.extend(bias.cloned());
        let needed = grad_needed(&parents.iter().collect::<Vec<_>>());
        let mut value = if needed { normalized.clone() } else { std::mem::take(&mut normalized) };
        if let Some(w) = weight {
            value *= &w.data().to_shape(dim).expect("dim");
        }
        if let Some(b) = bias {
            value += &b.data().to_shape(dim).expect("dim");
        }
        let value = value.into_shape_with_order(shape).expect("same size");
        let backward = layer_norm_backward(normalized, rstd, weight.is_some(), bias.is_some());
        Ok(Tensor::from_op(value, parents, backward))
    }
}
