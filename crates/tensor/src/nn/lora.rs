//! LoRA — low-rank adapters on [`Linear`] layers (Hu et al., 2021) — with
//! PEFT's configuration keys, tensor names and initialisation, so an adapter trained here loads
//! in PEFT and one PEFT made loads here.
//!
//! A frozen layer `y = x Wᵀ + b` gains a trainable low-rank update:
//!
//! ```text
//! y = x Wᵀ + b + scale · (drop(x) Aᵀ) Bᵀ        A: (r, in)   B: (out, r)
//! scale = lora_alpha / r                         (rsLoRA: lora_alpha / √r)
//! ```
//!
//! `A` starts Kaiming-uniform (PyTorch's `nn.Linear` rule, `a = √5`, as PEFT draws it) and `B`
//! at zero, so a fresh adapter leaves the layer's output unchanged. Attaching an adapter
//! ([`Linear::attach_lora`](super::Linear::attach_lora)) freezes the layer: its weight and bias
//! enter the forward pass as constants, so backward computes no gradient for them and only `A`
//! and `B` train. [`LoraAdapter::set_enabled`] switches an adapter off without removing it —
//! the layer then computes the base model's output exactly, which is how a DPO or PPO reference
//! model comes for free — and [`Linear::merge_lora`](super::Linear::merge_lora) folds
//! `scale · B·A` into `W` and removes the adapter.
//!
//! ```
//! use malmoi_tensor::nn::lora::{LoraAdapter, LoraConfig};
//! use malmoi_tensor::nn::{Linear, Module};
//! use malmoi_tensor::{Tensor, VarBuilder};
//! use ndarray::ArrayD;
//!
//! let mut layer = Linear::new(8, 6, true, VarBuilder::fresh(0))?;
//! let config = LoraConfig { r: 2, lora_alpha: 4.0, ..LoraConfig::default() };
//! layer.attach_lora(LoraAdapter::new("proj", 8, 6, config, &VarBuilder::fresh(1))?)?;
//! let names: Vec<String> = layer.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["weight", "bias", "lora_A.weight", "lora_B.weight"]);
//!
//! let x = Tensor::constant(ArrayD::ones(&[3, 8][..]));
//! let y = layer.forward(&x)?.sum();
//! y.backward().unwrap();
//! assert!(layer.weight.grad().is_none(), "the base is frozen");
//! assert!(layer.lora().unwrap().lora_b().grad().is_some(), "B trains (A gets 0 until B moves)");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The base stays in `f32`: [`Tensor`] holds `f32` only, and the `gemm` kernels multiply `f16`
//! only by `f16`, so a half-precision frozen weight would mean either rounding the activations to
//! `f16` (losing the agreement with PEFT's `f32` logits) or widening each weight again on every
//! forward pass; neither is done.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ndarray::{Array2, ArrayD, Ix2};
use rand::SeedableRng;
use rand::rngs::StdRng;
use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::init::Init;
use super::{Linear, Module, named_children};
use crate::error::Error;
use crate::ops::matmul::gemm;
use crate::tensor::{Tensor, is_grad_enabled};
use crate::var_builder::VarBuilder;

/// PEFT's adapter configuration file.
pub const ADAPTER_CONFIG_FILE: &str = "adapter_config.json";
/// PEFT's adapter weights file.
pub const ADAPTER_WEIGHTS_FILE: &str = "adapter_model.safetensors";
/// The prefix of every tensor name in PEFT's weights file (`base_model.model.<module>.lora_A.weight`).
pub const PEFT_PREFIX: &str = "base_model.model";
/// PEFT's `target_modules` value that selects every linear layer but the output layer.
pub const ALL_LINEAR: &str = "all-linear";

/// `adapter_config.json` keys that describe an adapter without changing what it computes (or
/// matter only beside a key that is refused when set).
const METADATA_KEYS: &[&str] = &[
    "auto_mapping",
    "ensure_weight_tying",
    "inference_mode",
    "layers_pattern",
    "megatron_core",
    "peft_version",
    "qalora_group_size",
    "revision",
    "runtime_config",
];

