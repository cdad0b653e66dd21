//! LoRA fine-tuning of the transformer models, saved and loaded in PEFT's layout.
//!
//! [`LoraModel`] is implemented by [`Gpt`](crate::Gpt), [`Decoder`](crate::Decoder) (Llama,
//! Qwen2, Mistral, GPT-NeoX) and [`Bert`](crate::Bert), each in its own module. It lists a model's [`Linear`] layers under their Hugging Face module names —
//! `transformer.h.0.attn.c_attn`, `model.layers.0.self_attn.q_proj`,
//! `encoder.layer.0.attention.self.query` — which are the names PEFT's `target_modules` select,
//! and everything else rests on that list:
//!
//! - [`add_lora`](LoraModel::add_lora) puts fresh adapters ([`malmoi_tensor::nn::lora`]) on the
//!   layers a [`LoraConfig`] targets (PEFT's rules: a list entry equals a module name or its
//!   dotted suffix, a string is a regular expression over the whole name, `"all-linear"` is
//!   every layer but the output layer, no targets is the architecture's default) and freezes
//!   every linear layer of the base;
//! - [`trainable_parameters`](LoraModel::trainable_parameters) is what an optimiser gets: the
//!   adapters only (embeddings and norms still receive gradients, cheap ones, that nothing
//!   applies);
//! - [`with_adapters_disabled`](LoraModel::with_adapters_disabled) runs the base model exactly,
//!   without a second copy (the reference model of DPO and PPO);
//! - [`save_adapter`](LoraModel::save_adapter) / [`load_adapter`](LoraModel::load_adapter) write
//!   and read PEFT's folder: `adapter_config.json` and `adapter_model.safetensors` with
//!   `base_model.model.<module>.lora_A.weight` `(r, in)` and `lora_B.weight` `(out, r)`;
//! - [`merge_and_unload`](LoraModel::merge_and_unload) folds the adapters into the weights and
//!   gives back a plain model (which `save_pretrained` then writes; a model still carrying
//!   adapters refuses to, since `transformers` would ignore them).
//!
//! Errors: every fallible method returns this crate's [`Result`], like the models' own
//! methods, so `?` carries them through code returning it. What LoRA itself refuses (a target
//! that selects nothing, a rank too large, a model already adapted, an adapter made for another
//! base, an unsupported `adapter_config.json` key) is [`Error::Lora`] wrapping the
//! [`LoraError`] of [`malmoi_tensor::nn::lora`] — which also converts with `?` when calling that
//! module directly; the folder's files are [`Error::Io`] naming the path, and reading or writing
//! the safetensors file is [`Error::Tensor`].
//!
//! ```
//! use malmoi_transformer::lora::{LoraConfig, LoraModel, TargetModules};
//! use malmoi_transformer::{Gpt, GptConfig};
//!
//! let config = GptConfig { vocab_size: 40, block_size: 16, n_layer: 2, n_head: 2, n_embd: 8, ..GptConfig::default() };
//! let mut model = Gpt::new(config.clone(), 0)?;
//! let targets = Some(TargetModules::names(["c_attn"]));
//! let lora = LoraConfig { r: 4, lora_alpha: 8.0, target_modules: targets, ..LoraConfig::default() };
//! let adapted = model.add_lora(&lora, 1)?;
//! assert_eq!(adapted, ["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"]);
//! assert_eq!(model.trainable_parameters()[0].0, "transformer.h.0.attn.c_attn.lora_A.weight");
//!
//! let dir = tempfile::tempdir()?;
//! model.save_adapter(dir.path())?; // PEFT's PeftModel.from_pretrained(gpt2, dir) reads it
//! let mut same_base = Gpt::new(config, 0)?;
//! assert_eq!(same_base.load_adapter(dir.path())?, adapted);
//! assert_eq!(model.merge_and_unload(), adapted);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::ArrayD;

use malmoi_tensor::nn::lora::{ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, LoraResult, PEFT_PREFIX};
use malmoi_tensor::nn::{Linear, Module};
use malmoi_tensor::{Tensor, VarBuilder, checkpoint};

pub use malmoi_tensor::nn::lora::{LoraAdapter, LoraConfig, LoraError, LoraInit, TargetModules};

use crate::error::{Error, Result};

