//! Token embedding table.

use ndarray::{ArrayD, Axis};

use super::Module;
use super::init::{self, Init};
use crate::VarBuilder;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// A `(num_embeddings, dim)` table looked up by token id
/// (`torch.nn.Embedding`, Keras' `Embedding`); its parameter is `weight`.
///
/// With a `padding_idx`, that row starts at zero, positions holding it give
/// zero vectors and send no gradient, so the row stays zero through
/// training (PyTorch's semantics for a zero padding row).
///
/// ```
/// use malmoi_tensor::{VarBuilder, nn::Embedding};
/// use ndarray::array;
///
/// let table = Embedding::new(10, 4, Some(0), VarBuilder::fresh(1))?;
/// let vectors = table.forward(&array![[3, 7, 0, 0]].into_dyn())?;
/// assert_eq!(vectors.shape(), vec![1, 4, 4]);
/// assert!(vectors.data().slice(ndarray::s![0, 2, ..]).iter().all(|&v| v == 0.0));
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Embedding {
    /// `(num_embeddings, dim)`.
    pub weight: Tensor,
    /// The id whose row is kept at zero, if any.
    pub padding_idx: Option<usize>,
    /// Whether lookups give `weight` a row-sparse gradient
    /// ([`Tensor::gather_rows_sparse`]); off by default.
    pub sparse_grad: bool,
}

impl Embedding {
    /// The table `weight` under `vb`, freshly drawn from `N(0, 1)` (PyTorch's default) with the
    /// padding row zeroed.
    ///
    /// # Errors
    /// As [`with_init`](Self::with_init).
    pub fn new(num_embeddings: usize, dim: usize, padding_idx: Option<usize>, vb: VarBuilder) -> Result<Self> {
        let pad = padding_idx.filter(|&pad| pad < num_embeddings);
        let weight = Self::checked(num_embeddings, dim).and_then(|shape| {
            vb.get_or_else(&shape, "weight", |rng| {
                let mut weight = init::normal(&shape, 0.0, 1.0, rng)?;
                if let Some(pad) = pad {
                    weight.index_axis_mut(Axis(0), pad).fill(0.0);
                }
                Ok(weight)
            })
        })?;
        Self::from_weights(weight, padding_idx)
    }

    /// The table `weight` under `vb`, freshly drawn by `init` (every row, the padding row too).
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty table; [`Error::IndexOutOfRange`] if
    /// `padding_idx ≥ num_embeddings`; a tensor `vb` lacks or holds in another shape.
    pub fn with_init(
        num_embeddings: usize,
        dim: usize,
        padding_idx: Option<usize>,
        init: Init,
        vb: VarBuilder,
    ) -> Result<Self> {
        let shape = Self::checked(num_embeddings, dim)?;
        Self::from_weights(vb.get_or_init(&shape, "weight", init)?, padding_idx)
    }

    fn checked(num_embeddings: usize, dim: usize) -> Result<[usize; 2]> {
        if num_embeddings == 0 || dim == 0 {
            return Err(Error::Invalid { op: "Embedding", reason: format!("empty table {num_embeddings} × {dim}") });
        }
        Ok([num_embeddings, dim])
    }

    /// A table with the given `(num_embeddings, dim)` weights (pretrained
    /// vectors, e.g. word2vec); the padding row is used as given.
    ///
    /// # Errors
    /// [`Error::Invalid`] unless `weight` is 2-D;
    /// [`Error::IndexOutOfRange`] if `padding_idx ≥ num_embeddings`.
    pub fn from_weights(weight: ArrayD<f32>, padding_idx: Option<usize>) -> Result<Self> {
        if weight.ndim() != 2 {
            return Err(Error::Invalid {
                op: "Embedding",
                reason: format!("weight must be 2-D, got {:?}", weight.shape()),
            });
        }
        let rows = weight.shape()[0];
        if let Some(pad) = padding_idx.filter(|&pad| pad >= rows) {
            return Err(Error::IndexOutOfRange { op: "Embedding", index: pad, size: rows });
        }
        Ok(Embedding { weight: Tensor::parameter(weight), padding_idx, sparse_grad: false })
    }

    /// Turns row-sparse gradients on or off (`torch.nn.Embedding(sparse=True)`):
    /// a batch then stores and updates only the rows it looked up, instead of
    /// a dense `num_embeddings × dim` gradient; see [`crate::optim`] for how
    /// the optimisers apply it.
    ///
    /// ```
    /// use malmoi_tensor::nn::{Embedding, Module};
    /// use malmoi_tensor::optim::{Optimizer, Sgd};
    /// use ndarray::array;
    /// use malmoi_tensor::VarBuilder;
    ///
    /// let table = Embedding::new(50_000, 8, None, VarBuilder::fresh(1))?.with_sparse_grad(true);
    /// let before = table.weight.to_array();
    /// let mut sgd = Sgd::new(table.named_parameters(), 0.1)?;
    /// table.forward(&array![[3, 9]].into_dyn())?.sum().backward()?;
    /// sgd.step()?;
    /// let after = table.weight.to_array();
    /// assert_eq!(after[[3, 0]], before[[3, 0]] - 0.1);
    /// assert_eq!(after.index_axis(ndarray::Axis(0), 4), before.index_axis(ndarray::Axis(0), 4));
    /// # Ok::<(), malmoi_tensor::Error>(())
    /// ```
    pub fn with_sparse_grad(mut self, sparse: bool) -> Self {
        self.sparse_grad = sparse;
        self
    }

    /// Number of rows (vocabulary size).
    pub fn num_embeddings(&self) -> usize {
        self.weight.shape()[0]
    }

    /// Vector size.
    pub fn dim(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Looks up token `ids` (`u32`, the id type of every tokenizer and model here) of any
    /// shape, giving `ids.shape() + [dim]`.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] for an id ≥ `num_embeddings`.
    pub fn forward(&self, ids: &ArrayD<u32>) -> Result<Tensor> {
        let rows = ids.mapv(|id| id as usize);
        let vectors =
            if self.sparse_grad { self.weight.gather_rows_sparse(&rows)? } else { self.weight.gather_rows(&rows)? };
        let Some(pad) = self.padding_idx else { return Ok(vectors) };
        let keep = rows.mapv(|row| if row == pad { 0.0 } else { 1.0 }).insert_axis(Axis(ids.ndim()));
        vectors.mul(&Tensor::constant(keep))
    }
}

impl Module for Embedding {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        vec![("weight".to_string(), self.weight.clone())]
    }
}
