//! The one supervised trainer that SFT, the reward model and DPO share, on the shared engine
//! (`malmoi-train`): length-bucketed batches in a seeded order per epoch, AdamW (decay on weight
//! matrices only, betas 0.9 / 0.95) with warm-up and cosine decay, clipping, held-out evaluation
//! (before the first step too, so every curve starts at the untuned model), progress, and
//! checkpoints from which a stopped run resumes exactly.
//!
//! What differs between the three is an [`Objective`]: its parameters, the loss of a batch and
//! the held-out metrics. [`Supervised`] makes an objective the engine's [`TrainStep`]; [`fit`]
//! runs it with a [`FitConfig`], the recipe's knobs (Hugging Face's `TrainingArguments`), which
//! it translates into the engine's [`TrainConfig`]. With `FitConfig::lora` the run tunes LoRA
//! adapters on the objective's [`transformer`](Objective::transformer) instead of every weight
//! (see [`lora`]).

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use malmoi_tensor::Tensor;
use malmoi_tensor::nn::Module;
use malmoi_tensor::optim::{Adam, AdamW, ParamGroup};
use malmoi_train::{LrSchedule, Metrics, Session, StepOutput, TrainConfig, TrainLog, TrainStep, Trainer, Update};
use malmoi_transformer::Gpt;

use crate::error::{Error, Result};
use crate::lora::{self, LoraConfig, Tuning};

/// The knobs of a supervised run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitConfig {
    /// Passes over the training examples.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub learning_rate: f32,
    /// Linear warm-up steps before the cosine decay (at most the whole run).
    pub warmup_steps: usize,
    /// The learning rate decays to `learning_rate · min_lr_factor`.
    pub min_lr_factor: f32,
    /// AdamW's weight decay on matrices.
    pub weight_decay: f32,
    /// Global gradient-norm clip (0: off).
    pub grad_clip: f32,
    /// Held-out evaluation (and a checkpoint) every this many steps, and at the end.
    pub eval_interval: usize,
    /// Seed of the batch order and of dropout (and of fresh LoRA adapters).
    pub seed: u64,
    /// LoRA adapters to put on the objective's transformer and train instead of its weights
    /// (heads still train fully); `None`: every weight trains, unless the transformer carries
    /// adapters already. Part of the settings a resumed run must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraConfig>,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self {
            epochs: 3,
            batch_size: 16,
            learning_rate: 3e-4,
            warmup_steps: 20,
            min_lr_factor: 0.1,
            weight_decay: 0.0,
            grad_clip: 1.0,
            eval_interval: 50,
            seed: 1234,
            lora: None,
        }
    }
}

impl FitConfig {
    /// The engine's config of a run with `steps_per_epoch` batches per epoch: `epochs` times as
    /// many steps, warm-up then a cosine down to `min_lr_factor`, evaluated at the start too.
    pub fn train_config(&self, steps_per_epoch: usize) -> TrainConfig {
        let max_steps = steps_per_epoch * self.epochs;
        TrainConfig {
            max_steps,
            learning_rate: self.learning_rate,
            schedule: LrSchedule::Cosine {
                warmup_steps: self.warmup_steps.min(max_steps),
                min_factor: self.min_lr_factor,
            },
            grad_clip: self.grad_clip,
            eval_interval: self.eval_interval,
            eval_at_start: true,
            seed: self.seed,
        }
    }
}

/// What a supervised trainer optimises.
pub trait Objective {
    /// One training example.
    type Example;
    /// The trained model: checkpoints store its named parameters (in a LoRA run, those that
    /// train), the trainer switches its mode.
    fn model(&mut self) -> &mut dyn Module;
    /// The transformer that carries LoRA adapters in a LoRA run (SFT's and DPO's policy, the
    /// reward model's trunk), whose parameters [`model`](Self::model) lists under their own
    /// names; `None` (the default) for an objective that cannot take adapters.
    fn transformer(&mut self) -> Option<&mut Gpt> {
        None
    }
    /// Restarts the dropout masks' generator from `seed` (called before every step with that
    /// step's seed, so a resumed run draws the masks the uninterrupted one drew).
    fn reseed(&self, seed: u64);
    /// Tokens in an example; batches hold examples of similar length.
    fn length(&self, example: &Self::Example) -> usize;
    /// The loss of a batch, to minimise.
    ///
    /// # Errors
    /// Model errors.
    fn loss(&self, batch: &[&Self::Example]) -> Result<Tensor>;
    /// Held-out metrics by name (in inference mode).
    ///
    /// # Errors
    /// Model errors.
    fn evaluate(&self, examples: &[Self::Example]) -> Result<Metrics>;
}

/// An [`Objective`] on its data as the engine's [`TrainStep`]: step `n` trains on batch
/// `n mod batches` of epoch `n / batches`, in an order drawn from the seed and the epoch alone.
/// As a [`Module`] it lists the parameters that train: all of the objective's model's, or in a
/// LoRA run its adapters and heads.
pub struct Supervised<'a, O: Objective> {
    objective: &'a mut O,
    train: &'a [O::Example],
    held_out: &'a [O::Example],
    batches: Vec<Vec<usize>>,
    config: FitConfig,
    tuning: Tuning,
    trained: Vec<(String, Tensor)>,
}

