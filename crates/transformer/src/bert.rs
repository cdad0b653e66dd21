//! BERT: a bidirectional Transformer encoder (post-LN blocks over word + position + segment
//! embeddings), its two pre-training heads — masked LM and next-sentence prediction — and
//! mean-pooled sentence embeddings (sentence-transformers).
//!
//! Every model is built from a [`VarBuilder`] under Hugging Face's `BertModel` names
//! (`embeddings.word_embeddings.weight`, `encoder.layer.0.attention.self.query.weight`, …) and
//! the heads `BertForPreTraining`'s (`cls.predictions.*`, `cls.seq_relationship.*`): a fresh one
//! initialises it (`new`), one over a checkpoint loads it (`from_pretrained`) through the same
//! code, so nothing is drawn at random only to be overwritten. Files saved from
//! `BertForPreTraining` prefix the encoder with `bert.`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use ndarray::{Array2, ArrayD, Axis, IxDyn};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use malmoi_tensor::nn::init::Init;
use malmoi_tensor::nn::{Embedding, LayerNorm, Linear, Module, named_children, prefixed};
use malmoi_tensor::{Tensor, VarBuilder, no_grad};
use malmoi_tokenize::encoding::{PadOptions, Side, pad_sequences};

use crate::attention::MultiHeadAttention;
use crate::block::Activation;
use crate::error::{Error, Result};
use crate::gpt::token_cross_entropy;
use crate::hf::{CONFIG_FILE, WEIGHTS_FILE, build_checked};
use crate::init::{STD, embedding, linear};
use crate::lora::{LoraModel, TargetModules, linears_from, named, refuse_adapters};

/// Reads a BERT directory's `config.json`.
///
/// # Errors
/// I/O and JSON errors; [`BertConfig::validate`]'s.
pub fn read_bert_config(dir: &Path) -> Result<BertConfig> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
    let config: BertConfig = serde_json::from_str(&text).map_err(Error::json(&path))?;
    config.validate()?;
    Ok(config)
}

/// Builds a model on a BERT directory's weights: reads `config.json`, runs `build` over the
/// stored tensors (a config claiming 10^12 parameters fails at its first misshapen tensor,
/// before anything that size is allocated) and refuses a tensor it did not read unless
/// `ignorable` accepts it.
fn load<T>(
    dir: &Path,
    build: impl FnOnce(BertConfig, &VarBuilder) -> Result<T>,
    ignorable: impl Fn(&str) -> bool,
) -> Result<T> {
    let config = read_bert_config(dir)?;
    build_checked(dir, |vb| build(config, vb), ignorable)
}

/// Writes `config` and `params` as a Hugging Face model directory.
fn save_dir(dir: &Path, config: &BertConfig, architecture: &str, params: &[(String, Tensor)]) -> Result<()> {
    refuse_adapters(params)?;
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let arrays: Vec<(String, ArrayD<f32>)> = params.iter().map(|(n, p)| (n.clone(), p.to_array())).collect();
    let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    malmoi_tensor::checkpoint::save(dir.join(WEIGHTS_FILE), arrays.iter().map(|(n, a)| (n.as_str(), a)), &metadata)?;
    let mut config = config.clone();
    config.rest.insert("architectures".into(), Value::from(vec![architecture]));
    let json = serde_json::to_string_pretty(&config).expect("plain data");
    Ok(malmoi_tensor::checkpoint::write_atomically(&dir.join(CONFIG_FILE), json.as_bytes())?)
}

/// `BertConfig`'s keys (the `config.json` of a BERT model directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// Word-piece vocabulary size.
    pub vocab_size: usize,
    /// Width of the hidden states.
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// `"gelu"` (exact) or `"gelu_new"` (tanh approximation).
    #[serde(default = "gelu")]
    pub hidden_act: String,
    /// Dropout on embeddings and sub-layer outputs (training mode only).
    #[serde(default = "dropout")]
    pub hidden_dropout_prob: f32,
    /// Longest input.
    pub max_position_embeddings: usize,
    /// Number of segment (token type) ids.
    #[serde(default = "two")]
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    #[serde(default = "eps")]
    pub layer_norm_eps: f32,
    /// The padding id.
    #[serde(default)]
    pub pad_token_id: u32,
    /// Always `"bert"`.
    #[serde(default = "bert")]
    pub model_type: String,
    /// Other keys of `config.json`, checked by [`validate`](Self::validate).
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

