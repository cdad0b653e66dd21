//! [`Decoder`]: the decoder-only Transformer of today's open models — rotary positions,
//! grouped-query attention, RMSNorm or LayerNorm, a SwiGLU or GELU MLP, sequential or
//! parallel residuals. One struct runs Llama, Qwen2, Mistral and GPT-NeoX; the checkpoint
//! readers ([`crate::llama`], [`crate::gpt_neox`]) map their configs and tensor names onto it.
//!
//! ```text
//! ids (B, T) → embed → n_layer × [x + attn(norm₁(x)) ; + mlp(norm₂(·))] → norm → lm_head → logits
//! attn: q, k, v projections → RoPE on q, k → causal attention (kv heads shared by groups of
//!       query heads) → o_proj
//! mlp:  down(silu(gate(x)) ⊙ up(x))  (SwiGLU)   or   fc_out(gelu(fc_in(x)))
//! ```
//!
//! The layers are built from named tensors through a [`VarBuilder`]: one over a checkpoint loads
//! them, so nothing is initialised at random before loading; a fresh one ([`Decoder::new`])
//! initialises them through the same code, so the parameters follow from the config alone.

use ndarray::{Array2, Array3, Array4, ArrayD, Axis, Ix3, Ix4};

use malmoi_tensor::kernels::{AttentionMask, attention_forward};
use malmoi_tensor::nn::{Embedding, LayerNorm, Linear, Module, RmsNorm, prefixed};
use malmoi_tensor::{Tensor, VarBuilder, no_grad};

use crate::attention::{KvCache, LayerCache, attend, merge_heads};
use crate::causal_lm::CausalLm;
use crate::error::{Error, Result};
use crate::gpt::token_cross_entropy;
use crate::init::{STD, embedding, linear};
use crate::lora::{LoraModel, TargetModules, linears_from, named};
use crate::rope::{Rope, Rotation};

/// Which normalisation the layers use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NormKind {
    /// `x / rms(x) · w` (Llama, Qwen2, Mistral).
    Rms,
    /// LayerNorm with weight and bias (GPT-NeoX).
    Layer,
}

/// The feed-forward network's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlpKind {
    /// `down(silu(gate(x)) ⊙ up(x))`.
    SwiGlu,
    /// `out(gelu(in(x)))` with the exact GELU.
    Gelu,
    /// `out(gelu(in(x)))` with GELU's tanh approximation.
    GeluTanh,
}

/// How queries, keys and values are projected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QkvLayout {
    /// Three projections `q_proj`, `k_proj`, `v_proj` (Llama).
    Separate,
    /// One projection whose output holds, head after head, that head's query, key and value
    /// (GPT-NeoX's `query_key_value`).
    FusedPerHead,
}

/// The shape of a [`Decoder`], independent of any checkpoint's key names.
#[derive(Debug, Clone, PartialEq)]
pub struct DecoderConfig {
    /// Number of token ids.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the MLP's inner layer.
    pub intermediate_size: usize,
    /// Number of layers.
    pub num_layers: usize,
    /// Query heads per layer.
    pub num_heads: usize,
    /// Key/value heads per layer (a divisor of `num_heads`; fewer is grouped-query attention).
    pub num_kv_heads: usize,
    /// Channels per head.
    pub head_dim: usize,
    /// The longest sequence the model takes.
    pub max_positions: usize,
    /// Normalisation and its epsilon.
    pub norm: NormKind,
    /// The norms' epsilon.
    pub norm_eps: f32,
    /// The MLP.
    pub mlp: MlpKind,
    /// How q, k, v are projected.
    pub qkv: QkvLayout,
    /// Biases on the q, k, v projections.
    pub qkv_bias: bool,
    /// A bias on the attention's output projection.
    pub o_bias: bool,
    /// Biases in the MLP.
    pub mlp_bias: bool,
    /// `x + attn(norm₁(x)) + mlp(norm₂(x))` instead of two residual steps (GPT-NeoX).
    pub parallel_residual: bool,
    /// The output layer shares the embedding's weight.
    pub tie_word_embeddings: bool,
    /// Rotary position embedding.
    pub rope: Rope,
}

