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
//! or loss stops the run with [`malmoi_train::Error::NonFinite`] (as [`Error::Train`]) and leaves
//! the last checkpoint as it was.

mod config;
mod kl;
mod rollout;
mod step;

pub use config::PpoConfig;
pub use kl::KlControl;
pub use rollout::{FnReward, RewardFunction, Rollout, generate_rollouts};
pub use step::{PpoTraining, STEP_METRICS};

use std::path::Path;

use ndarray::{ArrayD, Ix3};

use malmoi_tensor::nn::init::Init;
use malmoi_tensor::nn::{Linear, Module};
use malmoi_tensor::{Tensor, VarBuilder, no_grad};
use malmoi_train::checkpoint::save_parameters;
use malmoi_train::{Metrics, Session, TrainLog, Trainer};
use malmoi_transformer::Gpt;
use malmoi_transformer::generation::{GenerationConfig, Generator};

use crate::batch::{PolicyOutput, ResponseBatch, entropy, policy_forward};
use crate::error::{Error, Result};

/// The file of a saved policy directory that holds the value head (TRL's names
/// `v_head.summary.weight` and `v_head.summary.bias`).
pub const VALUE_HEAD_FILE: &str = "value_head.safetensors";

/// What one inference pass over a batch of rollouts gives, per response token.
struct Scored {
    logprobs: Vec<Vec<f32>>,
    reference: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
    entropy: f64,
}

/// A PPO trainer: the policy (with its tokenizer), a value head on its hidden states, a frozen
/// copy of the starting policy as the reference, and a reward function.
pub struct Ppo<'a, R: RewardFunction> {
    policy: &'a mut Generator,
    reference: Gpt,
    /// `(1, C)` weight and `(1)` bias reading the policy's last hidden states.
    pub value_head: Linear,
    reward: &'a R,
    config: PpoConfig,
    pad: u32,
}

/// The policy's parameters and the value head's (`v_head.summary.*`, TRL's names). Dropout
/// stays off throughout, so the log-probabilities of the rollouts and of the optimisation come
/// from the same function: there is no mode to switch.
impl<R: RewardFunction> Module for Ppo<'_, R> {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut params = self.policy.model.named_parameters();
        params.extend(self.value_head_parameters());
        params
    }
}

impl<'a, R: RewardFunction> Ppo<'a, R> {
    /// A trainer that tunes `policy` against `reward`; the reference is a copy of `policy` as it
    /// is now, and the value head starts from N(0, 0.02²) by `config.seed` (bias 0).
    ///
    /// # Errors
    /// [`Error::Input`] for bad knobs or a tokenizer without `<|endoftext|>`;
    /// [`Error::VocabularyMismatch`] when the reward function reads another vocabulary.
    pub fn new(policy: &'a mut Generator, reward: &'a R, config: PpoConfig) -> Result<Self> {
        // a copy of every weight, sharing none (same context length)
        let reference = policy.model.with_block_size(policy.model.config().block_size)?;
        Self::with_reference(policy, reference, reward, config)
    }

    /// As [`new`](Self::new) with a given reference, e.g. to measure a policy tuned elsewhere
    /// (by DPO, say) against the model it started from.
    ///
    /// # Errors
    /// As [`new`](Self::new); [`Error::Input`] for a reference of another shape.
    pub fn with_reference(
        policy: &'a mut Generator,
        mut reference: Gpt,
        reward: &'a R,
        config: PpoConfig,
    ) -> Result<Self> {
        config.validate()?;
        reward.check_tokenizer(&policy.tokenizer)?;
        if reference.config() != policy.model.config() {
            return Err(Error::Input("the reference model's shape differs from the policy's".into()));
        }
        let pad =
            policy.end_of_text().ok_or_else(|| Error::Input("the tokenizer has no <|endoftext|> token".into()))?;
        policy.model.set_training(false);
        reference.set_training(false);
        let width = policy.model.config().n_embd;
        let normal = Init::Normal { mean: 0.0, std: 0.02 };
        let vb = VarBuilder::fresh(config.seed).pp("v_head.summary");
        let value_head = Linear::with_init(width, 1, normal, Some(Init::Zeros), vb)?;
        let generation = GenerationConfig {
            eos_token_id: if config.generation.eos_token_id.is_empty() {
                vec![pad]
            } else {
                config.generation.eos_token_id.clone()
            },
            ..config.generation.clone()
        };
        Ok(Self { policy, reference, value_head, reward, config: PpoConfig { generation, ..config }, pad })
    }