/// A model whose [`Linear`] layers can be listed under their Hugging Face module names, and so
/// carry LoRA adapters in PEFT's layout.
///
/// Implementors give the listing of their layers ([`linears`](Self::linears) and
/// [`linears_mut`](Self::linears_mut), written once as a listing macro) and a few facts about
/// the architecture; every LoRA operation is a provided method.
pub trait LoraModel: Module + Sized {
    /// PEFT's `task_type` written for this model (`"CAUSAL_LM"`, `"FEATURE_EXTRACTION"`).
    const TASK_TYPE: &'static str;

    /// True when the checkpoint stores the weights `(in, out)` (GPT-2's `Conv1D`): PEFT's
    /// `fan_in_fan_out`, written so that PEFT loads the adapter without a warning.
    const FAN_IN_FAN_OUT: bool = false;

    /// Every linear layer with its module name (the tensor name without `.weight`), in the
    /// order of [`Module::named_parameters`]. An output layer tied to the embeddings is left
    /// out: an adapter merged into it would change the embeddings too.
    fn linears(&self) -> Vec<(String, &Linear)>;

    /// [`linears`](Self::linears), mutably.
    fn linears_mut(&mut self) -> Vec<(String, &mut Linear)>;

    /// The modules PEFT adapts when `target_modules` is not given, for this architecture.
    fn default_target_modules(&self) -> TargetModules;

    /// The output layer's module name, which `"all-linear"` leaves out.
    fn output_layer(&self) -> Option<&str> {
        None
    }

    /// Whether new adapters start in training mode (the model's own mode).
    fn training_mode(&self) -> bool;

    /// Adds fresh adapters (drawn from `seed`) to the linear layers `config` targets, freezes
    /// every linear layer of the base, and returns the adapted module names in model order.
    /// `target_modules: None` takes [`default_target_modules`](Self::default_target_modules).
    ///
    /// # Errors
    /// [`Error::Lora`] with [`LoraConfig::validate`]'s errors; [`LoraError::NoMatch`] naming a
    /// target (a list entry, or the pattern) that selects no linear layer;
    /// [`LoraError::RankTooLarge`] naming the first layer narrower than `r`;
    /// [`LoraError::AlreadyAdapted`] if the model carries adapters. On error the model is
    /// unchanged.
    fn add_lora(&mut self, config: &LoraConfig, seed: u64) -> Result<Vec<String>> {
        config.validate()?;
        refuse_adapted(self)?;
        let config = resolved(self, config.clone());
        let targeted = select(self, &config, true)?;
        let adapters = build_adapters(self, &targeted, &config, &VarBuilder::fresh(seed))?;
        attach(self, adapters);
        Ok(targeted)
    }

    /// Loads PEFT's adapter folder `dir` (`adapter_config.json`, `adapter_model.safetensors`;
    /// f32, f16 or bf16) onto the model, freezing its linear layers; returns the adapted module
    /// names. The tensors must be exactly those the configuration selects on this model.
    ///
    /// # Errors
    /// [`read_adapter_config`]'s errors; [`Error::Io`] naming a missing weights file;
    /// [`Error::Tensor`] for an unreadable one; [`Error::Lora`] with, for an adapter made for
    /// another base, [`LoraError::UnexpectedTensor`] naming a tensor whose module this model
    /// lacks and [`LoraError::Shape`] naming one of another width, vocabulary or rank;
    /// [`LoraError::MissingTensor`] for a targeted module without tensors;
    /// [`LoraError::AlreadyAdapted`]. On error the model is unchanged.
    fn load_adapter(&mut self, dir: impl AsRef<Path>) -> Result<Vec<String>> {
        let dir = dir.as_ref();
        refuse_adapted(self)?;
        let config = read_adapter_config(dir)?;
        let vb = VarBuilder::from_files(&[weights_file(dir)?])?;
        // nothing is read yet, so every stored name is unused
        let stored = stored_modules(self, &vb.unused())?;
        let config = resolved(self, config);
        let targeted = select(self, &config, false)?;
        if let Some(module) = stored.iter().find(|m| !targeted.contains(m)) {
            let reason = "adapter_config.json's target_modules does not select this module".into();
            return Err(LoraError::UnexpectedTensor { name: adapter_tensor(module, "lora_A"), reason }.into());
        }
        if let Some(module) = targeted.iter().find(|m| !stored.contains(*m)) {
            return Err(LoraError::MissingTensor { name: adapter_tensor(module, "lora_A") }.into());
        }
        let adapters = build_adapters(self, &targeted, &config, &vb.pp(PEFT_PREFIX))?;
        if let Some(name) = vb.unused().into_iter().next() {
            return Err(LoraError::UnexpectedTensor { name, reason: "no adapter reads it".into() }.into());
        }
        attach(self, adapters);
        Ok(targeted)
    }

