//! Hugging Face's checkpoint layout for GPT-2: a directory with `config.json` (the keys of
//! `GPT2Config`) and `model.safetensors` (the names of `GPT2LMHeadModel`).
//!
//! GPT-2 keeps its projections in `Conv1D` modules, whose weights are stored `(in, out)`,
//! the transpose of a `Linear`; they are transposed on the way in and out. A tied output layer
//! is not stored (as `save_pretrained` does), and the causal-mask buffers that older files
//! carry (`attn.bias`, `attn.masked_bias`) are skipped. Models whose shape GPT-2 cannot express
//! (sinusoidal positions, post-LN blocks, no biases) are written with `model_type`
//! `"malmoi-gpt"`, so `transformers` refuses them instead of loading them wrongly.
//!
//! What every model directory shares lives here too: reading `config.json`, the tokenizer
//! beside the weights ([`read_tokenizer`], checked against the model's vocabulary) and copying
//! the tokenizer files next to a saved model ([`copy_tokenizer_files`]).
//!
//! ```
//! use malmoi_transformer::{Gpt, GptConfig};
//! use malmoi_tensor::nn::Module;
//!
//! let config = GptConfig { vocab_size: 40, block_size: 16, n_layer: 1, n_head: 2, n_embd: 8, ..GptConfig::default() };
//! let model = Gpt::new(config, 0)?;
//! let dir = tempfile::tempdir().unwrap();
//! model.save_pretrained(dir.path())?;
//! let loaded = Gpt::from_pretrained(dir.path())?;
//! assert!(!loaded.is_training());
//! assert_eq!(*loaded.wte.weight.data(), *model.wte.weight.data());
//! # Ok::<(), malmoi_transformer::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use malmoi_tensor::VarBuilder;
use malmoi_tensor::checkpoint::{self, Precision, write_atomically};
use malmoi_tensor::nn::Module;
use malmoi_tokenize::tokenizer::Tokenizer;

use crate::config::{GptConfig, NormPlacement, Positions};
use crate::error::{Error, Result};
use crate::gpt::Gpt;

/// The configuration file of a model directory.
pub const CONFIG_FILE: &str = "config.json";
/// The weights file of a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The files of a model directory that make its tokenizer, whichever `transformers` wrote.
pub const TOKENIZER_FILES: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
    "tokenizer.model",
];

/// The parsed `config.json` of a model directory.
///
/// # Errors
/// [`Error::Io`] and [`Error::Json`] naming the file.
pub(crate) fn read_config_json(dir: &Path) -> Result<Value> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
    serde_json::from_str(&text).map_err(Error::json(&path))
}

/// Reads the `tokenizer.json` of a model directory (WordPiece, BPE, SentencePiece Unigram…) for
/// a model that embeds `vocab_size` tokens. A tokenizer with fewer tokens is accepted (some
/// checkpoints pad their embedding tables); one with ids the model has no embedding for is not.
///
/// # Errors
/// [`Error::Tokenizer`] for a missing or unreadable file; [`Error::Config`] naming the file
/// when the tokenizer's largest id is `vocab_size` or more.
pub fn read_tokenizer(dir: impl AsRef<Path>, vocab_size: usize) -> Result<Tokenizer> {
    let path = dir.as_ref().join(crate::generation::TOKENIZER_FILE);
    let tokenizer = Tokenizer::from_file(&path)?;
    match tokenizer.max_token_id() {
        Some(max) if max as usize >= vocab_size => Err(Error::Config(format!(
            "{}: the tokenizer has ids up to {max} but the model embeds only {vocab_size} tokens (vocab_size)",
            path.display()
        ))),
        _ => Ok(tokenizer),
    }
}

/// Copies the tokenizer files ([`TOKENIZER_FILES`]) that `from` holds into the directory `to`
/// (created if needed), so that a model saved there loads with its tokenizer; returns the names
/// copied.
///
/// # Errors
/// [`Error::Io`] naming the file or directory.
pub fn copy_tokenizer_files(from: impl AsRef<Path>, to: impl AsRef<Path>) -> Result<Vec<String>> {
    let (from, to) = (from.as_ref(), to.as_ref());
    std::fs::create_dir_all(to).map_err(Error::io(to))?;
    let mut copied = Vec::new();
    for name in TOKENIZER_FILES.iter().filter(|name| from.join(name).is_file()) {
        std::fs::copy(from.join(name), to.join(name)).map_err(Error::io(to.join(name)))?;
        copied.push(name.to_string());
    }
    Ok(copied)
}