/// What can go wrong with a LoRA adapter or its configuration.
#[derive(Debug, thiserror::Error)]
pub enum LoraError {
    /// A rank of zero.
    #[error("LoRA rank r must be at least 1, got 0")]
    ZeroRank,
    /// A rank above the smaller side of the layer it adapts.
    #[error("LoRA rank {r} for `{module}` exceeds min(in, out) = min({in_features}, {out_features})")]
    RankTooLarge {
        /// The adapted module.
        module: String,
        /// The rank asked for.
        r: usize,
        /// The layer's input width.
        in_features: usize,
        /// The layer's output width.
        out_features: usize,
    },
    /// A configuration key (or value) that changes the computation in a way not implemented.
    #[error("adapter_config.json: unsupported `{key}`: {reason}")]
    UnsupportedKey {
        /// The key.
        key: String,
        /// The value and why it is refused.
        reason: String,
    },
    /// A supported key with a value out of range.
    #[error("adapter_config.json: invalid `{key}`: {reason}")]
    InvalidValue {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A `target_modules` / `exclude_modules` string that is not a regular expression the `regex`
    /// crate reads (look-around and back-references are Python-only).
    #[error("target pattern {pattern:?}: {reason}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// The compiler's complaint.
        reason: String,
    },
    /// A target (a list entry, or the pattern) that selects no linear layer of the model.
    #[error("target {pattern:?} matches no linear layer of the model")]
    NoMatch {
        /// The entry or pattern.
        pattern: String,
    },
    /// A layer that already carries an adapter.
    #[error("`{module}` already carries a LoRA adapter (merge or unload it first)")]
    AlreadyAdapted {
        /// The module.
        module: String,
    },
    /// Saving or merging a model that carries no adapter.
    #[error("the model carries no LoRA adapter")]
    NoAdapters,
    /// An adapter file lacks a tensor the configuration calls for.
    #[error("adapter: missing tensor `{name}`")]
    MissingTensor {
        /// The full tensor name.
        name: String,
    },
    /// An adapter file holds a tensor with no place in the model (an adapter for another base,
    /// or a kind of weight plain LoRA does not have).
    #[error("adapter: unexpected tensor `{name}`: {reason}")]
    UnexpectedTensor {
        /// The full tensor name.
        name: String,
        /// Why it has no place.
        reason: String,
    },
    /// An adapter tensor whose shape does not fit the layer (another base's width or
    /// vocabulary, or another rank than the configuration's).
    #[error("adapter: tensor `{name}` has shape {got:?}, the model needs {expected:?}")]
    Shape {
        /// The full tensor name.
        name: String,
        /// The shape the layer and rank call for.
        expected: Vec<usize>,
        /// The stored shape.
        got: Vec<usize>,
    },
    /// `adapter_config.json` is not JSON of the expected types. (Reading and writing the file,
    /// and the errors naming its path, are the model crate's: `malmoi_transformer::lora`.)
    #[error("adapter_config.json: {0}")]
    Json(#[from] serde_json::Error),
    /// A tensor operation or checkpoint failed.
    #[error(transparent)]
    Tensor(#[from] Error),
}

impl LoraError {
    /// The LoRA error for a tensor error of reading an adapter: missing and misshapen tensors
    /// keep their names.
    fn from_tensor(error: Error) -> Self {
        match error {
            Error::MissingTensor { name } => LoraError::MissingTensor { name },
            Error::CheckpointShape { name, expected, got } => LoraError::Shape { name, expected, got },
            other => LoraError::Tensor(other),
        }
    }

    fn unsupported(key: &str, reason: String) -> Self {
        LoraError::UnsupportedKey { key: key.into(), reason }
    }

    fn invalid(key: &str, reason: String) -> Self {
        LoraError::InvalidValue { key: key.into(), reason }
    }
}

/// `Result` with a [`LoraError`].
pub type LoraResult<T> = std::result::Result<T, LoraError>;

/// Which modules an adapter goes on, as PEFT's `target_modules` (and `exclude_modules`) say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TargetModules {
    /// A module is selected when its name equals an entry or ends with `.` + an entry
    /// (`"c_attn"` selects `transformer.h.0.attn.c_attn`).
    Names(Vec<String>),
    /// A regular expression the whole module name must match (Python's `re.fullmatch`), or
    /// [`ALL_LINEAR`]: every linear layer but the output layer.
    Pattern(String),
}

impl TargetModules {
    /// A list of module names (or name suffixes).
    pub fn names<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        TargetModules::Names(names.into_iter().map(Into::into).collect())
    }