impl DecoderConfig {
    /// Checks that the sizes fit together.
    ///
    /// # Errors
    /// [`Error::Config`] for a zero size or heads that do not group.
    pub fn validate(&self) -> Result<()> {
        let sizes = [self.vocab_size, self.hidden_size, self.intermediate_size, self.num_layers, self.num_heads];
        if sizes.contains(&0) || self.num_kv_heads == 0 || self.head_dim == 0 || self.max_positions == 0 {
            return Err(Error::Config(format!("a size is zero: {self:?}")));
        }
        if !self.num_heads.is_multiple_of(self.num_kv_heads) {
            return Err(Error::Config(format!(
                "{} attention heads do not group into {} key/value heads",
                self.num_heads, self.num_kv_heads
            )));
        }
        if self.qkv == QkvLayout::FusedPerHead && self.num_kv_heads != self.num_heads {
            return Err(Error::Config("a fused per-head projection has as many key/value heads as heads".into()));
        }
        if !(self.norm_eps.is_finite() && self.norm_eps > 0.0) {
            return Err(Error::Config(format!("norm epsilon {}", self.norm_eps)));
        }
        Ok(())
    }
}

/// The tensor names of one checkpoint family, relative to the layer or model prefix.
#[derive(Debug, Clone, Copy)]
pub struct TensorNames {
    /// The token embedding (`model.embed_tokens`).
    pub embed: &'static str,
    /// The layer list (`model.layers`); layer `i` is `{layers}.{i}`.
    pub layers: &'static str,
    /// The final norm (`model.norm`).
    pub final_norm: &'static str,
    /// The output layer (`lm_head`).
    pub lm_head: &'static str,
    /// In a layer: the attention's norm.
    pub attn_norm: &'static str,
    /// In a layer: the MLP's norm.
    pub mlp_norm: &'static str,
    /// In a layer: the attention module.
    pub attn: &'static str,
    /// In the attention: `[q, k, v]` names, or one fused name first.
    pub qkv: [&'static str; 3],
    /// In the attention: the output projection.
    pub o_proj: &'static str,
    /// In a layer: the MLP module.
    pub mlp: &'static str,
    /// In the MLP: `[gate, up, down]` (SwiGLU) or `[in, out, _]`.
    pub mlp_proj: [&'static str; 3],
}

/// Grouped-query causal self-attention with rotary positions.
#[derive(Debug, Clone)]
pub struct RotaryAttention {
    /// The q, k, v projections (one fused projection in `FusedPerHead` layout).
    pub qkv: Vec<Linear>,
    /// The output projection.
    pub o_proj: Linear,
    layout: QkvLayout,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
}

impl RotaryAttention {
    /// `x (B, T, C) → (B, T, C)` for the positions `rotation` covers; with a `cache` the new keys
    /// and values are appended and the queries attend to everything cached.
    ///
    /// # Errors
    /// Shape errors; a full cache.
    pub fn forward(&self, x: &Tensor, rotation: &Rotation, cache: Option<&mut LayerCache>) -> Result<Tensor> {
        let (q, k, v) = self.project(x)?;
        let (q, k) = (rotation.apply(&q)?, rotation.apply(&k)?);
        let mask = AttentionMask { key_padding: None, causal: true };
        let y = match cache {
            None => attend(&q, &repeat_kv(&k, self.groups())?, &repeat_kv(&v, self.groups())?, &mask, false)?.0,
            Some(cache) => {
                cache.append(view4(&k.data()), view4(&v.data()))?;
                let (keys, values) = cache.filled();
                let groups = self.groups();
                let (keys, values) = (expand_heads(keys, groups), expand_heads(values, groups));
                let (out, _) = attention_forward(view4(&q.data()), keys.view(), values.view(), &mask, None)?;
                Tensor::constant(out.into_dyn())
            }
        };
        Ok(self.o_proj.forward(&merge_heads(&y)?)?)
    }

    fn groups(&self) -> usize {
        self.num_heads / self.num_kv_heads
    }

    /// Queries `(B, heads, T, hd)`, keys and values `(B, kv_heads, T, hd)`.
    fn project(&self, x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let shape = x.shape();
        let [b, t, _] = shape[..] else { return Err(Error::Input(format!("expected (B, T, C), got {shape:?}"))) };
        let hd = self.head_dim;
        // (B, T, n·w) → (B, n, T, w)
        let heads =
            |y: Tensor, n: usize, w: usize| -> Result<Tensor> { Ok(y.reshape(&[b, t, n, w])?.permute(&[0, 2, 1, 3])?) };
        match self.layout {
            QkvLayout::Separate => Ok((
                heads(self.qkv[0].forward(x)?, self.num_heads, hd)?,
                heads(self.qkv[1].forward(x)?, self.num_kv_heads, hd)?,
                heads(self.qkv[2].forward(x)?, self.num_kv_heads, hd)?,
            )),
            QkvLayout::FusedPerHead => {
                // Per token: nh blocks of [q, k, v], each of width hd.
                let qkv = heads(self.qkv[0].forward(x)?, self.num_heads, 3 * hd)?;
                Ok((qkv.narrow(-1, 0, hd)?, qkv.narrow(-1, hd, hd)?, qkv.narrow(-1, 2 * hd, hd)?))
            }
        }
    }

    fn named_parameters(&self, names: &TensorNames) -> Vec<(String, Tensor)> {
        let mut params = Vec::new();
        for (linear, name) in self.qkv.iter().zip(names.qkv) {
            params.extend(prefixed(name, linear.named_parameters()));
        }
        params.extend(prefixed(names.o_proj, self.o_proj.named_parameters()));
        params
    }
}

/// The feed-forward network.
#[derive(Debug, Clone)]
pub struct DecoderMlp {
    /// `[gate, up, down]` for SwiGLU, `[in, out]` otherwise.
    pub proj: Vec<Linear>,
    kind: MlpKind,
}

impl DecoderMlp {
    /// `x (…, C) → (…, C)`.
    ///
    /// # Errors
    /// Shape errors.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match self.kind {
            MlpKind::SwiGlu => {
                let gated = self.proj[0].forward(x)?.silu().mul(&self.proj[1].forward(x)?)?;
                self.proj[2].forward(&gated)?
            }
            MlpKind::Gelu => self.proj[1].forward(&self.proj[0].forward(x)?.gelu())?,
            MlpKind::GeluTanh => self.proj[1].forward(&self.proj[0].forward(x)?.gelu_tanh())?,
        })
    }

    fn named_parameters(&self, names: &TensorNames) -> Vec<(String, Tensor)> {
        self.proj.iter().zip(names.mlp_proj).flat_map(|(l, name)| prefixed(name, l.named_parameters())).collect()
    }
}