/// `BertConfig` keys that do not change the encoder's computation.
const IGNORED_KEYS: &[&str] = &[
    "_name_or_path",
    "architectures",
    "attention_probs_dropout_prob",
    "bos_token_id",
    "classifier_dropout",
    "dtype",
    "eos_token_id",
    "gradient_checkpointing",
    "id2label",
    "initializer_range",
    "label2id",
    "tie_word_embeddings",
    "torch_dtype",
    "transformers_version",
    "use_cache",
];

fn gelu() -> String {
    "gelu".into()
}
fn dropout() -> f32 {
    0.1
}
fn two() -> usize {
    2
}
fn eps() -> f32 {
    1e-12
}
fn bert() -> String {
    "bert".into()
}

impl BertConfig {
    /// Checks the numbers and the activation.
    ///
    /// # Errors
    /// [`Error::Config`] or [`Error::UnsupportedConfigKey`].
    pub fn validate(&self) -> Result<Activation> {
        if self.model_type != "bert" {
            return Err(Error::UnsupportedConfigKey {
                key: "model_type".into(),
                reason: format!("{:?}", self.model_type),
            });
        }
        for (key, value) in &self.rest {
            let harmless = match key.as_str() {
                "position_embedding_type" => value == "absolute",
                "is_decoder" | "add_cross_attention" => value == false,
                other => IGNORED_KEYS.contains(&other),
            };
            if !harmless {
                return Err(Error::UnsupportedConfigKey { key: key.clone(), reason: format!("{value}") });
            }
        }
        if self.vocab_size == 0
            || self.hidden_size == 0
            || self.intermediate_size == 0
            || self.num_hidden_layers == 0
            || self.max_position_embeddings == 0
            || self.type_vocab_size == 0
        {
            return Err(Error::Config("vocab, widths, layers, positions and token types must be positive".into()));
        }
        if self.num_attention_heads == 0 || !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(Error::Config(format!(
                "hidden_size {} does not split into {} heads",
                self.hidden_size, self.num_attention_heads
            )));
        }
        if !(0.0..1.0).contains(&self.hidden_dropout_prob) {
            return Err(Error::Config(format!("hidden_dropout_prob {}", self.hidden_dropout_prob)));
        }
        match self.hidden_act.as_str() {
            "gelu" => Ok(Activation::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" => Ok(Activation::GeluTanh),
            other => Err(Error::UnsupportedConfigKey { key: "hidden_act".into(), reason: format!("{other:?}") }),
        }
    }
}

/// Word + position + token-type embeddings, then LayerNorm (and dropout).
#[derive(Debug, Clone)]
pub struct BertEmbeddings {
    /// `(vocab, H)`.
    pub word_embeddings: Embedding,
    /// `(max_positions, H)`.
    pub position_embeddings: Embedding,
    /// `(type_vocab, H)`.
    pub token_type_embeddings: Embedding,
    /// Norm over the sum.
    pub layer_norm: LayerNorm,
}

impl BertEmbeddings {
    /// The embeddings of `config` under `vb` (`word_embeddings`, `position_embeddings`,
    /// `token_type_embeddings`, `LayerNorm`); fresh tables `N(0, 0.02²)`.
    fn new(config: &BertConfig, vb: &VarBuilder) -> Result<Self> {
        let h = config.hidden_size;
        Ok(BertEmbeddings {
            word_embeddings: embedding(config.vocab_size, h, vb.pp("word_embeddings"))?,
            position_embeddings: embedding(config.max_position_embeddings, h, vb.pp("position_embeddings"))?,
            token_type_embeddings: embedding(config.type_vocab_size, h, vb.pp("token_type_embeddings"))?,
            layer_norm: LayerNorm::new(h, config.layer_norm_eps, vb.pp("LayerNorm"))?,
        })
    }
}