    /// Writes the adapters as PEFT's folder `dir` (created if needed): `adapter_model.safetensors`
    /// (f32, PEFT's tensor names) then `adapter_config.json` (`peft_type` `"LORA"`, the
    /// `task_type`, `r`, `lora_alpha`, …), each replaced atomically. `PeftModel.from_pretrained`
    /// loads it onto the same base.
    ///
    /// # Errors
    /// [`Error::Lora`] with [`LoraError::NoAdapters`]; [`lora_config`](Self::lora_config)'s;
    /// [`Error::Io`] naming a folder that cannot be created; [`Error::Tensor`] for a failed
    /// write.
    fn save_adapter(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let config = self.lora_config()?.ok_or(LoraError::NoAdapters)?;
        let tensors: Vec<(String, ArrayD<f32>)> = self
            .trainable_parameters()
            .into_iter()
            .map(|(name, tensor)| (format!("{PEFT_PREFIX}.{name}"), tensor.to_array()))
            .collect();
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
        checkpoint::save(dir.join(ADAPTER_WEIGHTS_FILE), tensors.iter().map(|(n, a)| (n.as_str(), a)), &metadata)?;
        checkpoint::write_atomically(&dir.join(ADAPTER_CONFIG_FILE), config.to_json().as_bytes())?;
        Ok(())
    }

    /// The configuration the adapters were made under (`None` without adapters), with the
    /// targets, `task_type` and `fan_in_fan_out` filled in.
    ///
    /// # Errors
    /// [`Error::Lora`] with [`LoraError::UnsupportedKey`] `rank_pattern` for adapters of
    /// different settings (attached layer by layer): PEFT's folder holds one configuration, and
    /// its per-module patterns are not implemented.
    fn lora_config(&self) -> Result<Option<LoraConfig>> {
        let adapters = adapters(self);
        let Some((_, first)) = adapters.first() else { return Ok(None) };
        if let Some((module, _)) = adapters.iter().find(|(_, a)| a.config() != first.config()) {
            let reason = format!("`{module}`'s adapter has other settings than the first one's");
            return Err(LoraError::UnsupportedKey { key: "rank_pattern".into(), reason }.into());
        }
        Ok(Some(first.config().clone()))
    }

    /// The adapted module names, in model order.
    fn adapted_modules(&self) -> Vec<String> {
        adapters(self).into_iter().map(|(module, _)| module).collect()
    }

    /// The adapters' parameters under the model's parameter names
    /// (`<module>.lora_A.weight`, `<module>.lora_B.weight`): what an optimiser trains.
    fn trainable_parameters(&self) -> Vec<(String, Tensor)> {
        adapters(self)
            .into_iter()
            .flat_map(|(module, adapter)| malmoi_tensor::nn::prefixed(&module, adapter.named_parameters()))
            .collect()
    }

    /// Switches every adapter on or off; off, the model computes the base model's outputs
    /// exactly.
    fn set_adapters_enabled(&self, enabled: bool) {
        adapters(self).into_iter().for_each(|(_, adapter)| adapter.set_enabled(enabled));
    }