/// A normalisation layer of either kind.
#[derive(Debug, Clone)]
pub enum Norm {
    /// RMSNorm.
    Rms(RmsNorm),
    /// LayerNorm.
    Layer(LayerNorm),
}

impl Norm {
    /// Normalises `x (…, C)`.
    ///
    /// # Errors
    /// Shape errors.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Norm::Rms(n) => n.forward(x)?,
            Norm::Layer(n) => n.forward(x)?,
        })
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        match self {
            Norm::Rms(n) => n.named_parameters(),
            Norm::Layer(n) => n.named_parameters(),
        }
    }
}

/// One decoder layer.
#[derive(Debug, Clone)]
pub struct DecoderLayer {
    /// Norm before the attention.
    pub attn_norm: Norm,
    /// Self-attention.
    pub attn: RotaryAttention,
    /// Norm before the MLP.
    pub mlp_norm: Norm,
    /// Feed-forward network.
    pub mlp: DecoderMlp,
    parallel_residual: bool,
}

impl DecoderLayer {
    fn forward(&self, x: &Tensor, rotation: &Rotation, cache: Option<&mut LayerCache>) -> Result<Tensor> {
        let attended = self.attn.forward(&self.attn_norm.forward(x)?, rotation, cache)?;
        if self.parallel_residual {
            let mlp = self.mlp.forward(&self.mlp_norm.forward(x)?)?;
            return Ok(x.add(&attended)?.add(&mlp)?);
        }
        let x = x.add(&attended)?;
        Ok(x.add(&self.mlp.forward(&self.mlp_norm.forward(&x)?)?)?)
    }

