//! The policy that an on-policy trainer ([`ppo`](crate::ppo), [`grpo`](crate::grpo)) tunes, and
//! what both trainers do with it the same way.
//!
//! [`Reference`] is the model the KL is measured against and [`frozen_reference`] makes the
//! default one: a frozen copy of the policy, or in a LoRA run the policy itself with its adapters
//! off. The rest is the trainers' common ground, private to the crate: the policy with its
//! reference and reward function (`TunedPolicy`: prompt checks, LoRA adapters, rollouts, the
//! reward's scores, one inference pass over the answers, held-out evaluation and samples), the
//! prompts of a step, a minibatch's per-token arrays, the NaN guard, the engine's config and the
//! optimiser.

use ndarray::{Array2, ArrayD, Ix3};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use malmoi_tensor::nn::Module;
use malmoi_tensor::optim::Adam;
use malmoi_tensor::{Tensor, no_grad};
use malmoi_train::{LrSchedule, Metrics, TrainConfig};
use malmoi_transformer::Gpt;
use malmoi_transformer::generation::{GenerationConfig, Generator};

use crate::batch::{PolicyOutput, ResponseBatch, Sequence, entropy, policy_forward};
use crate::error::{Error, Result};
use crate::lora::{self, LoraConfig, LoraModel, Tuning};
use crate::rollout::{RewardFunction, Rollout, generate_rollouts};

/// The frozen model an on-policy trainer measures the KL against.
#[derive(Debug)]
pub enum Reference {
    /// A model of the policy's shape, held beside it: a copy of the policy as it started (full
    /// fine-tuning), or another model given.
    Model(Box<Gpt>),
    /// The policy itself with its LoRA adapters switched off
    /// ([`with_adapters_disabled`](LoraModel::with_adapters_disabled)): the base model, bit for
    /// bit, without a second copy in memory.
    AdaptersOff,
}

impl From<Gpt> for Reference {
    fn from(model: Gpt) -> Self {
        Reference::Model(Box::new(model))
    }
}

/// The reference a trainer measures the KL against by default, made from the policy as it is
/// now: for a policy carrying LoRA adapters, [`Reference::AdaptersOff`] (no copy); otherwise a
/// [`Reference::Model`] copying every weight (sharing none, same context length) with dropout
/// off. PPO's and GRPO's default reference (they add a LoRA run's adapters first).
///
/// # Errors
/// Model errors.
pub fn frozen_reference(policy: &Gpt) -> Result<Reference> {
    if !policy.adapted_modules().is_empty() {
        return Ok(Reference::AdaptersOff);
    }
    let mut reference = policy.with_block_size(policy.config().block_size)?;
    reference.set_training(false);
    Ok(Reference::from(reference))
}

/// A readout of the policy's forward pass per position, `(B, L − 1)` (PPO's value head).
pub(crate) type Head<'h> = &'h dyn Fn(&PolicyOutput, &ResponseBatch) -> Result<Tensor>;

/// Per answer token, from one inference pass over rollouts: the policy's log-probabilities, the
/// reference's and a [`Head`]'s where asked for, and the policy's mean next-token entropy.
pub(crate) struct TokenScores {
    pub(crate) logprobs: Vec<Vec<f32>>,
    pub(crate) reference: Option<Vec<Vec<f32>>>,
    pub(crate) head: Option<Vec<Vec<f32>>>,
    pub(crate) entropy: f64,
}

impl TokenScores {
    /// The mean [`sequence_kl`] per answer (nats), if the reference was scored.
    pub(crate) fn mean_kl(&self) -> Option<f64> {
        let reference = self.reference.as_ref()?;
        Some(mean(self.logprobs.iter().zip(reference).map(|(p, r)| sequence_kl(p, r))))
    }
}

/// One chunk's forward passes, as arrays.
struct ChunkPass {
    logprobs: ArrayD<f32>,
    entropy: Array2<f32>,
    reference: Option<ArrayD<f32>>,
    head: Option<ArrayD<f32>>,
}

/// The policy being tuned (with its tokenizer), its frozen reference, the reward function that
/// judges its answers, the pad id of its batches (`<|endoftext|>`) and how it is tuned (every
/// weight, or LoRA adapters). Dropout stays off in both models, so the log-probabilities of the
/// rollouts and of the optimisation come from the same function.
pub(crate) struct TunedPolicy<'a, R: RewardFunction + ?Sized> {
    pub(crate) policy: &'a mut Generator,
    reference: Reference,
    reward: &'a R,
    pad: u32,
    /// The rollouts' sampling temperature, which every log-probability is taken at.
    temperature: f32,
    tuning: Tuning,
}