/// The `config.json` of a GPT-2-architecture model.
#[derive(Debug, Serialize, Deserialize)]
struct Gpt2Config {
    model_type: String,
    vocab_size: usize,
    n_positions: usize,
    n_embd: usize,
    n_layer: usize,
    n_head: usize,
    #[serde(default)]
    n_inner: Option<usize>,
    #[serde(default = "gelu_new")]
    activation_function: String,
    #[serde(default = "default_dropout")]
    resid_pdrop: f32,
    #[serde(default = "default_dropout")]
    embd_pdrop: f32,
    #[serde(default = "default_dropout")]
    attn_pdrop: f32,
    #[serde(default = "default_eps")]
    layer_norm_epsilon: f32,
    #[serde(default = "yes")]
    tie_word_embeddings: bool,
    #[serde(default = "yes")]
    scale_attn_weights: bool,
    #[serde(default)]
    scale_attn_by_inverse_layer_idx: bool,
    #[serde(default)]
    add_cross_attention: bool,
    /// malmoi's own keys, present only for shapes GPT-2 cannot express.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    malmoi_positions: Option<Positions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    malmoi_norm: Option<NormPlacement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    malmoi_bias: Option<bool>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

fn gelu_new() -> String {
    "gelu_new".into()
}
fn default_dropout() -> f32 {
    0.1
}
fn default_eps() -> f32 {
    1e-5
}
fn yes() -> bool {
    true
}

impl Gpt2Config {
    /// Our config, refusing keys whose meaning this crate does not implement.
    fn to_config(&self) -> Result<GptConfig> {
        let unsupported = |key: &str, reason: String| Err(Error::UnsupportedConfigKey { key: key.into(), reason });
        crate::config_keys::ignored_keys("gpt2", &self.rest)?;
        if !["gpt2", "malmoi-gpt"].contains(&self.model_type.as_str()) {
            return unsupported("model_type", format!("{:?} is not a GPT-2 architecture", self.model_type));
        }
        if !["gelu_new", "gelu_pytorch_tanh"].contains(&self.activation_function.as_str()) {
            return unsupported("activation_function", format!("{:?} (only gelu_new)", self.activation_function));
        }
        if !self.scale_attn_weights || self.scale_attn_by_inverse_layer_idx || self.add_cross_attention {
            return unsupported("scale_attn_weights", "only GPT-2's 1/√hs scaling, no cross-attention".into());
        }
        let config = GptConfig {
            vocab_size: self.vocab_size,
            block_size: self.n_positions,
            n_layer: self.n_layer,
            n_head: self.n_head,
            n_embd: self.n_embd,
            n_inner: self.n_inner,
            dropout: self.resid_pdrop,
            bias: self.malmoi_bias.unwrap_or(true),
            tie_word_embeddings: self.tie_word_embeddings,
            layer_norm_epsilon: self.layer_norm_epsilon,
            positions: self.malmoi_positions.unwrap_or_default(),
            norm: self.malmoi_norm.unwrap_or_default(),
        };
        config.validate()?;
        Ok(config)
    }

