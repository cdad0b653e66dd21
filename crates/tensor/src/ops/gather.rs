//! Row gather — the embedding lookup — with a scatter-add backward.

use ndarray::{ArrayD, Axis, IxDyn};

use crate::error::{Error, Result};
use crate::tensor::{Backward, Tensor};

/// Backward of `gather_rows`: each output row's gradient is added to the
/// row it was read from (rows read twice get both contributions).
struct GatherRowsBackward {
    indices: Vec<usize>,
}

impl Backward for GatherRowsBackward {
    fn name(&self) -> &'static str {
        "gather_rows"
    }

    fn backward(&self, grad: &ArrayD<f32>, parents: &[Tensor]) -> Vec<Option<ArrayD<f32>>> {
        let shape = parents[0].shape();
        let mut out = ArrayD::zeros(IxDyn(&shape));
        let grad_rows = grad.to_shape((self.indices.len(), shape[1])).expect("rows × dim");
        for (&index, row) in self.indices.iter().zip(grad_rows.outer_iter()) {
            let mut target = out.index_axis_mut(Axis(0), index);
            target += &row;
        }
        vec![Some(out)]
    }
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
        let table = self.data();
        if table.ndim() != 2 {
            return Err(Error::Invalid { op: "gather_rows", reason: format!("table must be 2-D, got shape {:?}", table.shape()) });
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
        Ok(Tensor::from_op(value, vec![self.clone()], GatherRowsBackward { indices: flat }))
    }
}