impl<'a, R: RewardFunction + ?Sized> TunedPolicy<'a, R> {
    /// `policy` against `reference` (by default [`frozen_reference`]), judged by `reward`, with
    /// fresh LoRA adapters made under `lora` (drawn from `seed`) if given, its rollouts sampled
    /// as `generation` says (whose temperature the log-probabilities are taken at); turns dropout
    /// off in both models.
    ///
    /// # Errors
    /// [`Error::VocabularyMismatch`] when the reward function reads another vocabulary;
    /// [`Error::Input`] for a reference of another shape, [`Reference::AdaptersOff`] for a
    /// policy without adapters, or a tokenizer without `<|endoftext|>`; [`Error::Transformer`]
    /// for adapters the policy refuses. On error the policy is unchanged.
    pub(crate) fn new(
        policy: &'a mut Generator,
        reference: Option<Reference>,
        reward: &'a R,
        lora: Option<&LoraConfig>,
        generation: &GenerationConfig,
        seed: u64,
    ) -> Result<Self> {
        reward.check_tokenizer(&policy.tokenizer)?;
        let pad =
            policy.end_of_text().ok_or_else(|| Error::Input("the tokenizer has no <|endoftext|> token".into()))?;
        match &reference {
            Some(Reference::Model(model)) if model.config() != policy.model.config() => {
                return Err(Error::Input("the reference model's shape differs from the policy's".into()));
            }
            Some(Reference::AdaptersOff) if lora.is_none() && policy.model.adapted_modules().is_empty() => {
                return Err(Error::Input(
                    "the reference is the policy with its adapters off, but it carries none and none are asked for"
                        .into(),
                ));
            }
            _ => {}
        }
        lora::add_adapters(&mut policy.model, lora, seed)?;
        let mut reference = match reference {
            Some(reference) => reference,
            None => frozen_reference(&policy.model)?,
        };
        policy.model.set_training(false);
        if let Reference::Model(model) = &mut reference {
            model.set_training(false);
        }
        let tuning = Tuning::of(&policy.model)?;
        let temperature = if generation.do_sample { generation.temperature } else { 1.0 };
        Ok(Self { policy, reference, reward, pad, temperature, tuning })
    }

    /// The model the KL is measured against.
    pub(crate) fn reference(&self) -> &Reference {
        &self.reference
    }

    /// The policy's parameters that train: every one, or in a LoRA run its adapters.
    pub(crate) fn trained_parameters(&self) -> Vec<(String, Tensor)> {
        self.tuning.trained(self.policy.model.named_parameters())
    }

    /// The run's settings for the engine: `knobs`, and in a LoRA run the adapters and the base
    /// they were trained on.
    pub(crate) fn settings(&self, knobs: serde_json::Value) -> serde_json::Value {
        self.tuning.settings(knobs)
    }

    /// The policy's forward pass over one batch at the rollouts' temperature.
    pub(crate) fn forward(&self, batch: &ResponseBatch) -> Result<PolicyOutput> {
        policy_forward(&self.policy.model, batch, self.temperature)
    }

    /// The reference's forward pass over one batch at the rollouts' temperature (without
    /// gradients by the caller).
    fn reference_forward(&self, batch: &ResponseBatch) -> Result<PolicyOutput> {
        match &self.reference {
            Reference::Model(model) => policy_forward(model, batch, self.temperature),
            Reference::AdaptersOff => {
                self.policy.model.with_adapters_disabled(|base| policy_forward(base, batch, self.temperature))
            }
        }
    }

    /// `generation` with `<|endoftext|>` as the stop token if it names none.
    pub(crate) fn stopping_at_end_of_text(&self, generation: &GenerationConfig) -> GenerationConfig {
        let eos_token_id =
            if generation.eos_token_id.is_empty() { vec![self.pad] } else { generation.eos_token_id.clone() };
        GenerationConfig { eos_token_id, ..generation.clone() }
    }