    /// Runs the configured steps on `prompts` (token ids of rendered prompts), evaluating on
    /// `held_out` before the first step, every `eval_interval` steps and at the end; `session`
    /// says where checkpoints go (a run that finds one resumes from it, and must have the same
    /// config), whether progress shows and where this session stops. Returns the log of the
    /// whole run, resumed parts included ([`TrainLog::plot`](malmoi_train::TrainLog::plot) draws it).
    ///
    /// # Errors
    /// [`Error::Input`] as [`PpoTraining::new`]; [`Error::Train`] for a NaN or infinite reward,
    /// KL, loss or held-out metric, or a checkpoint from another config; model and I/O errors.
    pub fn train(&mut self, prompts: &[Vec<u32>], held_out: &[Vec<u32>], session: Session) -> Result<TrainLog> {
        let mut training = PpoTraining::new(self, prompts, held_out)?;
        let mut optimizer = training.optimizer()?;
        Trainer::new(training.train_config()).with_session(session).fit(&mut training, &mut optimizer)
    }

    /// The run's knobs (with the end-of-text id as the rollouts' stop token if none was given).
    pub fn config(&self) -> &PpoConfig {
        &self.config
    }

    /// The policy answers `prompts` with fixed seeds: `reward`, the mean score, and `kl`, the
    /// mean KL per answer to the reference (no metrics for no prompts). A NaN stays a NaN here;
    /// during training the engine stops on it.
    ///
    /// # Errors
    /// Generation, scoring and model errors.
    pub fn evaluate(&self, prompts: &[Vec<u32>]) -> Result<Metrics> {
        if prompts.is_empty() {
            return Ok(Metrics::new());
        }
        let rollouts = self.held_out_rollouts(prompts)?;
        let scores = self.scores(&rollouts)?;
        let scored = self.score_tokens(&rollouts)?;
        let kl = mean(scored.logprobs.iter().zip(&scored.reference).map(|(p, r)| sequence_kl(p, r)));
        Ok(Metrics::from([("reward".into(), mean(scores.iter().map(|&s| f64::from(s)))), ("kl".into(), kl)]))
    }

    /// The `(prompt, answer)` texts of the first `n` of `prompts`, answered with the seeds
    /// [`evaluate`](Self::evaluate) uses, so they are the answers it scored.
    ///
    /// # Errors
    /// Generation errors.
    pub fn samples(&self, prompts: &[Vec<u32>], n: usize) -> Result<Vec<(String, String)>> {
        let rollouts = self.held_out_rollouts(&prompts[..n.min(prompts.len())])?;
        Ok(rollouts.into_iter().map(|r| (r.prompt_text, r.text)).collect())
    }

    /// The answers to held-out prompts: answer `i` is seeded by `i` alone.
    fn held_out_rollouts(&self, prompts: &[Vec<u32>]) -> Result<Vec<Rollout>> {
        let indexed: Vec<(usize, &[u32])> = prompts.iter().map(Vec::as_slice).enumerate().collect();
        let (policy, config) = (&self.policy, &self.config);
        generate_rollouts(&policy.model, &policy.tokenizer, &indexed, &config.generation, !config.seed)
    }