impl Module for BertEmbeddings {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        named_children(&[
            ("word_embeddings", &self.word_embeddings),
            ("position_embeddings", &self.position_embeddings),
            ("token_type_embeddings", &self.token_type_embeddings),
            ("LayerNorm", &self.layer_norm),
        ])
    }
}

/// One post-LN encoder layer: `LN(x + Attn(x))`, then `LN(h + FFN(h))`.
#[derive(Debug, Clone)]
pub struct BertLayer {
    /// Self-attention (`attention.self.*` and `attention.output.dense`).
    pub attention: MultiHeadAttention,
    /// `attention.output.LayerNorm`.
    pub attention_norm: LayerNorm,
    /// `intermediate.dense`, `H → I`.
    pub intermediate: Linear,
    /// `output.dense`, `I → H`.
    pub output: Linear,
    /// `output.LayerNorm`.
    pub output_norm: LayerNorm,
}

impl BertLayer {
    /// A layer of `config` under `vb` (`attention.self.{query,key,value}`,
    /// `attention.output.{dense,LayerNorm}`, `intermediate.dense`, `output.{dense,LayerNorm}`),
    /// fresh weights `N(0, 0.02²)` drawn in that order, biases zero.
    fn new(config: &BertConfig, vb: &VarBuilder) -> Result<Self> {
        let (h, eps, inner) = (config.hidden_size, config.layer_norm_eps, config.intermediate_size);
        let projection = |name: &str| linear(h, h, true, STD, vb.pp(name));
        Ok(BertLayer {
            attention: MultiHeadAttention::from_parts(
                projection("attention.self.query")?,
                projection("attention.self.key")?,
                projection("attention.self.value")?,
                projection("attention.output.dense")?,
                config.num_attention_heads,
            )?,
            attention_norm: LayerNorm::new(h, eps, vb.pp("attention.output.LayerNorm"))?,
            intermediate: linear(h, inner, true, STD, vb.pp("intermediate.dense"))?,
            output: linear(inner, h, true, STD, vb.pp("output.dense"))?,
            output_norm: LayerNorm::new(h, eps, vb.pp("output.LayerNorm"))?,
        })
    }
}

impl Module for BertLayer {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        named_children(&[
            ("attention.self.query", &self.attention.query),
            ("attention.self.key", &self.attention.key),
            ("attention.self.value", &self.attention.value),
            ("attention.output.dense", &self.attention.output),
            ("attention.output.LayerNorm", &self.attention_norm),
            ("intermediate.dense", &self.intermediate),
            ("output.dense", &self.output),
            ("output.LayerNorm", &self.output_norm),
        ])
    }
}

/// A batch for BERT: ids, segment ids and the attention mask, `(B, T)` each.
///
/// Segment ids are `u32` like the word-piece ids: both index an embedding table, and tokenizers
/// give both as `u32` (`transformers`' `token_type_ids`, `tokenizers`' `type_ids`).
#[derive(Debug, Clone, PartialEq)]
pub struct BertInput {
    /// Word-piece ids.
    pub input_ids: Array2<u32>,
    /// Segment of each token (0 = sentence A, 1 = sentence B).
    pub token_type_ids: Array2<u32>,
    /// `true` for real tokens, `false` for padding.
    pub attention_mask: Array2<bool>,
}

/// One sequence's word-piece ids and segment ids.
type IdsAndTypes = (Vec<u32>, Vec<u32>);