    /// Checks the training prompts and, if there are any, the held-out ones.
    ///
    /// # Errors
    /// [`Error::Input`] for no training prompts or a prompt that is empty, has ids outside the
    /// vocabulary or leaves no room for an answer.
    pub(crate) fn check_prompts(&self, prompts: &[Vec<u32>], held_out: &[Vec<u32>]) -> Result<()> {
        if prompts.is_empty() {
            return Err(Error::Input("no prompts".into()));
        }
        self.check_each(prompts)?;
        self.check_each(held_out)
    }

    fn check_each(&self, prompts: &[Vec<u32>]) -> Result<()> {
        let (block, vocab) = (self.policy.model.config().block_size, self.policy.model.config().vocab_size);
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

    /// The policy's answers to `prompts[i]` for each `i` of `chosen`, in order; answer `k` is
    /// seeded by `seed` and `k` alone ([`generate_rollouts`]).
    ///
    /// # Errors
    /// Generation errors.
    pub(crate) fn rollouts(
        &self,
        prompts: &[Vec<u32>],
        chosen: impl IntoIterator<Item = usize>,
        generation: &GenerationConfig,
        seed: u64,
    ) -> Result<Vec<Rollout>> {
        let indexed: Vec<(usize, &[u32])> = chosen.into_iter().map(|i| (i, prompts[i].as_slice())).collect();
        generate_rollouts(&self.policy.model, &self.policy.tokenizer, &indexed, generation, seed)
    }

    /// The reward function's scores of `rollouts`, one each (not checked for NaN: a training
    /// step and the engine's evaluation check them).
    ///
    /// # Errors
    /// The reward function's errors; [`Error::Input`] for a count other than one per rollout.
    pub(crate) fn scores(&self, rollouts: &[Rollout]) -> Result<Vec<f32>> {
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

    /// `sequences` padded into one batch for the policy.
    ///
    /// # Errors
    /// As [`ResponseBatch::new`].
    pub(crate) fn batch<'s>(&self, sequences: impl IntoIterator<Item = &'s Sequence>) -> Result<ResponseBatch> {
        ResponseBatch::new(sequences, self.pad, self.policy.model.config().block_size)
    }

    /// One inference pass over the rollouts in chunks of `chunk_size` (at least 8): per answer
    /// token the policy's log-probabilities, the reference's if `with_reference`, and `head`'s
    /// readout if given; the mean entropy.
    ///
    /// # Errors
    /// Model errors.
    pub(crate) fn score_tokens(
        &self,
        rollouts: &[Rollout],
        chunk_size: usize,
        with_reference: bool,
        head: Option<Head<'_>>,
    ) -> Result<TokenScores> {
        let mut scores = TokenScores {
            logprobs: Vec::new(),
            reference: with_reference.then(Vec::new),
            head: head.map(|_| Vec::new()),
            entropy: 0.0,
        };
        let (mut entropy_sum, mut tokens) = (0.0, 0usize);
        for chunk in rollouts.chunks(chunk_size.max(8)) {
            let batch = self.batch(chunk.iter().map(|r| &r.sequence))?;
            let pass = self.forward_chunk(&batch, with_reference, head)?;
            for b in 0..batch.rows() {
                let columns = batch.response_columns(b);
                let row = |a: &ArrayD<f32>| -> Vec<f32> { columns.clone().map(|t| a[[b, t]]).collect() };
                scores.logprobs.push(row(&pass.logprobs));
                if let (Some(all), Some(r)) = (&mut scores.reference, &pass.reference) {
                    all.push(row(r));
                }
                if let (Some(all), Some(h)) = (&mut scores.head, &pass.head) {
                    all.push(row(h));
                }
                entropy_sum += columns.clone().map(|t| f64::from(pass.entropy[[b, t]])).sum::<f64>();
                tokens += columns.len();
            }
        }
        scores.entropy = entropy_sum / tokens.max(1) as f64;
        Ok(scores)
    }

    /// The policy's (and `head`'s) and, if asked, the reference's forward pass over one batch,
    /// without gradients.
    fn forward_chunk(&self, batch: &ResponseBatch, with_reference: bool, head: Option<Head<'_>>) -> Result<ChunkPass> {
        let (policy, head, reference) = no_grad(|| -> Result<_> {
            let policy = self.forward(batch)?;
            let head = head.map(|h| h(&policy, batch)).transpose()?.map(|t| t.to_array());
            let reference =
                if with_reference { Some(self.reference_forward(batch)?.logprobs.to_array()) } else { None };
            Ok((policy, head, reference))
        })?;
        let logits = policy.logits.to_array().into_dimensionality::<Ix3>().map_err(|e| Error::Input(e.to_string()))?;
        Ok(ChunkPass { logprobs: policy.logprobs.to_array(), entropy: entropy(&logits), reference, head })
    }

    /// The answers to held-out prompts of a run seeded with `seed`: answer `i` is seeded by `i`
    /// alone (and `!seed`), so every evaluation of a run answers alike.
    ///
    /// # Errors
    /// Generation errors.
    pub(crate) fn held_out_rollouts(
        &self,
        prompts: &[Vec<u32>],
        generation: &GenerationConfig,
        seed: u64,
    ) -> Result<Vec<Rollout>> {
        self.rollouts(prompts, 0..prompts.len(), generation, !seed)
    }

    /// The policy answers each of `prompts` once ([`held_out_rollouts`](Self::held_out_rollouts)):
    /// `reward`, the mean score, and `kl`, the mean [`sequence_kl`] per answer to the reference
    /// (no metrics for no prompts; a NaN stays a NaN). The inference pass runs in chunks of
    /// `chunk_size` (at least 8).
    ///
    /// # Errors
    /// Generation, scoring and model errors.
    pub(crate) fn evaluate(
        &self,
        prompts: &[Vec<u32>],
        generation: &GenerationConfig,
        seed: u64,
        chunk_size: usize,
    ) -> Result<Metrics> {
        if prompts.is_empty() {
            return Ok(Metrics::new());
        }
        let rollouts = self.held_out_rollouts(prompts, generation, seed)?;
        let scores = self.scores(&rollouts)?;
        let kl = self.score_tokens(&rollouts, chunk_size, true, None)?.mean_kl().unwrap_or_default();
        Ok(Metrics::from([("reward".into(), mean(scores.iter().map(|&s| f64::from(s)))), ("kl".into(), kl)]))
    }

    /// The `(prompt, answer)` texts of the first `n` of `prompts`, answered as
    /// [`evaluate`](Self::evaluate) answers them.
    ///
    /// # Errors
    /// Generation errors.
    pub(crate) fn samples(
        &self,
        prompts: &[Vec<u32>],
        n: usize,
        generation: &GenerationConfig,
        seed: u64,
    ) -> Result<Vec<(String, String)>> {
        let rollouts = self.held_out_rollouts(&prompts[..n.min(prompts.len())], generation, seed)?;
        Ok(rollouts.into_iter().map(|r| (r.prompt_text, r.text)).collect())
    }
}

/// The prompts (indices into `n`) of step `step` (0-based), `per_step` of them: consecutive
/// slices of seeded shuffles of all prompts, a fresh shuffle for each pass, pass `p` shuffled
/// by `shuffle_seed(p)`.
pub(crate) fn prompt_order(n: usize, step: usize, per_step: usize, shuffle_seed: impl Fn(u64) -> u64) -> Vec<usize> {
    let first = step * per_step;
    let mut pass = usize::MAX;
    let mut order: Vec<usize> = Vec::new();
    (first..first + per_step)
        .map(|k| {
            if k / n != pass {
                pass = k / n;
                order = (0..n).collect();
                order.shuffle(&mut StdRng::seed_from_u64(shuffle_seed(pass as u64)));
            }
            order[k % n]
        })
        .collect()
}

/// A minibatch's per-token values `(B, L − 1)`: row `b` holds `pick(rows[b])` in the response
/// columns of `batch`, zeros elsewhere.
pub(crate) fn scatter<E>(batch: &ResponseBatch, rows: &[&E], pick: fn(&E) -> &[f32]) -> Array2<f32> {
    let mut dense = Array2::zeros(batch.targets.dim());
    for (b, row) in rows.iter().enumerate() {
        for (t, &v) in batch.response_columns(b).zip(pick(row)) {
            dense[[b, t]] = v;
        }
    }
    dense
}

/// `Σ_t log π − log π_ref` over one answer.
fn sequence_kl(policy: &[f32], reference: &[f32]) -> f64 {
    policy.iter().zip(reference).map(|(p, r)| f64::from(p - r)).sum()
}

/// The mean of `values` (0 for none).
pub(crate) fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n.max(1) as f64
}