    fn from_config(config: &GptConfig) -> Self {
        let is_gpt2 = config.bias && config.positions == Positions::Learned && config.norm == NormPlacement::Pre;
        let mut rest = BTreeMap::new();
        if is_gpt2 {
            rest.insert("architectures".into(), Value::from(vec!["GPT2LMHeadModel"]));
        }
        Gpt2Config {
            model_type: if is_gpt2 { "gpt2" } else { "malmoi-gpt" }.into(),
            vocab_size: config.vocab_size,
            n_positions: config.block_size,
            n_embd: config.n_embd,
            n_layer: config.n_layer,
            n_head: config.n_head,
            n_inner: config.n_inner,
            activation_function: gelu_new(),
            resid_pdrop: config.dropout,
            embd_pdrop: config.dropout,
            attn_pdrop: 0.0,
            layer_norm_epsilon: config.layer_norm_epsilon,
            tie_word_embeddings: config.tie_word_embeddings,
            scale_attn_weights: true,
            scale_attn_by_inverse_layer_idx: false,
            add_cross_attention: false,
            malmoi_positions: (!is_gpt2).then_some(config.positions),
            malmoi_norm: (!is_gpt2).then_some(config.norm),
            malmoi_bias: (!is_gpt2).then_some(config.bias),
            rest,
        }
    }
}

/// True for the GPT-2 weights stored `(in, out)` (its `Conv1D` modules), transposed on the way
/// in and out.
pub fn is_conv1d(name: &str) -> bool {
    ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// Buffers that older GPT-2 files store next to the parameters.
pub fn is_buffer(name: &str) -> bool {
    name.ends_with("attn.bias") || name.ends_with("attn.masked_bias")
}

/// Refuses a tensor of `vb` that no layer has read and `ignorable` does not accept.
///
/// # Errors
/// [`Error::UnexpectedTensor`] naming it and its file.
fn refuse_unused(vb: &VarBuilder, ignorable: impl Fn(&str) -> bool) -> Result<()> {
    match vb.unused().into_iter().find(|name| !ignorable(name)) {
        Some(name) => Err(Error::UnexpectedTensor { path: vb.path_of(&name).unwrap_or(Path::new("")).into(), name }),
        None => Ok(()),
    }
}

/// Builds a model from the weights of the directory `dir` (`model.safetensors` or its shards):
/// runs `build` over the tensors and refuses a stored tensor that `build` did not read unless
/// `ignorable` accepts it. A missing tensor's error names the file.
///
/// No count of weights is checked up front: each tensor's shape is compared with the stored one
/// before it is read, so a `config.json` claiming 10^12 parameters fails at its first misshapen
/// or missing tensor, named, having allocated nothing larger than what the files hold.
///
/// # Errors
/// Checkpoint errors; what `build` returns; [`Error::UnexpectedTensor`].
pub(crate) fn build_checked<T>(
    dir: &Path,
    build: impl FnOnce(&VarBuilder) -> Result<T>,
    ignorable: impl Fn(&str) -> bool,
) -> Result<T> {
    let vb = VarBuilder::from_dir(dir)?;
    let built = build(&vb).map_err(naming_file(&vb))?;
    refuse_unused(&vb, ignorable)?;
    Ok(built)
}

/// Largest sinusoidal position table (`n_positions × n_embd` values, computed, not stored)
/// a loaded `config.json` may ask for: 2^28 values, 1 GiB of `f32`.
const MAX_SINUSOIDAL_VALUES: u64 = 1 << 28;

/// Reads a model directory's `config.json` as a [`GptConfig`], refusing a sinusoidal position
/// table of more than 2^28 values (it is computed, not loaded, so no stored tensor bounds it).
///
/// # Errors
/// [`Error::Io`], [`Error::Json`], [`Error::UnsupportedConfigKey`], [`Error::Config`].
pub fn read_config(dir: &Path) -> Result<GptConfig> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
    let config = serde_json::from_str::<Gpt2Config>(&text).map_err(Error::json(&path))?.to_config()?;
    let table = (config.block_size as u64).saturating_mul(config.n_embd as u64);
    if config.positions != Positions::Learned && table > MAX_SINUSOIDAL_VALUES {
        return Err(Error::Config(format!(
            "{}: a sinusoidal position table of {table} values (n_positions × n_embd) exceeds 2^28",
            path.display()
        )));
    }
    Ok(config)
}

/// Builds a model on a GPT-2 directory's weights: reads `config.json` ([`read_config`]), runs
/// `build` with the config over the stored tensors (a config claiming 10^12 parameters fails at
/// its first misshapen tensor, before anything that size is allocated) (e.g. [`Gpt::from_var_builder`] and a head of its own), and refuses a tensor
/// `build` did not read — except the causal-mask buffers of older files and a tied
/// `lm_head.weight`.
///
/// ```
/// use malmoi_transformer::{Gpt, GptConfig, hf};
///
/// let config = GptConfig { vocab_size: 40, block_size: 16, n_layer: 1, n_head: 2, n_embd: 8, ..GptConfig::default() };
/// let dir = tempfile::tempdir().unwrap();
/// Gpt::new(config, 0)?.save_pretrained(dir.path())?;
/// let model = hf::build_from_dir(dir.path(), |config, vb| Gpt::from_var_builder(config, vb, 0))?;
/// assert_eq!(model.config().n_embd, 8);
/// # Ok::<(), malmoi_transformer::Error>(())
/// ```
///
/// # Errors
/// [`read_config`]'s errors; checkpoint errors (a config the checkpoint cannot hold as
/// [`Error::Tensor`] naming the first misshapen tensor); what `build` returns (a missing tensor as [`Error::MissingTensor`]
/// naming the file); [`Error::UnexpectedTensor`].
pub fn build_from_dir<T>(dir: impl AsRef<Path>, build: impl FnOnce(GptConfig, &VarBuilder) -> Result<T>) -> Result<T> {
    let dir = dir.as_ref();
    let config = read_config(dir)?;
    build_checked(dir, |vb| build(config, vb), |name| is_buffer(name) || name == "lm_head.weight")
}

impl Gpt {
    /// Loads a model directory in Hugging Face's GPT-2 layout (`model.safetensors` or its
    /// shards, memory-mapped; f32, f16 or bf16), in inference mode, building each layer from
    /// the stored tensors ([`build_from_dir`] with [`Gpt::from_var_builder`]).
    ///
    /// # Errors
    /// [`build_from_dir`]'s errors: missing tensors and tensors of another shape naming the
    /// tensor; [`Error::UnexpectedTensor`] for a tensor the model has no place for.
    pub fn from_pretrained(dir: impl AsRef<Path>) -> Result<Gpt> {
        let mut model = build_from_dir(dir, |config, vb| Gpt::from_var_builder(config, vb, 0))?;
        model.set_training(false);
        Ok(model)
    }