impl BertInput {
    /// Right-pads `sequences` of `(ids, type ids)` with `pad_id` into one batch.
    ///
    /// # Errors
    /// [`Error::Input`] for an empty batch, an empty sequence, or ids and type ids of
    /// different lengths.
    pub fn pad(sequences: &[(Vec<u32>, Vec<u32>)], pad_id: u32) -> Result<Self> {
        let longest = sequences.iter().map(|(ids, _)| ids.len()).max().unwrap_or(0);
        if longest == 0 || sequences.iter().any(|(ids, types)| ids.is_empty() || ids.len() != types.len()) {
            return Err(Error::Input("every sequence needs ids, and as many type ids".into()));
        }
        let options = PadOptions { maxlen: Some(longest), padding: Side::Post, truncating: Side::Post };
        let column = |pick: fn(&IdsAndTypes) -> &[u32], value: u32| {
            let rows: Vec<&[u32]> = sequences.iter().map(pick).collect();
            let padded = pad_sequences(&rows, options, value);
            Array2::from_shape_vec(padded.shape(), padded.into_vec()).expect("rows × longest")
        };
        Ok(BertInput {
            input_ids: column(|(ids, _)| ids, pad_id),
            token_type_ids: column(|(_, types)| types, 0),
            attention_mask: Array2::from_shape_fn((sequences.len(), longest), |(row, t)| t < sequences[row].0.len()),
        })
    }
}

/// What the encoder returns.
#[derive(Debug, Clone)]
pub struct BertOutput {
    /// `(B, T, H)`.
    pub last_hidden_state: Tensor,
    /// `tanh(dense(h_[CLS]))`, `(B, H)`, when the model has a pooler.
    pub pooler_output: Option<Tensor>,
}

/// The BERT encoder (`BertModel`).
#[derive(Debug)]
pub struct Bert {
    config: BertConfig,
    activation: Activation,
    /// The embedding layer.
    pub embeddings: BertEmbeddings,
    /// The encoder layers.
    pub layers: Vec<BertLayer>,
    /// `pooler.dense`, if present.
    pub pooler: Option<Linear>,
    training: bool,
    rng: Mutex<StdRng>,
}

impl Bert {
    /// A freshly initialised encoder (normal, std 0.02), with a pooler; training mode. `seed`
    /// drives the initialisation ([`VarBuilder::fresh`]) and the dropout masks.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid config.
    pub fn new(config: BertConfig, seed: u64) -> Result<Self> {
        Self::build(config, &VarBuilder::fresh(seed), true, seed)
    }