/// The engine's error for a NaN or infinite `what` at step `step` (1-based).
pub(crate) fn finite(what: &str, value: f64, step: usize) -> Result<()> {
    if value.is_finite() { Ok(()) } else { Err(malmoi_train::Error::NonFinite { what: what.into(), step }.into()) }
}

/// The engine's config of an on-policy run: `steps` steps at a constant learning rate, evaluated
/// every `eval_interval` steps, at the start too.
pub(crate) fn train_config(
    steps: usize,
    learning_rate: f32,
    grad_clip: f32,
    eval_interval: usize,
    seed: u64,
) -> TrainConfig {
    TrainConfig {
        max_steps: steps,
        learning_rate,
        schedule: LrSchedule::Constant,
        grad_clip,
        eval_interval,
        eval_at_start: true,
        seed,
    }
}

/// Checks the sampling knobs and the sizes of an on-policy run, `[steps, batch size, minibatch
/// size, passes over each batch, evaluation interval]`: each positive, as is `max_new_tokens`, and
/// the minibatch at most the batch. `passes` names the passes in the error.
///
/// # Errors
/// [`Error::Input`] naming the bad values; the generation config's own errors.
pub(crate) fn check_sizes(generation: &GenerationConfig, sizes: [usize; 5], passes: &str) -> Result<()> {
    generation.validate()?;
    let [steps, batch_size, mini_batch_size, passes_count, eval_interval] = sizes;
    let counts = [steps, batch_size, mini_batch_size, passes_count, generation.max_new_tokens, eval_interval];
    if counts.contains(&0) || mini_batch_size > batch_size {
        return Err(Error::Input(format!(
            "steps, batch size, minibatch size (≤ batch size), {passes}, max_new_tokens and the evaluation interval must be positive: {counts:?}"
        )));
    }
    Ok(())
}

