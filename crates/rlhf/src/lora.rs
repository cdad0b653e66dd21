//! LoRA for every trainer, one convention for all five: each run's knobs ([`FitConfig`] for SFT,
//! the reward model and DPO; [`PpoConfig`]; [`GrpoConfig`]) have `lora: Option<LoraConfig>`.
//! With `Some`, the trainer puts fresh adapters (drawn from the run's seed) on the transformer it
//! tunes — the policy, or the reward model's trunk — before the first step; a transformer that
//! carries adapters already (loaded with [`load_adapter`](LoraModel::load_adapter), say) trains
//! them with `None`. Either way, in a LoRA run:
//!
//! - the optimiser gets the adapters ([`trainable_parameters`](LoraModel::trainable_parameters))
//!   and the heads, which train fully (the reward model's score head, PPO's value head); the
//!   whole base — linear layers, embeddings, norms — is frozen, so backward computes no gradient
//!   for it;
//! - the reference of DPO, PPO and GRPO is the policy itself with its adapters switched off
//!   ([`with_adapters_disabled`](LoraModel::with_adapters_disabled)): the base, bit for bit,
//!   without a second copy ([`Reference::AdaptersOff`](crate::policy::Reference::AdaptersOff),
//!   [`with_reference`](crate::dpo::with_reference));
//! - checkpoints keep what trains — adapters and heads, with their optimiser state — and not
//!   the frozen base, which is known unchanged: the run's settings, which a resumed run must
//!   match, hold the adapters' configuration and a fingerprint of every base weight, so resuming
//!   onto another base is refused ([`malmoi_train::Error::Config`]);
//! - the result is written as PEFT's adapter folder ([`save_adapter`], or the trainers' and the
//!   reward model's own `save_adapter`, which add their head's file) or merged into a plain
//!   model in Hugging Face's layout ([`save_merged`]): the user's choice.
//!
//! [`FitConfig`]: crate::fit::FitConfig
//! [`PpoConfig`]: crate::ppo::PpoConfig
//! [`GrpoConfig`]: crate::grpo::GrpoConfig

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use malmoi_tensor::Tensor;
use malmoi_tensor::nn::Module;
use malmoi_transformer::Gpt;
use malmoi_transformer::generation::{Generator, TOKENIZER_FILE};

pub use malmoi_transformer::lora::{LoraConfig, LoraModel, TargetModules};

use crate::error::Result;

/// Salt of the run's seed that draws fresh adapters (so they differ from the head's draw).
const ADAPTER_SEED: u64 = 0x6c6f_7261_5f61_6461;

/// Puts fresh adapters made under `config` (if any) on `model`, drawn from `seed`.
///
/// # Errors
/// [`LoraModel::add_lora`]'s: a target that selects nothing, a rank too large, a model that
/// carries adapters already (then `None` trains those). On error the model is unchanged.
pub(crate) fn add_adapters(model: &mut Gpt, config: Option<&LoraConfig>, seed: u64) -> Result<()> {
    if let Some(config) = config {
        model.add_lora(config, seed ^ ADAPTER_SEED)?;
    }
    Ok(())
}

/// Checks `config`'s values (the knobs' `validate`).
///
/// # Errors
/// [`LoraConfig::validate`]'s errors, as [`Error::Transformer`](crate::Error::Transformer).
pub(crate) fn validate(config: Option<&LoraConfig>) -> Result<()> {
    match config {
        Some(config) => Ok(config.validate().map_err(malmoi_transformer::Error::from)?),
        None => Ok(()),
    }
}

/// What a trainer works out once about the transformer it tunes, when it starts: full
/// fine-tuning, or LoRA with its frozen base.
#[derive(Debug, Default)]
pub(crate) struct Tuning {
    /// The frozen base's parameters (none in full fine-tuning).
    frozen: Vec<(String, Tensor)>,
    /// In a LoRA run, what a resumed run must match: the adapters' configuration and the base's
    /// fingerprint.
    lora: Option<Value>,
}

impl Tuning {
    /// Full fine-tuning of every parameter.
    pub(crate) fn full() -> Self {
        Self::default()
    }

    /// The tuning of `model` as it is: LoRA if it carries adapters, full otherwise.
    ///
    /// # Errors
    /// [`LoraModel::lora_config`]'s (adapters of different settings).
    pub(crate) fn of(model: &Gpt) -> Result<Self> {
        let Some(adapters) = model.lora_config()? else { return Ok(Self::full()) };
        let trained: BTreeSet<String> = model.trainable_parameters().into_iter().map(|(name, _)| name).collect();
        let frozen: Vec<(String, Tensor)> =
            model.named_parameters().into_iter().filter(|(name, _)| !trained.contains(name)).collect();
        let lora = serde_json::json!({ "adapters": adapters, "base": fingerprint(&frozen) });
        Ok(Self { frozen, lora: Some(lora) })
    }