    fn named_parameters(&self, names: &TensorNames) -> Vec<(String, Tensor)> {
        let mut params = prefixed(names.attn_norm, self.attn_norm.named_parameters());
        params.extend(prefixed(names.attn, self.attn.named_parameters(names)));
        params.extend(prefixed(names.mlp_norm, self.mlp_norm.named_parameters()));
        params.extend(prefixed(names.mlp, self.mlp.named_parameters(names)));
        params
    }
}

/// A decoder-only language model with rotary positions (Llama, Qwen2, Mistral, GPT-NeoX).
#[derive(Debug)]
pub struct Decoder {
    config: DecoderConfig,
    names: TensorNames,
    /// Token embeddings `(vocab, C)`.
    pub embed: Embedding,
    /// The layers.
    pub layers: Vec<DecoderLayer>,
    /// The final norm.
    pub norm: Norm,
    /// The output layer; shares `embed`'s weight when embeddings are tied.
    pub lm_head: Linear,
}

impl Decoder {
    /// A freshly initialised model of `config` under the tensor names `names` (e.g.
    /// [`llama::NAMES`](crate::llama::NAMES)): [`from_var_builder`](Self::from_var_builder) over
    /// [`VarBuilder::fresh`]`(seed)`, weights `N(0, 0.02²)` (`transformers`' default
    /// `initializer_range`), norms a unit scale, biases zero.
    ///
    /// ```
    /// use malmoi_tensor::nn::Module;
    /// use malmoi_transformer::decoder::{Decoder, DecoderConfig, MlpKind, NormKind, QkvLayout};
    /// use malmoi_transformer::llama;
    /// use malmoi_transformer::rope::{Rope, RopeScaling};
    ///
    /// let config = DecoderConfig {
    ///     vocab_size: 32, hidden_size: 8, intermediate_size: 16, num_layers: 1, num_heads: 2,
    ///     num_kv_heads: 1, head_dim: 4, max_positions: 16, norm: NormKind::Rms, norm_eps: 1e-6,
    ///     mlp: MlpKind::SwiGlu, qkv: QkvLayout::Separate, qkv_bias: false, o_bias: false,
    ///     mlp_bias: false, parallel_residual: false, tie_word_embeddings: true,
    ///     rope: Rope::new(4, 4, 10_000.0, RopeScaling::Default, 16)?,
    /// };
    /// let model = Decoder::new(config, llama::NAMES, 0)?;
    /// assert_eq!(model.named_parameters()[0].0, "model.embed_tokens.weight");
    /// # Ok::<(), malmoi_transformer::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid config.
    pub fn new(config: DecoderConfig, names: TensorNames, seed: u64) -> Result<Self> {
        Self::from_var_builder(config, names, &VarBuilder::fresh(seed), |_| false)
    }

