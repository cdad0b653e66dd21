//! One PPO step on the engine: a batch of rollouts, their advantages, and `ppo_epochs` passes of
//! minibatch updates through [`Update::apply`]; β adapts after the step and is checkpointed as
//! the step's own state.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use malmoi_tensor::nn::Module;
use malmoi_tensor::optim::Adam;
use malmoi_train::{Metrics, StepOutput, TrainConfig, TrainStep, Update};

use super::Ppo;
use crate::batch::Sequence;
use crate::error::{Error, Result};
use crate::losses::{gae, ppo_policy_loss, ppo_value_loss, whiten};
use crate::policy::{TokenScores, adam, finite, mean, prompt_order, scatter};
use crate::rollout::{RewardFunction, Rollout, mix};

/// What each step logs besides its loss (the mean minibatch loss): `reward` (mean score of the
/// rollouts, before the KL penalty) and `reward_std`; `kl` (mean `Σ_t log π − log π_ref` per
/// response, nats); `beta` (β of this batch); `entropy` (mean next-token entropy over response
/// tokens, nats); `clip_fraction` (share of response tokens whose policy loss was clipped);
/// `policy_loss` and `value_loss` (means over the minibatches); `approx_kl` (mean
/// `½ (log π_new − log π_old)²`, how far the optimisation moved the policy); `response_length`
/// (mean tokens per response).
pub const STEP_METRICS: [&str; 10] = [
    "reward",
    "reward_std",
    "kl",
    "beta",
    "entropy",
    "clip_fraction",
    "policy_loss",
    "value_loss",
    "approx_kl",
    "response_length",
];

/// A PPO run on its prompts as the engine's [`TrainStep`]: step `n` answers the `n`-th batch of
/// prompts and optimises on the answers; evaluation answers the held-out prompts with fixed
/// seeds (`reward`, `kl`). β, which adapts to the measured KL, is the step's checkpointed state.
pub struct PpoTraining<'t, 'a, R: RewardFunction> {
    ppo: &'t mut Ppo<'a, R>,
    prompts: &'t [Vec<u32>],
    held_out: &'t [Vec<u32>],
    beta: f64,
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

/// Losses and diagnostics of one minibatch (or their mean).
#[derive(Debug, Default, Clone, Copy)]
struct MinibatchStats {
    loss: f64,
    policy_loss: f64,
    value_loss: f64,
    clip_fraction: f64,
    approx_kl: f64,
}

impl<'t, 'a, R: RewardFunction> PpoTraining<'t, 'a, R> {
    /// Training of `ppo` on `prompts` (token ids of rendered prompts), evaluated on `held_out`
    /// (no metrics if empty); β starts at the configured initial value.
    ///
    /// # Errors
    /// [`Error::Input`] for no prompts or a prompt that is empty, has ids outside the vocabulary
    /// or leaves no room for an answer.
    pub fn new(ppo: &'t mut Ppo<'a, R>, prompts: &'t [Vec<u32>], held_out: &'t [Vec<u32>]) -> Result<Self> {
        ppo.tuned.check_prompts(prompts, held_out)?;
        let beta = ppo.config.kl.initial_beta();
        Ok(Self { ppo, prompts, held_out, beta })
    }

    /// The engine's config of this run ([`PpoConfig::train_config`](super::PpoConfig::train_config)).
    pub fn train_config(&self) -> TrainConfig {
        self.ppo.config.train_config()
    }

    /// Adam with betas (0.9, 0.95) over the policy (its adapters in a LoRA run) and the value
    /// head.
    ///
    /// # Errors
    /// [`Error::Tensor`] for a bad learning rate.
    pub fn optimizer(&self) -> Result<Adam> {
        adam(&*self.ppo, self.ppo.config.learning_rate)
    }

    /// β of the next batch.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// The prompts of step `step` (0-based): consecutive slices of seeded shuffles of all
    /// prompts, a fresh shuffle for each pass.
    fn prompt_batch(&self, step: usize) -> Vec<usize> {
        let (batch_size, seed) = (self.ppo.config.batch_size, self.ppo.config.seed);
        prompt_order(self.prompts.len(), step, batch_size, |pass| mix(seed ^ 0x5eed, pass))
    }

    /// `ppo_epochs` passes over seeded shuffles of the experiences in minibatches.
    fn optimise(&mut self, experiences: &[Experience], step: usize, update: &mut Update<'_>) -> Result<MinibatchStats> {
        let mut total = MinibatchStats::default();
        let mut count = 0usize;
        let config = &self.ppo.config;
        let (epochs, mini_batch_size, seed) = (config.ppo_epochs, config.mini_batch_size, config.seed);
        for epoch in 0..epochs {
            let mut order: Vec<usize> = (0..experiences.len()).collect();
            order.shuffle(&mut StdRng::seed_from_u64(mix(mix(seed, step as u64), epoch as u64 + 1)));
            for chunk in order.chunks(mini_batch_size) {
                let minibatch: Vec<&Experience> = chunk.iter().map(|&i| &experiences[i]).collect();
                total.add(&self.ppo.minibatch_step(&minibatch, update)?);
                count += 1;
            }
        }
        Ok(total.scaled(1.0 / count as f64))
    }
}

impl<R: RewardFunction> TrainStep for PpoTraining<'_, '_, R> {
    type Error = Error;

    fn model(&mut self) -> &mut dyn Module {
        &mut *self.ppo
    }

