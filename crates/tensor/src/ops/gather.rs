//! Gathers with scatter-add backward passes: `gather_rows` (the embedding
//! lookup) and `gather` along an axis (picking the log-probability of each
//! chosen token, as in PPO and DPO).

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Slice, Zip};

use super::normalize_axis;
use crate::error::{Error, Result};
use crate::tensor::{Backward, Tensor, backward_fn};

/// Backward of `gather_rows`: each output row's gradient is added to the
/// row `indices` says it was read from (rows read twice get both
/// contributions). With `sparse`, a leaf table receives it as a
/// [`RowGrad`](crate::RowGrad) instead of a dense array.
fn gather_rows_backward(indices: Vec<usize>, sparse: bool) -> impl Backward {
    backward_fn("gather_rows", move |grad, parents| {
        let shape = parents[0].shape();
        let grad_rows = grad.to_shape((indices.len(), shape[1])).expect("rows × dim");
        if sparse && parents[0].accumulate_row_grad(&indices, grad_rows.view()) {
            return vec![None];
        }
        let mut out = ArrayD::zeros(IxDyn(&shape));
        for (&index, row) in indices.iter().zip(grad_rows.outer_iter()) {
            let mut target = out.index_axis_mut(Axis(0), index);
            target += &row;
        }
        vec![Some(out)]
    })
}

impl Tensor {
    /// Looks up rows of a `(rows, dim)` table: the result has shape
    /// `indices.shape() + [dim]` (`F.embedding(indices, weight)`).
    ///
    /// ```
    /// use malmoi_tensor::Tensor;
    /// use ndarray::{array, ArrayD};
    /// let table = Tensor::parameter(array![[0.0_f32, 0.5], [1.0, 1.5], [2.0, 2.5]].into_dyn());
    /// let tokens: ArrayD<usize> = array![[2, 0], [2, 2]].into_dyn();
    /// let vectors = table.gather_rows(&tokens)?;
    /// assert_eq!(vectors.shape(), vec![2, 2, 2]);
    /// vectors.sum().backward()?;
    /// // Row 0 was read once, row 1 never, row 2 three times.
    /// assert_eq!(table.grad().unwrap(), array![[1.0_f32, 1.0], [0.0, 0.0], [3.0, 3.0]].into_dyn());
    /// # Ok::<(), malmoi_tensor::Error>(())
    /// ```
    pub fn gather_rows(&self, indices: &ArrayD<usize>) -> Result<Tensor> {
        self.gather_rows_with(indices, false)
    }

    /// [`Tensor::gather_rows`] whose gradient reaches a parameter table as
    /// a row-sparse [`RowGrad`](crate::RowGrad): only the rows read are
    /// stored, and the optimisers update only those rows. (A table that is
    /// itself computed gets the dense gradient.)
    ///
    /// ```
    /// use malmoi_tensor::Tensor;
    /// use ndarray::{array, ArrayD};
    /// let table = Tensor::parameter(ArrayD::zeros(ndarray::IxDyn(&[100_000, 2])));
    /// let tokens: ArrayD<usize> = array![7, 7, 42].into_dyn();
    /// table.gather_rows_sparse(&tokens)?.sum().backward()?;
    /// table.with_grad_parts(|dense, rows| {
    ///     assert!(dense.is_none());
    ///     assert_eq!(rows.unwrap().coalesce().rows(), &[7, 42]);
    /// });
    /// assert_eq!(table.grad().unwrap()[[7, 0]], 2.0); // densified on request
    /// # Ok::<(), malmoi_tensor::Error>(())
    /// ```
    pub fn gather_rows_sparse(&self, indices: &ArrayD<usize>) -> Result<Tensor> {
        self.gather_rows_with(indices, true)
    }