    /// True for [`ALL_LINEAR`].
    pub fn is_all_linear(&self) -> bool {
        matches!(self, TargetModules::Pattern(p) if p == ALL_LINEAR)
    }

    /// The compiled selection.
    ///
    /// # Errors
    /// [`LoraError::Pattern`] for a pattern the `regex` crate does not compile.
    pub fn matcher(&self) -> LoraResult<ModuleMatcher> {
        Ok(match self {
            TargetModules::Names(names) => ModuleMatcher::Names(names.clone()),
            TargetModules::Pattern(_) if self.is_all_linear() => ModuleMatcher::All,
            TargetModules::Pattern(pattern) => {
                let anchored = Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| LoraError::Pattern { pattern: pattern.clone(), reason: e.to_string() })?;
                ModuleMatcher::Regex { pattern: pattern.clone(), anchored }
            }
        })
    }
}

/// [`TargetModules`] compiled: which module names it selects.
#[derive(Debug, Clone)]
pub enum ModuleMatcher {
    /// Names or name suffixes.
    Names(Vec<String>),
    /// A pattern matched against the whole name.
    Regex {
        /// The pattern as written.
        pattern: String,
        /// The pattern anchored at both ends.
        anchored: Regex,
    },
    /// Every module ([`ALL_LINEAR`]; the caller leaves out the output layer).
    All,
}

impl ModuleMatcher {
    /// True when `module` is selected.
    pub fn matches(&self, module: &str) -> bool {
        match self {
            ModuleMatcher::Names(names) => names.iter().any(|n| name_matches(module, n)),
            ModuleMatcher::Regex { anchored, .. } => anchored.is_match(module),
            ModuleMatcher::All => true,
        }
    }

    /// The first list entry, or the pattern, that selects none of `modules` (a typo, or an
    /// adapter meant for another architecture).
    pub fn unmatched(&self, modules: &[String]) -> Option<String> {
        match self {
            ModuleMatcher::Names(names) => names.iter().find(|n| !modules.iter().any(|m| name_matches(m, n))).cloned(),
            ModuleMatcher::Regex { pattern, anchored } => {
                (!modules.iter().any(|m| anchored.is_match(m))).then(|| pattern.clone())
            }
            ModuleMatcher::All => modules.is_empty().then(|| ALL_LINEAR.to_string()),
        }
    }
}

/// PEFT's rule for a list entry: the whole name, or its last dotted components.
fn name_matches(module: &str, entry: &str) -> bool {
    module == entry || module.strip_suffix(entry).is_some_and(|head| head.ends_with('.'))
}

/// How a fresh adapter is drawn: PEFT's `init_lora_weights`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoraInit {
    /// `true`: `A` Kaiming-uniform (`U(±1/√in)`), `B` zero — the adapter starts as a no-op.
    #[default]
    Kaiming,
    /// `false`: `A` and `B` both drawn as `nn.Linear` weights, so the adapter changes the output
    /// from the start (PEFT's choice for tests).
    Random,
    /// `"gaussian"`: `A` normal with standard deviation `1/r`, `B` zero.
    Gaussian,
}

impl LoraInit {
    /// The initialiser read from its JSON value, `None` for a scheme not implemented.
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Bool(true) => Some(LoraInit::Kaiming),
            Value::Bool(false) => Some(LoraInit::Random),
            Value::String(s) if s == "gaussian" => Some(LoraInit::Gaussian),
            _ => None,
        }
    }

    /// The rules drawing `A` and `B` for rank `r`.
    fn inits(self, r: usize) -> (Init, Init) {
        match self {
            LoraInit::Kaiming => (Init::pytorch_linear(), Init::Zeros),
            LoraInit::Random => (Init::pytorch_linear(), Init::pytorch_linear()),
            LoraInit::Gaussian => (Init::Normal { mean: 0.0, std: 1.0 / r as f32 }, Init::Zeros),
        }
    }
}

impl Serialize for LoraInit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            LoraInit::Kaiming => serializer.serialize_bool(true),
            LoraInit::Random => serializer.serialize_bool(false),
            LoraInit::Gaussian => serializer.serialize_str("gaussian"),
        }
    }
}

