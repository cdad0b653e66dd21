//! GPT: a decoder-only Transformer language model, as nanoGPT's `model.py` builds it.
//!
//! ```text
//! ids (B, T) → wte + wpe → dropout → n_layer × Block → ln_f → lm_head → logits (B, T, vocab)
//! ```
//!
//! The model is built from a [`VarBuilder`] under GPT-2's names
//! (`transformer.h.0.attn.c_attn.weight`, …): a fresh one initialises it, one over a checkpoint
//! loads Hugging Face's `GPT2LMHeadModel` by name (see [`crate::hf`]), through the same code.

use std::sync::Mutex;

use ndarray::{Array2, Array3, Array4, ArrayD, Ix3, IxDyn};
use rand::SeedableRng;
use rand::rngs::StdRng;

use malmoi_tensor::nn::{Embedding, LayerNorm, Linear, Module, prefixed};
use malmoi_tensor::{Tensor, VarBuilder, no_grad};

use crate::attention::KvCache;
use crate::block::{Block, Pass};
use crate::causal_lm::CausalLm;
use crate::config::{GptConfig, NormPlacement, Positions};
use crate::error::{Error, Result};
use crate::init::{STD, embedding, linear};
use crate::lora::{LoraModel, TargetModules, linears_from, named};
use crate::position::sinusoidal;

/// Targets equal to this id add nothing to the loss (PyTorch's `ignore_index=-100`); a label in
/// the id space no tokenizer reaches.
pub const IGNORE_INDEX: u32 = u32::MAX;

/// Mean cross-entropy of `logits (..., vocab)` against token-id `targets` of the leading shape,
/// [`IGNORE_INDEX`] skipped: the one place ids become the tensor op's class indices.
pub(crate) fn token_cross_entropy(logits: &Tensor, targets: &ArrayD<u32>) -> Result<Tensor> {
    let classes = targets.mapv(|id| id as usize);
    Ok(logits.cross_entropy(&classes, Some(IGNORE_INDEX as usize))?)
}

/// A GPT language model.
///
/// ```
/// use malmoi_transformer::{Gpt, GptConfig};
/// use ndarray::array;
///
/// let config = GptConfig { vocab_size: 50, block_size: 8, n_layer: 2, n_head: 2, n_embd: 16, ..GptConfig::default() };
/// let model = Gpt::new(config, 0)?;
/// let ids = array![[1, 2, 3, 4]];
/// let (logits, loss) = model.forward(&ids, Some(&array![[2, 3, 4, 5]]))?;
/// assert_eq!(logits.shape(), vec![1, 4, 50]);
/// assert!((loss.unwrap().item()? - 50f32.ln()).abs() < 0.1); // untrained: about ln(vocab)
/// # Ok::<(), malmoi_transformer::Error>(())
/// ```
#[derive(Debug)]
pub struct Gpt {
    config: GptConfig,
    /// Token embeddings `(vocab, C)`.
    pub wte: Embedding,
    /// Learned position embeddings `(block_size, C)`, or `None` with sinusoidal positions.
    pub wpe: Option<Embedding>,
    sinusoid: Option<Tensor>,
    /// The Transformer blocks.
    pub blocks: Vec<Block>,
    /// Final norm (pre-LN models only).
    pub ln_f: Option<LayerNorm>,
    /// The output layer; shares `wte`'s weight when embeddings are tied.
    pub lm_head: Linear,
    training: bool,
    rng: Mutex<StdRng>,
}

impl Gpt {
    /// A freshly initialised model (GPT-2's scheme): [`from_var_builder`](Self::from_var_builder)
    /// over [`VarBuilder::fresh`]`(seed)`; `seed` drives the initialisation and the dropout
    /// masks. It starts in training mode, as PyTorch modules do.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid config.
    pub fn new(config: GptConfig, seed: u64) -> Result<Self> {
        Self::from_var_builder(config, &VarBuilder::fresh(seed), seed)
    }

