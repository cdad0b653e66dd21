//! Layers and the parameter-collection pattern.
//!
//! [`lora`] adds PEFT-compatible low-rank adapters to [`Linear`] layers. Beside [`Linear`] and
//! [`Embedding`] sit the recurrent layers, one module per concept:
//! [`RnnCell`] and [`Rnn`] (the plain tanh cell and its unrolled layer), [`Lstm`] and [`Gru`],
//! all of them the one [`Recurrent`] stack (stacked, bidirectional, masked by sequence
//! length) with PyTorch's parameter names, so `torch.nn` weights load unchanged.
//!
//! A layer is a struct holding its parameters as [`Tensor`]s and a
//! `forward` method. It is built from a [`VarBuilder`](crate::VarBuilder) view — fresh
//! weights or a checkpoint's, through one constructor — and the [`Module`] trait lists its
//! parameters under the same dotted names (`"encoder.weight_ih_l0"`), which is what
//! optimisers update and [checkpoints](crate::checkpoint) save. A container hands each child
//! `vb.pp(name)` and names its children's parameters with [`prefixed`] (or all at once with
//! [`named_children`]):
//!
//! ```
//! use malmoi_tensor::nn::{Embedding, Linear, Module, prefixed};
//! use malmoi_tensor::{Result, Tensor, VarBuilder};
//! use ndarray::ArrayD;
//!
//! /// Mean of the token embeddings, then a linear layer.
//! struct BagOfEmbeddings {
//!     embedding: Embedding,
//!     output: Linear,
//! }
//!
//! impl Module for BagOfEmbeddings {
//!     fn named_parameters(&self) -> Vec<(String, Tensor)> {
//!         let mut params = prefixed("embedding", self.embedding.named_parameters());
//!         params.extend(prefixed("output", self.output.named_parameters()));
//!         params
//!     }
//! }
//!
//! impl BagOfEmbeddings {
//!     fn forward(&self, ids: &ArrayD<u32>) -> Result<Tensor> {
//!         self.output.forward(&self.embedding.forward(ids)?.mean_axes(&[1], false)?)
//!     }
//! }
//!
//! // fresh weights from seed 0; `VarBuilder::from_dir` would load the same names instead
//! let vb = VarBuilder::fresh(0);
//! let model = BagOfEmbeddings {
//!     embedding: Embedding::new(100, 8, Some(0), vb.pp("embedding"))?,
//!     output: Linear::new(8, 2, true, vb.pp("output"))?,
//! };
//! let names: Vec<String> = model.named_parameters().into_iter().map(|(name, _)| name).collect();
//! assert_eq!(names, ["embedding.weight", "output.weight", "output.bias"]);
//! assert_eq!(model.num_parameters(), 100 * 8 + 8 * 2 + 2);
//! let logits = model.forward(&ndarray::array![[1, 2, 0]].into_dyn())?;
//! assert_eq!(logits.shape(), vec![1, 2]);
//! # Ok::<(), malmoi_tensor::Error>(())
//! ```

mod dropout;
mod embedding;
mod gru;
pub mod init;
mod layer_norm;
mod linear;
pub mod lora;
mod lstm;
mod recurrent;
mod rms_norm;
mod rnn;
mod rnn_cell;

pub use dropout::Dropout;
pub use embedding::Embedding;
pub use gru::Gru;
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use lstm::Lstm;
pub use recurrent::{CellKind, Recurrent, RecurrentConfig, RecurrentInit, RecurrentOutput, RecurrentState};
pub use rms_norm::RmsNorm;
pub use rnn::Rnn;
pub use rnn_cell::RnnCell;

use crate::tensor::Tensor;

/// Something with named trainable parameters (a layer or a whole model).
pub trait Module {
    /// Every parameter with its stable dotted name, always in the same
    /// order. Names are what checkpoints store, so changing one breaks
    /// loading older checkpoints.
    fn named_parameters(&self) -> Vec<(String, Tensor)>;

    /// The parameters without their names.
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters().into_iter().map(|(_, p)| p).collect()
    }

    /// Total number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.named_parameters().iter().map(|(_, p)| p.len()).sum()
    }

    /// Forgets every parameter's gradient.
    fn zero_grad(&self) {
        self.named_parameters().iter().for_each(|(_, p)| p.zero_grad());
    }

    /// Switches between training (`true`) and evaluation behaviour — what
    /// `model.train()` / `model.eval()` do in PyTorch. Only layers that
    /// behave differently (dropout) override it; containers must forward it
    /// to their children.
    fn set_training(&mut self, _training: bool) {}
}

/// Names `params` as children of `prefix`: `"weight"` becomes `"prefix.weight"`.
pub fn prefixed(prefix: &str, params: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
    params.into_iter().map(|(name, p)| (format!("{prefix}.{name}"), p)).collect()
}

/// The parameters of a container's children in order, each [`prefixed`] by its name: the
/// [`Module::named_parameters`] of a struct of layers.
///
/// ```
/// use malmoi_tensor::nn::{Linear, Module, named_children};
/// use malmoi_tensor::VarBuilder;
///
/// let vb = VarBuilder::fresh(0);
/// let (hidden, output) = (Linear::new(4, 8, true, vb.pp("hidden"))?, Linear::new(8, 2, false, vb.pp("output"))?);
/// let names: Vec<String> =
///     named_children(&[("hidden", &hidden), ("output", &output)]).into_iter().map(|(name, _)| name).collect();
/// assert_eq!(names, ["hidden.weight", "hidden.bias", "output.weight"]);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
pub fn named_children(children: &[(&str, &dyn Module)]) -> Vec<(String, Tensor)> {
    children.iter().flat_map(|(prefix, child)| prefixed(prefix, child.named_parameters())).collect()
}