    /// The encoder under `vb` (`embeddings`, `encoder.layer.{i}` and, with `pooler`,
    /// `pooler.dense`), in training mode; `seed` starts the dropout masks' generator.
    fn build(config: BertConfig, vb: &VarBuilder, pooler: bool, seed: u64) -> Result<Self> {
        let activation = config.validate()?;
        let h = config.hidden_size;
        let embeddings = BertEmbeddings::new(&config, &vb.pp("embeddings"))?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| BertLayer::new(&config, &vb.pp(format!("encoder.layer.{i}"))))
            .collect::<Result<Vec<_>>>()?;
        let pooler = pooler.then(|| linear(h, h, true, STD, vb.pp("pooler.dense"))).transpose()?;
        let rng = Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed));
        Ok(Bert { config, activation, embeddings, layers, pooler, training: true, rng })
    }

    /// Loads a `BertModel` directory (or the encoder of a `BertForPreTraining` one, whose
    /// heads are skipped), in inference mode, building each layer from the stored tensors. A
    /// checkpoint without `pooler.*` loads without a pooler.
    ///
    /// # Errors
    /// Config, missing- and unexpected-tensor, shape and file errors.
    pub fn from_pretrained(dir: impl AsRef<Path>) -> Result<Self> {
        let heads = |n: &str| n.starts_with("cls.") || n.ends_with("position_ids");
        let mut model = load(
            dir.as_ref(),
            |config, vb| {
                let prefixed = !vb.contains("embeddings.word_embeddings.weight")
                    && vb.contains("bert.embeddings.word_embeddings.weight");
                let trunk = if prefixed { vb.pp("bert") } else { vb.clone() };
                Bert::build(config, &trunk, trunk.contains("pooler.dense.weight"), 0)
            },
            heads,
        )?;
        model.set_training(false);
        Ok(model)
    }

    /// Writes a `BertModel` directory that `transformers` loads.
    ///
    /// # Errors
    /// Write errors; [`Error::Config`] for a model carrying LoRA adapters (merge them first).
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        save_dir(dir.as_ref(), &self.config, "BertModel", &self.named_parameters())
    }

    /// The model's config.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// True in training mode.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Drops the pooler (for checkpoints saved without one).
    pub fn without_pooler(mut self) -> Self {
        self.pooler = None;
        self
    }

    /// Encodes a batch. Padding keys are masked in every layer, so a sequence's states do not
    /// depend on the rest of the batch.
    ///
    /// # Errors
    /// [`Error::Input`] for mismatched shapes, an empty batch, or more tokens than
    /// `max_position_embeddings`; ids out of range.
    pub fn forward(&self, input: &BertInput) -> Result<BertOutput> {
        let (b, t) = input.input_ids.dim();
        if b == 0 || t == 0 || input.token_type_ids.dim() != (b, t) || input.attention_mask.dim() != (b, t) {
            return Err(Error::Input(format!(
                "ids {:?}, type ids {:?}, mask {:?}",
                (b, t),
                input.token_type_ids.dim(),
                input.attention_mask.dim()
            )));
        }
        if t > self.config.max_position_embeddings {
            return Err(Error::Input(format!(
                "{t} tokens exceed the {} positions",
                self.config.max_position_embeddings
            )));
        }
        let e = &self.embeddings;
        let positions = ArrayD::from_shape_fn(IxDyn(&[t]), |i| i[0] as u32);
        let summed = e
            .word_embeddings
            .forward(&input.input_ids.clone().into_dyn())?
            .add(&e.position_embeddings.forward(&positions)?)?
            .add(&e.token_type_embeddings.forward(&input.token_type_ids.clone().into_dyn())?)?;
        let mut x = self.dropout(&e.layer_norm.forward(&summed)?)?;
        let padding = input.attention_mask.mapv(|keep| !keep);
        for layer in &self.layers {
            let (attended, _) = layer.attention.forward(&x, None, Some(padding.view()), false, false)?;
            let h = layer.attention_norm.forward(&x.add(&self.dropout(&attended)?)?)?;
            let ffn = layer.output.forward(&self.activation.apply(&layer.intermediate.forward(&h)?))?;
            x = layer.output_norm.forward(&h.add(&self.dropout(&ffn)?)?)?;
        }
        let pooler_output = match &self.pooler {
            Some(dense) => Some(dense.forward(&x.narrow(1, 0, 1)?.reshape(&[b, self.config.hidden_size])?)?.tanh()),
            None => None,
        };
        Ok(BertOutput { last_hidden_state: x, pooler_output })
    }

    /// Sentence embeddings: the mean of each sequence's hidden states over its real tokens
    /// (sentence-transformers' mean pooling), L2-normalised when `normalize`. Inference mode.
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    pub fn sentence_embeddings(&self, input: &BertInput, normalize: bool) -> Result<Array2<f32>> {
        let hidden = no_grad(|| self.forward(input))?.last_hidden_state.to_array();
        let mask = input.attention_mask.mapv(|m| if m { 1.0f32 } else { 0.0 });
        let mut pooled = Array2::zeros((mask.nrows(), self.config.hidden_size));
        for (row, mut out) in pooled.rows_mut().into_iter().enumerate() {
            let count = mask.row(row).sum().max(1e-9);
            for (t, &m) in mask.row(row).iter().enumerate().filter(|(_, m)| **m > 0.0) {
                out.scaled_add(m / count, &hidden.index_axis(Axis(0), row).index_axis(Axis(0), t));
            }
            if normalize {
                let norm = out.dot(&out).sqrt().max(1e-12);
                out.mapv_inplace(|v| v / norm);
            }
        }
        Ok(pooled)
    }

    /// Restarts the dropout masks' generator from `seed` (a trainer does it before each step,
    /// so a resumed run draws the masks the uninterrupted one drew).
    pub fn reseed(&self, seed: u64) {
        *self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = StdRng::seed_from_u64(seed);
        LoraModel::reseed_adapters(self, seed);
    }

    fn dropout(&self, x: &Tensor) -> Result<Tensor> {
        let p = self.config.hidden_dropout_prob;
        if !self.training || p == 0.0 {
            return Ok(x.clone());
        }
        let mut rng = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(x.dropout(p, &mut *rng)?)
    }
}