    /// Builds the model from the named tensors in `vb`, named as `names` says, and checks
    /// that nothing in the checkpoint is left over (except what `ignorable` accepts, such as
    /// stored rotary buffers). A fresh `vb` initialises the tensors instead (see
    /// [`new`](Self::new)).
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid config; [`Error::Tensor`] for a missing tensor or one
    /// of another shape; [`Error::UnexpectedTensor`] for a tensor the model has no place for.
    pub fn from_var_builder(
        config: DecoderConfig,
        names: TensorNames,
        vb: &VarBuilder,
        ignorable: impl Fn(&str) -> bool,
    ) -> Result<Self> {
        config.validate()?;
        let c = config.hidden_size;
        let embed = embedding(config.vocab_size, c, vb.pp(names.embed))?;
        let layers = (0..config.num_layers)
            .map(|i| layer(&config, &names, &vb.pp(format!("{}.{i}", names.layers))))
            .collect::<Result<Vec<_>>>()?;
        let norm = norm(&config, vb.pp(names.final_norm))?;
        let lm_head = if config.tie_word_embeddings && !vb.contains(&format!("{}.weight", names.lm_head)) {
            Linear::from_tensors(embed.weight.clone(), None)?
        } else {
            linear(c, config.vocab_size, false, STD, vb.pp(names.lm_head))?
        };
        if let Some(extra) = vb.unused().into_iter().find(|n| !ignorable(n)) {
            let path = vb.paths().first().cloned().unwrap_or_default();
            return Err(Error::UnexpectedTensor { path, name: extra });
        }
        Ok(Decoder { config, names, embed, layers, norm, lm_head })
    }

    /// The model's shape.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// The checkpoint family's tensor names the model is built under.
    pub fn names(&self) -> &TensorNames {
        &self.names
    }

    /// Logits `(B, T, vocab)` for `ids (B, T)` and, given `targets`, the mean cross-entropy
    /// over the targets that are not [`IGNORE_INDEX`](crate::IGNORE_INDEX) (training path:
    /// gradients recorded).
    ///
    /// # Errors
    /// [`Error::Input`] for an empty batch, `T` past the context or ids out of range;
    /// [`malmoi_tensor::Error::NonFinite`] for a NaN or infinite loss.
    pub fn forward(&self, ids: &Array2<u32>, targets: Option<&Array2<u32>>) -> Result<(Tensor, Option<Tensor>)> {
        self.check_ids(ids, 0)?;
        let mut x = self.embed.forward(&ids.clone().into_dyn())?;
        let rotation = self.config.rope.rotation(0, ids.ncols());
        for layer in &self.layers {
            x = layer.forward(&x, &rotation, None)?;
        }
        let logits = self.lm_head.forward(&self.norm.forward(&x)?)?;
        let Some(targets) = targets else { return Ok((logits, None)) };
        if targets.dim() != ids.dim() {
            return Err(Error::Input(format!("targets {:?} do not match ids {:?}", targets.dim(), ids.dim())));
        }
        let loss = token_cross_entropy(&logits, &targets.clone().into_dyn())?;
        if !loss.item()?.is_finite() {
            return Err(malmoi_tensor::Error::non_finite("loss").into());
        }
        Ok((logits, Some(loss)))
    }

    fn check_ids(&self, ids: &Array2<u32>, start: usize) -> Result<()> {
        let (b, t) = ids.dim();
        if b == 0 || t == 0 {
            return Err(Error::Input(format!("empty batch of ids {:?}", ids.dim())));
        }
        if start + t > self.config.max_positions {
            let max = self.config.max_positions;
            return Err(Error::Input(format!("{} positions exceed the context of {max} tokens", start + t)));
        }
        Ok(())
    }
}

impl CausalLm for Decoder {
    fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    fn context_size(&self) -> usize {
        self.config.max_positions
    }

    fn new_cache(&self, batch: usize) -> KvCache {
        let c = &self.config;
        KvCache::new(c.num_layers, batch, c.num_kv_heads, c.max_positions, c.head_dim)
    }