    /// The model built from the named tensors of `vb`, under GPT-2's names: `transformer.wte`,
    /// `transformer.wpe`, `transformer.h.{i}` (see [`Block::new`]), `transformer.ln_f` and,
    /// untied, `lm_head`. A fresh `vb` draws them in that order (embeddings `N(0, 0.02²)`); a
    /// loading one reads them (a file saved from a bare `GPT2Model`, without the `transformer.`
    /// prefix, too), so nothing is drawn only to be overwritten. `seed` starts the dropout
    /// masks' generator (loaders pass 0; a trainer reseeds it every step). Training mode.
    ///
    /// ```
    /// use malmoi_tensor::VarBuilder;
    /// use malmoi_tensor::nn::Module;
    /// use malmoi_transformer::{Gpt, GptConfig};
    ///
    /// let config = GptConfig { vocab_size: 30, block_size: 8, n_layer: 1, n_head: 2, n_embd: 8, ..GptConfig::default() };
    /// let model = Gpt::from_var_builder(config.clone(), &VarBuilder::fresh(3), 3)?;
    /// assert_eq!(model.named_parameters()[0].0, "transformer.wte.weight");
    /// assert_eq!(*model.wte.weight.data(), *Gpt::new(config, 3)?.wte.weight.data());
    /// # Ok::<(), malmoi_transformer::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid config; [`Error::Tensor`] for a tensor `vb` lacks or
    /// holds in another shape.
    pub fn from_var_builder(config: GptConfig, vb: &VarBuilder, seed: u64) -> Result<Self> {
        config.validate()?;
        let bare = !vb.is_fresh() && !vb.contains("transformer.wte.weight") && vb.contains("wte.weight");
        let trunk = if bare { vb.clone() } else { vb.pp("transformer") };
        let c = config.n_embd;
        let wte = embedding(config.vocab_size, c, trunk.pp("wte"))?;
        let wpe = (config.positions == Positions::Learned)
            .then(|| embedding(config.block_size, c, trunk.pp("wpe")))
            .transpose()?;
        let blocks =
            (0..config.n_layer).map(|i| Block::new(&config, trunk.pp(format!("h.{i}")))).collect::<Result<Vec<_>>>()?;
        let ln_f = (config.norm == NormPlacement::Pre)
            .then(|| LayerNorm::new(c, config.layer_norm_epsilon, trunk.pp("ln_f")))
            .transpose()?;
        let lm_head = if config.tie_word_embeddings {
            Linear::from_tensors(wte.weight.clone(), None)?
        } else {
            linear(c, config.vocab_size, false, STD, vb.pp("lm_head"))?
        };
        let sinusoid = (config.positions == Positions::Sinusoidal)
            .then(|| Tensor::constant(sinusoidal(config.block_size, config.n_embd).into_dyn()));
        Ok(Gpt {
            config,
            wte,
            wpe,
            sinusoid,
            blocks,
            ln_f,
            lm_head,
            training: true,
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15)),
        })
    }

    /// The model's shape.
    pub fn config(&self) -> &GptConfig {
        &self.config
    }

    /// True in training mode (dropout active in [`forward`](Self::forward)).
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Logits `(B, T, vocab)` for `ids (B, T)` and, given `targets (B, T)`, the mean
    /// cross-entropy over the targets that are not [`IGNORE_INDEX`].
    ///
    /// Dropout applies only in training mode. A causal model needs no padding mask when
    /// sequences are padded on the right: no position sees a later one.
    ///
    /// # Errors
    /// [`Error::Input`] for an empty batch or `T > block_size`; ids out of the vocabulary;
    /// [`malmoi_tensor::Error::NonFinite`] for a NaN or infinite loss.
    pub fn forward(&self, ids: &Array2<u32>, targets: Option<&Array2<u32>>) -> Result<(Tensor, Option<Tensor>)> {
        let hidden = self.hidden_states(ids)?;
        let logits = self.lm_head.forward(&hidden)?;
        let Some(targets) = targets else { return Ok((logits, None)) };
        if targets.dim() != ids.dim() {
            return Err(Error::Input(format!("targets {:?} do not match ids {:?}", targets.dim(), ids.dim())));
        }
        let loss = token_cross_entropy(&logits, &targets.clone().into_dyn())?;
        let value = loss.item()?;
        if !value.is_finite() {
            return Err(malmoi_tensor::Error::non_finite("loss").into());
        }
        Ok((logits, Some(loss)))
    }

    /// The final hidden states `(B, T, C)` (after `ln_f`), which reward and value heads read.
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    pub fn hidden_states(&self, ids: &Array2<u32>) -> Result<Tensor> {
        let dropout = |x: &Tensor| self.dropout(x);
        let mut x = self.embed(ids, 0, &dropout)?;
        for block in &self.blocks {
            x = block.forward(&x, Pass { dropout: &dropout, cache: None, weights: None })?;
        }
        self.finish(x)
    }

    /// An empty key/value cache for `batch` sequences.
    pub fn new_cache(&self, batch: usize) -> KvCache {
        let c = &self.config;
        KvCache::new(c.n_layer, batch, c.n_head, c.block_size, c.head_size())
    }

    /// Inference over new positions: `ids (B, T_new)` continue the sequences in `cache`, whose
    /// keys and values are extended. Returns the logits `(B, T_new, vocab)`. No dropout, no
    /// gradient, whatever the mode.
    ///
    /// # Errors
    /// [`Error::Input`] when the cache would exceed `block_size` or the batch differs.
    pub fn forward_cached(&self, ids: &Array2<u32>, cache: &mut KvCache) -> Result<Array3<f32>> {
        let (logits, _) = self.infer(ids, cache, false)?;
        Ok(logits)
    }

    /// Logits `(1, T, vocab)` of one sequence and the attention weights of every layer,
    /// `(1, nh, T, T)` each, as the lecture's attention figures draw them.
    ///
    /// # Errors
    /// As [`forward_cached`](Self::forward_cached).
    pub fn attention_weights(&self, ids: &[u32]) -> Result<(Array3<f32>, Vec<Array4<f32>>)> {
        let ids = Array2::from_shape_vec((1, ids.len()), ids.to_vec()).expect("one row");
        self.infer(&ids, &mut self.new_cache(1), true)
    }

    fn infer(&self, ids: &Array2<u32>, cache: &mut KvCache, keep: bool) -> Result<(Array3<f32>, Vec<Array4<f32>>)> {
        if !cache.layers.is_empty() && cache.batch() != ids.nrows() {
            return Err(Error::Input(format!("cache batch differs from the {} sequences given", ids.nrows())));
        }
        no_grad(|| {
            let identity = |x: &Tensor| Ok(x.clone());
            let mut weights = Vec::new();
            let mut x = self.embed(ids, cache.len(), &identity)?;
            for (block, layer) in self.blocks.iter().zip(&mut cache.layers) {
                let weights = keep.then_some(&mut weights);
                x = block.forward(&x, Pass { dropout: &identity, cache: Some(layer), weights })?;
            }
            let logits = self.lm_head.forward(&self.finish(x)?)?.to_array();
            Ok((logits.into_dimensionality::<Ix3>().expect("(B, T, vocab)"), weights))
        })
    }

    /// Token plus position embeddings of `ids` starting at position `start`, with dropout.
    fn embed(&self, ids: &Array2<u32>, start: usize, dropout: &dyn Fn(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
        let (b, t) = ids.dim();
        if b == 0 || t == 0 {
            return Err(Error::Input(format!("empty batch of ids {:?}", ids.dim())));
        }
        if start + t > self.config.block_size {
            return Err(Error::Input(format!(
                "{} positions exceed the context of {} tokens",
                start + t,
                self.config.block_size
            )));
        }
        let tokens = self.wte.forward(&ids.clone().into_dyn())?;
        let positions = match (&self.wpe, &self.sinusoid) {
            (Some(wpe), _) => wpe.forward(&ArrayD::from_shape_fn(IxDyn(&[t]), |i| (start + i[0]) as u32))?,
            (None, Some(table)) => table.narrow(0, start, t)?,
            (None, None) => unreachable!("a model has learned or sinusoidal positions"),
        };
        dropout(&tokens.add(&positions)?)
    }

    /// The final norm of pre-LN models.
    fn finish(&self, x: Tensor) -> Result<Tensor> {
        match &self.ln_f {
            Some(ln_f) => Ok(ln_f.forward(&x)?),
            None => Ok(x),
        }
    }

    /// Restarts the dropout masks' generator from `seed`; a trainer calls it before each step
    /// with a seed of that step, so a resumed run draws the masks the uninterrupted one drew.
    pub fn reseed(&self, seed: u64) {
        *self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = StdRng::seed_from_u64(seed);
        LoraModel::reseed_adapters(self, seed);
    }

    fn dropout(&self, x: &Tensor) -> Result<Tensor> {
        if !self.training || self.config.dropout == 0.0 {
            return Ok(x.clone());
        }
        let mut rng = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(x.dropout(self.config.dropout, &mut *rng)?)
    }

    /// A copy of the model with a context of `block_size` tokens (longer or shorter), in
    /// inference mode.
    ///
    /// Learned position embeddings are tiled as Longformer extended RoBERTa's: position `j` starts
    /// from the trained embedding of position `j mod old_block_size`, so a text that fitted the
    /// old context gets exactly the old model's logits and fine-tuning teaches the new
    /// positions. Sinusoidal positions are simply recomputed.
    ///
    /// ```
    /// use malmoi_transformer::{Gpt, GptConfig};
    /// let config = GptConfig { vocab_size: 30, block_size: 8, n_layer: 1, n_head: 2, n_embd: 8, ..GptConfig::default() };
    /// let long = Gpt::new(config, 0)?.with_block_size(32)?;
    /// assert_eq!(long.config().block_size, 32);
    /// # Ok::<(), malmoi_transformer::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for a zero `block_size`.
    pub fn with_block_size(&self, block_size: usize) -> Result<Gpt> {
        let config = GptConfig { block_size, ..self.config.clone() };
        let mut longer = Gpt::new(config, 0)?;
        longer.set_training(false);
        for ((name, target), (_, source)) in longer.named_parameters().iter().zip(self.named_parameters()) {
            if name != "transformer.wpe.weight" {
                target.set_data(source.to_array())?;
            }
        }
        if let (Some(old), Some(new)) = (&self.wpe, &longer.wpe) {
            let old = old.weight.to_array();
            let rows = old.shape()[0];
            let tiled = ArrayD::from_shape_fn(new.weight.shape(), |i| old[[i[0] % rows, i[1]]]);
            new.weight.set_data(tiled)?;
        }
        Ok(longer)
    }

    /// The logits of the last position of each row of `(B, T_new, vocab)`.
    pub fn last_logits(logits: &Array3<f32>) -> Array2<f32> {
        crate::causal_lm::last_logits(logits)
    }
}