    /// Of a model's `params` (which list the tuned transformer's under its own names), those
    /// that train: all of them, or in a LoRA run all but the frozen base's — the adapters and
    /// any head.
    pub(crate) fn trained(&self, params: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
        if self.frozen.is_empty() {
            return params;
        }
        let frozen: BTreeSet<&str> = self.frozen.iter().map(|(name, _)| name.as_str()).collect();
        params.into_iter().filter(|(name, _)| !frozen.contains(name.as_str())).collect()
    }

    /// The run's settings for the engine: `knobs`, and in a LoRA run `"lora"` beside them (the
    /// adapters' configuration and the base's fingerprint), so a checkpoint that keeps only the
    /// adapters resumes only onto the base it was trained on.
    pub(crate) fn settings(&self, knobs: Value) -> Value {
        match (&self.lora, knobs) {
            (Some(lora), Value::Object(mut map)) => {
                map.insert("lora".into(), lora.clone());
                Value::Object(map)
            }
            (_, knobs) => knobs,
        }
    }
}

/// A 64-bit FNV-1a hash of every tensor's name, shape and values (their bits), as hex: two bases
/// share it only if every weight is the same.
fn fingerprint(params: &[(String, Tensor)]) -> String {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |word: u64| hash = (hash ^ word).wrapping_mul(PRIME);
    for (name, tensor) in params {
        name.bytes().for_each(|b| mix(u64::from(b)));
        tensor.shape().iter().for_each(|&d| mix(d as u64));
        tensor.data().iter().for_each(|v| mix(u64::from(v.to_bits())));
    }
    format!("fnv1a64:{hash:016x}")
}

/// Writes `generator`'s adapters as PEFT's folder `dir` (`adapter_config.json`,
/// `adapter_model.safetensors`) with the tokenizer (`tokenizer.json`) beside them:
/// `PeftModel.from_pretrained(base, dir)` loads it onto the base, as does
/// [`load_adapter`](LoraModel::load_adapter).
///
/// # Errors
/// [`LoraModel::save_adapter`]'s ([`LoraError::NoAdapters`](malmoi_tensor::nn::lora::LoraError::NoAdapters)
/// for a plain model); write errors.
pub fn save_adapter(generator: &Generator, dir: impl AsRef<Path>) -> Result<()> {
    let dir = dir.as_ref();
    generator.model.save_adapter(dir)?;
    generator.tokenizer.save(dir.join(TOKENIZER_FILE)).map_err(malmoi_transformer::Error::from)?;
    Ok(())
}

/// Folds `generator`'s adapters into its weights ([`merge_and_unload`](LoraModel::merge_and_unload):
/// the model in memory becomes a plain one) and writes it in Hugging Face's layout
/// ([`Generator::save`]); a plain model is written as it is. Returns the merged modules.
///
/// # Errors
/// Write errors.
pub fn save_merged(generator: &mut Generator, dir: impl AsRef<Path>) -> Result<Vec<String>> {
    let merged = generator.model.merge_and_unload();
    generator.save(dir)?;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use malmoi_transformer::GptConfig;

    fn tiny(seed: u64) -> Gpt {
        let config =
            GptConfig { vocab_size: 20, block_size: 8, n_layer: 1, n_head: 2, n_embd: 8, ..GptConfig::default() };
        Gpt::new(config, seed).unwrap()
    }

    #[test]
    fn a_lora_run_trains_the_adapters_and_fingerprints_the_base() {
        let mut model = tiny(1);
        assert!(Tuning::of(&model).unwrap().lora.is_none());
        let lora = LoraConfig { r: 2, ..LoraConfig::default() };
        add_adapters(&mut model, Some(&lora), 3).unwrap();
        let tuning = Tuning::of(&model).unwrap();
        let trained: Vec<String> = tuning.trained(model.named_parameters()).into_iter().map(|(n, _)| n).collect();
        assert_eq!(trained, ["transformer.h.0.attn.c_attn.lora_A.weight", "transformer.h.0.attn.c_attn.lora_B.weight"]);
        let settings = tuning.settings(serde_json::json!({ "fit": 1 }));
        assert_eq!(settings["fit"], 1);
        assert_eq!(settings["lora"]["adapters"]["r"], 2);
        // the same base gives the same fingerprint; one changed weight another
        let mut same = tiny(1);
        add_adapters(&mut same, Some(&lora), 3).unwrap();
        assert_eq!(Tuning::of(&same).unwrap().lora, tuning.lora);
        same.wte.weight.update_data(|w| w[[0, 0]] += 1e-6);
        assert_ne!(Tuning::of(&same).unwrap().lora, tuning.lora);
        // full fine-tuning keeps the knobs as they were
        assert_eq!(Tuning::full().settings(serde_json::json!({ "fit": 1 })), serde_json::json!({ "fit": 1 }));
    }
}
