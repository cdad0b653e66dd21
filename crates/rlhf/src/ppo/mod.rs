//! Proximal policy optimisation with a KL leash (Ouyang et al. 2022; TRL's `PPOTrainer`,
//! ColossalAI's `PPOTrainer`).
//!
//! Each step:
//! 1. the policy answers a batch of prompts ([`generate_rollouts`]) and the reward function
//!    scores the answers;
//! 2. one inference pass gives the policy's and the frozen reference's log-probabilities of every
//!    response token and the value head's estimates;
//! 3. each token earns `−β · (log π − log π_ref)`, and the last one also the score; GAE turns the
//!    rewards into advantages (whitened over the batch) and returns;
//! 4. `ppo_epochs` passes over shuffled minibatches minimise the clipped policy loss plus
//!    `value_coef` times the clipped value loss;
//! 5. β adapts to the measured KL ([`KlControl`]).
//!
//! Dropout stays off throughout, so the log-probabilities of the rollouts and of the
//! optimisation come from the same function. Checkpoints keep the policy, the value head, the
//! optimiser and the log; a resumed run continues exactly (every random choice is seeded by the
//! step). A NaN or infinite reward, KL or loss stops the run with [`Error::NonFinite`] and
//! leaves the last checkpoint as it was.

mod kl;
mod log;
mod rollout;

pub use kl::KlControl;
pub use log::{PpoEval, PpoLog, PpoStep};
pub use rollout::{FnReward, RewardFunction, Rollout, generate_rollouts};

use std::path::Path;

use ndarray::{Array2, ArrayD, Ix3, IxDyn};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use malmoi_tensor::nn::{Linear, Module};
use malmoi_tensor::optim::{Adam, Optimizer};
use malmoi_tensor::{Tensor, clip_grad_norm, no_grad};
use malmoi_transformer::Gpt;
use malmoi_transformer::generation::{GenerationConfig, Generator};
use malmoi_transformer::train::{Checkpoints, RunOptions, optimizer_groups};

use crate::batch::{PolicyOutput, ResponseBatch, Sequence, entropy, policy_forward};
use crate::checkpoint;
use crate::checkpoint::save_parameters;
use crate::error::{Error, Result};
use crate::fit::progress_bar;
use crate::losses::{gae, ppo_policy_loss, ppo_value_loss, whiten};
use rollout::mix;

/// The file of a saved policy directory that holds the value head (TRL's names
/// `v_head.summary.weight` and `v_head.summary.bias`).
pub const VALUE_HEAD_FILE: &str = "value_head.safetensors";

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
    /// Adam's learning rate (constant).
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
    /// Seed of the prompt order, the rollouts and the minibatches.
    pub seed: u64,
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
        }
    }
}

