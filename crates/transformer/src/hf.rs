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

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use malmoi_tensor::checkpoint::{self, Precision, write_atomically};
use malmoi_tensor::nn::Module;

use crate::config::{GptConfig, NormPlacement, Positions};
use crate::error::{Error, Result};
use crate::gpt::Gpt;

/// The configuration file of a model directory.
pub const CONFIG_FILE: &str = "config.json";
/// The weights file of a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// `GPT2Config` keys that do not change the computation (or that this crate reads elsewhere).
const IGNORED_KEYS: &[&str] = &[
    "_name_or_path",
    "architectures",
    "bos_token_id",
    "dtype",
    "eos_token_id",
    "id2label",
    "initializer_range",
    "label2id",
    "n_ctx",
    "output_past",
    "pad_token_id",
    "reorder_and_upcast_attn",
    "summary_activation",
    "summary_first_dropout",
    "summary_proj_to_labels",
    "summary_type",
    "summary_use_proj",
    "task_specific_params",
    "torch_dtype",
    "transformers_version",
    "use_cache",
];

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
        if let Some(key) = self.rest.keys().find(|k| !IGNORED_KEYS.contains(&k.as_str())) {
            return unsupported(key, String::new());
        }
        if !["gpt2", "malmoi-gpt"].contains(&self.model_type.as_str()) {
            return unsupported("model_type", format!("{:?} is not a GPT-2 architecture", self.model_type));
        }
        if !["gelu_new", "gelu_pytorch_tanh"].contains(&self.activation_function.as_str()) {
            return unsupported("activation_function", format!("{:?} (only gelu_new)", self.activation_function));
        }
        if self.n_inner.is_some_and(|n| Some(n) != self.n_embd.checked_mul(4)) {
            return unsupported("n_inner", format!("{:?} (only 4 · n_embd)", self.n_inner));
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
            n_inner: None,
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

/// True for the GPT-2 weights stored `(in, out)` (its `Conv1D` modules), which loaders transpose.
pub fn is_conv1d(name: &str) -> bool {
    ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// Buffers that older GPT-2 files store next to the parameters.
pub fn is_buffer(name: &str) -> bool {
    name.ends_with("attn.bias") || name.ends_with("attn.masked_bias")
}

/// Loads `params` from the safetensors file at `path`. Each parameter is looked up by its
/// name, then by the name with a prefix swapped (`(from, to)` pairs, e.g. files saved with or
/// without a `bert.` prefix); `transpose` names tensors stored `(in, out)`; `ignorable` names
/// stored tensors that need no parameter.
///
/// # Errors
/// [`Error::MissingTensor`], [`Error::UnexpectedTensor`], shape and file errors.
pub fn load_parameters(
    path: &Path,
    params: &[(String, malmoi_tensor::Tensor)],
    prefixes: &[(&str, &str)],
    transpose: impl Fn(&str) -> bool,
    ignorable: impl Fn(&str) -> bool,
) -> Result<()> {
    let stored = checkpoint::load(path)?;
    let names: BTreeSet<&str> = stored.names().into_iter().collect();
    let mut used = BTreeSet::new();
    for (name, param) in params {
        let swapped =
            prefixes.iter().filter_map(|(from, to)| name.strip_prefix(from).map(|rest| format!("{to}{rest}")));
        let Some(key) = std::iter::once(name.clone()).chain(swapped).find_map(|n| names.get(n.as_str()).copied())
        else {
            return Err(Error::MissingTensor { path: path.to_path_buf(), name: name.clone() });
        };
        used.insert(key);
        let value = stored.get(key)?;
        let value = if transpose(key) { value.t().as_standard_layout().into_owned() } else { value.clone() };
        if value.shape() != param.shape() {
            return Err(malmoi_tensor::Error::CheckpointShape {
                name: key.to_string(),
                expected: param.shape(),
                got: value.shape().to_vec(),
            }
            .into());
        }
        param.set_data(value)?;
    }
    if let Some(extra) = names.iter().find(|n| !used.contains(*n) && !ignorable(n)) {
        return Err(Error::UnexpectedTensor { path: path.to_path_buf(), name: extra.to_string() });
    }
    Ok(())
}

/// Refuses a configuration needing `weights_needed` weights (a lower bound) when the file at
/// `weights` could not hold them (at least two bytes per weight, as F16), before the model is
/// built: a `config.json` claiming 10^12 parameters must not allocate them.
///
/// # Errors
/// [`Error::Config`] if the file is too small.
pub(crate) fn check_weights_can_hold(weights: &Path, weights_needed: u64) -> Result<()> {
    // A missing or unreadable file is reported by the weight loader, as before.
    let Ok(bytes) = std::fs::metadata(weights).map(|m| m.len()) else {
        return Ok(());
    };
    if weights_needed > bytes / 2 {
        return Err(Error::Config(format!(
            "config.json describes at least {weights_needed} weights but {} holds {bytes} bytes",
            weights.display()
        )));
    }
    Ok(())
}

/// A lower bound on a GPT's weights: the token embedding, the learned position embedding
/// and, per block, the attention (4 · n²) and MLP (8 · n²) matrices; saturating instead of
/// overflowing.
fn min_gpt_weights(config: &GptConfig) -> u64 {
    let [vocab, positions, layers, width] =
        [config.vocab_size, config.block_size, config.n_layer, config.n_embd].map(|n| n as u64);
    let positions = if config.positions == Positions::Learned { positions } else { 0 };
    let blocks = layers.saturating_mul(12).saturating_mul(width.saturating_mul(width));
    vocab.saturating_add(positions).saturating_mul(width).saturating_add(blocks)
}

/// Largest sinusoidal position table (`n_positions × n_embd` values, computed, not stored)
/// a loaded `config.json` may ask for: 2^28 values, 1 GiB of `f32`.
const MAX_SINUSOIDAL_VALUES: u64 = 1 << 28;

/// Reads a model directory's `config.json` as a [`GptConfig`], refusing one that describes
/// more weights than the directory's `model.safetensors` can hold (so a config claiming
/// 10^12 parameters is refused before anything is allocated) or a sinusoidal position table
/// of more than 2^28 values.
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
    check_weights_can_hold(&dir.join(WEIGHTS_FILE), min_gpt_weights(&config))?;
    Ok(config)
}

impl Gpt {
    /// Loads a model directory in Hugging Face's GPT-2 layout, in inference mode.
    ///
    /// # Errors
    /// [`read_config`]'s errors; [`Error::MissingTensor`] / [`Error::UnexpectedTensor`] naming
    /// the tensor; shape and corrupt-file errors from the checkpoint reader.
    pub fn from_pretrained(dir: impl AsRef<Path>) -> Result<Gpt> {
        let dir = dir.as_ref();
        let config = read_config(dir)?;
        let mut model = Gpt::new(config, 0)?;
        model.set_training(false);
        // Files saved from a bare `GPT2Model` have no `transformer.` prefix.
        let tied = model.config().tie_word_embeddings;
        load_parameters(
            &dir.join(WEIGHTS_FILE),
            &model.named_parameters(),
            &[("transformer.", "")],
            is_conv1d,
            |name| is_buffer(name) || (tied && name == "lm_head.weight"),
        )?;
        Ok(model)
    }

    /// Writes `config.json` and `model.safetensors` (f32) into `dir`, creating it; each file is
    /// replaced atomically. `transformers.GPT2LMHeadModel.from_pretrained(dir)` loads the result.
    ///
    /// # Errors
    /// [`Error::Io`] and checkpoint write errors.
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
    pub(crate) fn write_pretrained(&self, dir: &Path, precision: Precision, end_of_text: Option<usize>) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let stored: Vec<(String, ArrayD<f32>)> = self
            .named_parameters()
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
