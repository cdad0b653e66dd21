//! BERT: a bidirectional Transformer encoder (post-LN blocks over word + position + segment
//! embeddings), its two pre-training heads — masked LM and next-sentence prediction — and
//! mean-pooled sentence embeddings (sentence-transformers).
//!
//! The encoder also carries what BERT's descendants change in it ([`BodyShape`]): ELECTRA's
//! embeddings narrower than the hidden states (widened by `embeddings_project`) and RoBERTa's
//! positions counted after the padding id ([`PositionIds`]). [`EncoderModel`] and
//! [`EncoderForSequenceClassification`] are those architectures under their own names and
//! `config.json`, each described by a [`FamilyConfig`] (`crate::electra`, `crate::roberta`).
//!
//! Every model is built from a [`VarBuilder`] under Hugging Face's `BertModel` names
//! (`embeddings.word_embeddings.weight`, `encoder.layer.0.attention.self.query.weight`, …) and
//! the heads `BertForPreTraining`'s (`cls.predictions.*`, `cls.seq_relationship.*`): a fresh one
//! initialises it (`new`), one over a checkpoint loads it (`from_pretrained`) through the same
//! code, so nothing is drawn at random only to be overwritten. Files saved from
//! `BertForPreTraining` prefix the encoder with `bert.`.
//!
//! | module | what |
//! | --- | --- |
//! | this one | the encoder ([`Bert`]), its config, input and shape, and the model folders' I/O the others share |
//! | `pretraining` | [`BertForPreTraining`]: masked LM and next-sentence prediction |
//! | `classifier` | [`BertForSequenceClassification`]: a head on the pooled `[CLS]` |
//! | `family` | BERT's descendants: [`FamilyConfig`], [`EncoderModel`], [`EncoderForSequenceClassification`] |

mod classifier;
mod family;
mod pretraining;

pub use classifier::BertForSequenceClassification;
pub use family::{ClassificationHead, EncoderForSequenceClassification, EncoderModel, FamilyConfig, HeadActivation};
pub use pretraining::{BertForPreTraining, PreTrainingOutput};

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use ndarray::{Array2, ArrayD, Axis, IxDyn};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use malmoi_tensor::nn::{Embedding, LayerNorm, Linear, Module, named_children, prefixed};
use malmoi_tensor::{Tensor, VarBuilder, no_grad};
use malmoi_tokenize::encoding::{PadOptions, Side, pad_sequences};
use malmoi_tokenize::tokenizer::Encoding;

use crate::attention::MultiHeadAttention;
use crate::block::Activation;
use crate::error::{Error, Result};
use crate::hf::{CONFIG_FILE, WEIGHTS_FILE, build_checked, read_config_json};
use crate::init::{STD, embedding, linear};
use crate::lora::{LoraModel, TargetModules, linears_from, named, refuse_adapters};

