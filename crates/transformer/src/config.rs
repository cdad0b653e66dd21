//! The shape of a GPT: [`GptConfig`].

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a model learns where each token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Positions {
    /// A trained `(block_size, n_embd)` table (GPT-2, BERT).
    #[default]
    Learned,
    /// The fixed sines and cosines of "Attention Is All You Need".
    Sinusoidal,
}

/// Where a block normalises: before each sub-layer (GPT-2) or after each residual sum
/// (the original Transformer, BERT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NormPlacement {
    /// `x + f(LN(x))`, and a final LayerNorm after the last block.
    #[default]
    Pre,
    /// `LN(x + f(x))`.
    Post,
}

/// The hyper-parameters of a [`Gpt`](crate::Gpt), named as in nanoGPT.
///
/// ```
/// use malmoi_transformer::GptConfig;
/// let config = GptConfig { vocab_size: 8000, block_size: 128, ..GptConfig::default() };
/// assert_eq!(config.head_size(), 64);
/// config.validate()?;
/// # Ok::<(), malmoi_transformer::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GptConfig {
    /// Number of token ids.
    pub vocab_size: usize,
    /// The longest context the model sees.
    pub block_size: usize,
    /// Number of Transformer blocks.
    pub n_layer: usize,
    /// Attention heads per block.
    pub n_head: usize,
    /// Width of the residual stream.
    pub n_embd: usize,
    /// Width of the MLP's inner layer (`None`: `4 · n_embd`, GPT-2's `n_inner: null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_inner: Option<usize>,
    /// Dropout on embeddings and on each sub-layer's output, in training mode only.
    pub dropout: f32,
    /// Biases in the linear layers (LayerNorms always have one).
    pub bias: bool,
    /// The output layer reuses the token-embedding table.
    pub tie_word_embeddings: bool,
    /// LayerNorm's epsilon.
    pub layer_norm_epsilon: f32,
    /// Learned or sinusoidal positions.
    pub positions: Positions,
    /// Pre-LN (GPT-2) or post-LN blocks.
    pub norm: NormPlacement,
}

impl Default for GptConfig {
    /// nanoGPT's Shakespeare-char shape scaled to a Korean BPE vocabulary: 6 layers, 6 heads,
    /// width 384, context 256, no dropout, biases, tied embeddings.
    fn default() -> Self {
        GptConfig {
            vocab_size: 8192,
            block_size: 256,
            n_layer: 6,
            n_head: 6,
            n_embd: 384,
            n_inner: None,
            dropout: 0.0,
            bias: true,
            tie_word_embeddings: true,
            layer_norm_epsilon: 1e-5,
            positions: Positions::Learned,
            norm: NormPlacement::Pre,
        }
    }
}

impl GptConfig {
    /// Width of the MLP's inner layer.
    pub fn inner_size(&self) -> usize {
        self.n_inner.unwrap_or(4 * self.n_embd)
    }

    /// Width of one attention head, `n_embd / n_head`.
    pub fn head_size(&self) -> usize {
        self.n_embd / self.n_head.max(1)
    }

    /// Checks that the numbers make a model.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first problem.
    pub fn validate(&self) -> Result<()> {
        let problem = if self.vocab_size == 0 || self.block_size == 0 || self.n_layer == 0 {
            Some("vocab_size, block_size and n_layer must be positive".to_string())
        } else if self.n_inner == Some(0) {
            Some("n_inner must be positive".to_string())
        } else if self.n_head == 0 || !self.n_embd.is_multiple_of(self.n_head) {
            Some(format!("n_embd {} is not a positive multiple of n_head {}", self.n_embd, self.n_head))
        } else if !(0.0..1.0).contains(&self.dropout) {
            Some(format!("dropout must be in [0, 1), got {}", self.dropout))
        } else if self.layer_norm_epsilon.is_nan() || self.layer_norm_epsilon <= 0.0 {
            Some(format!("layer_norm_epsilon must be positive, got {}", self.layer_norm_epsilon))
        } else if self.positions == Positions::Sinusoidal && !self.n_embd.is_multiple_of(2) {
            Some(format!("sinusoidal positions need an even n_embd, got {}", self.n_embd))
        } else {
            None
        };
        problem.map_or(Ok(()), |p| Err(Error::Config(p)))
    }
}