impl PpoConfig {
    fn validate(&self) -> Result<()> {
        self.kl.validate()?;
        self.generation.validate()?;
        let counts =
            [self.steps, self.batch_size, self.mini_batch_size, self.ppo_epochs, self.generation.max_new_tokens];
        if counts.contains(&0) || self.mini_batch_size > self.batch_size {
            return Err(Error::Input(format!(
                "steps, batch size, minibatch size (≤ batch size), PPO epochs and max_new_tokens must be positive: {counts:?}"
            )));
        }
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

/// One rollout with what the optimisation needs, per response token.
#[derive(Debug, Clone)]
struct Experience {
    sequence: Sequence,
    logprobs: Vec<f32>,
    values: Vec<f32>,
    advantages: Vec<f32>,
    returns: Vec<f32>,
}

/// What one inference pass over a batch of rollouts gives, per response token.
struct Scored {
    logprobs: Vec<Vec<f32>>,
    reference: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
    entropy: f64,
}

/// The state a checkpoint keeps besides the weights.
#[derive(Debug, Serialize, Deserialize)]
struct PpoState {
    config: PpoConfig,
    step: usize,
    beta: f64,
    log: PpoLog,
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
    pad: usize,
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
        let normal = Normal::new(0.0, 0.02).expect("valid deviation");
        let mut rng = StdRng::seed_from_u64(config.seed);
        let weight = ArrayD::from_shape_fn(IxDyn(&[1, width]), |_| normal.sample(&mut rng));
        let value_head = Linear::from_weights(weight, Some(ArrayD::zeros(IxDyn(&[1]))))?;
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
    /// `held_out` before the first step, every `eval_interval` steps and at the end. With
    /// checkpoints it saves at each evaluation and first resumes from the newest one.
    ///
    /// # Errors
    /// [`Error::Input`] for no prompts or a prompt that is empty, has ids outside the vocabulary
    /// or leaves no room for an answer; [`Error::NonFinite`] for a NaN or infinite reward, KL or
    /// loss; model and I/O errors.
    pub fn train(&mut self, prompts: &[Vec<usize>], held_out: &[Vec<usize>], options: RunOptions) -> Result<PpoLog> {
        self.check_prompts(prompts)?;
        if !held_out.is_empty() {
            self.check_prompts(held_out)?;
        }
        let (mut decay, mut no_decay) = optimizer_groups(self.parameters(), self.config.learning_rate, 0.0)?;
        let mut state = PpoState {
            config: self.config.clone(),
            step: 0,
            beta: self.config.kl.initial_beta(),
            log: PpoLog::default(),
        };
        match options.checkpoints.map(Checkpoints::latest).transpose()?.flatten() {
            Some(folder) => state = self.resume([&mut decay, &mut no_decay], &folder)?,
            None => state.log.evals.push(self.evaluate(held_out, 0)?),
        }
        let bar = progress_bar(self.config.steps, state.step, options.progress);
        while state.step < self.config.steps {
            let record = self.step(prompts, &mut state, [&mut decay, &mut no_decay])?;
            bar.set_position(state.step as u64);
            bar.set_message(format!("reward {:.3}, KL {:.2}, β {:.3}", record.reward, record.kl, record.beta));
            state.log.steps.push(record);
            let stopping = options.stop_at_step == Some(state.step);
            if state.step.is_multiple_of(self.config.eval_interval.max(1))
                || state.step == self.config.steps
                || stopping
            {
                let eval = self.evaluate(held_out, state.step)?;
                bar.suspend(|| eprintln!("step {}: held-out reward {:.4}, KL {:.3}", eval.step, eval.reward, eval.kl));
                state.log.evals.push(eval);
                if let Some(checkpoints) = options.checkpoints {
                    self.save(checkpoints, [&decay, &no_decay], &state)?;
                }
            }
            if stopping {
                break;
            }
        }
        bar.finish_and_clear();
        Ok(state.log)
    }

    /// The policy answers `prompts` with fixed seeds: mean score, mean KL to the reference and
    /// the first four samples.
    ///
    /// # Errors
    /// Generation, scoring and model errors; [`Error::NonFinite`] for a NaN score or KL.
    pub fn evaluate(&self, prompts: &[Vec<usize>], step: usize) -> Result<PpoEval> {
        if prompts.is_empty() {
            return Ok(PpoEval { step, reward: f64::NAN, kl: f64::NAN, samples: Vec::new() });
        }
        let indexed: Vec<(usize, &[usize])> = prompts.iter().map(Vec::as_slice).enumerate().collect();
        let rollouts = generate_rollouts(
            &self.policy.model,
            &self.policy.tokenizer,
            &indexed,
            &self.config.generation,
            !self.config.seed,
        )?;
        let scores = self.scores(&rollouts, step)?;
        let scored = self.score_tokens(&rollouts)?;
        let kl = mean(scored.logprobs.iter().zip(&scored.reference).map(|(p, r)| sequence_kl(p, r)));
        finite("held-out KL", kl, step)?;
        let samples = rollouts.iter().take(4).map(|r| (r.prompt_text.clone(), r.text.clone())).collect();
        Ok(PpoEval { step, reward: mean(scores.iter().map(|&s| s as f64)), kl, samples })
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
        save_parameters(&dir.join(VALUE_HEAD_FILE), &self.value_head_parameters())
    }

    fn parameters(&self) -> Vec<(String, Tensor)> {
        let mut params = self.policy.model.named_parameters();
        params.extend(self.value_head_parameters());
        params
    }

    fn value_head_parameters(&self) -> Vec<(String, Tensor)> {
        self.value_head.named_parameters().into_iter().map(|(name, p)| (format!("v_head.summary.{name}"), p)).collect()
    }

    fn check_prompts(&self, prompts: &[Vec<usize>]) -> Result<()> {
        let (block, vocab) = (self.policy.model.config().block_size, self.policy.model.config().vocab_size);
        if prompts.is_empty() {
            return Err(Error::Input("no prompts".into()));
        }
        for (i, prompt) in prompts.iter().enumerate() {
            if prompt.is_empty() || prompt.len() >= block || prompt.iter().any(|&id| id >= vocab) {
                return Err(Error::Input(format!(
                    "prompt {i}: {} tokens (needs 1 to {}, ids below {vocab})",
                    prompt.len(),
                    block - 1
                )));
            }
        }
        Ok(())
    }

    /// One PPO step: rollouts, scoring, advantages, optimisation, β update.
    fn step(&mut self, prompts: &[Vec<usize>], state: &mut PpoState, optimizers: [&mut Adam; 2]) -> Result<PpoStep> {
        let step = state.step + 1;
        let chosen = self.prompt_batch(prompts, state.step);
        let indexed: Vec<(usize, &[usize])> = chosen.iter().map(|&i| (i, prompts[i].as_slice())).collect();
        let rollouts = generate_rollouts(
            &self.policy.model,
            &self.policy.tokenizer,
            &indexed,
            &self.config.generation,
            mix(self.config.seed, step as u64),
        )?;
        let scores = self.scores(&rollouts, step)?;
        let scored = self.score_tokens(&rollouts)?;
        let kls: Vec<f64> = scored.logprobs.iter().zip(&scored.reference).map(|(p, r)| sequence_kl(p, r)).collect();
        let kl = mean(kls.iter().copied());
        finite("KL", kl, step)?;
        let entropy = scored.entropy;
        let experiences = self.experiences(rollouts, &scores, scored, state.beta);
        let stats = self.optimise(&experiences, step, optimizers)?;
        let record = PpoStep {
            step,
            reward: mean(scores.iter().map(|&s| s as f64)),
            reward_std: std_dev(&scores),
            kl,
            beta: state.beta,
            entropy,
            clip_fraction: stats.clip_fraction,
            policy_loss: stats.policy_loss,
            value_loss: stats.value_loss,
            approx_kl: stats.approx_kl,
            response_length: mean(experiences.iter().map(|e| e.sequence.response.len() as f64)),
        };
        state.beta = self.config.kl.update(state.beta, kl, self.config.batch_size);
        state.step = step;
        Ok(record)
    }

    /// The prompts of step `step` (0-based): consecutive slices of seeded shuffles of all
    /// prompts, a fresh shuffle for each pass.
    fn prompt_batch(&self, prompts: &[Vec<usize>], step: usize) -> Vec<usize> {
        let n = prompts.len();
        let first = step * self.config.batch_size;
        let mut pass = usize::MAX;
        let mut order: Vec<usize> = Vec::new();
        (first..first + self.config.batch_size)
            .map(|k| {
                if k / n != pass {
                    pass = k / n;
                    order = (0..n).collect();
                    order.shuffle(&mut StdRng::seed_from_u64(mix(self.config.seed ^ 0x5eed, pass as u64)));
                }
                order[k % n]
            })
            .collect()
    }

    fn scores(&self, rollouts: &[Rollout], step: usize) -> Result<Vec<f32>> {
        let scores = self.reward.rewards(rollouts)?;
        if scores.len() != rollouts.len() {
            return Err(Error::Input(format!(
                "the reward function gave {} scores for {} rollouts",
                scores.len(),
                rollouts.len()
            )));
        }
        finite("reward", scores.iter().map(|&s| s as f64).sum(), step)?;
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

    /// Per-token rewards `−β · KL_t` (plus the score on the last token), then GAE; advantages
    /// whitened over every response token of the batch.
    fn experiences(&self, rollouts: Vec<Rollout>, scores: &[f32], scored: Scored, beta: f64) -> Vec<Experience> {
        let Scored { logprobs, reference, values, .. } = scored;
        let mut experiences: Vec<Experience> = Vec::with_capacity(rollouts.len());
        let mut all_advantages = Vec::new();
        for (((rollout, logprobs), values), (reference, &score)) in
            rollouts.into_iter().zip(logprobs).zip(values).zip(reference.iter().zip(scores))
        {
            let mut rewards: Vec<f64> = logprobs.iter().zip(reference).map(|(p, r)| -beta * (p - r) as f64).collect();
            *rewards.last_mut().expect("a response has a token") += score as f64;
            let old_values: Vec<f64> = values.iter().map(|&v| v as f64).collect();
            let (advantages, returns) = gae(&rewards, &old_values, self.config.gamma, self.config.lam);
            all_advantages.extend(advantages);
            experiences.push(Experience {
                sequence: rollout.sequence,
                logprobs,
                values,
                advantages: Vec::new(),
                returns: returns.iter().map(|&r| r as f32).collect(),
            });
        }
        let mut whitened = whiten(&all_advantages).into_iter();
        for experience in &mut experiences {
            experience.advantages = whitened.by_ref().take(experience.logprobs.len()).map(|a| a as f32).collect();
        }
        experiences
    }

    /// `ppo_epochs` passes over seeded shuffles of the experiences in minibatches.
    fn optimise(
        &mut self,
        experiences: &[Experience],
        step: usize,
        mut optimizers: [&mut Adam; 2],
    ) -> Result<MinibatchStats> {
        let mut total = MinibatchStats::default();
        let mut count = 0usize;
        for epoch in 0..self.config.ppo_epochs {
            let mut order: Vec<usize> = (0..experiences.len()).collect();
            order.shuffle(&mut StdRng::seed_from_u64(mix(mix(self.config.seed, step as u64), epoch as u64 + 1)));
            for chunk in order.chunks(self.config.mini_batch_size) {
                let minibatch: Vec<&Experience> = chunk.iter().map(|&i| &experiences[i]).collect();
                let stats = self.minibatch_step(&minibatch, step, &mut optimizers)?;
                total.add(&stats);
                count += 1;
            }
        }
        Ok(total.scaled(1.0 / count as f64))
    }

    fn minibatch_step(
        &mut self,
        minibatch: &[&Experience],
        step: usize,
        optimizers: &mut [&mut Adam; 2],
    ) -> Result<MinibatchStats> {
        let block = self.policy.model.config().block_size;
        let batch = ResponseBatch::new(minibatch.iter().map(|e| &e.sequence), self.pad, block)?;
        let scatter = |pick: fn(&Experience) -> &[f32]| -> Array2<f32> {
            let mut dense = Array2::zeros(batch.targets.dim());
            for (b, experience) in minibatch.iter().enumerate() {
                for (t, &v) in batch.response_columns(b).zip(pick(experience)) {
                    dense[[b, t]] = v;
                }
            }
            dense
        };
        let old_logprobs = scatter(|e| &e.logprobs);
        let (old_values, advantages, returns) =
            (scatter(|e| &e.values), scatter(|e| &e.advantages), scatter(|e| &e.returns));
        for optimizer in optimizers.iter_mut() {
            optimizer.zero_grad();
        }
        let policy = policy_forward(&self.policy.model, &batch)?;
        let values = self.values(&policy, &batch)?;
        let policy_loss =
            ppo_policy_loss(&policy.logprobs, &old_logprobs, &advantages, &batch.mask, self.config.clip_range)?;
        let value_loss = ppo_value_loss(&values, &old_values, &returns, &batch.mask, self.config.clip_range_value)?;
        let loss = policy_loss.loss.add(&value_loss.loss.mul_scalar(self.config.value_coef))?;
        let (pg, vf) = (policy_loss.loss.item()? as f64, value_loss.loss.item()? as f64);
        finite("PPO loss", pg + vf, step)?;
        loss.backward()?;
        if self.config.grad_clip > 0.0 {
            let params: Vec<Tensor> = self.parameters().into_iter().map(|(_, p)| p).collect();
            clip_grad_norm(&params, self.config.grad_clip)?;
        }
        for optimizer in optimizers.iter_mut() {
            optimizer.step()?;
        }
        let new = policy.logprobs.to_array();
        let tokens = batch.mask.sum().max(1.0) as f64;
        let approx_kl = new
            .iter()
            .zip(&old_logprobs)
            .zip(&batch.mask)
            .map(|((n, o), m)| 0.5 * ((n - o) * (n - o) * m) as f64)
            .sum::<f64>()
            / tokens;
        Ok(MinibatchStats { policy_loss: pg, value_loss: vf, clip_fraction: policy_loss.clip_fraction, approx_kl })
    }

    fn save(&self, checkpoints: &Checkpoints, optimizers: [&dyn Optimizer; 2], state: &PpoState) -> Result<()> {
        checkpoint::save(checkpoints, state.step, &self.parameters(), &optimizers, state)
    }

    fn resume(&mut self, [decay, no_decay]: [&mut Adam; 2], folder: &Path) -> Result<PpoState> {
        let state: PpoState = checkpoint::read_state(folder)?;
        if state.config != self.config {
            return Err(checkpoint::other_config(folder));
        }
        checkpoint::load_weights(folder, &self.parameters(), &mut [decay, no_decay])?;
        Ok(state)
    }
}

/// Losses and diagnostics of one minibatch (or their mean).
#[derive(Debug, Default, Clone, Copy)]
struct MinibatchStats {
    policy_loss: f64,
    value_loss: f64,
    clip_fraction: f64,
    approx_kl: f64,
}

impl MinibatchStats {
    fn add(&mut self, other: &MinibatchStats) {
        self.policy_loss += other.policy_loss;
        self.value_loss += other.value_loss;
        self.clip_fraction += other.clip_fraction;
        self.approx_kl += other.approx_kl;
    }

    fn scaled(self, factor: f64) -> MinibatchStats {
        MinibatchStats {
            policy_loss: self.policy_loss * factor,
            value_loss: self.value_loss * factor,
            clip_fraction: self.clip_fraction * factor,
            approx_kl: self.approx_kl * factor,
        }
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

fn std_dev(values: &[f32]) -> f64 {
    let m = mean(values.iter().map(|&v| v as f64));
    mean(values.iter().map(|&v| (v as f64 - m).powi(2))).sqrt()
}

fn finite(what: &str, value: f64, step: usize) -> Result<()> {
    if value.is_finite() { Ok(()) } else { Err(Error::NonFinite { what: what.into(), step }) }
}