impl Module for Bert {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut params = prefixed("embeddings", self.embeddings.named_parameters());
        for (i, layer) in self.layers.iter().enumerate() {
            params.extend(prefixed(&format!("encoder.layer.{i}"), layer.named_parameters()));
        }
        if let Some(pooler) = &self.pooler {
            params.extend(prefixed("pooler.dense", pooler.named_parameters()));
        }
        params
    }

    /// The mode of the encoder's dropout and of its LoRA adapters' dropout.
    fn set_training(&mut self, training: bool) {
        self.training = training;
        for (_, linear) in LoraModel::linears_mut(self) {
            linear.set_training(training);
        }
    }
}

/// BERT's linear layers in an encoder layer (`encoder.layer.{i}`), in parameter order.
const BERT_LAYER: [&str; 6] = [
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
];

/// `$model`'s BERT linear layers, shared (`$iter` = `iter`) or mutable (`iter_mut`, `mut`).
macro_rules! bert_linears {
    ($model:expr, $iter:ident $(, $m:tt)?) => {{
        let mut layers = Vec::new();
        for (i, l) in $model.layers.$iter().enumerate() {
            let layer = [
                &$($m)? l.attention.query, &$($m)? l.attention.key, &$($m)? l.attention.value,
                &$($m)? l.attention.output, &$($m)? l.intermediate, &$($m)? l.output,
            ];
            layers.extend(named(&format!("encoder.layer.{i}"), BERT_LAYER, layer));
        }
        layers.extend(named("pooler", ["dense"], $model.pooler.$iter()));
        layers
    }};
}

/// BERT's encoder (and pooler): PEFT adapts `query` and `value` by default.
impl LoraModel for Bert {
    const TASK_TYPE: &'static str = "FEATURE_EXTRACTION";

    linears_from!(bert_linears);

    fn default_target_modules(&self) -> TargetModules {
        TargetModules::names(["query", "value"])
    }

    fn training_mode(&self) -> bool {
        self.is_training()
    }
}

/// The pre-training heads (`cls.*` of `BertForPreTraining`): masked-LM (a transform, then the
/// word-embedding matrix plus a bias) and next-sentence prediction over the pooled `[CLS]`.
#[derive(Debug)]
pub struct BertForPreTraining {
    /// The encoder.
    pub bert: Bert,
    /// `cls.predictions.transform.dense`.
    pub transform: Linear,
    /// `cls.predictions.transform.LayerNorm`.
    pub transform_norm: LayerNorm,
    /// `cls.predictions.bias`; the decoder weight is the word embeddings.
    pub decoder_bias: Tensor,
    /// `cls.seq_relationship`, `H → 2` (0 = B follows A).
    pub seq_relationship: Linear,
}

/// Logits of both pre-training tasks.
#[derive(Debug, Clone)]
pub struct PreTrainingOutput {
    /// `(B, T, vocab)`.
    pub prediction_logits: Tensor,
    /// `(B, 2)`.
    pub seq_relationship_logits: Tensor,
}

impl BertForPreTraining {
    /// Heads initialised as BERT's by `seed`, over `bert` (which must have a pooler).
    ///
    /// # Errors
    /// [`Error::Config`] for an encoder without a pooler.
    pub fn new(bert: Bert, seed: u64) -> Result<Self> {
        Self::with_heads(bert, &VarBuilder::fresh(seed))
    }

    /// The heads under `vb` (`cls.predictions.transform.{dense,LayerNorm}`,
    /// `cls.predictions.bias`, `cls.seq_relationship`) over `bert`.
    fn with_heads(bert: Bert, vb: &VarBuilder) -> Result<Self> {
        if bert.pooler.is_none() {
            return Err(Error::Config("next-sentence prediction needs the pooler".into()));
        }
        let (h, eps) = (bert.config.hidden_size, bert.config.layer_norm_eps);
        Ok(BertForPreTraining {
            transform: linear(h, h, true, STD, vb.pp("cls.predictions.transform.dense"))?,
            transform_norm: LayerNorm::new(h, eps, vb.pp("cls.predictions.transform.LayerNorm"))?,
            decoder_bias: vb.parameter_or_init(&[bert.config.vocab_size], "cls.predictions.bias", Init::Zeros)?,
            seq_relationship: linear(h, 2, true, STD, vb.pp("cls.seq_relationship"))?,
            bert,
        })
    }