impl<'de> Deserialize<'de> for LoraInit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        LoraInit::from_value(&value).ok_or_else(|| {
            serde::de::Error::custom(format!("init_lora_weights {value}: only true, false or \"gaussian\""))
        })
    }
}

/// PEFT's `LoraConfig`, as `adapter_config.json` stores it.
///
/// Strict where the input changes the result, lenient where it does not: the keys below are
/// honoured; metadata (`task_type`, `peft_version`, `inference_mode`, …) is kept and ignored;
/// any other key is accepted only with a value that turns nothing on (`null`, `false`, `{}`,
/// `[]`) and refused by name otherwise — `use_dora`, `rank_pattern`, `alpha_pattern`,
/// `layers_to_transform`, `modules_to_save`, `lora_bias`, `loftq_config`, … — as are a `bias`
/// other than `"none"` and an `init_lora_weights` other than `true`, `false`, `"gaussian"`.
/// `fan_in_fan_out` is accepted either way: GPT-2's `Conv1D` weights are transposed into
/// [`Linear`]s on loading, and `A`, `B` are stored as `Linear` weights in both
/// layouts, so it changes nothing here.
///
/// ```
/// use malmoi_tensor::nn::lora::{LoraConfig, LoraError, TargetModules};
///
/// let config = LoraConfig::from_json(r#"{"peft_type": "LORA", "r": 8, "lora_alpha": 16,
///     "target_modules": ["q_proj", "v_proj"], "use_rslora": true, "peft_version": "0.21.2"}"#)?;
/// assert_eq!(config.target_modules, Some(TargetModules::names(["q_proj", "v_proj"])));
/// assert_eq!(config.scale(), 16.0 / 8f32.sqrt());
///
/// let dora = LoraConfig::from_json(r#"{"r": 8, "use_dora": true}"#).unwrap_err();
/// assert!(matches!(dora, LoraError::UnsupportedKey { key, .. } if key == "use_dora"));
/// # Ok::<(), LoraError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoraConfig {
    /// Always `"LORA"`.
    pub peft_type: String,
    /// PEFT's task (`"CAUSAL_LM"`, `"FEATURE_EXTRACTION"`, …): metadata.
    pub task_type: Option<String>,
    /// The base model's hub id or folder: metadata.
    pub base_model_name_or_path: Option<String>,
    /// The rank.
    pub r: usize,
    /// The scale's numerator.
    pub lora_alpha: f32,
    /// Dropout on the adapter's input, in training mode.
    pub lora_dropout: f32,
    /// The modules adapted (`None`: the architecture's default, e.g. GPT-2's `c_attn`).
    pub target_modules: Option<TargetModules>,
    /// Modules left out even when targeted.
    pub exclude_modules: Option<TargetModules>,
    /// rsLoRA: `scale = lora_alpha / √r` instead of `lora_alpha / r`.
    pub use_rslora: bool,
    /// Which biases train: only `"none"` is implemented.
    pub bias: String,
    /// The base weights are stored `(in, out)` (GPT-2's `Conv1D`); see above.
    pub fan_in_fan_out: bool,
    /// How fresh adapters are drawn.
    pub init_lora_weights: LoraInit,
    /// Every other key, checked by [`validate`](Self::validate) and written back unchanged.
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

impl Default for LoraConfig {
    /// PEFT's defaults: `r` 8, `lora_alpha` 8, no dropout, no rsLoRA, `A` Kaiming and `B` zero.
    fn default() -> Self {
        LoraConfig {
            peft_type: "LORA".into(),
            task_type: None,
            base_model_name_or_path: None,
            r: 8,
            lora_alpha: 8.0,
            lora_dropout: 0.0,
            target_modules: None,
            exclude_modules: None,
            use_rslora: false,
            bias: "none".into(),
            fan_in_fan_out: false,
            init_lora_weights: LoraInit::Kaiming,
            rest: BTreeMap::new(),
        }
    }
}