    fn forward_cached(&self, ids: &Array2<u32>, cache: &mut KvCache) -> Result<Array3<f32>> {
        let start = cache.len();
        self.check_ids(ids, start)?;
        if cache.batch() != ids.nrows() {
            return Err(Error::Input(format!("cache batch differs from the {} sequences given", ids.nrows())));
        }
        no_grad(|| {
            let mut x = self.embed.forward(&ids.clone().into_dyn())?;
            let rotation = self.config.rope.rotation(start, ids.ncols());
            for (layer, layer_cache) in self.layers.iter().zip(&mut cache.layers) {
                x = layer.forward(&x, &rotation, Some(layer_cache))?;
            }
            let logits = self.lm_head.forward(&self.norm.forward(&x)?)?.to_array();
            Ok(logits.into_dimensionality::<Ix3>().expect("(B, T, vocab)"))
        })
    }
}

impl Module for Decoder {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let names = &self.names;
        let mut params = prefixed(names.embed, self.embed.named_parameters());
        for (i, layer) in self.layers.iter().enumerate() {
            params.extend(prefixed(&format!("{}.{i}", names.layers), layer.named_parameters(names)));
        }
        params.extend(prefixed(names.final_norm, self.norm.named_parameters()));
        if !self.config.tie_word_embeddings {
            params.extend(prefixed(names.lm_head, self.lm_head.named_parameters()));
        }
        params
    }

    /// The mode of the LoRA adapters' dropout (the decoder has none of its own).
    fn set_training(&mut self, training: bool) {
        for (_, linear) in LoraModel::linears_mut(self) {
            linear.set_training(training);
        }
    }
}

/// `$model`'s decoder linear layers, shared (`$iter` = `iter`) or mutable (`iter_mut`, `mut`).
macro_rules! decoder_linears {
    ($model:expr, $iter:ident $(, $m:tt)?) => {{
        let (names, tied) = (*$model.names(), $model.config().tie_word_embeddings);
        let mut layers = Vec::new();
        for (i, layer) in $model.layers.$iter().enumerate() {
            let attn = format!("{}.{i}.{}", names.layers, names.attn);
            let mlp = format!("{}.{i}.{}", names.layers, names.mlp);
            layers.extend(named(&attn, names.qkv, layer.attn.qkv.$iter()));
            layers.push((format!("{attn}.{}", names.o_proj), &$($m)? layer.attn.o_proj));
            layers.extend(named(&mlp, names.mlp_proj, layer.mlp.proj.$iter()));
        }
        if !tied {
            layers.push((names.lm_head.to_string(), &$($m)? $model.lm_head));
        }
        layers
    }};
}

/// The Llama-family decoders (Llama, Qwen2, Mistral, GPT-NeoX), under their checkpoint's names.
impl LoraModel for Decoder {
    const TASK_TYPE: &'static str = "CAUSAL_LM";

    linears_from!(decoder_linears);

    /// PEFT's defaults: `q_proj`, `v_proj` (Llama, Qwen2, Mistral); `query_key_value` (GPT-NeoX).
    fn default_target_modules(&self) -> TargetModules {
        let qkv = self.names().qkv;
        match self.config().qkv {
            QkvLayout::Separate => TargetModules::names([qkv[0], qkv[2]]),
            QkvLayout::FusedPerHead => TargetModules::names([qkv[0]]),
        }
    }

    fn output_layer(&self) -> Option<&str> {
        Some(self.names().lm_head)
    }

    /// A decoder has no dropout of its own: adapters start in evaluation mode;
    /// `set_training(true)` turns their dropout on.
    fn training_mode(&self) -> bool {
        false
    }
}

