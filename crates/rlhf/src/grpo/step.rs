//! One GRPO step on the engine: `G` answers to each of a batch of prompts, their group-normalised
//! advantages, and `num_iterations` passes of minibatch updates through [`Update::apply`].

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use malmoi_tensor::nn::Module;
use malmoi_tensor::optim::Adam;
use malmoi_train::{Metrics, StepOutput, TrainConfig, TrainStep, Update};

use super::Grpo;
use super::loss::{group_advantages, group_std, k3};
use crate::batch::Sequence;
use crate::error::{Error, Result};
use crate::policy::{TokenScores, adam, finite, mean, prompt_order, scatter};
use crate::rollout::{RewardFunction, Rollout};

/// Salts of the run's seed: the prompt order of each pass, and the minibatches of a step.
const PROMPT_ORDER: u64 = 0x6772_706f_5f6f_7264;
const MINIBATCHES: u64 = 0x6772_706f_5f6d_6200;

/// What each step logs besides its loss (the mean minibatch loss): `reward` (mean score of the
/// answers) and `reward_std` (mean of the groups' standard deviations); `frac_reward_zero_std`
/// (share of groups whose answers all scored the same, which teach nothing); `entropy` (mean
/// next-token entropy over answer tokens, nats); `clip_fraction` (share of answer tokens in the
/// clipped region); `response_length` (mean tokens per answer); and, when β > 0, `kl` (mean
/// `Σ_t log π − log π_ref` per answer, nats, as PPO's) and `kl_k3` (mean per-token `k3`, what
/// the loss penalises).
pub const STEP_METRICS: [&str; 8] =
    ["reward", "reward_std", "frac_reward_zero_std", "entropy", "clip_fraction", "response_length", "kl", "kl_k3"];

/// A GRPO run on its prompts as the engine's [`TrainStep`]: step `n` answers the `n`-th batch of
/// prompts `G` times each and optimises on the answers; evaluation answers the held-out prompts
/// once each with fixed seeds (`reward`, `kl`).
pub struct GrpoTraining<'t, 'a, R: RewardFunction + ?Sized> {
    grpo: &'t mut Grpo<'a, R>,
    prompts: &'t [Vec<u32>],
    held_out: &'t [Vec<u32>],
}

/// One answer with what the optimisation needs.
#[derive(Debug, Clone)]
struct Experience {
    sequence: Sequence,
    /// The rollout policy's log-probability of each answer token.
    logprobs: Vec<f32>,
    /// The reference's (empty when β = 0).
    reference: Vec<f32>,
    advantage: f32,
}

impl<'t, 'a, R: RewardFunction + ?Sized> GrpoTraining<'t, 'a, R> {
    /// Training of `grpo` on `prompts` (token ids of rendered prompts), evaluated on `held_out`
    /// (no metrics if empty).
    ///
    /// # Errors
    /// [`Error::Input`] for no prompts or a prompt that is empty, has ids outside the vocabulary
    /// or leaves no room for an answer.
    pub fn new(grpo: &'t mut Grpo<'a, R>, prompts: &'t [Vec<u32>], held_out: &'t [Vec<u32>]) -> Result<Self> {
        grpo.tuned.check_prompts(prompts, held_out)?;
        Ok(Self { grpo, prompts, held_out })
    }

    /// The engine's config of this run ([`GrpoConfig::train_config`](super::GrpoConfig::train_config)).
    pub fn train_config(&self) -> TrainConfig {
        self.grpo.config.train_config()
    }

    /// Adam with betas (0.9, 0.95) over the policy (its adapters in a LoRA run), as PPO's.
    ///
    /// # Errors
    /// [`Error::Tensor`] for a bad learning rate.
    pub fn optimizer(&self) -> Result<Adam> {
        adam(&*self.grpo, self.grpo.config.learning_rate)
    }

    /// The prompts of step `step` (0-based): consecutive slices of seeded shuffles of all
    /// prompts, a fresh shuffle for each pass.
    fn prompt_batch(&self, step: usize) -> Vec<usize> {
        let seed = self.grpo.config.seed ^ PROMPT_ORDER;
        prompt_order(self.prompts.len(), step, self.grpo.config.prompts_per_step(), |pass| seed.wrapping_add(pass))
    }

    /// `G` answers to each prompt of step `step`, group after group, each with its own seed.
    fn rollouts(&self, step: usize, seed: u64) -> Result<Vec<Rollout>> {
        let generations = self.grpo.config.num_generations;
        let chosen = self.prompt_batch(step).into_iter().flat_map(|i| std::iter::repeat_n(i, generations));
        self.grpo.tuned.rollouts(self.prompts, chosen, &self.grpo.config.generation, seed)
    }

