//! Proximal policy optimisation with a KL leash (Ouyang et al. 2022; TRL's `PPOTrainer`,
//! ColossalAI's `PPOTrainer`), on the shared engine (`malmoi-train`).
//!
//! Each engine step ([`PpoTraining`]):
//! 1. the policy answers a batch of prompts ([`generate_rollouts`]) and the reward function
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
//! Checkpoints keep the policy, the value head, the optimiser, β and the log; a resumed run
//! continues exactly (every random choice is seeded by the step). A NaN or infinite reward, KL
//! or loss stops the run with [`malmoi_train::Error::NonFinite`] (as
//! [`Error::Train`](crate::Error::Train)) and leaves the last checkpoint as it was. What PPO
//! shares with GRPO lives in [`policy`](crate::policy).

mod config;
mod kl;
mod rollout;
mod step;

pub use config::PpoConfig;
pub use kl::KlControl;
pub use rollout::{FnReward, RewardFunction, Rollout, generate_rollouts};
pub use step::{PpoTraining, STEP_METRICS};

use std::path::Path;

use malmoi_tensor::Tensor;
use malmoi_tensor::VarBuilder;
use malmoi_tensor::nn::init::Init;
use malmoi_tensor::nn::{Linear, Module};
use malmoi_train::checkpoint::save_parameters;
use malmoi_transformer::Gpt;
use malmoi_transformer::generation::Generator;

use crate::batch::{PolicyOutput, ResponseBatch};
use crate::error::Result;
use crate::policy::{TokenScores, TunedPolicy, frozen_reference, on_policy_methods};

/// The file of a saved policy directory that holds the value head (TRL's names
/// `v_head.summary.weight` and `v_head.summary.bias`).
pub const VALUE_HEAD_FILE: &str = "value_head.safetensors";

/// A PPO trainer: the policy (with its tokenizer), a value head on its hidden states, a frozen
/// copy of the starting policy as the reference, and a reward function.
pub struct Ppo<'a, R: RewardFunction> {
    tuned: TunedPolicy<'a, R>,
    /// `(1, C)` weight and `(1)` bias reading the policy's last hidden states.
    pub value_head: Linear,
    config: PpoConfig,
}

/// The policy's parameters and the value head's (`v_head.summary.*`, TRL's names). Dropout
/// stays off throughout, so the log-probabilities of the rollouts and of the optimisation come
/// from the same function: there is no mode to switch.
impl<R: RewardFunction> Module for Ppo<'_, R> {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut params = self.tuned.policy.model.named_parameters();
        params.extend(self.value_head_parameters());
        params
    }
}

impl<'a, R: RewardFunction> Ppo<'a, R> {
    /// A trainer that tunes `policy` against `reward`; the reference is
    /// [`frozen_reference`] of `policy` as it is now, and the
    /// value head starts from N(0, 0.02²) by `config.seed` (bias 0).
    ///
    /// # Errors
    /// [`Error::Input`](crate::Error::Input) for bad knobs or a tokenizer without
    /// `<|endoftext|>`; [`Error::VocabularyMismatch`](crate::Error::VocabularyMismatch) when the
    /// reward function reads another vocabulary.
    pub fn new(policy: &'a mut Generator, reward: &'a R, config: PpoConfig) -> Result<Self> {
        let reference = frozen_reference(&policy.model)?;
        Self::with_reference(policy, reference, reward, config)
    }

    /// As [`new`](Self::new) with a given reference, e.g. to measure a policy tuned elsewhere
    /// (by DPO, say) against the model it started from.
    ///
    /// # Errors
    /// As [`new`](Self::new); [`Error::Input`](crate::Error::Input) for a reference of another
    /// shape.
    pub fn with_reference(policy: &'a mut Generator, reference: Gpt, reward: &'a R, config: PpoConfig) -> Result<Self> {
        config.validate()?;
        let tuned = TunedPolicy::new(policy, reference, reward)?;
        let width = tuned.policy.model.config().n_embd;
        let normal = Init::Normal { mean: 0.0, std: 0.02 };
        let vb = VarBuilder::fresh(config.seed).pp("v_head.summary");
        let value_head = Linear::with_init(width, 1, normal, Some(Init::Zeros), vb)?;
        let generation = tuned.stopping_at_end_of_text(&config.generation);
        Ok(Self { tuned, value_head, config: PpoConfig { generation, ..config } })
    }

    on_policy_methods!(PpoConfig, PpoTraining);

    /// Saves the policy in Hugging Face's layout (`config.json`, `model.safetensors`,
    /// `tokenizer.json`) with the value head beside it ([`VALUE_HEAD_FILE`]), each file
    /// atomically.
    ///
    /// # Errors
    /// Write errors.
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        self.tuned.policy.save(dir)?;
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
