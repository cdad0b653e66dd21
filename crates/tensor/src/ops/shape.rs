//! Shape operations: `reshape`, `unsqueeze`, `transpose`, `permute`,
//! `narrow` (a slice along one axis), `cat` and `stack`.
//!
//! Every result owns a standard-layout copy of its values, so later ops can
//! rely on contiguous rows; the backward passes move the gradient back
//! through the inverse rearrangement.

use ndarray::{ArrayD, Axis, IxDyn, Slice};

use super::normalize_axis;
use crate::error::{Error, Result};
use crate::tensor::{Tensor, backward_fn};

/// Backward of `reshape`: the gradient reshaped to the input's shape.
fn reshape_backward(grad: &ArrayD<f32>, parents: &[Tensor]) -> Vec<Option<ArrayD<f32>>> {
    let shape = parents[0].shape();
    vec![Some(grad.to_shape(IxDyn(&shape)).expect("same number of elements").into_owned())]
}

/// Backward of `cat` and `stack` along `axis`: each input gets its slice of the gradient.
/// `stack` added the axis; `cat` joined along an existing one.
fn join_backward(axis: usize, stacked: bool, grad: &ArrayD<f32>, parents: &[Tensor]) -> Vec<Option<ArrayD<f32>>> {
    let mut start = 0;
    parents
        .iter()
        .map(|p| {
            let len = if stacked { 1 } else { p.data().shape()[axis] };
            let part = grad.slice_axis(Axis(axis), Slice::from(start..start + len));
            start += len;
            p.requires_grad().then(|| if stacked { part.index_axis_move(Axis(axis), 0) } else { part }.to_owned())
        })
        .collect()
}

impl Tensor {
    /// The same values in a new shape with the same number of elements
    /// (row-major order, like `torch.reshape`).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let data = self.data();
        if shape.iter().product::<usize>() != data.len() {
            return Err(Error::Shape { op: "reshape", expected: data.shape().to_vec(), got: shape.to_vec() });
        }
        let value = data.to_shape(IxDyn(shape)).expect("same number of elements").into_owned();
        drop(data);
        Ok(Tensor::from_op(value, vec![self.clone()], backward_fn("reshape", reshape_backward)))
    }

    /// Inserts an axis of size 1 at `axis` (`-1` appends one).
    pub fn unsqueeze(&self, axis: isize) -> Result<Tensor> {
        let mut shape = self.shape();
        let axis = normalize_axis("unsqueeze", axis, shape.len() + 1)?;
        shape.insert(axis, 1);
        self.reshape(&shape)
    }

    /// Reorders the axes: axis `i` of the result is axis `order[i]` of `self`.
    pub fn permute(&self, order: &[usize]) -> Result<Tensor> {
        let ndim = self.ndim();
        let mut seen = vec![false; ndim];
        if order.len() != ndim || order.iter().any(|&a| a >= ndim || std::mem::replace(&mut seen[a], true)) {
            return Err(Error::Invalid {
                op: "permute",
                reason: format!("{order:?} is not a permutation of {ndim} axes"),
            });
        }
        let value = self.data().view().permuted_axes(IxDyn(order)).as_standard_layout().into_owned();
        let mut inverse = vec![0; ndim];
        order.iter().enumerate().for_each(|(i, &a)| inverse[a] = i);
        // the gradient goes back through the inverse order
        let backward = backward_fn("permute", move |grad, _| {
            vec![Some(grad.view().permuted_axes(IxDyn(&inverse)).as_standard_layout().into_owned())]
        });
        Ok(Tensor::from_op(value, vec![self.clone()], backward))
    }

    /// Swaps two axes (negative allowed), like `torch.transpose`.
    pub fn transpose(&self, axis0: isize, axis1: isize) -> Result<Tensor> {
        let ndim = self.ndim();
        let (a, b) = (normalize_axis("transpose", axis0, ndim)?, normalize_axis("transpose", axis1, ndim)?);
        let mut order: Vec<usize> = (0..ndim).collect();
        order.swap(a, b);
        self.permute(&order)
    }

    /// The `len` entries starting at `start` along `axis` (`torch.narrow`).
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Tensor> {
        let data = self.data();
        let axis = normalize_axis("narrow", axis, data.ndim())?;
        let size = data.shape()[axis];
        if start + len > size {
            return Err(Error::Invalid {
                op: "narrow",
                reason: format!("range {start}..{} exceeds size {size}", start + len),
            });
        }
        let value = data.slice_axis(Axis(axis), Slice::from(start..start + len)).as_standard_layout().into_owned();
        drop(data);
        // the gradient placed in a zero tensor
        let backward = backward_fn("narrow", move |grad, parents| {
            let mut out = ArrayD::zeros(IxDyn(&parents[0].shape()));
            out.slice_axis_mut(Axis(axis), Slice::from(start..start + len)).assign(grad);
            vec![Some(out)]
        });
        Ok(Tensor::from_op(value, vec![self.clone()], backward))
    }

    /// Joins tensors along an existing axis (`torch.cat`); all other axes
    /// must agree.
    pub fn cat(tensors: &[Tensor], axis: isize) -> Result<Tensor> {
        let first = tensors.first().ok_or_else(|| Error::Invalid { op: "cat", reason: "no tensors".into() })?;
        let axis = normalize_axis("cat", axis, first.ndim())?;
        let value = {
            let guards: Vec<_> = tensors.iter().map(Tensor::data).collect();
            let views: Vec<_> = guards.iter().map(|g| g.view()).collect();
            check_same_shapes("cat", &views, Some(axis))?;
            ndarray::concatenate(Axis(axis), &views).expect("shapes checked")
        };
        let backward = backward_fn("cat", move |grad, parents| join_backward(axis, false, grad, parents));
        Ok(Tensor::from_op(value, tensors.to_vec(), backward))
    }

    /// Stacks equally shaped tensors along a new axis (`torch.stack`).
    pub fn stack(tensors: &[Tensor], axis: isize) -> Result<Tensor> {
        let first = tensors.first().ok_or_else(|| Error::Invalid { op: "stack", reason: "no tensors".into() })?;
        let axis = normalize_axis("stack", axis, first.ndim() + 1)?;
        let value = {
            let guards: Vec<_> = tensors.iter().map(Tensor::data).collect();
            let views: Vec<_> = guards.iter().map(|g| g.view()).collect();
            check_same_shapes("stack", &views, None)?;
            ndarray::stack(Axis(axis), &views).expect("shapes checked")
        };
        let backward = backward_fn("stack", move |grad, parents| join_backward(axis, true, grad, parents));
        Ok(Tensor::from_op(value, tensors.to_vec(), backward))
    }
}

/// Checks that all views have the first one's shape, except along `except`.
fn check_same_shapes(op: &'static str, views: &[ndarray::ArrayViewD<'_, f32>], except: Option<usize>) -> Result<()> {
    let expected = views[0].shape();
    for view in &views[1..] {
        let got = view.shape();
        let agrees = got.len() == expected.len()
            && got.iter().zip(expected).enumerate().all(|(axis, (g, e))| g == e || Some(axis) == except);
        if !agrees {
            return Err(Error::Shape { op, expected: expected.to_vec(), got: got.to_vec() });
        }
    }
    Ok(())
}
