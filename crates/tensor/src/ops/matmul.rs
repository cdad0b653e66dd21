//! Matrix multiplication: 2-D and batched (`(..., m, k) · (..., k, n)` with
//! numpy-broadcast batch dimensions), on the `gemm` crate's AVX2/AVX-512
//! kernels (see `docs/performance.md` for why not `matrixmultiply`).
//!
//! [`gemm()`] and [`matmul_views`] are public so fused kernels can run their
//! products on plain arrays without building a graph.

use ndarray::{ArrayD, ArrayView2, ArrayViewD, ArrayViewMut2, Axis, Ix2, IxDyn};
use rayon::prelude::*;

use super::{broadcast_shapes, reduce_to_shape};
use crate::error::{Error, Result};
use crate::tensor::{Tensor, backward_fn};

/// `c = a · b` (or `c += a · b` when `accumulate`), any strides.
///
/// Uses all threads of the current rayon pool when `parallel` is true and
/// the product is large enough for `gemm` to split it.
pub fn gemm(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    c: &mut ArrayViewMut2<'_, f32>,
    accumulate: bool,
    parallel: bool,
) {
    let (m, k) = a.dim();
    let n = b.dim().1;
    assert!(b.dim().0 == k && c.dim() == (m, n), "gemm: caller checks shapes");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return;
    }
    let parallelism = if parallel && rayon::current_num_threads() > 1 {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    let (a_rs, a_cs) = (a.strides()[0], a.strides()[1]);
    let (b_rs, b_cs) = (b.strides()[0], b.strides()[1]);
    let (c_rs, c_cs) = (c.strides()[0], c.strides()[1]);
    // SAFETY: the three views are valid for the (m, k), (k, n) and (m, n)
    // index ranges with the strides passed; `c` is borrowed mutably, so it
    // cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            c_cs,
            c_rs,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// `a · b` for views of rank ≥ 2: the last two axes are multiplied, the
/// leading (batch) axes broadcast like numpy. Transposed or otherwise
/// strided views cost nothing extra.
pub fn matmul_views(a: ArrayViewD<'_, f32>, b: ArrayViewD<'_, f32>) -> Result<ArrayD<f32>> {
    let (ra, rb) = (a.ndim(), b.ndim());
    if ra < 2 || rb < 2 {
        return Err(Error::Invalid { op: "matmul", reason: format!("operands need rank >= 2, got {ra} and {rb}") });
    }
    let (m, k) = (a.shape()[ra - 2], a.shape()[ra - 1]);
    let (k2, n) = (b.shape()[rb - 2], b.shape()[rb - 1]);
    if k != k2 {
        return Err(Error::Shape { op: "matmul", expected: a.shape().to_vec(), got: b.shape().to_vec() });
    }
    if rb == 2 {
        // (..., m, k) · (k, n): one large product over all rows of `a`.
        let rows: usize = a.shape()[..ra - 1].iter().product();
        let a_std = a.as_standard_layout();
        let a2 = a_std.view().into_shape_with_order((rows, k)).expect("standard layout reshapes");
        let b2 = b.into_dimensionality::<Ix2>().expect("rank 2");
        let mut out = ndarray::Array2::zeros((rows, n));
        gemm(a2, b2, &mut out.view_mut(), false, true);
        let mut shape = a.shape()[..ra - 1].to_vec();
        shape.push(n);
        return Ok(out.into_shape_with_order(IxDyn(&shape)).expect("sizes agree"));
    }
    let batch = broadcast_shapes("matmul", &a.shape()[..ra - 2], &b.shape()[..rb - 2])?;
    let with_matrix = |rows: usize, cols: usize| {
        let mut shape = batch.clone();
        shape.extend([rows, cols]);
        shape
    };
    let a_full = a.broadcast(IxDyn(&with_matrix(m, k))).expect("batch dims broadcast");
    let b_full = b.broadcast(IxDyn(&with_matrix(k, n))).expect("batch dims broadcast");
    let count: usize = batch.iter().product();
    let mut out = ndarray::Array3::<f32>::zeros((count, m, n));
    let one_product = |(index, mut c): (usize, ArrayViewMut2<'_, f32>), parallel: bool| {
        gemm(batch_matrix(&a_full, &batch, index), batch_matrix(&b_full, &batch, index), &mut c, false, parallel);
    };
    if count >= rayon::current_num_threads() && count > 1 {
        out.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each(|item| one_product(item, false));
    } else {
        out.axis_iter_mut(Axis(0)).enumerate().for_each(|item| one_product(item, true));
    }
    Ok(out.into_shape_with_order(IxDyn(&with_matrix(m, n))).expect("sizes agree"))
}

/// The matrix at flat (row-major) batch position `flat` of a view shaped
/// `batch + [rows, cols]`.
fn batch_matrix<'a>(full: &ArrayViewD<'a, f32>, batch: &[usize], flat: usize) -> ArrayView2<'a, f32> {
    let mut view = full.clone();
    let mut rest = flat;
    for (axis, &size) in batch.iter().enumerate().rev() {
        view.collapse_axis(Axis(axis), rest % size);
        rest /= size;
    }
    for _ in 0..batch.len() {
        view = view.index_axis_move(Axis(0), 0);
    }
    view.into_dimensionality::<Ix2>().expect("rank 2")
}

