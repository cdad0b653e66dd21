//! The knobs of a PPO run, and the engine's config they make.

use serde::{Deserialize, Serialize};

use malmoi_train::TrainConfig;
use malmoi_transformer::generation::GenerationConfig;

use super::KlControl;
use crate::error::{Error, Result};
use crate::lora::{self, LoraConfig};
use crate::policy;

/// The knobs of a PPO run (TRL's names where it has them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PpoConfig {
    /// PPO steps (batches of rollouts).
    pub steps: usize,
    /// Rollouts per step.
    pub batch_size: usize,
    /// Rollouts per optimisation step.
    pub mini_batch_size: usize,
    /// Passes over each batch of rollouts.
    pub ppo_epochs: usize,
    /// Adam's learning rate (constant; betas 0.9 / 0.95).
    pub learning_rate: f32,
    /// The KL penalty's weight β.
    pub kl: KlControl,
    /// ε of the clipped policy loss.
    pub clip_range: f32,
    /// ε of the clipped value loss.
    pub clip_range_value: f32,
    /// Weight of the value loss.
    pub value_coef: f32,
    /// Discount γ.
    pub gamma: f64,
    /// GAE's λ.
    pub lam: f64,
    /// Global gradient-norm clip (0: off).
    pub grad_clip: f32,
    /// How rollouts are sampled (`max_new_tokens`, `temperature`, `top_k`, …; the seed is set
    /// per rollout from [`seed`](Self::seed)). Log-probabilities are always the model's own.
    pub generation: GenerationConfig,
    /// Held-out evaluation (and a checkpoint) every this many steps, and at the end.
    pub eval_interval: usize,
    /// Seed of the prompt order, the rollouts and the minibatches (each drawn from the seed and
    /// the step alone, so a resumed run continues exactly), and of fresh LoRA adapters.
    pub seed: u64,
    /// LoRA adapters to put on the policy and train instead of its weights (the reference is
    /// then the policy with its adapters off; see [`lora`]); `None`: every weight
    /// trains, unless the policy carries adapters already. Part of the settings a resumed run
    /// must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraConfig>,
}

impl Default for PpoConfig {
    fn default() -> Self {
        Self {
            steps: 100,
            batch_size: 16,
            mini_batch_size: 4,
            ppo_epochs: 4,
            learning_rate: 1e-5,
            kl: KlControl::default(),
            clip_range: 0.2,
            clip_range_value: 0.2,
            value_coef: 0.1,
            gamma: 1.0,
            lam: 0.95,
            grad_clip: 1.0,
            generation: GenerationConfig { max_new_tokens: 20, do_sample: true, ..GenerationConfig::default() },
            eval_interval: 10,
            seed: 1234,
            lora: None,
        }
    }
}

impl PpoConfig {
    /// The engine's config of this run: `steps` steps at a constant learning rate, evaluated
    /// at the start too.
    pub fn train_config(&self) -> TrainConfig {
        policy::train_config(self.steps, self.learning_rate, self.grad_clip, self.eval_interval, self.seed)
    }

    /// Checks every knob.
    ///
    /// # Errors
    /// [`Error::Input`] naming the bad values; [`Error::Transformer`](crate::Error::Transformer)
    /// for a LoRA configuration out of range.
    pub fn validate(&self) -> Result<()> {
        self.kl.validate()?;
        lora::validate(self.lora.as_ref())?;
        let sizes = [self.steps, self.batch_size, self.mini_batch_size, self.ppo_epochs, self.eval_interval];
        policy::check_sizes(&self.generation, sizes, "PPO epochs")?;
        let ranges = [self.clip_range, self.clip_range_value, self.value_coef, self.learning_rate];
        if ranges.iter().any(|v| !(v.is_finite() && *v > 0.0))
            || !(0.0..=1.0).contains(&self.gamma)
            || !(0.0..=1.0).contains(&self.lam)
        {
            return Err(Error::Input(
                "clip ranges, value_coef and learning rate must be positive; γ and λ in [0, 1]".into(),
            ));
        }
        Ok(())
    }
}
