//! Group relative policy optimisation (Shao et al. 2024, DeepSeekMath; TRL's `GRPOTrainer`), on
//! the shared engine (`malmoi-train`): PPO's clipped objective without a value head, the
//! baseline being the other answers to the same prompt.
//!
//! Each engine step ([`GrpoTraining`]):
//! 1. `batch_size / G` prompts are answered `G = num_generations` times each
//!    ([`generate_rollouts`](crate::rollout::generate_rollouts), every answer with its own seed)
//!    and the reward function scores the answers (any [`RewardFunction`]; [`WeightedSum`]
//!    composes several, such as a reward model, a classifier and the rule rewards
//!    [`LengthReward`] and [`FormatReward`]);
//! 2. advantages are normalised within each group, `A_i = (r_i − mean) / (std + 1e-4)`
//!    ([`group_advantages`], TRL's `scale_rewards = "group"` by default);
//! 3. one inference pass gives the policy's log-probabilities of every answer token (the "old"
//!    policy) and, when β > 0, the frozen reference's;
//! 4. `num_iterations` passes over shuffled minibatches minimise, per token,
//!    `−min(ratio · A, clip(ratio, 1 − ε, 1 + ε) · A) + β · k3` with
//!    `ratio = exp(logp − logp_old)` and `k3 = exp(ref − logp) − (ref − logp) − 1`
//!    ([`GrpoObjective`]), averaged over the minibatch's answer tokens (TRL's default
//!    `loss_type = "dapo"`; `"grpo"` and `"dr_grpo"` too), each minibatch one
//!    [`Update::apply`](malmoi_train::Update::apply).
//!
//! The step logs its mean loss and [`STEP_METRICS`]; evaluation the held-out `reward` and `kl`
//! exactly as PPO's does ([`Grpo::evaluate`]), so the two compare. With `GrpoConfig::lora` the
//! policy trains LoRA adapters against itself with the adapters off (see [`lora`](crate::lora)).
//! Dropout stays off. β is fixed
//! and there is no other state: checkpoints keep the policy, the optimiser and the log, and a
//! resumed run continues exactly. A NaN or infinite reward, KL or loss stops the run with
//! [`malmoi_train::Error::NonFinite`] (as [`Error::Train`](crate::Error::Train)).

mod config;
mod loss;
mod rewards;
mod step;

pub use config::{GrpoConfig, LossType, ScaleRewards};
pub use loss::{ADVANTAGE_EPS, GrpoLoss, GrpoObjective, group_advantages, group_std, k3};
pub use rewards::{FormatReward, LengthReward, LengthUnit, TextRule, WeightedSum};
pub use step::{GrpoTraining, STEP_METRICS};

use std::path::Path;

use malmoi_tensor::Tensor;
use malmoi_tensor::nn::Module;

use crate::error::Result;
use crate::policy::{TokenScores, TunedPolicy, on_policy_methods};
use crate::rollout::{RewardFunction, Rollout};

/// A GRPO trainer: the policy (with its tokenizer), a frozen reference (a copy of the starting
/// policy, or in a LoRA run the policy with its adapters off), and a reward function.
pub struct Grpo<'a, R: RewardFunction + ?Sized> {
    tuned: TunedPolicy<'a, R>,
    config: GrpoConfig,
}

/// The policy's parameters that train (in a LoRA run its adapters): GRPO has no value head.
/// Dropout stays off throughout, so the log-probabilities of the rollouts and of the
/// optimisation come from the same function.
impl<R: RewardFunction + ?Sized> Module for Grpo<'_, R> {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        self.tuned.trained_parameters()
    }
}

impl<'a, R: RewardFunction + ?Sized> Grpo<'a, R> {
    on_policy_methods!('a, GrpoConfig, GrpoTraining, "");

    /// The trainer over `tuned` with `config` (checked).
    fn start(tuned: TunedPolicy<'a, R>, config: GrpoConfig) -> Result<Self> {
        let generation = tuned.stopping_at_end_of_text(&config.generation);
        Ok(Self { tuned, config: GrpoConfig { generation, ..config } })
    }

    /// The objective these knobs make.
    pub fn objective(&self) -> GrpoObjective {
        GrpoObjective {
            epsilon: self.config.epsilon,
            beta: self.config.beta as f32,
            loss_type: self.config.loss_type,
            max_completion_length: self.config.generation.max_new_tokens,
        }
    }

    /// Saves the policy in Hugging Face's layout (`config.json`, `model.safetensors`,
    /// `tokenizer.json`), each file atomically.
    ///
    /// # Errors
    /// Write errors; [`Error::Transformer`](crate::Error::Transformer) for a policy carrying
    /// LoRA adapters: [`save_adapter`](Self::save_adapter), or merge it.
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        Ok(self.tuned.policy.save(dir)?)
    }

    /// Writes the policy's LoRA adapters as PEFT's folder with the tokenizer
    /// ([`lora::save_adapter`](crate::lora::save_adapter)). (For a merged policy: drop the
    /// trainer, then [`lora::save_merged`](crate::lora::save_merged) the generator.)
    ///
    /// # Errors
    /// [`LoraError::NoAdapters`](malmoi_tensor::nn::lora::LoraError::NoAdapters) for a plain
    /// policy; write errors.
    pub fn save_adapter(&self, dir: impl AsRef<Path>) -> Result<()> {
        crate::lora::save_adapter(self.tuned.policy, dir)
    }

    /// One inference pass over the rollouts: per answer token the policy's log-probabilities
    /// and, if `with_reference`, the reference's; the mean entropy.
    fn score_tokens(&self, rollouts: &[Rollout], with_reference: bool) -> Result<TokenScores> {
        self.tuned.score_tokens(rollouts, self.config.mini_batch_size, with_reference, None)
    }
}
