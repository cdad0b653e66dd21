//! Reductions: `sum` / `mean` over all elements or over chosen axes (with
//! `keepdim`), and `max_axis` (gradient flows to the first maximum).

use ndarray::{ArrayD, Axis, IxDyn, Zip};

use super::normalize_axis;
use crate::error::{Error, Result};
use crate::tensor::{Backward, Tensor, backward_fn};

/// Backward of `sum` / `mean` (called `name`): the gradient times `scale`, broadcast back over
/// the reduced axes; `kept_shape` is the output shape with those axes kept as size 1.
fn sum_backward(name: &'static str, kept_shape: Vec<usize>, scale: f32) -> impl Backward {
    backward_fn(name, move |grad, parents| {
        let kept = grad.to_shape(IxDyn(&kept_shape)).expect("same number of elements");
        let mut out = kept.broadcast(IxDyn(&parents[0].shape())).expect("kept axes broadcast").to_owned();
        if scale != 1.0 {
            out.mapv_inplace(|g| g * scale);
        }
        vec![Some(out)]
    })
}

/// Backward of `max_axis`: each output's gradient goes to its maximum, whose position along
/// `axis` is `argmax`.
fn max_backward(axis: usize, argmax: ArrayD<usize>) -> impl Backward {
    backward_fn("max_axis", move |grad, parents| {
        let mut out = ArrayD::zeros(IxDyn(&parents[0].shape()));
        let grad = grad.to_shape(argmax.raw_dim()).expect("same number of elements");
        Zip::from(out.lanes_mut(Axis(axis))).and(&argmax).and(&grad).for_each(|mut lane, &i, &g| lane[i] = g);
        vec![Some(out)]
    })
}

impl Tensor {
    /// Sum of all elements, as a scalar (shape `[]`).
    pub fn sum(&self) -> Tensor {
        let ndim = self.ndim();
        let total = self.data().sum();
        let backward = sum_backward("sum", vec![1; ndim], 1.0);
        Tensor::from_op(ArrayD::from_elem(IxDyn(&[]), total), vec![self.clone()], backward)
    }

    /// Mean of all elements, as a scalar (shape `[]`).
    pub fn mean(&self) -> Tensor {
        let ndim = self.ndim();
        let count = self.len().max(1) as f32;
        let mean = self.data().sum() / count;
        let backward = sum_backward("mean", vec![1; ndim], 1.0 / count);
        Tensor::from_op(ArrayD::from_elem(IxDyn(&[]), mean), vec![self.clone()], backward)
    }

    /// Sum over `axes` (negative allowed); `keepdim` keeps them as size 1.
    pub fn sum_axes(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce_axes(axes, keepdim, false)
    }

    /// Mean over `axes` (negative allowed); `keepdim` keeps them as size 1.
    pub fn mean_axes(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce_axes(axes, keepdim, true)
    }

    fn reduce_axes(&self, axes: &[isize], keepdim: bool, mean: bool) -> Result<Tensor> {
        let name = if mean { "mean_axes" } else { "sum_axes" };
        let data = self.data();
        let mut resolved = axes.iter().map(|&a| normalize_axis(name, a, data.ndim())).collect::<Result<Vec<_>>>()?;
        resolved.sort_unstable();
        if resolved.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::Invalid { op: name, reason: format!("repeated axis in {axes:?}") });
        }
        let mut value = data.to_owned();
        for &axis in resolved.iter().rev() {
            value = value.sum_axis(Axis(axis));
        }
        let count: usize = resolved.iter().map(|&a| data.shape()[a]).product();
        let scale = if mean { 1.0 / count.max(1) as f32 } else { 1.0 };
        if scale != 1.0 {
            value.mapv_inplace(|v| v * scale);
        }
        let mut kept_shape = data.shape().to_vec();
        resolved.iter().for_each(|&a| kept_shape[a] = 1);
        if keepdim {
            value = value.into_shape_with_order(IxDyn(&kept_shape)).expect("same number of elements");
        }
        drop(data);
        Ok(Tensor::from_op(value, vec![self.clone()], sum_backward(name, kept_shape, scale)))
    }

    /// Maximum along `axis`; `keepdim` keeps it as size 1. The gradient goes
    /// to the first position holding the maximum.
    pub fn max_axis(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        let data = self.data();
        let axis = normalize_axis("max_axis", axis, data.ndim())?;
        if data.shape()[axis] == 0 {
            return Err(Error::Invalid { op: "max_axis", reason: "empty axis".into() });
        }
        let argmax = data.map_axis(Axis(axis), |lane| {
            let mut best = 0;
            for (i, &v) in lane.iter().enumerate() {
                if v > lane[best] || (v.is_nan() && !lane[best].is_nan()) {
                    best = i;
                }
            }
            best
        });
        let mut value = Zip::from(data.lanes(Axis(axis))).and(&argmax).map_collect(|lane, &i| lane[i]);
        if keepdim {
            value = value.insert_axis(Axis(axis));
        }
        drop(data);
        Ok(Tensor::from_op(value, vec![self.clone()], max_backward(axis, argmax)))
    }
}
