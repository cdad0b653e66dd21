//! The Transformer block: attention and a GELU MLP, each wrapped in a residual connection and
//! a LayerNorm placed before (pre-LN, GPT-2) or after (post-LN, the original Transformer).

use ndarray::Array4;
use rand::Rng;

use malmoi_tensor::Tensor;
use malmoi_tensor::nn::{LayerNorm, Linear, Module, prefixed};

use crate::attention::{CausalSelfAttention, LayerCache};
use crate::config::{GptConfig, NormPlacement};
use crate::error::Result;
use crate::init::linear;

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
        let mut params = prefixed("c_fc", self.c_fc.named_parameters());
        params.extend(prefixed("c_proj", self.c_proj.named_parameters()));
        params
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
    /// A block of `config`'s shape initialised as GPT-2 (the output projections scaled by
    /// `1/√(2·n_layer)`).
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) for a width that does not split into heads.
    pub fn new(config: &GptConfig, rng: &mut impl Rng) -> Result<Self> {
        let (c, bias, eps) = (config.n_embd, config.bias, config.layer_norm_epsilon);
        let proj_std = 0.02 / (2.0 * config.n_layer as f32).sqrt();
        Ok(Block {
            ln_1: LayerNorm::new(c, eps)?,
            attn: CausalSelfAttention::new(c, config.n_head, bias, config.n_layer, rng)?,
            ln_2: LayerNorm::new(c, eps)?,
            mlp: Mlp {
                c_fc: linear(c, config.inner_size(), bias, 0.02, rng)?,
                c_proj: linear(config.inner_size(), c, bias, proj_std, rng)?,
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
        let mut params = prefixed("ln_1", self.ln_1.named_parameters());
        params.extend(prefixed("attn", self.attn.named_parameters()));
        params.extend(prefixed("ln_2", self.ln_2.named_parameters()));
        params.extend(prefixed("mlp", self.mlp.named_parameters()));
        params
    }
}