impl<'a, O: Objective> Supervised<'a, O> {
    /// Training of `objective` on `train`, evaluated on `held_out` (no metrics if empty). With
    /// `config.lora`, fresh adapters drawn from `config.seed` go on the objective's transformer
    /// first.
    ///
    /// # Errors
    /// [`Error::Input`] for no training examples, a zero batch size or zero epochs, or LoRA
    /// asked of an objective without a transformer; [`Error::Transformer`] for adapters the
    /// transformer refuses (a target that selects nothing, a rank too large, adapters already
    /// there).
    pub fn new(
        objective: &'a mut O,
        train: &'a [O::Example],
        held_out: &'a [O::Example],
        config: &FitConfig,
    ) -> Result<Self> {
        if train.is_empty() || config.batch_size == 0 || config.epochs == 0 {
            return Err(Error::Input(format!(
                "{} training examples, batch size {}, {} epochs: nothing to train",
                train.len(),
                config.batch_size,
                config.epochs
            )));
        }
        let tuning = match objective.transformer() {
            Some(transformer) => {
                lora::add_adapters(transformer, config.lora.as_ref(), config.seed)?;
                Tuning::of(transformer)?
            }
            None if config.lora.is_some() => {
                return Err(Error::Input("LoRA asked of an objective without a transformer".into()));
            }
            None => Tuning::full(),
        };
        let trained = tuning.trained(objective.model().named_parameters());
        let batches = buckets(&*objective, train, config.batch_size);
        Ok(Self { objective, train, held_out, batches, config: config.clone(), tuning, trained })
    }

    /// The engine's config of this run ([`FitConfig::train_config`]).
    pub fn train_config(&self) -> TrainConfig {
        self.config.train_config(self.batches.len())
    }

    /// AdamW with betas (0.9, 0.95) and `weight_decay` on matrices only: one optimiser over two
    /// parameter groups of the parameters that train.
    ///
    /// # Errors
    /// [`Error::Tensor`] for a negative learning rate or decay.
    pub fn optimizer(&mut self) -> Result<Adam> {
        let groups = ParamGroup::decay_matrices(self.trained.clone(), self.config.weight_decay);
        Ok(AdamW::groups(groups, self.config.learning_rate)?.with_betas(0.9, 0.95, 1e-8)?)
    }

    /// The examples of step `step` (0-based).
    fn batch(&self, step: usize) -> Vec<&'a O::Example> {
        let (epoch, index) = (step / self.batches.len(), step % self.batches.len());
        let train = self.train;
        epoch_order(&self.batches, self.config.seed, epoch)[index].iter().map(|&i| &train[i]).collect()
    }
}

/// The parameters that train; the mode is the objective's model's.
impl<O: Objective> Module for Supervised<'_, O> {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        self.trained.clone()
    }

    fn set_training(&mut self, training: bool) {
        self.objective.model().set_training(training);
    }
}

impl<O: Objective> TrainStep for Supervised<'_, O> {
    type Error = Error;

    fn model(&mut self) -> &mut dyn Module {
        self
    }

    fn train_step(&mut self, step: usize, seed: u64, update: &mut Update<'_>) -> Result<StepOutput> {
        let batch = self.batch(step);
        self.objective.reseed(seed);
        let loss = self.objective.loss(&batch)?;
        Ok(StepOutput::loss(update.apply(&loss)?))
    }

    fn evaluate(&mut self) -> Result<Metrics> {
        if self.held_out.is_empty() {
            return Ok(Metrics::new());
        }
        self.objective.evaluate(self.held_out)
    }

    fn settings(&self) -> serde_json::Value {
        self.tuning.settings(serde_json::json!({ "fit": self.config }))
    }
}

/// Trains `objective` on `train` with `config` (with LoRA adapters on its transformer if
/// `config.lora` says so), evaluating on `held_out` before the first
/// step, every `eval_interval` steps and at the end; `session` says where checkpoints go (a run
/// that finds one resumes from it, and must have the same config), whether progress shows and
/// where this session stops. Returns the log of the whole run, resumed parts included: the
/// held-out metrics under the objective's names, `train_loss` (the mean since the previous
/// evaluation) beside them.
///
/// # Errors
/// [`Error::Input`] and [`Error::Transformer`] as [`Supervised::new`]; [`Error::Train`] for a
/// NaN or infinite loss or metric ([`malmoi_train::Error::NonFinite`]; the last checkpoint is
/// kept), a config the engine refuses or a checkpoint from another config (or, in a LoRA run,
/// another base); model and I/O errors.
pub fn fit<O: Objective>(
    objective: &mut O,
    train: &[O::Example],
    held_out: &[O::Example],
    config: &FitConfig,
    session: Session,
) -> Result<TrainLog> {
    let mut step = Supervised::new(objective, train, held_out, config)?;
    let mut optimizer = step.optimizer()?;
    Trainer::new(step.train_config()).with_session(session).fit(&mut step, &mut optimizer)
}

/// Batches of examples of similar length: indices sorted by length, cut into `batch_size`.
fn buckets<O: Objective>(objective: &O, examples: &[O::Example], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.sort_by_key(|&i| objective.length(&examples[i]));
    order.chunks(batch_size).map(<[usize]>::to_vec).collect()
}

/// The batches in epoch `epoch`'s order: a shuffle that depends only on the seed and the epoch,
/// so a resumed run sees the batches the uninterrupted one would have.
fn epoch_order(batches: &[Vec<usize>], seed: u64, epoch: usize) -> Vec<&Vec<usize>> {
    let mut order: Vec<&Vec<usize>> = batches.iter().collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    order
}