impl CausalLm for Gpt {
    fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    fn context_size(&self) -> usize {
        self.config.block_size
    }

    fn new_cache(&self, batch: usize) -> KvCache {
        Gpt::new_cache(self, batch)
    }

    fn forward_cached(&self, ids: &Array2<u32>, cache: &mut KvCache) -> Result<Array3<f32>> {
        Gpt::forward_cached(self, ids, cache)
    }
}

impl Module for Gpt {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut params = prefixed("transformer.wte", self.wte.named_parameters());
        if let Some(wpe) = &self.wpe {
            params.extend(prefixed("transformer.wpe", wpe.named_parameters()));
        }
        for (i, block) in self.blocks.iter().enumerate() {
            params.extend(prefixed(&format!("transformer.h.{i}"), block.named_parameters()));
        }
        if let Some(ln_f) = &self.ln_f {
            params.extend(prefixed("transformer.ln_f", ln_f.named_parameters()));
        }
        if !self.config.tie_word_embeddings {
            params.extend(prefixed("lm_head", self.lm_head.named_parameters()));
        }
        params
    }

    /// The mode of the model's dropout and of its LoRA adapters' dropout.
    fn set_training(&mut self, training: bool) {
        self.training = training;
        for (_, linear) in LoraModel::linears_mut(self) {
            linear.set_training(training);
        }
    }
}