    /// Saves the policy in Hugging Face's layout (`config.json`, `model.safetensors`,
    /// `tokenizer.json`) with the value head beside it ([`VALUE_HEAD_FILE`]), each file
    /// atomically.
    ///
    /// # Errors
    /// Write errors.
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        self.policy.save(dir)?;
        Ok(save_parameters(&dir.join(VALUE_HEAD_FILE), &self.value_head_parameters())?)
    }

    fn value_head_parameters(&self) -> Vec<(String, Tensor)> {
        self.value_head.named_parameters().into_iter().map(|(name, p)| (format!("v_head.summary.{name}"), p)).collect()
    }

    fn check_prompts(&self, prompts: &[Vec<u32>]) -> Result<()> {
        let (block, vocab) = (self.policy.model.config().block_size, self.policy.model.config().vocab_size);
        if prompts.is_empty() {
            return Err(Error::Input("no prompts".into()));
        }
        for (i, prompt) in prompts.iter().enumerate() {
            if prompt.is_empty() || prompt.len() >= block || prompt.iter().any(|&id| id as usize >= vocab) {
                return Err(Error::Input(format!(
                    "prompt {i}: {} tokens (needs 1 to {}, ids below {vocab})",
                    prompt.len(),
                    block - 1
                )));
            }
        }
        Ok(())
    }

    /// The reward function's scores of `rollouts`, one each (not checked for NaN: a training
    /// step and the engine's evaluation check them).
    fn scores(&self, rollouts: &[Rollout]) -> Result<Vec<f32>> {
        let scores = self.reward.rewards(rollouts)?;
        if scores.len() != rollouts.len() {
            return Err(Error::Input(format!(
                "the reward function gave {} scores for {} rollouts",
                scores.len(),
                rollouts.len()
            )));
        }
        Ok(scores)
    }

    /// One inference pass over the rollouts: per response token the policy's and the
    /// reference's log-probabilities and the value estimate; the mean entropy.
    fn score_tokens(&self, rollouts: &[Rollout]) -> Result<Scored> {
        let block = self.policy.model.config().block_size;
        let mut scored = Scored { logprobs: Vec::new(), reference: Vec::new(), values: Vec::new(), entropy: 0.0 };
        let (mut entropy_sum, mut tokens) = (0.0, 0usize);
        for chunk in rollouts.chunks(self.config.mini_batch_size.max(8)) {
            let batch = ResponseBatch::new(chunk.iter().map(|r| &r.sequence), self.pad, block)?;
            let (policy, values, reference) = no_grad(|| -> Result<_> {
                let policy = policy_forward(&self.policy.model, &batch)?;
                let values = self.values(&policy, &batch)?.to_array();
                let reference = policy_forward(&self.reference, &batch)?.logprobs.to_array();
                Ok((policy, values, reference))
            })?;
            let logits =
                policy.logits.to_array().into_dimensionality::<Ix3>().map_err(|e| Error::Input(e.to_string()))?;
            let entropies = entropy(&logits);
            let logprobs = policy.logprobs.to_array();
            for b in 0..batch.rows() {
                let columns = batch.response_columns(b);
                let row = |a: &ArrayD<f32>| -> Vec<f32> { columns.clone().map(|t| a[[b, t]]).collect() };
                scored.logprobs.push(row(&logprobs));
                scored.reference.push(row(&reference));
                scored.values.push(row(&values));
                entropy_sum += columns.clone().map(|t| entropies[[b, t]] as f64).sum::<f64>();
                tokens += columns.len();
            }
        }
        scored.entropy = entropy_sum / tokens.max(1) as f64;
        Ok(scored)
    }

    /// Value estimates `(B, L − 1)` from the policy's hidden states.
    fn values(&self, policy: &PolicyOutput, batch: &ResponseBatch) -> Result<Tensor> {
        let (rows, columns) = batch.targets.dim();
        Ok(self.value_head.forward(&policy.hidden)?.reshape(&[rows, columns])?)
    }
}

/// `Σ_t log π − log π_ref` over one response.
fn sequence_kl(policy: &[f32], reference: &[f32]) -> f64 {
    policy.iter().zip(reference).map(|(p, r)| (p - r) as f64).sum()
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n.max(1) as f64
}
