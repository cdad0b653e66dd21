//! [`CsrMatrix`]: compressed sparse rows, the output of the count and TF-IDF vectorizers.

use crate::error::{EmbedError, Result};
use ndarray::Array2;

/// A sparse matrix in compressed sparse row (CSR) layout, like `scipy.sparse.csr_matrix`.
///
/// Row `r` holds the column indices `indices[indptr[r]..indptr[r + 1]]` (sorted ascending)
/// and their values at the same positions of `data`.
///
/// ```
/// use malmoi_embed::CsrMatrix;
/// let m = CsrMatrix::new(2, 3, vec![0, 1, 3], vec![2, 0, 1], vec![5.0, 1.0, 2.0]).unwrap();
/// assert_eq!(m.get(0, 2), 5.0);
/// assert_eq!(m.get(1, 2), 0.0);
/// assert_eq!(m.to_dense()[[1, 1]], 2.0);
/// assert_eq!(m.nnz(), 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CsrMatrix {
    n_rows: usize,
    n_cols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    data: Vec<f64>,
}

impl CsrMatrix {
    /// Builds a matrix from raw CSR arrays, checking that they are consistent (indptr of
    /// length `n_rows + 1`, non-decreasing, columns in range and strictly increasing per row).
    pub fn new(n_rows: usize, n_cols: usize, indptr: Vec<usize>, indices: Vec<u32>, data: Vec<f64>) -> Result<Self> {
        let invalid = |msg: &str| Err(EmbedError::InvalidParameter(format!("CSR: {msg}")));
        if indptr.len() != n_rows + 1 || indptr[0] != 0 {
            return invalid("indptr must have n_rows + 1 entries starting at 0");
        }
        if indices.len() != data.len() || *indptr.last().unwrap_or(&0) != indices.len() {
            return invalid("indices, data and indptr disagree on the number of non-zeros");
        }
        for w in indptr.windows(2) {
            if w[0] > w[1] {
                return invalid("indptr must be non-decreasing");
            }
            let row = &indices[w[0]..w[1]];
            if row.iter().any(|&c| c as usize >= n_cols) || row.windows(2).any(|p| p[0] >= p[1]) {
                return invalid("column indices must be < n_cols and increasing within a row");
            }
        }
        Ok(Self::from_parts_unchecked(n_rows, n_cols, indptr, indices, data))
    }

    /// Builds a matrix from arrays the caller guarantees are consistent.
    pub(crate) fn from_parts_unchecked(
        n_rows: usize,
        n_cols: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        data: Vec<f64>,
    ) -> Self {
        CsrMatrix { n_rows, n_cols, indptr, indices, data }
    }

    /// `(rows, columns)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.n_rows, self.n_cols)
    }

    /// Number of stored (non-zero) entries.
    pub fn nnz(&self) -> usize {
        self.data.len()
    }

    /// Row pointer array (`n_rows + 1` entries).
    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }

    /// Column index of every stored entry.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// Value of every stored entry.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// Column indices and values of row `r`.
    ///
    /// # Panics
    /// If `r >= n_rows`.
    pub fn row(&self, r: usize) -> (&[u32], &[f64]) {
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[a..b], &self.data[a..b])
    }

    /// Entry `(r, c)` (zero when not stored).
    ///
    /// # Panics
    /// If `r >= n_rows`.
    pub fn get(&self, r: usize, c: usize) -> f64 {
        let (cols, vals) = self.row(r);
        match cols.binary_search(&(c as u32)) {
            Ok(k) => vals[k],
            Err(_) => 0.0,
        }
    }

    /// The dense `n_rows × n_cols` matrix.
    pub fn to_dense(&self) -> Array2<f64> {
        let mut dense = Array2::zeros((self.n_rows, self.n_cols));
        for r in 0..self.n_rows {
            let (cols, vals) = self.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                dense[[r, c as usize]] = v;
            }
        }
        dense
    }

    /// Mutable values, one slice per row, for row-parallel in-place transforms.
    pub(crate) fn rows_mut(&mut self) -> Vec<(&[u32], &mut [f64])> {
        let mut rows = Vec::with_capacity(self.n_rows);
        let mut rest = self.data.as_mut_slice();
        for w in self.indptr.windows(2) {
            let (row, tail) = rest.split_at_mut(w[1] - w[0]);
            rows.push((&self.indices[w[0]..w[1]], row));
            rest = tail;
        }
        rows
    }
}