    /// Rollouts, scores, advantages, the PPO epochs, then β's update. Every random choice is
    /// drawn from the configured seed and the step's number, as before the engine, so a run
    /// prints what it printed then.
    fn train_step(&mut self, step: usize, _seed: u64, update: &mut Update<'_>) -> Result<StepOutput> {
        let number = step + 1;
        let (generation, seed) = (&self.ppo.config.generation, mix(self.ppo.config.seed, number as u64));
        let rollouts = self.ppo.tuned.rollouts(self.prompts, self.prompt_batch(step), generation, seed)?;
        let scores = self.ppo.tuned.scores(&rollouts)?;
        finite("reward", scores.iter().map(|&s| f64::from(s)).sum(), number)?;
        let scored = self.ppo.score_tokens(&rollouts)?;
        let kl = scored.mean_kl().unwrap_or_default();
        finite("KL", kl, number)?;
        let entropy = scored.entropy;
        let experiences = self.ppo.experiences(rollouts, &scores, scored, self.beta);
        let stats = self.optimise(&experiences, number, update)?;
        let output = StepOutput::loss(stats.loss)
            .with("reward", mean(scores.iter().map(|&s| f64::from(s))))
            .with("reward_std", std_dev(&scores))
            .with("kl", kl)
            .with("beta", self.beta)
            .with("entropy", entropy)
            .with("clip_fraction", stats.clip_fraction)
            .with("policy_loss", stats.policy_loss)
            .with("value_loss", stats.value_loss)
            .with("approx_kl", stats.approx_kl)
            .with("response_length", mean(experiences.iter().map(|e| e.sequence.response.len() as f64)));
        self.beta = self.ppo.config.kl.update(self.beta, kl, self.ppo.config.batch_size);
        Ok(output)
    }

    fn evaluate(&mut self) -> Result<Metrics> {
        self.ppo.evaluate(self.held_out)
    }

    fn settings(&self) -> serde_json::Value {
        self.ppo.tuned.settings(serde_json::json!({ "ppo": self.ppo.config }))
    }

    fn state(&self) -> serde_json::Value {
        serde_json::json!({ "beta": self.beta })
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        self.beta = state["beta"]
            .as_f64()
            .ok_or_else(|| malmoi_train::Error::Config("a PPO checkpoint without its β".into()))?;
        Ok(())
    }
}

impl<R: RewardFunction> Ppo<'_, R> {
    /// Per-token rewards `−β · KL_t` (plus the score on the last token), then GAE; advantages
    /// whitened over every response token of the batch.
    fn experiences(&self, rollouts: Vec<Rollout>, scores: &[f32], scored: TokenScores, beta: f64) -> Vec<Experience> {
        let TokenScores { logprobs, reference, head: values, .. } = scored;
        let (reference, values) = (reference.unwrap_or_default(), values.unwrap_or_default());
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

    /// The clipped policy loss plus `value_coef` times the clipped value loss of one minibatch,
    /// applied through `update` (which refuses a non-finite loss).
    fn minibatch_step(&mut self, minibatch: &[&Experience], update: &mut Update<'_>) -> Result<MinibatchStats> {
        let batch = self.tuned.batch(minibatch.iter().map(|e| &e.sequence))?;
        let old_logprobs = scatter(&batch, minibatch, |e| &e.logprobs);
        let (old_values, advantages, returns) = (
            scatter(&batch, minibatch, |e| &e.values),
            scatter(&batch, minibatch, |e| &e.advantages),
            scatter(&batch, minibatch, |e| &e.returns),
        );
        let policy = self.tuned.forward(&batch)?;
        let values = self.values(&policy, &batch)?;
        let policy_loss =
            ppo_policy_loss(&policy.logprobs, &old_logprobs, &advantages, &batch.mask, self.config.clip_range)?;
        let value_loss = ppo_value_loss(&values, &old_values, &returns, &batch.mask, self.config.clip_range_value)?;
        let loss = policy_loss.loss.add(&value_loss.loss.mul_scalar(self.config.value_coef))?;
        let (pg, vf) = (policy_loss.loss.item()? as f64, value_loss.loss.item()? as f64);
        let loss = update.apply(&loss)?;
        let new = policy.logprobs.to_array();
        let tokens = batch.mask.sum().max(1.0) as f64;
        let approx_kl = new
            .iter()
            .zip(&old_logprobs)
            .zip(&batch.mask)
            .map(|((n, o), m)| 0.5 * ((n - o) * (n - o) * m) as f64)
            .sum::<f64>()
            / tokens;
        Ok(MinibatchStats {
            loss,
            policy_loss: pg,
            value_loss: vf,
            clip_fraction: policy_loss.clip_fraction,
            approx_kl,
        })
    }
}

impl MinibatchStats {
    fn add(&mut self, other: &MinibatchStats) {
        self.loss += other.loss;
        self.policy_loss += other.policy_loss;
        self.value_loss += other.value_loss;
        self.clip_fraction += other.clip_fraction;
        self.approx_kl += other.approx_kl;
    }

    fn scaled(self, factor: f64) -> MinibatchStats {
        MinibatchStats {
            loss: self.loss * factor,
            policy_loss: self.policy_loss * factor,
            value_loss: self.value_loss * factor,
            clip_fraction: self.clip_fraction * factor,
            approx_kl: self.approx_kl * factor,
        }
    }
}

fn std_dev(values: &[f32]) -> f64 {
    let m = mean(values.iter().map(|&v| v as f64));
    mean(values.iter().map(|&v| (v as f64 - m).powi(2))).sqrt()
}
