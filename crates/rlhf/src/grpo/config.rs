//! The knobs of a GRPO run (TRL's `GRPOConfig` names where it has them), and the engine's config
//! they make.

use serde::{Deserialize, Serialize};

use malmoi_train::TrainConfig;
use malmoi_transformer::generation::GenerationConfig;

use crate::error::{Error, Result};
use crate::lora::{self, LoraConfig};
use crate::policy;

/// How the group-centred rewards are scaled into advantages (TRL's `scale_rewards`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScaleRewards {
    /// Divided by the group's standard deviation (TRL's default, the GRPO paper's).
    #[default]
    Group,
    /// Divided by the whole batch's standard deviation (Dr. GRPO's advice against the
    /// per-group difficulty bias).
    Batch,
    /// Only centred.
    None,
}

/// How per-token losses are averaged into one (TRL's `loss_type`). Every minibatch is one
/// optimiser step here, so TRL's "global accumulated batch" is the minibatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossType {
    /// Over every response token of the minibatch: `Σ_{i,t} ℓ_{i,t} / Σ_i |o_i|` (TRL's
    /// default, DAPO's token-level loss; TRL's `bnpo` is the same without gradient
    /// accumulation).
    #[default]
    Dapo,
    /// Per response, then over responses: `(1/B) Σ_i (1/|o_i|) Σ_t ℓ_{i,t}` (the GRPO paper's).
    Grpo,
    /// Over a constant: `Σ_{i,t} ℓ_{i,t} / (B · max_new_tokens)` (Dr. GRPO, no length bias).
    DrGrpo,
}

/// The knobs of a GRPO run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpoConfig {
    /// GRPO steps (batches of groups).
    pub steps: usize,
    /// Rollouts per step, `num_generations` for each of `batch_size / num_generations` prompts
    /// (TRL's `generation_batch_size`).
    pub batch_size: usize,
    /// `G`, the answers sampled per prompt; at least 2, since advantages compare them.
    pub num_generations: usize,
    /// Rollouts per optimiser step (a minibatch mixes groups; each rollout keeps its advantage).
    pub mini_batch_size: usize,
    /// Passes over each batch of rollouts (TRL's `num_iterations`, the paper's μ).
    pub num_iterations: usize,
    /// Adam's learning rate (constant; betas 0.9 / 0.95, as PPO's).
    pub learning_rate: f32,
    /// Weight β of the per-token KL `k3` to the reference; 0 skips the reference pass in
    /// training (held-out evaluation still measures KL).
    pub beta: f64,
    /// ε of the clipped surrogate (TRL's `epsilon`).
    pub epsilon: f32,
    /// How advantages are scaled.
    pub scale_rewards: ScaleRewards,
    /// How per-token losses are averaged.
    pub loss_type: LossType,
    /// Global gradient-norm clip (0: off).
    pub grad_clip: f32,
    /// How rollouts are sampled (`max_new_tokens`, `temperature`, `top_k`, …; the seed is set
    /// per rollout from [`seed`](Self::seed)). It must sample, or a group's answers are one.
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

impl Default for GrpoConfig {
    /// TRL's `num_generations` 8, ε 0.2, one iteration, `scale_rewards = "group"`, `loss_type =
    /// "dapo"`; β 0.04 (the paper's and TRL's former default; TRL now defaults to 0); PPO's
    /// learning rate and sampling here.
    fn default() -> Self {
        Self {
            steps: 100,
            batch_size: 16,
            num_generations: 8,
            mini_batch_size: 8,
            num_iterations: 1,
            learning_rate: 1e-5,
            beta: 0.04,
            epsilon: 0.2,
            scale_rewards: ScaleRewards::Group,
            loss_type: LossType::Dapo,
            grad_clip: 1.0,
            generation: GenerationConfig { max_new_tokens: 20, do_sample: true, ..GenerationConfig::default() },
            eval_interval: 10,
            seed: 1234,
            lora: None,
        }
    }
}

impl GrpoConfig {
    /// Prompts per step.
    pub fn prompts_per_step(&self) -> usize {
        self.batch_size / self.num_generations.max(1)
    }

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
        let sizes = [self.steps, self.batch_size, self.mini_batch_size, self.num_iterations, self.eval_interval];
        policy::check_sizes(&self.generation, sizes, "iterations")?;
        lora::validate(self.lora.as_ref())?;
        if self.num_generations < 2 || !self.batch_size.is_multiple_of(self.num_generations) {
            return Err(Error::Input(format!(
                "num_generations must be at least 2 and divide the batch size: {} and {}",
                self.num_generations, self.batch_size
            )));
        }
        if !self.generation.do_sample || self.generation.num_beams > 1 {
            return Err(Error::Input("GRPO's rollouts must be sampled, without beam search".into()));
        }
        let positive = [self.epsilon, self.learning_rate].iter().all(|v| v.is_finite() && *v > 0.0);
        let non_negative =
            self.beta.is_finite() && self.beta >= 0.0 && self.grad_clip.is_finite() && self.grad_clip >= 0.0;
        if !(positive && non_negative) {
            return Err(Error::Input(format!(
                "ε and the learning rate must be positive, β and the gradient clip at least 0: ε {}, lr {}, β {}, clip {}",
                self.epsilon, self.learning_rate, self.beta, self.grad_clip
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid_and_groups_divide_the_batch() {
        let config = GrpoConfig::default();
        config.validate().unwrap();
        assert_eq!(config.prompts_per_step(), 2);
        for bad in [
            GrpoConfig { num_generations: 1, ..GrpoConfig::default() },
            GrpoConfig { num_generations: 3, ..GrpoConfig::default() },
            GrpoConfig { beta: -0.1, ..GrpoConfig::default() },
            GrpoConfig { epsilon: f32::NAN, ..GrpoConfig::default() },
            GrpoConfig { mini_batch_size: 17, ..GrpoConfig::default() },
            GrpoConfig {
                generation: GenerationConfig { do_sample: false, ..GrpoConfig::default().generation },
                ..GrpoConfig::default()
            },
        ] {
            assert!(matches!(bad.validate(), Err(Error::Input(_))), "{bad:?}");
        }
        GrpoConfig { beta: 0.0, ..GrpoConfig::default() }.validate().unwrap();
    }

    #[test]
    fn names_are_trl_s() {
        let json = serde_json::to_value(GrpoConfig::default()).unwrap();
        assert_eq!((json["scale_rewards"].as_str(), json["loss_type"].as_str()), (Some("group"), Some("dapo")));
        assert_eq!(serde_json::to_value(LossType::DrGrpo).unwrap(), "dr_grpo");
    }
}