    /// Runs `f` with every adapter switched off — the base model, bit for bit, without a second
    /// copy (PEFT's `disable_adapter()`) — and restores each adapter's switch afterwards, even if
    /// `f` panics.
    fn with_adapters_disabled<R>(&self, f: impl FnOnce(&Self) -> R) -> R {
        struct Restore<'a>(Vec<(&'a LoraAdapter, bool)>);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.iter().for_each(|(adapter, enabled)| adapter.set_enabled(*enabled));
            }
        }
        let restore = Restore(adapters(self).into_iter().map(|(_, a)| (a, a.is_enabled())).collect());
        restore.0.iter().for_each(|(adapter, _)| adapter.set_enabled(false));
        f(self)
    }

    /// Folds every adapter into its layer's weight (`W += scale · B·A`), removes the adapters
    /// and thaws every parameter: a plain model computing what the adapted one computed.
    /// Returns the merged module names.
    fn merge_and_unload(&mut self) -> Vec<String> {
        let mut merged = Vec::new();
        for (module, linear) in self.linears_mut() {
            if linear.merge_lora() {
                merged.push(module);
            }
        }
        set_base_frozen(self, false);
        merged
    }

    /// Removes every adapter without merging and thaws every parameter: the base model
    /// again. Returns the adapters by module name.
    fn unload(&mut self) -> Vec<(String, LoraAdapter)> {
        let mut removed = Vec::new();
        for (module, linear) in self.linears_mut() {
            removed.extend(linear.detach_lora().map(|adapter| (module, adapter)));
        }
        set_base_frozen(self, false);
        removed
    }

    /// Restarts every adapter's dropout generator from `seed` (each adapter its own stream).
    fn reseed_adapters(&self, seed: u64) {
        for (i, (_, adapter)) in adapters(self).into_iter().enumerate() {
            adapter.reseed(seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
    }
}

/// The adapters of `model` by module name, in model order.
fn adapters<M: LoraModel>(model: &M) -> Vec<(String, &LoraAdapter)> {
    model.linears().into_iter().filter_map(|(module, linear)| linear.lora().map(|a| (module, a))).collect()
}

/// Refuses a model that carries adapters already.
fn refuse_adapted<M: LoraModel>(model: &M) -> LoraResult<()> {
    match adapters(model).into_iter().next() {
        Some((module, _)) => Err(LoraError::AlreadyAdapted { module }),
        None => Ok(()),
    }
}

/// `config` completed for `model`: its default targets, task type and weight layout.
fn resolved<M: LoraModel>(model: &M, config: LoraConfig) -> LoraConfig {
    LoraConfig {
        target_modules: Some(config.target_modules.unwrap_or_else(|| model.default_target_modules())),
        task_type: Some(config.task_type.unwrap_or_else(|| M::TASK_TYPE.into())),
        fan_in_fan_out: M::FAN_IN_FAN_OUT,
        ..config
    }
}

/// The modules `config` (resolved) selects on `model`, in model order. `strict`: every target
/// entry must select a layer (adding adapters); otherwise only some target must (loading, where
/// the tensors decide).
fn select<M: LoraModel>(model: &M, config: &LoraConfig, strict: bool) -> LoraResult<Vec<String>> {
    let targets = config.target_modules.as_ref().expect("resolved");
    let mut modules: Vec<String> = model.linears().into_iter().map(|(module, _)| module).collect();
    if targets.is_all_linear() {
        modules.retain(|m| Some(m.as_str()) != model.output_layer());
    }
    let matcher = targets.matcher()?;
    if strict && let Some(pattern) = matcher.unmatched(&modules) {
        return Err(LoraError::NoMatch { pattern });
    }
    let excluded = config.exclude_modules.as_ref().map(TargetModules::matcher).transpose()?;
    let selected: Vec<String> = modules
        .into_iter()
        .filter(|m| matcher.matches(m) && !excluded.as_ref().is_some_and(|e| e.matches(m)))
        .collect();
    if selected.is_empty() {
        let pattern = match targets {
            TargetModules::Names(names) => names.join(", "),
            TargetModules::Pattern(pattern) => pattern.clone(),
        };
        return Err(LoraError::NoMatch { pattern });
    }
    Ok(selected)
}

/// One adapter per `targeted` module, its tensors from `vb` (fresh or a file), all built before
/// any is attached.
fn build_adapters<M: LoraModel>(
    model: &M,
    targeted: &[String],
    config: &LoraConfig,
    vb: &VarBuilder,
) -> LoraResult<Vec<LoraAdapter>> {
    let config = Arc::new(config.clone());
    model
        .linears()
        .into_iter()
        .filter(|(module, _)| targeted.contains(module))
        .map(|(module, linear)| {
            LoraAdapter::new(module, linear.in_features(), linear.out_features(), Arc::clone(&config), vb)
        })
        .collect()
}

/// Freezes every parameter of `model` (linear layers, embeddings, norms: PEFT's base, no
/// gradient computed for any of them) and attaches `adapters` (built for its layers, in model
/// order) in the model's mode.
fn attach<M: LoraModel>(model: &mut M, adapters: Vec<LoraAdapter>) {
    set_base_frozen(model, true);
    let training = model.training_mode();
    let mut adapters = adapters.into_iter().peekable();
    for (module, linear) in model.linears_mut() {
        if let Some(mut adapter) = adapters.next_if(|a| a.module() == module) {
            adapter.set_training(training);
            linear.attach_lora(adapter).expect("built for this unadapted layer");
        }
    }
}

/// Freezes (or thaws) every parameter of `model`; adapters attached afterwards train.
fn set_base_frozen(model: &impl Module, frozen: bool) {
    for (_, tensor) in model.named_parameters() {
        tensor.set_requires_grad(!frozen).expect("parameters are leaves");
    }
}

/// PEFT's name of `module`'s tensor `which` (`"lora_A"` or `"lora_B"`).
fn adapter_tensor(module: &str, which: &str) -> String {
    format!("{PEFT_PREFIX}.{module}.{which}.weight")
}

/// Reads and [validates](LoraConfig::validate) the configuration of PEFT's adapter folder
/// `dir` (its `adapter_config.json`).
///
/// # Errors
/// [`Error::Io`] naming the file; [`Error::Lora`] with [`LoraConfig::from_json`]'s errors.
pub fn read_adapter_config(dir: impl AsRef<Path>) -> Result<LoraConfig> {
    let path = dir.as_ref().join(ADAPTER_CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
    Ok(LoraConfig::from_json(&text)?)
}

/// The adapter folder's weights file.
///
/// # Errors
/// [`Error::Io`] naming it when it is missing (with a hint for a PyTorch `.bin`).
fn weights_file(dir: &Path) -> Result<PathBuf> {
    let path = dir.join(ADAPTER_WEIGHTS_FILE);
    if path.is_file() {
        return Ok(path);
    }
    let hint = if dir.join("adapter_model.bin").exists() {
        "only adapter_model.bin: re-save the adapter with safe_serialization=True"
    } else {
        "no such file"
    };
    Err(Error::io(path)(std::io::Error::new(std::io::ErrorKind::NotFound, hint)))
}

/// The modules an adapter file's tensor `names` adapt.
///
/// # Errors
/// [`LoraError::UnexpectedTensor`] for a tensor that is not a LoRA weight under PEFT's prefix,
/// or adapts a module `model` has no linear layer for (an adapter made for another base).
fn stored_modules<M: LoraModel>(model: &M, names: &[String]) -> LoraResult<BTreeSet<String>> {
    let modules: BTreeSet<String> = model.linears().into_iter().map(|(module, _)| module).collect();
    let mut stored = BTreeSet::new();
    for name in names {
        let module = name
            .strip_prefix(&format!("{PEFT_PREFIX}."))
            .and_then(|rest| rest.strip_suffix(".lora_A.weight").or_else(|| rest.strip_suffix(".lora_B.weight")));
        let Some(module) = module else {
            let reason = format!("not a LoRA weight `{PEFT_PREFIX}.<module>.lora_A.weight` / `lora_B.weight`");
            return Err(LoraError::UnexpectedTensor { name: name.clone(), reason });
        };
        if !modules.contains(module) {
            let reason = format!("the model has no linear layer `{module}` (an adapter for another base model?)");
            return Err(LoraError::UnexpectedTensor { name: name.clone(), reason });
        }
        stored.insert(module.to_string());
    }
    Ok(stored)
}

/// Refuses to write a full model that carries adapters: `transformers` would drop them.
///
/// # Errors
/// [`Error::Config`] naming the first adapted module.
pub(crate) fn refuse_adapters(params: &[(String, Tensor)]) -> Result<()> {
    match params.iter().find_map(|(name, _)| name.strip_suffix(".lora_A.weight")) {
        Some(module) => Err(Error::Config(format!(
            "`{module}` carries a LoRA adapter: merge_and_unload() the model first, or save the adapter alone with \
             save_adapter()"
        ))),
        None => Ok(()),
    }
}

/// `layers` (shared or mutable) named `<prefix>.<name>` after `names`, in order; the shorter
/// of the two decides (a fused projection is one layer under the first of three names). The
/// models' listing macros build their module names with it.
pub(crate) fn named<'n, L>(
    prefix: &str,
    names: impl IntoIterator<Item = &'n str>,
    layers: impl IntoIterator<Item = L>,
) -> Vec<(String, L)> {
    names.into_iter().zip(layers).map(|(name, layer)| (format!("{prefix}.{name}"), layer)).collect()
}

/// [`LoraModel::linears`] and [`LoraModel::linears_mut`], both expanded from the one listing
/// macro `$listing` of a model's file (`$listing!(self, iter)` lists the layers shared,
/// `$listing!(self, iter_mut, mut)` mutably), so the shared and the mutable listing cannot
/// disagree.
macro_rules! linears_from {
    ($listing:ident) => {
        fn linears(&self) -> Vec<(String, &Linear)> {
            $listing!(self, iter)
        }

        fn linears_mut(&mut self) -> Vec<(String, &mut Linear)> {
            $listing!(self, iter_mut, mut)
        }
    };
}

pub(crate) use linears_from;