    fn gather_rows_with(&self, indices: &ArrayD<usize>, sparse: bool) -> Result<Tensor> {
        let table = self.data();
        if table.ndim() != 2 {
            return Err(Error::Invalid {
                op: "gather_rows",
                reason: format!("table must be 2-D, got shape {:?}", table.shape()),
            });
        }
        let (rows, dim) = (table.shape()[0], table.shape()[1]);
        let flat: Vec<usize> = indices.iter().copied().collect();
        if let Some(&bad) = flat.iter().find(|&&i| i >= rows) {
            return Err(Error::IndexOutOfRange { op: "gather_rows", index: bad, size: rows });
        }
        let mut shape = indices.shape().to_vec();
        shape.push(dim);
        let gathered = table.select(Axis(0), &flat);
        let value = gathered.into_shape_with_order(IxDyn(&shape)).expect("same number of elements");
        drop(table);
        Ok(Tensor::from_op(value, vec![self.clone()], gather_rows_backward(flat, sparse)))
    }
}

/// Backward of `gather` along `axis`: each output element's gradient is added to the
/// element `indices` says it was read from.
fn gather_backward(axis: usize, indices: ArrayD<usize>) -> impl Backward {
    backward_fn("gather", move |grad, parents| {
        let mut out = ArrayD::zeros(IxDyn(&parents[0].shape()));
        let mut target = out.slice_each_axis_mut(|d| index_extent(d.axis.index(), axis, indices.shape()));
        let lanes = Zip::from(target.lanes_mut(Axis(axis))).and(indices.lanes(Axis(axis))).and(grad.lanes(Axis(axis)));
        lanes.for_each(|mut lane, indices, grads| {
            for (&i, &g) in indices.iter().zip(grads.iter()) {
                lane[i] += g;
            }
        });
        vec![Some(out)]
    })
}

/// The part of the source a gather with `index_shape` reads: the whole of
/// `axis`, and the index's extent along every other axis.
fn index_extent(dim: usize, axis: usize, index_shape: &[usize]) -> Slice {
    if dim == axis { Slice::from(..) } else { Slice::from(..index_shape[dim]) }
}

impl Tensor {
    /// Picks elements along `axis`: `out[i][j][k] = self[i][indices[i][j][k]][k]`
    /// for `axis = 1` (`torch.gather`). `indices` has the same rank as
    /// `self` and no larger extent on the other axes; the result has its shape.
    ///
    /// ```
    /// use malmoi_tensor::Tensor;
    /// use ndarray::array;
    /// let log_probs = Tensor::constant(array![[-0.1_f32, -2.3, -3.0], [-1.2, -0.4, -2.0]].into_dyn());
    /// let chosen = log_probs.gather(-1, &array![[0_usize], [1]].into_dyn())?;
    /// assert_eq!(chosen.to_array(), array![[-0.1_f32], [-0.4]].into_dyn());
    /// # Ok::<(), malmoi_tensor::Error>(())
    /// ```
    pub fn gather(&self, axis: isize, indices: &ArrayD<usize>) -> Result<Tensor> {
        let data = self.data();
        let axis = normalize_axis("gather", axis, data.ndim())?;
        let fits = indices.ndim() == data.ndim()
            && indices.shape().iter().zip(data.shape()).enumerate().all(|(d, (i, s))| d == axis || i <= s);
        if !fits {
            return Err(Error::Shape { op: "gather", expected: data.shape().to_vec(), got: indices.shape().to_vec() });
        }
        let size = data.shape()[axis];
        if let Some(&bad) = indices.iter().find(|&&i| i >= size) {
            return Err(Error::IndexOutOfRange { op: "gather", index: bad, size });
        }
        let source: ArrayViewD<'_, f32> = data.slice_each_axis(|d| index_extent(d.axis.index(), axis, indices.shape()));
        let mut value = ArrayD::zeros(indices.raw_dim());
        Zip::from(value.lanes_mut(Axis(axis)))
            .and(indices.lanes(Axis(axis)))
            .and(source.lanes(Axis(axis)))
            .for_each(|mut out, indices, source| out.zip_mut_with(&indices, |o, &i| *o = source[i]));
        drop(data);
        Ok(Tensor::from_op(value, vec![self.clone()], gather_backward(axis, indices.clone())))
    }
}