/// GPT-2's linear layers in a block (`transformer.h.{i}`), in parameter order.
const GPT_BLOCK: [&str; 4] = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"];

/// `$model`'s GPT-2 linear layers, shared (`$iter` = `iter`) or mutable (`iter_mut`, `mut`).
macro_rules! gpt_linears {
    ($model:expr, $iter:ident $(, $m:tt)?) => {{
        let tied = $model.config().tie_word_embeddings;
        let mut layers = Vec::new();
        for (i, b) in $model.blocks.$iter().enumerate() {
            let block = [&$($m)? b.attn.c_attn, &$($m)? b.attn.c_proj, &$($m)? b.mlp.c_fc, &$($m)? b.mlp.c_proj];
            layers.extend(named(&format!("transformer.h.{i}"), GPT_BLOCK, block));
        }
        if !tied {
            layers.push(("lm_head".to_string(), &$($m)? $model.lm_head));
        }
        layers
    }};
}

/// GPT-2: PEFT adapts `c_attn` by default; the checkpoint's `Conv1D` weights are `(in, out)`.
impl LoraModel for Gpt {
    const TASK_TYPE: &'static str = "CAUSAL_LM";
    const FAN_IN_FAN_OUT: bool = true;

    linears_from!(gpt_linears);

    fn default_target_modules(&self) -> TargetModules {
        TargetModules::names(["c_attn"])
    }

    fn output_layer(&self) -> Option<&str> {
        Some("lm_head")
    }

    fn training_mode(&self) -> bool {
        self.is_training()
    }
}
