//! The Transformer block: attention and a GELU MLP, each wrapped in a residual connection and
//! a LayerNorm placed before (pre-LN, GPT-2) or after (post-LN, the original Transformer).

use ndarray::Array4;

use malmoi_tensor::nn::{LayerNorm, Linear, Module, named_children};
use malmoi_tensor::{Tensor, VarBuilder};

use crate::attention::{CausalSelfAttention, LayerCache};
use crate::config::{GptConfig, NormPlacement};
use crate::error::Result;
use crate::init::{STD, conv1d};

/// Which GELU an MLP uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The tanh approximation (GPT-2's `gelu_new`).
    GeluTanh,
    /// The exact, erf-based GELU (BERT's `gelu`).
    Gelu,
}

impl Activation {
    /// Applies the activation.
    pub fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::GeluTanh => x.gelu_tanh(),
            Activation::Gelu => x.gelu(),
        }
    }
}

/// What a forward pass does besides computing: dropout (training) and, for inference, the
/// key/value cache and the attention weights to keep.
pub struct Pass<'a> {
    /// Applied to each sub-layer's output before the residual sum (identity in inference).
    pub dropout: &'a dyn Fn(&Tensor) -> Result<Tensor>,
    /// This layer's key/value cache, when generating.
    pub cache: Option<&'a mut LayerCache>,
    /// Receives this layer's attention weights when given.
    pub weights: Option<&'a mut Vec<Array4<f32>>>,
}

/// The position-wise feed-forward network `c_proj(GELU(c_fc(x)))`, `C → 4C → C`.
#[derive(Debug, Clone)]
pub struct Mlp {
    /// `C → 4C`.
    pub c_fc: Linear,
    /// `4C → C`.
    pub c_proj: Linear,
    /// The non-linearity between them.
    pub activation: Activation,
}

impl Mlp {
    /// `x (…, C) → (…, C)`.
    ///
    /// # Errors
    /// Shape errors.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.c_proj.forward(&self.activation.apply(&self.c_fc.forward(x)?))?)
    }
}

impl Module for Mlp {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        named_children(&[("c_fc", &self.c_fc), ("c_proj", &self.c_proj)])
    }
}

/// One GPT block (`ln_1`, `attn`, `ln_2`, `mlp`, as GPT-2 names them).
#[derive(Debug, Clone)]
pub struct Block {
    /// Norm of the attention sub-layer.
    pub ln_1: LayerNorm,
    /// Causal self-attention.
    pub attn: CausalSelfAttention,
    /// Norm of the MLP sub-layer.
    pub ln_2: LayerNorm,
    /// Feed-forward network.
    pub mlp: Mlp,
    /// Pre-LN or post-LN.
    pub norm: NormPlacement,
}

impl Block {
    /// A block of `config`'s shape under `vb` (`ln_1`, `attn.c_attn`, `attn.c_proj`, `ln_2`,
    /// `mlp.c_fc`, `mlp.c_proj`, GPT-2's names and `Conv1D` layout); fresh weights initialised
    /// as GPT-2 (the output projections scaled by `1/√(2·n_layer)`), drawn in that order.
    ///
    /// ```
    /// use malmoi_tensor::VarBuilder;
    /// use malmoi_transformer::{GptConfig, block::Block};
    /// let config = GptConfig { n_embd: 8, n_head: 2, n_layer: 1, ..GptConfig::default() };
    /// let block = Block::new(&config, VarBuilder::fresh(0).pp("h.0"))?;
    /// assert_eq!(block.mlp.c_fc.out_features(), 32);
    /// # Ok::<(), malmoi_transformer::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) for a width that does not split into heads; a
    /// tensor `vb` lacks or holds in another shape.
    pub fn new(config: &GptConfig, vb: VarBuilder) -> Result<Self> {
        let (c, bias, eps, inner) = (config.n_embd, config.bias, config.layer_norm_epsilon, config.inner_size());
        let proj_std = STD / (2.0 * config.n_layer as f32).sqrt();
        Ok(Block {
            ln_1: LayerNorm::new(c, eps, vb.pp("ln_1"))?,
            attn: CausalSelfAttention::new(c, config.n_head, bias, config.n_layer, vb.pp("attn"))?,
            ln_2: LayerNorm::new(c, eps, vb.pp("ln_2"))?,
            mlp: Mlp {
                c_fc: conv1d(c, inner, bias, STD, vb.pp("mlp.c_fc"))?,
                c_proj: conv1d(inner, c, bias, proj_std, vb.pp("mlp.c_proj"))?,
                activation: Activation::GeluTanh,
            },
            norm: config.norm,
        })
    }

    /// `x (B, T, C) → (B, T, C)`.
    ///
    /// # Errors
    /// Shape errors; a full cache.
    pub fn forward(&self, x: &Tensor, pass: Pass) -> Result<Tensor> {
        let Pass { dropout, cache, weights } = pass;
        match self.norm {
            NormPlacement::Pre => {
                let x = x.add(&dropout(&self.attn.forward(&self.ln_1.forward(x)?, cache, weights)?)?)?;
                Ok(x.add(&dropout(&self.mlp.forward(&self.ln_2.forward(&x)?)?)?)?)
            }
            NormPlacement::Post => {
                let x = self.ln_1.forward(&x.add(&dropout(&self.attn.forward(x, cache, weights)?)?)?)?;
                Ok(self.ln_2.forward(&x.add(&dropout(&self.mlp.forward(&x)?)?)?)?)
            }
        }
    }
}

impl Module for Block {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        named_children(&[("ln_1", &self.ln_1), ("attn", &self.attn), ("ln_2", &self.ln_2), ("mlp", &self.mlp)])
    }
}