/// Backward of `matmul`: `∂a = g · bᵀ`, `∂b = aᵀ · g`, each summed over
/// broadcast batch axes.
fn matmul_backward(grad: &ArrayD<f32>, parents: &[Tensor]) -> Vec<Option<ArrayD<f32>>> {
    let (a, b) = (parents[0].data(), parents[1].data());
    let grad_a = parents[0].requires_grad().then(|| {
        let full = matmul_views(grad.view(), transposed(b.view())).expect("shapes checked in forward");
        reduce_to_shape(full, a.shape())
    });
    let grad_b = parents[1].requires_grad().then(|| {
        if b.ndim() == 2 {
            // Σ over all rows: (rows, k)ᵀ · (rows, n) in one product.
            let (k, n) = (b.shape()[0], b.shape()[1]);
            let rows: usize = a.shape()[..a.ndim() - 1].iter().product();
            let a_std = a.as_standard_layout();
            let a2 = a_std.view().into_shape_with_order((rows, k)).expect("standard");
            let g_std = grad.as_standard_layout();
            let g2 = g_std.view().into_shape_with_order((rows, n)).expect("standard");
            let mut out = ndarray::Array2::zeros((k, n));
            gemm(a2.t(), g2, &mut out.view_mut(), false, true);
            out.into_dyn()
        } else {
            let full = matmul_views(transposed(a.view()), grad.view()).expect("shapes checked in forward");
            reduce_to_shape(full, b.shape())
        }
    });
    vec![grad_a, grad_b]
}

/// The view with its last two axes swapped.
fn transposed(mut view: ArrayViewD<'_, f32>) -> ArrayViewD<'_, f32> {
    let n = view.ndim();
    view.swap_axes(n - 2, n - 1);
    view
}

impl Tensor {
    /// Matrix product of the last two axes, batch axes broadcast like numpy
    /// (`torch.matmul` for rank ≥ 2).
    ///
    /// ```
    /// use malmoi_tensor::Tensor;
    /// let x = Tensor::zeros(&[8, 5, 3]);      // (batch, time, features)
    /// let w = Tensor::zeros(&[3, 4]);
    /// assert_eq!(x.matmul(&w)?.shape(), vec![8, 5, 4]);
    /// assert!(w.matmul(&w).is_err());
    /// # Ok::<(), malmoi_tensor::Error>(())
    /// ```
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let value = matmul_views(self.data().view(), other.data().view())?;
        Ok(Tensor::from_op(value, vec![self.clone(), other.clone()], backward_fn("matmul", matmul_backward)))
    }
}