    /// `num_iterations` passes over seeded shuffles of the experiences in minibatches; returns
    /// the mean loss and clip fraction.
    fn optimise(&mut self, experiences: &[Experience], seed: u64, update: &mut Update<'_>) -> Result<(f64, f64)> {
        let (mut loss, mut clip_fraction, mut count) = (0.0, 0.0, 0usize);
        let mut rng = StdRng::seed_from_u64(seed ^ MINIBATCHES);
        for _ in 0..self.grpo.config.num_iterations {
            let mut order: Vec<usize> = (0..experiences.len()).collect();
            order.shuffle(&mut rng);
            for chunk in order.chunks(self.grpo.config.mini_batch_size) {
                let minibatch: Vec<&Experience> = chunk.iter().map(|&i| &experiences[i]).collect();
                let (l, c) = self.grpo.minibatch_step(&minibatch, update)?;
                (loss, clip_fraction, count) = (loss + l, clip_fraction + c, count + 1);
            }
        }
        Ok((loss / count as f64, clip_fraction / count as f64))
    }
}

impl<R: RewardFunction + ?Sized> TrainStep for GrpoTraining<'_, '_, R> {
    type Error = Error;

    fn model(&mut self) -> &mut dyn Module {
        &mut *self.grpo
    }

    /// Rollouts, scores, group advantages, one inference pass, then the iterations. Every
    /// random choice is drawn from the run's seed and the step's number.
    fn train_step(&mut self, step: usize, seed: u64, update: &mut Update<'_>) -> Result<StepOutput> {
        let number = step + 1;
        let config = &self.grpo.config;
        let (generations, scale, beta) = (config.num_generations, config.scale_rewards, config.beta);
        let rollouts = self.rollouts(step, seed)?;
        let scores = self.grpo.tuned.scores(&rollouts)?;
        finite("reward", scores.iter().map(|&s| f64::from(s)).sum(), number)?;
        let advantages = group_advantages(&scores, generations, scale)?;
        let stds = group_std(&scores, generations)?;
        let scored = self.grpo.score_tokens(&rollouts, beta > 0.0)?;
        let mut output = StepOutput::loss(0.0);
        if let (Some(reference), Some(kl)) = (&scored.reference, scored.mean_kl()) {
            finite("KL", kl, number)?;
            output = output.with("kl", kl).with("kl_k3", token_k3(&scored.logprobs, reference));
        }
        let entropy = scored.entropy;
        let experiences = experiences(rollouts, scored, advantages);
        let (loss, clip_fraction) = self.optimise(&experiences, seed, update)?;
        output.loss = loss;
        Ok(output
            .with("reward", mean(scores.iter().map(|&s| f64::from(s))))
            .with("reward_std", mean(stds.iter().copied()))
            .with("frac_reward_zero_std", mean(stds.iter().map(|&s| if s < 1e-8 { 1.0 } else { 0.0 })))
            .with("entropy", entropy)
            .with("clip_fraction", clip_fraction)
            .with("response_length", mean(experiences.iter().map(|e| e.sequence.response.len() as f64))))
    }

    fn evaluate(&mut self) -> Result<Metrics> {
        self.grpo.evaluate(self.held_out)
    }

    fn settings(&self) -> serde_json::Value {
        self.grpo.tuned.settings(serde_json::json!({ "grpo": self.grpo.config }))
    }
}

impl<R: RewardFunction + ?Sized> Grpo<'_, R> {
    /// GRPO's loss of one minibatch applied through `update` (which refuses a non-finite loss);
    /// returns the loss and the clip fraction.
    fn minibatch_step(&mut self, minibatch: &[&Experience], update: &mut Update<'_>) -> Result<(f64, f64)> {
        let batch = self.tuned.batch(minibatch.iter().map(|e| &e.sequence))?;
        let old_logprobs = scatter(&batch, minibatch, |e| &e.logprobs);
        let reference = (self.config.beta > 0.0).then(|| scatter(&batch, minibatch, |e| &e.reference));
        let advantages: Vec<f32> = minibatch.iter().map(|e| e.advantage).collect();
        let policy = self.tuned.forward(&batch)?;
        let objective = self.objective();
        let loss = objective.loss(&policy.logprobs, &old_logprobs, reference.as_ref(), &advantages, &batch.mask)?;
        Ok((update.apply(&loss.loss)?, loss.clip_fraction))
    }
}

/// The rollouts with their tokens' log-probabilities and advantages.
fn experiences(rollouts: Vec<Rollout>, scored: TokenScores, advantages: Vec<f32>) -> Vec<Experience> {
    let mut references = scored.reference.unwrap_or_default().into_iter();
    rollouts
        .into_iter()
        .zip(scored.logprobs)
        .zip(advantages)
        .map(|((rollout, logprobs), advantage)| Experience {
            sequence: rollout.sequence,
            logprobs,
            reference: references.next().unwrap_or_default(),
            advantage,
        })
        .collect()
}

/// Mean per-token `k3` over every answer token.
fn token_k3(logprobs: &[Vec<f32>], reference: &[Vec<f32>]) -> f64 {
    let pairs = logprobs.iter().zip(reference).flat_map(|(p, r)| p.iter().zip(r));
    mean(pairs.map(|(&p, &r)| k3(f64::from(p), f64::from(r))))
}
