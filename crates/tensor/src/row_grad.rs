//! Row-sparse gradients: the gradient of an embedding lookup stored as the
//! rows it touched and their values, so a large table does not pay for a
//! dense gradient (PyTorch's `nn.Embedding(sparse=True)`).
//!
//! [`Tensor::gather_rows_sparse`](crate::Tensor::gather_rows_sparse) (and
//! [`Embedding`](crate::nn::Embedding) with
//! [`with_sparse_grad`](crate::nn::Embedding::with_sparse_grad)) deposit a
//! [`RowGrad`] in the table's parameter instead of a dense gradient. The
//! optimisers then update only the touched rows (see
//! [`optim`](crate::optim)); [`Tensor::grad`](crate::Tensor::grad) still
//! returns the whole gradient, densified.

use ndarray::{Array2, ArrayD, ArrayView2, Axis, IxDyn};

/// A gradient that is zero outside `rows`: `values.row(i)` belongs to table
/// row `rows[i]`. A row may occur several times (its entries add up) until
/// [`RowGrad::coalesce`] merges them.
///
/// ```
/// use malmoi_tensor::RowGrad;
/// use ndarray::array;
/// let mut g = RowGrad::new(2);
/// g.push(&[3, 1, 3], array![[1.0_f32, 1.0], [2.0, 2.0], [0.5, 0.5]].view());
/// let merged = g.coalesce();
/// assert_eq!(merged.rows(), &[1, 3]);
/// assert_eq!(merged.values(), array![[2.0_f32, 2.0], [1.5, 1.5]].view());
/// assert_eq!(merged.to_dense(4).shape(), &[4, 2]);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RowGrad {
    rows: Vec<usize>,
    values: Array2<f32>,
}

impl RowGrad {
    /// An empty gradient for a table with rows of `dim` values.
    pub fn new(dim: usize) -> Self {
        RowGrad { rows: Vec::new(), values: Array2::zeros((0, dim)) }
    }

    /// The table rows, one per row of [`RowGrad::values`].
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    /// `(rows().len(), dim)` gradient values.
    pub fn values(&self) -> ArrayView2<'_, f32> {
        self.values.view()
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.values.ncols()
    }

    /// Appends the gradient `values.row(i)` of table row `rows[i]`.
    ///
    /// # Panics
    /// If `values` does not have `rows.len()` rows of [`RowGrad::dim`]
    /// values (callers inside the crate guarantee it).
    pub fn push(&mut self, rows: &[usize], values: ArrayView2<'_, f32>) {
        assert_eq!(values.dim(), (rows.len(), self.dim()), "row gradient shape");
        self.rows.extend_from_slice(rows);
        self.values.append(Axis(0), values).expect("same row length");
    }

    /// The same gradient with every row once, rows ascending.
    pub fn coalesce(&self) -> RowGrad {
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        order.sort_by_key(|&i| self.rows[i]);
        let mut rows: Vec<usize> = Vec::with_capacity(order.len());
        let mut sums: Vec<f32> = Vec::with_capacity(order.len() * self.dim());
        for i in order {
            let value = self.values.row(i);
            if rows.last() == Some(&self.rows[i]) {
                let start = sums.len() - self.dim();
                sums[start..].iter_mut().zip(value).for_each(|(s, &v)| *s += v);
            } else {
                rows.push(self.rows[i]);
                sums.extend(value);
            }
        }
        let values = Array2::from_shape_vec((rows.len(), self.dim()), sums).expect("rows × dim values");
        RowGrad { rows, values }
    }

    /// Multiplies every value by `factor` (gradient clipping).
    pub fn scale(&mut self, factor: f32) {
        self.values.mapv_inplace(|v| v * factor);
    }

    /// Sum of the squared entries of the (coalesced) gradient, in `f64`.
    pub fn squared_norm(&self) -> f64 {
        self.coalesce().values.iter().map(|&v| v as f64 * v as f64).sum()
    }

    /// Adds the gradient into a dense `(num_rows, dim)` array.
    ///
    /// # Panics
    /// If `dense` is not 2-D with [`RowGrad::dim`] columns, or a row is out
    /// of range (the lookup that produced the gradient checked both).
    pub fn add_to(&self, dense: &mut ArrayD<f32>) {
        for (&row, value) in self.rows.iter().zip(self.values.outer_iter()) {
            let mut target = dense.index_axis_mut(Axis(0), row);
            target += &value;
        }
    }

    /// The dense `(num_rows, dim)` gradient.
    pub fn to_dense(&self, num_rows: usize) -> ArrayD<f32> {
        let mut dense = ArrayD::zeros(IxDyn(&[num_rows, self.dim()]));
        self.add_to(&mut dense);
        dense
    }
}