    /// Loads a `BertForPreTraining` directory (`bert.*` with its pooler, `cls.*`), in
    /// inference mode.
    ///
    /// # Errors
    /// As [`Bert::from_pretrained`].
    pub fn from_pretrained(dir: impl AsRef<Path>) -> Result<Self> {
        let ignorable = |n: &str| n == "cls.predictions.decoder.weight" || n.ends_with("position_ids");
        let build = |config, vb: &VarBuilder| Self::with_heads(Bert::build(config, &vb.pp("bert"), true, 0)?, vb);
        let mut model = load(dir.as_ref(), build, ignorable)?;
        model.set_training(false);
        Ok(model)
    }

    /// Writes a `BertForPreTraining` directory (the decoder tied to the word embeddings).
    ///
    /// # Errors
    /// Write errors; [`Error::Config`] for a model carrying LoRA adapters (merge them first).
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        save_dir(dir.as_ref(), &self.bert.config, "BertForPreTraining", &self.named_parameters())
    }

    /// Both tasks' logits.
    ///
    /// # Errors
    /// As [`Bert::forward`].
    pub fn forward(&self, input: &BertInput) -> Result<PreTrainingOutput> {
        let out = self.bert.forward(input)?;
        let h = self.bert.activation.apply(&self.transform.forward(&out.last_hidden_state)?);
        let h = self.transform_norm.forward(&h)?;
        let decoder = Linear::from_tensors(self.bert.embeddings.word_embeddings.weight.clone(), None)?;
        let prediction_logits = decoder.forward(&h)?.add(&self.decoder_bias)?;
        let pooled = out.pooler_output.expect("checked at construction");
        Ok(PreTrainingOutput { prediction_logits, seq_relationship_logits: self.seq_relationship.forward(&pooled)? })
    }

    /// The masked-LM loss (mean over labelled positions; [`crate::IGNORE_INDEX`] elsewhere)
    /// and the next-sentence loss, as `BertForPreTraining` sums them.
    ///
    /// # Errors
    /// Shape errors; [`malmoi_tensor::Error::NonFinite`] for a NaN loss.
    pub fn losses(
        &self,
        input: &BertInput,
        mlm_labels: &Array2<u32>,
        next_sentence: &[usize],
    ) -> Result<(Tensor, Tensor)> {
        self.forward(input)?.losses(mlm_labels, next_sentence)
    }
}

impl PreTrainingOutput {
    /// The masked-LM and next-sentence losses of these logits (see
    /// [`BertForPreTraining::losses`]).
    ///
    /// # Errors
    /// Shape errors; [`malmoi_tensor::Error::NonFinite`] for a NaN loss.
    pub fn losses(&self, mlm_labels: &Array2<u32>, next_sentence: &[usize]) -> Result<(Tensor, Tensor)> {
        let mlm = token_cross_entropy(&self.prediction_logits, &mlm_labels.clone().into_dyn())?;
        let labels = ndarray::Array1::from(next_sentence.to_vec()).into_dyn();
        let nsp = self.seq_relationship_logits.cross_entropy(&labels, None)?;
        if !(mlm.item()?.is_finite() && nsp.item()?.is_finite()) {
            return Err(malmoi_tensor::Error::non_finite("pre-training loss").into());
        }
        Ok((mlm, nsp))
    }
}

impl Module for BertForPreTraining {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut params = prefixed("bert", self.bert.named_parameters());
        params.extend(prefixed("cls.predictions.transform.dense", self.transform.named_parameters()));
        params.extend(prefixed("cls.predictions.transform.LayerNorm", self.transform_norm.named_parameters()));
        params.push(("cls.predictions.bias".into(), self.decoder_bias.clone()));
        params.extend(prefixed("cls.seq_relationship", self.seq_relationship.named_parameters()));
        params
    }

    fn set_training(&mut self, training: bool) {
        self.bert.set_training(training);
    }
}