/// Reads a BERT directory's `config.json`.
///
/// # Errors
/// I/O and JSON errors; [`BertConfig::validate`]'s.
pub fn read_bert_config(dir: &Path) -> Result<BertConfig> {
    let path = dir.join(CONFIG_FILE);
    let config: BertConfig = serde_json::from_value(read_config_json(dir)?).map_err(Error::json(&path))?;
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

/// Loads the encoder of a BERT-family directory in inference mode: stored at the top level (a
/// `…Model` folder) or under `prefix` (a task model's: `bert`, `electra`, `roberta`), in the
/// shape `shape` gives (told whether a pooler is stored). Tensors `heads` names (task heads)
/// and position-id buffers are skipped; any other unread tensor is refused.
fn load_encoder(
    dir: &Path,
    prefix: &str,
    config: BertConfig,
    shape: impl FnOnce(bool) -> BodyShape,
    heads: impl Fn(&str) -> bool,
) -> Result<Bert> {
    let word = "embeddings.word_embeddings.weight";
    let build = |vb: &VarBuilder| {
        let trunk = if !vb.contains(word) && vb.pp(prefix).contains(word) { vb.pp(prefix) } else { vb.clone() };
        Bert::build_shaped(config, shape(trunk.contains("pooler.dense.weight")), &trunk, 0)
    };
    let mut model = build_checked(dir, build, |n| heads(n) || n.ends_with("position_ids"))?;
    model.set_training(false);
    Ok(model)
}

/// Writes `params` (f32, `model.safetensors`) and `config` (`config.json`) as a Hugging Face
/// model directory, with `architectures` set to `architecture`, `torch_dtype` to the stored
/// float32 and, for a classifier of `labels` classes, `id2label` / `label2id` of that many
/// (a loaded config's own names are kept when their number matches).
fn save_dir(
    dir: &Path,
    config: &impl Serialize,
    architecture: &str,
    labels: Option<usize>,
    params: &[(String, Tensor)],
) -> Result<()> {
    refuse_adapters(params)?;
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let arrays: Vec<(String, ArrayD<f32>)> = params.iter().map(|(n, p)| (n.clone(), p.to_array())).collect();
    let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    malmoi_tensor::checkpoint::save(dir.join(WEIGHTS_FILE), arrays.iter().map(|(n, a)| (n.as_str(), a)), &metadata)?;
    // through text, so that an f32 key is written as its shortest f32 form (`1e-5`), not widened
    let text = serde_json::to_string(config).expect("plain data");
    let Ok(Value::Object(mut config)) = serde_json::from_str(&text) else {
        unreachable!("a config is a struct, written as an object")
    };
    config.insert("architectures".into(), Value::from(vec![architecture]));
    config.remove("dtype");
    config.insert("torch_dtype".into(), Value::from("float32"));
    if let Some(labels) = labels {
        set_labels(&mut config, labels);
    }
    let json = serde_json::to_string_pretty(&config).expect("plain data");
    Ok(malmoi_tensor::checkpoint::write_atomically(&dir.join(CONFIG_FILE), json.as_bytes())?)
}

/// Names `labels` classes in `config` (`id2label`, `label2id`; `LABEL_i` unless the config's
/// own `id2label` has that many) and drops the older `num_labels` keys, which could disagree.
fn set_labels(config: &mut Map<String, Value>, labels: usize) {
    let kept = config.get("id2label").and_then(Value::as_object).filter(|names| names.len() == labels);
    let names: Vec<String> = (0..labels)
        .map(|i| kept.and_then(|k| k.get(&i.to_string())?.as_str().map(String::from)))
        .enumerate()
        .map(|(i, name)| name.unwrap_or_else(|| format!("LABEL_{i}")))
        .collect();
    let id2label = names.iter().enumerate().map(|(i, name)| (i.to_string(), Value::from(name.as_str())));
    let label2id = names.iter().enumerate().map(|(i, name)| (name.clone(), Value::from(i)));
    config.insert("id2label".into(), Value::Object(id2label.collect()));
    config.insert("label2id".into(), Value::Object(label2id.collect()));
    config.remove("num_labels");
    config.remove("_num_labels");
}

/// Refuses a stored classifier weight `name` (under `vb`) whose rows are not `asked` labels, or
/// zero labels.
///
/// # Errors
/// [`Error::Config`] naming the tensor, its file, the stored and the asked number of labels.
fn check_labels(vb: &VarBuilder, name: &str, asked: usize) -> Result<()> {
    if asked == 0 {
        return Err(Error::Config("a classifier needs at least one label".into()));
    }
    match vb.shape_of(name).and_then(|shape| shape.first().copied()) {
        Some(stored) if stored != asked => Err(Error::Config(format!(
            "{}: the head `{}` has {stored} labels, {asked} asked",
            vb.path_of(name).unwrap_or(Path::new("")).display(),
            vb.pp(name).prefix()
        ))),
        _ => Ok(()),
    }
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

/// How an encoder of the BERT family numbers the positions of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PositionIds {
    /// `0, 1, 2, …` in every row (BERT, ELECTRA).
    #[default]
    Absolute,
    /// RoBERTa's (fairseq's `make_positions`, `transformers`' `create_position_ids_from_input_ids`):
    /// a token other than `padding_idx` is at `padding_idx + 1 +` its rank among its row's
    /// non-padding tokens, a padding token at `padding_idx`. A table of `max_position_embeddings`
    /// rows then takes `max_position_embeddings - padding_idx - 1` tokens.
    AfterPadding {
        /// The padding id, which is also the first, never attended position.
        padding_idx: u32,
    },
}

impl PositionIds {
    /// The positions of `input_ids` `(B, T)`: `(T)`, shared by every row, or `(B, T)`.
    fn of(self, input_ids: &Array2<u32>) -> ArrayD<u32> {
        match self {
            PositionIds::Absolute => ArrayD::from_shape_fn(IxDyn(&[input_ids.ncols()]), |i| i[0] as u32),
            PositionIds::AfterPadding { padding_idx } => {
                let mut positions = input_ids.mapv(|_| padding_idx);
                for (ids, mut row) in input_ids.rows().into_iter().zip(positions.rows_mut()) {
                    let mut rank = 0;
                    for (_, position) in ids.iter().zip(row.iter_mut()).filter(|(id, _)| **id != padding_idx) {
                        rank += 1;
                        *position = padding_idx + rank;
                    }
                }
                positions.into_dyn()
            }
        }
    }

    /// The longest input a table of `rows` positions takes.
    fn longest(self, rows: usize) -> usize {
        match self {
            PositionIds::Absolute => rows,
            PositionIds::AfterPadding { padding_idx } => rows.saturating_sub(padding_idx as usize + 1),
        }
    }
}

/// What an architecture of the BERT family changes in BERT's encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyShape {
    /// Width of the embedding tables and their LayerNorm; when it differs from `hidden_size`,
    /// `embeddings_project` widens the embeddings to the hidden states (ELECTRA).
    pub embedding_size: usize,
    /// How positions are numbered (RoBERTa's start after the padding id).
    pub positions: PositionIds,
    /// Whether the encoder has `pooler.dense`.
    pub pooler: bool,
}

