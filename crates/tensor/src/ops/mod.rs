//! Differentiable operations on [`Tensor`](crate::Tensor), one concept per
//! module. Each operation is a method on `Tensor` (named as in PyTorch)
//! that computes the forward value with ndarray and records a
//! [`Backward`](crate::Backward) rule.
//!
//! Axes are `isize` and may be negative (`-1` is the last axis), as in PyTorch.

use ndarray::{ArrayD, Axis, IxDyn};

/// Below this many elements, elementwise and row-wise loops stay on the
/// calling thread: rayon's fork-join costs microseconds, more than the work.
pub const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

/// Runs `zip.for_each(f)`, on the current rayon pool when `parallel`.
macro_rules! zip_for_each {
    ($parallel:expr, $zip:expr, $f:expr) => {
        if $parallel { $zip.par_for_each($f) } else { $zip.for_each($f) }
    };
}

pub mod activation;
pub mod clip;
pub mod dropout;
pub mod elementwise;
pub mod gather;
pub mod loss;
pub mod mask;
pub mod matmul;
pub mod norm;
pub mod reduce;
pub mod shape;
pub mod softmax;

use crate::error::{Error, Result};

/// Resolves a possibly negative `axis` against `ndim` dimensions.
pub fn normalize_axis(op: &'static str, axis: isize, ndim: usize) -> Result<usize> {
    let resolved = if axis < 0 { axis + ndim as isize } else { axis };
    if (0..ndim as isize).contains(&resolved) {
        Ok(resolved as usize)
    } else {
        Err(Error::Invalid { op, reason: format!("axis {axis} out of range for {ndim} dimensions") })
    }
}

/// The numpy broadcast of two shapes: aligned at the right, each pair of
/// sizes must be equal or contain a 1.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let ndim = a.len().max(b.len());
    let size_at = |shape: &[usize], i: usize| {
        let offset = ndim - shape.len();
        if i < offset { 1 } else { shape[i - offset] }
    };
    (0..ndim)
        .map(|i| match (size_at(a, i), size_at(b, i)) {
            (x, y) if x == y || y == 1 => Ok(x),
            (1, y) => Ok(y),
            _ => Err(Error::Shape { op, expected: a.to_vec(), got: b.to_vec() }),
        })
        .collect()
}

/// Sums a gradient of a broadcast result back to the shape of the operand
/// that was broadcast: over the leading axes the operand lacked and, with
/// `keepdim`, over the axes where it had size 1. The reverse of numpy
/// broadcasting, used by every broadcasting op's backward.
pub fn reduce_to_shape(grad: ArrayD<f32>, shape: &[usize]) -> ArrayD<f32> {
    if grad.shape() == shape {
        return grad;
    }
    let extra = grad.ndim() - shape.len();
    let mut reduced = if extra > 0 {
        let rows: usize = grad.shape()[..extra].iter().product();
        let rest: Vec<usize> = grad.shape()[extra..].to_vec();
        let mut flat_shape = vec![rows];
        flat_shape.extend_from_slice(&rest);
        grad.to_shape(IxDyn(&flat_shape)).expect("same number of elements").sum_axis(Axis(0))
    } else {
        grad
    };
    for (axis, &size) in shape.iter().enumerate() {
        if size == 1 && reduced.shape()[axis] != 1 {
            reduced = reduced.sum_axis(Axis(axis)).insert_axis(Axis(axis));
        }
    }
    reduced
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_follows_numpy() {
        assert_eq!(broadcast_shapes("t", &[3, 1], &[1, 4]).unwrap(), vec![3, 4]);
        assert_eq!(broadcast_shapes("t", &[2, 3, 4], &[4]).unwrap(), vec![2, 3, 4]);
        assert_eq!(broadcast_shapes("t", &[], &[2, 2]).unwrap(), vec![2, 2]);
        assert!(broadcast_shapes("t", &[3], &[4]).is_err());
    }

    #[test]
    fn reduce_to_shape_sums_broadcast_axes() {
        let grad = ArrayD::ones(IxDyn(&[2, 3, 4]));
        let reduced = reduce_to_shape(grad, &[3, 1]);
        assert_eq!(reduced.shape(), &[3, 1]);
        assert!(reduced.iter().all(|&v| v == 8.0));
    }

    #[test]
    fn negative_axes_resolve() {
        assert_eq!(normalize_axis("t", -1, 3).unwrap(), 2);
        assert!(normalize_axis("t", 3, 3).is_err());
        assert!(normalize_axis("t", -4, 3).is_err());
    }
}