/// BERT with a classification head on the pooled `[CLS]` state (`BertForSequenceClassification`:
/// `bert.*` and `classifier.*`), e.g. NSMC's positive / negative.
#[derive(Debug)]
pub struct BertForSequenceClassification {
    /// The encoder (with its pooler).
    pub bert: Bert,
    /// `H → num_labels`.
    pub classifier: Linear,
}

impl BertForSequenceClassification {
    /// A fresh head of `num_labels` classes over `bert`, initialised by `seed`.
    ///
    /// # Errors
    /// [`Error::Config`] for an encoder without a pooler or zero labels.
    pub fn new(bert: Bert, num_labels: usize, seed: u64) -> Result<Self> {
        Self::with_head(bert, num_labels, &VarBuilder::fresh(seed))
    }

    /// The head `classifier` under `vb` over `bert`.
    fn with_head(bert: Bert, num_labels: usize, vb: &VarBuilder) -> Result<Self> {
        if bert.pooler.is_none() || num_labels == 0 {
            return Err(Error::Config("classification needs the pooler and at least one label".into()));
        }
        let classifier = linear(bert.config.hidden_size, num_labels, true, STD, vb.pp("classifier"))?;
        Ok(BertForSequenceClassification { bert, classifier })
    }

    /// Logits `(B, num_labels)`; dropout on the pooled state in training mode.
    ///
    /// # Errors
    /// As [`Bert::forward`].
    pub fn forward(&self, input: &BertInput) -> Result<Tensor> {
        let pooled = self.bert.forward(input)?.pooler_output.expect("checked at construction");
        Ok(self.classifier.forward(&self.bert.dropout(&pooled)?)?)
    }

    /// Class probabilities `(B, num_labels)` in inference (no dropout, no graph), whatever the
    /// mode: each row depends only on its own sequence.
    ///
    /// # Errors
    /// As [`Bert::forward`].
    pub fn predict_proba(&mut self, input: &BertInput) -> Result<Array2<f32>> {
        let was_training = self.bert.is_training();
        self.set_training(false);
        let logits = no_grad(|| self.forward(input).and_then(|l| Ok(l.softmax(-1)?)));
        self.set_training(was_training);
        Ok(logits?.to_array().into_dimensionality::<ndarray::Ix2>().expect("(B, labels)"))
    }

    /// Loads a `BertForSequenceClassification` directory (`bert.*` with its pooler,
    /// `classifier.*` of `num_labels` rows), in inference mode.
    ///
    /// # Errors
    /// As [`Bert::from_pretrained`]; [`Error::Config`] for zero labels.
    pub fn from_pretrained(dir: impl AsRef<Path>, num_labels: usize) -> Result<Self> {
        let build =
            |config, vb: &VarBuilder| Self::with_head(Bert::build(config, &vb.pp("bert"), true, 0)?, num_labels, vb);
        let mut model = load(dir.as_ref(), build, |n| n.ends_with("position_ids"))?;
        model.set_training(false);
        Ok(model)
    }

    /// Writes a `BertForSequenceClassification` directory.
    ///
    /// # Errors
    /// Write errors; [`Error::Config`] for a model carrying LoRA adapters (merge them first).
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        let mut config = self.bert.config.clone();
        let labels: serde_json::Map<String, Value> =
            (0..self.classifier.out_features()).map(|i| (i.to_string(), Value::from(format!("LABEL_{i}")))).collect();
        config.rest.insert("id2label".into(), Value::Object(labels));
        save_dir(dir.as_ref(), &config, "BertForSequenceClassification", &self.named_parameters())
    }
}

impl Module for BertForSequenceClassification {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        named_children(&[("bert", &self.bert), ("classifier", &self.classifier)])
    }

    fn set_training(&mut self, training: bool) {
        self.bert.set_training(training);
    }
}