/// One layer from the tensors under `vb` (`model.layers.{i}`).
fn layer(config: &DecoderConfig, names: &TensorNames, vb: &VarBuilder) -> Result<DecoderLayer> {
    let c = config.hidden_size;
    let hd = config.head_dim;
    let (q, kv) = (config.num_heads * hd, config.num_kv_heads * hd);
    let attn_vb = vb.pp(names.attn);
    let qkv = match config.qkv {
        QkvLayout::Separate => vec![
            linear(c, q, config.qkv_bias, STD, attn_vb.pp(names.qkv[0]))?,
            linear(c, kv, config.qkv_bias, STD, attn_vb.pp(names.qkv[1]))?,
            linear(c, kv, config.qkv_bias, STD, attn_vb.pp(names.qkv[2]))?,
        ],
        QkvLayout::FusedPerHead => vec![linear(c, 3 * q, config.qkv_bias, STD, attn_vb.pp(names.qkv[0]))?],
    };
    let attn = RotaryAttention {
        qkv,
        o_proj: linear(q, c, config.o_bias, STD, attn_vb.pp(names.o_proj))?,
        layout: config.qkv,
        num_heads: config.num_heads,
        num_kv_heads: config.num_kv_heads,
        head_dim: hd,
    };
    let mlp_vb = vb.pp(names.mlp);
    let inner = config.intermediate_size;
    let proj = match config.mlp {
        MlpKind::SwiGlu => vec![
            linear(c, inner, config.mlp_bias, STD, mlp_vb.pp(names.mlp_proj[0]))?,
            linear(c, inner, config.mlp_bias, STD, mlp_vb.pp(names.mlp_proj[1]))?,
            linear(inner, c, config.mlp_bias, STD, mlp_vb.pp(names.mlp_proj[2]))?,
        ],
        MlpKind::Gelu | MlpKind::GeluTanh => vec![
            linear(c, inner, config.mlp_bias, STD, mlp_vb.pp(names.mlp_proj[0]))?,
            linear(inner, c, config.mlp_bias, STD, mlp_vb.pp(names.mlp_proj[1]))?,
        ],
    };
    Ok(DecoderLayer {
        attn_norm: norm(config, vb.pp(names.attn_norm))?,
        attn,
        mlp_norm: norm(config, vb.pp(names.mlp_norm))?,
        mlp: DecoderMlp { proj, kind: config.mlp },
        parallel_residual: config.parallel_residual,
    })
}

/// A norm of `config`'s kind under `vb` (`weight`, and `bias` for LayerNorm).
fn norm(config: &DecoderConfig, vb: VarBuilder) -> Result<Norm> {
    let (c, eps) = (config.hidden_size, config.norm_eps);
    Ok(match config.norm {
        NormKind::Rms => Norm::Rms(RmsNorm::new(c, eps, vb)?),
        NormKind::Layer => Norm::Layer(LayerNorm::new(c, eps, vb)?),
    })
}

/// `(B, kv_heads, T, hd) → (B, kv_heads · groups, T, hd)`, each key/value head repeated for
/// its group of query heads (`repeat_kv` in `transformers`), with gradients.
fn repeat_kv(x: &Tensor, groups: usize) -> Result<Tensor> {
    if groups == 1 {
        return Ok(x.clone());
    }
    let shape = x.shape();
    let [b, kv, t, hd] = shape[..] else { unreachable!("4-D keys") };
    let one = x.unsqueeze(2)?;
    let repeated = Tensor::cat(&vec![one; groups], 2)?;
    Ok(repeated.reshape(&[b, kv * groups, t, hd])?)
}

/// [`repeat_kv`] on cached arrays (inference).
fn expand_heads(x: ndarray::ArrayView4<f32>, groups: usize) -> Array4<f32> {
    if groups == 1 {
        return x.to_owned();
    }
    let rows: Vec<usize> = (0..x.dim().1 * groups).map(|h| h / groups).collect();
    x.select(Axis(1), &rows)
}

fn view4(a: &ArrayD<f32>) -> ndarray::ArrayView4<'_, f32> {
    a.view().into_dimensionality::<Ix4>().expect("4-D heads")
}