/// Adam with betas (0.9, 0.95) over `model`'s parameters.
///
/// # Errors
/// [`Error::Tensor`] for a bad learning rate.
pub(crate) fn adam(model: &dyn Module, learning_rate: f32) -> Result<Adam> {
    Ok(Adam::new(model.named_parameters(), learning_rate)?.with_betas(0.9, 0.95, 1e-8)?)
}

/// The public methods of an on-policy trainer that PPO and GRPO share, written once: expanded
/// in the trainer's `impl<$a, R>`, a struct with fields `tuned` (a [`TunedPolicy`]) and
/// `config: $config` (a config with `generation`, `seed`, `mini_batch_size` and `lora`), its
/// engine step `$training`, its own construction `fn start(TunedPolicy, config)` (what it adds
/// to the tuned policy); `$made` ends the constructor's first doc paragraph (what else it makes).
macro_rules! on_policy_methods {
    ($a:lifetime, $config:ident, $training:ident, $made:literal) => {
        /// A trainer that tunes `policy` against `reward`, with fresh LoRA adapters on it if
        /// `config.lora` says so; the reference is
        /// [`frozen_reference`](crate::policy::frozen_reference) of `policy` as it is then (with
        /// adapters: the policy with them off, no copy).
        #[doc = $made]
        ///
        /// # Errors
        /// [`Error::Input`](crate::Error::Input) for bad knobs or a tokenizer without
        /// `<|endoftext|>`; [`Error::VocabularyMismatch`](crate::Error::VocabularyMismatch) when
        /// the reward function reads another vocabulary;
        /// [`Error::Transformer`](crate::Error::Transformer) for adapters the policy refuses (a
        /// target that selects nothing, adapters already there).
        pub fn new(
            policy: &$a mut malmoi_transformer::generation::Generator,
            reward: &$a R,
            config: $config,
        ) -> $crate::Result<Self> {
            Self::build(policy, None, reward, config)
        }

        /// As [`new`](Self::new) with a given reference: a [`Gpt`](malmoi_transformer::Gpt) (to
        /// measure a policy tuned elsewhere, by DPO say, against the model it started from) or
        /// [`Reference::AdaptersOff`](crate::policy::Reference::AdaptersOff) (a policy carrying
        /// LoRA adapters against its base).
        ///
        /// # Errors
        /// As [`new`](Self::new); [`Error::Input`](crate::Error::Input) for a reference of
        /// another shape, or `AdaptersOff` for a policy without adapters.
        pub fn with_reference(
            policy: &$a mut malmoi_transformer::generation::Generator,
            reference: impl Into<$crate::policy::Reference>,
            reward: &$a R,
            config: $config,
        ) -> $crate::Result<Self> {
            Self::build(policy, Some(reference.into()), reward, config)
        }

        /// [`new`](Self::new) and [`with_reference`](Self::with_reference): the knobs checked,
        /// the tuned policy made (adapters, reference), then the trainer's own parts.
        fn build(
            policy: &$a mut malmoi_transformer::generation::Generator,
            reference: Option<$crate::policy::Reference>,
            reward: &$a R,
            config: $config,
        ) -> $crate::Result<Self> {
            config.validate()?;
            let tuned = $crate::policy::TunedPolicy::new(
                policy,
                reference,
                reward,
                config.lora.as_ref(),
                &config.generation,
                config.seed,
            )?;
            Self::start(tuned, config)
        }

        /// Runs the configured steps on `prompts` (token ids of rendered prompts), evaluating on
        /// `held_out` before the first step, every `eval_interval` steps and at the end; `session`
        /// says where checkpoints go (a run that finds one resumes from it, and must have the same
        /// config), whether progress shows and where this session stops. Returns the log of the
        /// whole run, resumed parts included ([`TrainLog::plot`](malmoi_train::TrainLog::plot)
        /// draws it).
        ///
        /// # Errors
        #[doc = concat!("[`Error::Input`](crate::Error::Input) as [`", stringify!($training), "::new`];")]
        /// [`Error::Train`](crate::Error::Train) for a NaN or infinite reward, KL, loss or held-out
        /// metric, or a checkpoint from another config; model and I/O errors.
        pub fn train(
            &mut self,
            prompts: &[Vec<u32>],
            held_out: &[Vec<u32>],
            session: malmoi_train::Session,
        ) -> $crate::Result<malmoi_train::TrainLog> {
            let mut training = $training::new(self, prompts, held_out)?;
            let mut optimizer = training.optimizer()?;
            malmoi_train::Trainer::new(training.train_config()).with_session(session).fit(&mut training, &mut optimizer)
        }

        /// The run's knobs (with the end-of-text id as the rollouts' stop token if none was given).
        pub fn config(&self) -> &$config {
            &self.config
        }

        /// The model the KL is measured against: in a LoRA run the policy with its adapters off
        /// ([`Reference::AdaptersOff`](crate::policy::Reference::AdaptersOff), no second model).
        pub fn reference(&self) -> &$crate::policy::Reference {
            self.tuned.reference()
        }

        /// The policy answers each of `prompts` once with fixed seeds (the same for PPO and GRPO,
        /// so an untuned policy scores alike under both): `reward`, the mean score, and `kl`, the
        /// mean `Σ_t log π − log π_ref` per answer (nats; no metrics for no prompts). A NaN stays
        /// a NaN here; during training the engine stops on it.
        ///
        /// # Errors
        /// Generation, scoring and model errors.
        pub fn evaluate(&self, prompts: &[Vec<u32>]) -> $crate::Result<malmoi_train::Metrics> {
            let config = &self.config;
            self.tuned.evaluate(prompts, &config.generation, config.seed, config.mini_batch_size)
        }

        /// The `(prompt, answer)` texts of the first `n` of `prompts`, answered with the seeds
        /// [`evaluate`](Self::evaluate) uses, so they are the answers it scored.
        ///
        /// # Errors
        /// Generation errors.
        pub fn samples(&self, prompts: &[Vec<u32>], n: usize) -> $crate::Result<Vec<(String, String)>> {
            self.tuned.samples(prompts, n, &self.config.generation, self.config.seed)
        }
    };
}
pub(crate) use on_policy_methods;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pass_visits_every_prompt_once() {
        let order: Vec<usize> = (0..5).flat_map(|step| prompt_order(4, step, 4, |pass| pass)).collect();
        for pass in order.chunks(4) {
            let mut sorted = pass.to_vec();
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2, 3]);
        }
        assert_eq!(prompt_order(4, 1, 4, |pass| pass), prompt_order(4, 1, 4, |pass| pass));
        assert_eq!(prompt_order(3, 0, 5, |pass| pass).len(), 5, "a step may span two passes");
    }

    #[test]
    fn only_non_finite_values_are_refused() {
        assert!(finite("reward", 1.5, 1).is_ok());
        let refused = finite("KL", f64::NAN, 3);
        assert!(
            matches!(refused, Err(Error::Train(malmoi_train::Error::NonFinite { step: 3, ref what })) if what == "KL")
        );
        assert_eq!(mean([1.0, 2.0, 6.0].into_iter()), 3.0);
        assert_eq!(mean(std::iter::empty()), 0.0);
    }
}