    /// Writes `config.json` and `model.safetensors` (f32) into `dir`, creating it; each file is
    /// replaced atomically. `transformers.GPT2LMHeadModel.from_pretrained(dir)` loads the result.
    ///
    /// # Errors
    /// [`Error::Io`] and checkpoint write errors; [`Error::Config`] for a model carrying LoRA
    /// adapters (merge them first: [`LoraModel::merge_and_unload`](crate::lora::LoraModel::merge_and_unload)).
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        self.save_pretrained_with(dir, Precision::F32)
    }

    /// [`save_pretrained`](Self::save_pretrained) storing the weights in `precision`
    /// (`F16` halves a model meant for distribution; it loads back as f32).
    ///
    /// # Errors
    /// As [`save_pretrained`](Self::save_pretrained).
    pub fn save_pretrained_with(&self, dir: impl AsRef<Path>, precision: Precision) -> Result<()> {
        self.write_pretrained(dir.as_ref(), precision, None)
    }

    /// Writes the directory; `end_of_text` becomes `bos_token_id` and `eos_token_id` (what
    /// `generate` in `transformers` reads).
    pub(crate) fn write_pretrained(&self, dir: &Path, precision: Precision, end_of_text: Option<u32>) -> Result<()> {
        let params = self.named_parameters();
        crate::lora::refuse_adapters(&params)?;
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let stored: Vec<(String, ArrayD<f32>)> = params
            .into_iter()
            .map(|(name, param)| {
                let value = param.to_array();
                let value = if is_conv1d(&name) { value.t().as_standard_layout().into_owned() } else { value };
                (name, value)
            })
            .collect();
        let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
        checkpoint::save_with(
            dir.join(WEIGHTS_FILE),
            stored.iter().map(|(n, v)| (n.as_str(), v)),
            &metadata,
            precision,
        )?;
        let mut config = Gpt2Config::from_config(self.config());
        if let Some(id) = end_of_text {
            config.rest.insert("bos_token_id".into(), Value::from(id));
            config.rest.insert("eos_token_id".into(), Value::from(id));
        }
        let config = serde_json::to_string_pretty(&config).expect("plain data");
        write_atomically(&dir.join(CONFIG_FILE), config.as_bytes())?;
        Ok(())
    }
}

/// Turns a missing-tensor error from `vb` into one that names the weights file too.
pub(crate) fn naming_file(vb: &VarBuilder) -> impl Fn(Error) -> Error + '_ {
    |error| match error {
        Error::Tensor(malmoi_tensor::Error::MissingTensor { name }) => {
            Error::MissingTensor { path: vb.paths().first().cloned().unwrap_or_default(), name }
        }
        other => other,
    }
}
