//! Proximal policy optimisation with a KL leash (Ouyang et al. 2022; TRL's `PPOTrainer`,
//! ColossalAI's `PPOTrainer`), on the shared engine (`malmoi-train`).
//!
//! Each engine step ([`PpoTraining`]):
//! 1. the policy answers a batch of prompts ([`generate_rollouts`](crate::rollout::generate_rollouts)) and the reward function
//!    scores the answers;
//! 2. one inference pass gives the policy's and the frozen reference's log-probabilities of every
//!    response token and the value head's estimates;
//! 3. each token earns `−β · (log π − log π_ref)`, and the last one also the score; GAE turns the
//!    rewards into advantages (whitened over the batch) and returns;
//! 4. `ppo_epochs` passes over shuffled minibatches minimise the clipped policy loss plus
//!    `value_coef` times the clipped value loss, each minibatch one
//!    [`Update::apply`](malmoi_train::Update::apply) (backward, clip, Adam);
//! 5. β adapts to the measured KL ([`KlControl`]).
//!
//! The step logs its mean loss and [`STEP_METRICS`]; evaluation the held-out `reward` and `kl`
//! ([`Ppo::evaluate`]; [`Ppo::samples`] shows the answers). Dropout stays off throughout, so the
//! log-probabilities of the rollouts and of the optimisation come from the same function.
//! With `PpoConfig::lora` the policy trains LoRA adapters, the value head fully, against the
//! policy with its adapters off (see [`lora`](crate::lora)).
//! Checkpoints keep the policy (its adapters in a LoRA run), the value head, the optimiser, β and the log; a resumed run
//! continues exactly (every random choice is seeded by the step). A NaN or infinite reward, KL
//! or loss stops the run with [`malmoi_train::Error::NonFinite`] (as
//! [`Error::Train`](crate::Error::Train)) and leaves the last checkpoint as it was. What PPO
//! shares with GRPO lives in [`policy`](crate::policy).

mod config;
mod kl;
mod step;

pub use config::PpoConfig;
pub use kl::KlControl;
pub use step::{PpoTraining, STEP_METRICS};

use std::path::Path;

use malmoi_tensor::Tensor;
use malmoi_tensor::VarBuilder;
use malmoi_tensor::nn::init::Init;
use malmoi_tensor::nn::{Linear, Module};
use malmoi_train::checkpoint::save_parameters;

use crate::batch::{PolicyOutput, ResponseBatch};
use crate::error::Result;
use crate::policy::{TokenScores, TunedPolicy, on_policy_methods};
use crate::rollout::{RewardFunction, Rollout};

/// The file of a saved policy directory that holds the value head (TRL's names
/// `v_head.summary.weight` and `v_head.summary.bias`).
pub const VALUE_HEAD_FILE: &str = "value_head.safetensors";

/// A PPO trainer: the policy (with its tokenizer), a value head on its hidden states, a frozen
/// reference (a copy of the starting policy, or in a LoRA run the policy with its adapters off),
/// and a reward function.
pub struct Ppo<'a, R: RewardFunction> {
    tuned: TunedPolicy<'a, R>,
    /// `(1, C)` weight and `(1)` bias reading the policy's last hidden states.
    pub value_head: Linear,
    config: PpoConfig,
}

/// The parameters that train — the policy's (in a LoRA run its adapters) and the value head's
/// (`v_head.summary.*`, TRL's names). Dropout stays off throughout, so the log-probabilities of
/// the rollouts and of the optimisation come from the same function: there is no mode to switch.
impl<R: RewardFunction> Module for Ppo<'_, R> {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut params = self.tuned.trained_parameters();
        params.extend(self.value_head_parameters());
        params
    }
}

impl<'a, R: RewardFunction> Ppo<'a, R> {
    on_policy_methods!('a, PpoConfig, PpoTraining, "The value head starts from N(0, 0.02²) by `config.seed` (bias 0).");

    /// The trainer over `tuned` with `config` (checked): the value head added.
    fn start(tuned: TunedPolicy<'a, R>, config: PpoConfig) -> Result<Self> {
        let width = tuned.policy.model.config().n_embd;
        let normal = Init::Normal { mean: 0.0, std: 0.02 };
        let vb = VarBuilder::fresh(config.seed).pp("v_head.summary");
        let value_head = Linear::with_init(width, 1, normal, Some(Init::Zeros), vb)?;
        let generation = tuned.stopping_at_end_of_text(&config.generation);
        Ok(Self { tuned, value_head, config: PpoConfig { generation, ..config } })
    }

    /// Saves the policy in Hugging Face's layout (`config.json`, `model.safetensors`,
    /// `tokenizer.json`) with the value head beside it ([`VALUE_HEAD_FILE`]), each file
    /// atomically.
    ///
    /// # Errors
    /// Write errors; [`Error::Transformer`](crate::Error::Transformer) for a policy carrying
    /// LoRA adapters: [`save_adapter`](Self::save_adapter), or merge it.
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        self.tuned.policy.save(dir)?;
        self.save_value_head(dir)
    }

    /// Writes the policy's LoRA adapters as PEFT's folder with the tokenizer
    /// ([`lora::save_adapter`](crate::lora::save_adapter)) and the value head beside them
    /// ([`VALUE_HEAD_FILE`]). (For a merged policy: drop the trainer, then
    /// [`lora::save_merged`](crate::lora::save_merged) the generator.)
    ///
    /// # Errors
    /// [`LoraError::NoAdapters`](malmoi_tensor::nn::lora::LoraError::NoAdapters) for a plain
    /// policy; write errors.
    pub fn save_adapter(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        crate::lora::save_adapter(self.tuned.policy, dir)?;
        self.save_value_head(dir)
    }

    fn save_value_head(&self, dir: &Path) -> Result<()> {
        Ok(save_parameters(&dir.join(VALUE_HEAD_FILE), &self.value_head_parameters())?)
    }

    fn value_head_parameters(&self) -> Vec<(String, Tensor)> {
        self.value_head.named_parameters().into_iter().map(|(name, p)| (format!("v_head.summary.{name}"), p)).collect()
    }

    /// One inference pass over the rollouts: per response token the policy's and the
    /// reference's log-probabilities and the value estimate; the mean entropy.
    fn score_tokens(&self, rollouts: &[Rollout]) -> Result<TokenScores> {
        let values = |policy: &PolicyOutput, batch: &ResponseBatch| self.values(policy, batch);
        self.tuned.score_tokens(rollouts, self.config.mini_batch_size, true, Some(&values))
    }

    /// Value estimates `(B, L − 1)` from the policy's hidden states.
    fn values(&self, policy: &PolicyOutput, batch: &ResponseBatch) -> Result<Tensor> {
        let (rows, columns) = batch.targets.dim();
        Ok(self.value_head.forward(&policy.hidden)?.reshape(&[rows, columns])?)
    }
}