impl LoraConfig {
    /// Parses and [validates](Self::validate) the text of an `adapter_config.json`.
    ///
    /// # Errors
    /// [`LoraError::Json`] for malformed JSON or a value of the wrong type;
    /// [`LoraError::UnsupportedKey`] naming a refused key; [`validate`](Self::validate)'s errors.
    pub fn from_json(text: &str) -> LoraResult<Self> {
        let value: Value = serde_json::from_str(text)?;
        if let Some(init) = value.get("init_lora_weights")
            && LoraInit::from_value(init).is_none()
        {
            let reason =
                format!("{init}: only true, false or \"gaussian\" (other schemes rewrite the base or need data)");
            return Err(LoraError::unsupported("init_lora_weights", reason));
        }
        let config: LoraConfig = serde_json::from_value(value)?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration as `adapter_config.json` text (pretty-printed).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a map of plain values")
    }

    /// `lora_alpha / r`, or `lora_alpha / √r` with rsLoRA.
    pub fn scale(&self) -> f32 {
        let r = self.r.max(1) as f32;
        if self.use_rslora { self.lora_alpha / r.sqrt() } else { self.lora_alpha / r }
    }

    /// Checks every value and refuses what this crate does not compute (see the type's
    /// documentation).
    ///
    /// # Errors
    /// [`LoraError::ZeroRank`]; [`LoraError::InvalidValue`] for a non-finite `lora_alpha` or a
    /// `lora_dropout` outside `[0, 1)`; [`LoraError::UnsupportedKey`] naming the key;
    /// [`LoraError::Pattern`] for a target pattern that does not compile.
    pub fn validate(&self) -> LoraResult<()> {
        if self.peft_type != "LORA" {
            return Err(LoraError::unsupported("peft_type", format!("{:?}: only \"LORA\"", self.peft_type)));
        }
        if self.r == 0 {
            return Err(LoraError::ZeroRank);
        }
        if !self.lora_alpha.is_finite() {
            return Err(LoraError::invalid("lora_alpha", format!("{} is not finite", self.lora_alpha)));
        }
        if !(0.0..1.0).contains(&self.lora_dropout) {
            return Err(LoraError::invalid("lora_dropout", format!("{} is outside [0, 1)", self.lora_dropout)));
        }
        if self.bias != "none" {
            let reason = format!("{:?}: only \"none\" (the base's biases stay frozen)", self.bias);
            return Err(LoraError::unsupported("bias", reason));
        }
        for targets in [&self.target_modules, &self.exclude_modules].into_iter().flatten() {
            targets.matcher()?;
        }
        match self.rest.iter().find(|(key, value)| !METADATA_KEYS.contains(&key.as_str()) && !is_neutral(value)) {
            Some((key, value)) => {
                let reason =
                    format!("{value}: it changes what the adapter computes, and only plain LoRA is implemented");
                Err(LoraError::unsupported(key, reason))
            }
            None => Ok(()),
        }
    }
}