impl BodyShape {
    /// BERT's: embeddings as wide as the hidden states, positions from 0.
    pub fn bert(config: &BertConfig, pooler: bool) -> Self {
        BodyShape { embedding_size: config.hidden_size, positions: PositionIds::Absolute, pooler }
    }

    /// Checks the shape against `config`.
    ///
    /// # Errors
    /// [`Error::Config`] for a zero embedding width or a position table without a position
    /// past the padding id.
    fn validate(&self, config: &BertConfig) -> Result<()> {
        if self.embedding_size == 0 {
            return Err(Error::Config("embedding_size must be positive".into()));
        }
        if self.positions.longest(config.max_position_embeddings) == 0 {
            return Err(Error::Config(format!(
                "max_position_embeddings {} leaves no position after the padding id ({:?})",
                config.max_position_embeddings, self.positions
            )));
        }
        Ok(())
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
    /// The embeddings of `config`, `width` wide, under `vb` (`word_embeddings`,
    /// `position_embeddings`, `token_type_embeddings`, `LayerNorm`); fresh tables `N(0, 0.02²)`.
    fn new(config: &BertConfig, width: usize, vb: &VarBuilder) -> Result<Self> {
        Ok(BertEmbeddings {
            word_embeddings: embedding(config.vocab_size, width, vb.pp("word_embeddings"))?,
            position_embeddings: embedding(config.max_position_embeddings, width, vb.pp("position_embeddings"))?,
            token_type_embeddings: embedding(config.type_vocab_size, width, vb.pp("token_type_embeddings"))?,
            layer_norm: LayerNorm::new(width, config.layer_norm_eps, vb.pp("LayerNorm"))?,
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

    /// A batch of a tokenizer's encodings (their ids and type ids), right-padded with `pad_id`.
    ///
    /// # Errors
    /// As [`pad`](Self::pad).
    pub fn from_encodings(encodings: &[Encoding], pad_id: u32) -> Result<Self> {
        let sequences: Vec<IdsAndTypes> = encodings.iter().map(|e| (e.ids.clone(), e.type_ids.clone())).collect();
        Self::pad(&sequences, pad_id)
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
    positions: PositionIds,
    /// The embedding layer.
    pub embeddings: BertEmbeddings,
    /// `embeddings_project`, embedding width → hidden width, when the embeddings are narrower
    /// than the hidden states (ELECTRA's).
    pub embeddings_project: Option<Linear>,
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

    /// BERT's encoder under `vb` (`embeddings`, `encoder.layer.{i}` and, with `pooler`,
    /// `pooler.dense`), in training mode; `seed` starts the dropout masks' generator.
    fn build(config: BertConfig, vb: &VarBuilder, pooler: bool, seed: u64) -> Result<Self> {
        let shape = BodyShape::bert(&config, pooler);
        Self::build_shaped(config, shape, vb, seed)
    }

    /// The encoder of `config` in `shape` under `vb` (`embeddings`, `embeddings_project` when
    /// the embeddings are narrower, `encoder.layer.{i}`, `pooler.dense` if the shape has a
    /// pooler), in training mode; `seed` starts the dropout masks' generator.
    fn build_shaped(config: BertConfig, shape: BodyShape, vb: &VarBuilder, seed: u64) -> Result<Self> {
        let activation = config.validate()?;
        shape.validate(&config)?;
        let (h, width) = (config.hidden_size, shape.embedding_size);
        let embeddings = BertEmbeddings::new(&config, width, &vb.pp("embeddings"))?;
        let embeddings_project =
            (width != h).then(|| linear(width, h, true, STD, vb.pp("embeddings_project"))).transpose()?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| BertLayer::new(&config, &vb.pp(format!("encoder.layer.{i}"))))
            .collect::<Result<Vec<_>>>()?;
        let pooler = shape.pooler.then(|| linear(h, h, true, STD, vb.pp("pooler.dense"))).transpose()?;
        let rng = Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed));
        let positions = shape.positions;
        Ok(Bert { config, activation, positions, embeddings, embeddings_project, layers, pooler, training: true, rng })
    }

    /// Loads a `BertModel` directory (or the encoder of a `BertForPreTraining` one, whose
    /// heads are skipped), in inference mode, building each layer from the stored tensors. A
    /// checkpoint without `pooler.*` loads without a pooler.
    ///
    /// # Errors
    /// Config, missing- and unexpected-tensor, shape and file errors.
    pub fn from_pretrained(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let config = read_bert_config(dir)?;
        let shape = BodyShape::bert(&config, false);
        load_encoder(dir, "bert", config, move |pooler| BodyShape { pooler, ..shape }, |n| n.starts_with("cls."))
    }

    /// Writes a `BertModel` directory that `transformers` loads.
    ///
    /// # Errors
    /// Write errors; [`Error::Config`] for a model carrying LoRA adapters (merge them first).
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        save_dir(dir.as_ref(), &self.config, "BertModel", None, &self.named_parameters())
    }

    /// The model's config.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// How the encoder numbers positions.
    pub fn positions(&self) -> PositionIds {
        self.positions
    }

    /// The most tokens a sequence may have: the position table's rows (RoBERTa's, less the
    /// padding id's and those before it).
    pub fn longest_input(&self) -> usize {
        self.positions.longest(self.config.max_position_embeddings)
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
        let longest = self.longest_input();
        if t > longest {
            return Err(Error::Input(format!("{t} tokens exceed the {longest} positions")));
        }
        let mut x = self.embed(input)?;
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

    /// The embeddings of a checked batch, `(B, T, H)`: word + position + token type, LayerNorm,
    /// dropout, and `embeddings_project` when there is one.
    fn embed(&self, input: &BertInput) -> Result<Tensor> {
        let e = &self.embeddings;
        let summed = e
            .word_embeddings
            .forward(&input.input_ids.clone().into_dyn())?
            .add(&e.position_embeddings.forward(&self.positions.of(&input.input_ids))?)?
            .add(&e.token_type_embeddings.forward(&input.token_type_ids.clone().into_dyn())?)?;
        let x = self.dropout(&e.layer_norm.forward(&summed)?)?;
        match &self.embeddings_project {
            Some(project) => Ok(project.forward(&x)?),
            None => Ok(x),
        }
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
        self.dropout_with(x, self.config.hidden_dropout_prob)
    }

    /// Dropout of rate `p` in training mode (a head's own rate), from the encoder's generator.
    fn dropout_with(&self, x: &Tensor, p: f32) -> Result<Tensor> {
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
        if let Some(project) = &self.embeddings_project {
            params.extend(prefixed("embeddings_project", project.named_parameters()));
        }
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
        let mut layers: Vec<_> =
            $model.embeddings_project.$iter().map(|project| ("embeddings_project".to_string(), project)).collect();
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

/// BERT's encoder (and pooler, and ELECTRA's `embeddings_project`): PEFT adapts `query` and
/// `value` by default.
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

/// Class probabilities `(B, labels)` of `forward`'s logits, computed in inference mode without a
/// graph; `model` returns to `training` afterwards.
fn inference_proba<M: Module>(
    model: &mut M,
    training: bool,
    forward: impl FnOnce(&M) -> Result<Tensor>,
) -> Result<Array2<f32>> {
    model.set_training(false);
    let probabilities = no_grad(|| forward(model).and_then(|logits| Ok(logits.softmax(-1)?)));
    model.set_training(training);
    Ok(probabilities?.to_array().into_dimensionality::<ndarray::Ix2>().expect("(B, labels)"))
}