/// A value that turns no option on.
fn is_neutral(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Refuses a rank of zero or above `min(in, out)`.
fn check_rank(module: &str, r: usize, in_features: usize, out_features: usize) -> LoraResult<()> {
    if r == 0 {
        return Err(LoraError::ZeroRank);
    }
    if r > in_features.min(out_features) {
        return Err(LoraError::RankTooLarge { module: module.into(), r, in_features, out_features });
    }
    Ok(())
}

/// One layer's adapter: `lora_A` `(r, in)`, `lora_B` `(out, r)` — two [`Linear`]s without a
/// bias, as in PEFT — and the scale, with a dropout of its own and an on/off switch.
///
/// The switch is atomic, so a model shared by reference can run with its adapters off
/// (a reference model) and on again without a `&mut`.
#[derive(Debug)]
pub struct LoraAdapter {
    module: String,
    lora_a: Linear,
    lora_b: Linear,
    config: Arc<LoraConfig>,
    scale: f32,
    enabled: AtomicBool,
    training: bool,
    rng: Mutex<StdRng>,
}

impl LoraAdapter {
    /// The adapter of the module `module` (`in_features → out_features`) under `config`, its
    /// tensors `<module>.lora_A.weight` and `<module>.lora_B.weight` taken from `vb`: drawn as
    /// `config.init_lora_weights` says from a fresh `vb`, read from one over an adapter file
    /// (`VarBuilder::from_files(..)?.pp(PEFT_PREFIX)` reads PEFT's names). Training mode.
    ///
    /// # Errors
    /// [`LoraConfig::validate`]'s; [`LoraError::RankTooLarge`]; from a file,
    /// [`LoraError::MissingTensor`] and [`LoraError::Shape`] naming the tensor.
    pub fn new(
        module: impl Into<String>,
        in_features: usize,
        out_features: usize,
        config: impl Into<Arc<LoraConfig>>,
        vb: &VarBuilder,
    ) -> LoraResult<Self> {
        let (module, config) = (module.into(), config.into());
        config.validate()?;
        let r = config.r;
        check_rank(&module, r, in_features, out_features)?;
        let (init_a, init_b) = config.init_lora_weights.inits(r);
        let vb = vb.pp(&module);
        let lora_a = vb.get_or_init(&[r, in_features], "lora_A.weight", init_a).map_err(LoraError::from_tensor)?;
        let lora_b = vb.get_or_init(&[out_features, r], "lora_B.weight", init_b).map_err(LoraError::from_tensor)?;
        let seed = vb.seed();
        Self::assemble(module, Tensor::parameter(lora_a), Tensor::parameter(lora_b), config, seed)
    }

    /// An adapter over given tensors `lora_a (r, in)` and `lora_b (out, r)` (shared, not
    /// copied), `r` being `config.r`.
    ///
    /// # Errors
    /// [`LoraError::Shape`] naming `<module>.lora_A.weight` or `lora_B` when the shapes do not
    /// fit together or the rank is not `config.r`; the configuration and rank errors of
    /// [`new`](Self::new).
    pub fn from_tensors(
        module: impl Into<String>,
        lora_a: Tensor,
        lora_b: Tensor,
        config: impl Into<Arc<LoraConfig>>,
    ) -> LoraResult<Self> {
        let (module, config) = (module.into(), config.into());
        config.validate()?;
        let (a, b) = (lora_a.shape(), lora_b.shape());
        let in_features = if a.len() == 2 { a[1] } else { 0 };
        let out_features = if b.len() == 2 { b[0] } else { 0 };
        let shape_error = |which: &str, expected: Vec<usize>, got: Vec<usize>| LoraError::Shape {
            name: format!("{module}.{which}.weight"),
            expected,
            got,
        };
        if a != [config.r, in_features] || in_features == 0 {
            return Err(shape_error("lora_A", vec![config.r, in_features], a));
        }
        if b != [out_features, config.r] || out_features == 0 {
            return Err(shape_error("lora_B", vec![out_features, config.r], b));
        }
        check_rank(&module, config.r, in_features, out_features)?;
        Self::assemble(module, lora_a, lora_b, config, 0)
    }

    /// The adapter over `lora_a (r, in)` and `lora_b (out, r)`, checked by the caller.
    fn assemble(
        module: String,
        lora_a: Tensor,
        lora_b: Tensor,
        config: Arc<LoraConfig>,
        seed: u64,
    ) -> LoraResult<Self> {
        Ok(LoraAdapter {
            module,
            lora_a: Linear::from_tensors(lora_a, None)?,
            lora_b: Linear::from_tensors(lora_b, None)?,
            scale: config.scale(),
            config,
            enabled: AtomicBool::new(true),
            training: true,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        })
    }

    /// The module the adapter was made for.
    pub fn module(&self) -> &str {
        &self.module
    }

    /// `lora_A.weight`, `(r, in)`.
    pub fn lora_a(&self) -> &Tensor {
        &self.lora_a.weight
    }

    /// `lora_B.weight`, `(out, r)`.
    pub fn lora_b(&self) -> &Tensor {
        &self.lora_b.weight
    }

    /// The rank `r`.
    pub fn rank(&self) -> usize {
        self.config.r
    }

    /// Input width of the adapted layer.
    pub fn in_features(&self) -> usize {
        self.lora_a.in_features()
    }

    /// Output width of the adapted layer.
    pub fn out_features(&self) -> usize {
        self.lora_b.out_features()
    }

    /// `lora_alpha / r` (or `/ √r`).
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The configuration it was made under.
    pub fn config(&self) -> &LoraConfig {
        &self.config
    }

    /// True when the adapter adds its update (the default).
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Switches the update on or off; off, the layer computes the base output exactly.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
    }

    /// True in training mode (dropout on the input while gradients are recorded).
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Restarts the dropout masks' generator from `seed` (a trainer does it every step, so a
    /// resumed run draws the masks the uninterrupted one drew).
    pub fn reseed(&self, seed: u64) {
        *self.rng.lock().unwrap_or_else(PoisonError::into_inner) = StdRng::seed_from_u64(seed);
    }

    /// The update `scale · B(A(drop(x)))` for `x (…, in)`: `(…, out)`. Dropout applies in
    /// training mode while gradients are recorded; inference (under
    /// [`no_grad`](crate::no_grad)) never drops.
    ///
    /// # Errors
    /// [`Error::Shape`] if the last axis of `x` is not `in`.
    pub fn forward(&self, x: &Tensor) -> crate::Result<Tensor> {
        let hidden = self.lora_a.forward(&self.dropout(x)?)?.mul_scalar(self.scale);
        self.lora_b.forward(&hidden)
    }

    fn dropout(&self, x: &Tensor) -> crate::Result<Tensor> {
        let p = self.config.lora_dropout;
        if !self.training || p == 0.0 || !is_grad_enabled() {
            return Ok(x.clone());
        }
        x.dropout(p, &mut *self.rng.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// `scale · B·A`, `(out, in)`: what merging adds to the layer's weight.
    pub fn delta_weight(&self) -> ArrayD<f32> {
        let (a, b) = (self.lora_a.weight.data(), self.lora_b.weight.data());
        let a = a.view().into_dimensionality::<Ix2>().expect("2-D lora_A");
        let b = b.view().into_dimensionality::<Ix2>().expect("2-D lora_B");
        let scaled_a = &a * self.scale;
        let mut delta = Array2::zeros((b.nrows(), a.ncols()));
        gemm(b, scaled_a.view(), &mut delta.view_mut(), false, true);
        delta.into_dyn()
    }
}

impl Clone for LoraAdapter {
    /// Shares the tensors (as cloning a [`Linear`] does); copies the switch, the
    /// mode and the generator's state.
    fn clone(&self) -> Self {
        LoraAdapter {
            module: self.module.clone(),
            lora_a: self.lora_a.clone(),
            lora_b: self.lora_b.clone(),
            config: Arc::clone(&self.config),
            scale: self.scale,
            enabled: AtomicBool::new(self.is_enabled()),
            training: self.training,
            rng: Mutex::new(self.rng.lock().unwrap_or_else(PoisonError::into_inner).clone()),
        }
    }
}

impl Module for LoraAdapter {
    /// `lora_A.weight`, `lora_B.weight`: PEFT's names under the adapted module.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        named_children(&[("lora_A", &self.lora_a), ("lora_B", &self.lora_b)])
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_entries_match_whole_names_or_dotted_suffixes() {
        let matcher = TargetModules::names(["c_attn", "mlp.c_proj"]).matcher().unwrap();
        assert!(matcher.matches("transformer.h.0.attn.c_attn"));
        assert!(matcher.matches("c_attn"));
        assert!(matcher.matches("transformer.h.3.mlp.c_proj"));
        assert!(!matcher.matches("transformer.h.3.attn.c_proj"));
        assert!(!matcher.matches("transformer.h.0.attn.xc_attn"));
    }

    #[test]
    fn a_pattern_must_match_the_whole_name() {
        let matcher = TargetModules::Pattern(r".*layers\.1\.mlp\.(gate|up)_proj".into()).matcher().unwrap();
        assert!(matcher.matches("model.layers.1.mlp.up_proj"));
        assert!(!matcher.matches("model.layers.11.mlp.up_proj"));
        assert!(!matcher.matches("model.layers.1.mlp.up_proj.extra"));
        let bad = TargetModules::Pattern("(?<=x)y".into()).matcher().unwrap_err();
        assert!(matches!(bad, LoraError::Pattern { .. }), "{bad}");
    }

    #[test]
    fn unmatched_names_the_first_entry_that_selects_nothing() {
        let modules = vec!["a.q_proj".to_string(), "a.v_proj".to_string()];
        let matcher = TargetModules::names(["q_proj", "q_prj", "v_proj"]).matcher().unwrap();
        assert_eq!(matcher.unmatched(&modules), Some("q_prj".into()));
        assert_eq!(TargetModules::names(["v_proj"]).matcher().unwrap().unmatched(&modules), None);
    }
}
