//! Teacher-forced training on the shared engine (malmoi-train): epoch-based batches of similar
//! target length, Adam with gradient clipping, validation after every epoch, checkpoints and
//! exact resume.

use malmoi_tensor::nn::Module;
use malmoi_tensor::no_grad;
use malmoi_tensor::optim::Adam;
use malmoi_train::batching::{BatchPlan, EpochBatches, validation_split};
use malmoi_train::{Metrics, Session, StepOutput, TrainLog, TrainStep, Trainer, Update};
use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use super::model::{Padded, Seq2SeqModel};
use super::vocab::{BOS, EOS, PAD};
use crate::error::{Error, Result};

/// How [`fit`] trains. How a session runs (checkpoints, the progress bar, where to stop) is
/// the engine's [`Session`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Pairs per mini-batch.
    pub batch_size: usize,
    /// Epochs to run.
    pub epochs: usize,
    /// Adam's learning rate.
    pub learning_rate: f32,
    /// Gradients are clipped to this global L2 norm (0: off).
    pub clip_norm: f32,
    /// Share of the pairs (the last ones, after the caller's shuffle) held out for validation.
    pub validation_split: f64,
    /// Seed of the batch order and dropout.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self { batch_size: 64, epochs: 10, learning_rate: 2e-3, clip_norm: 5.0, validation_split: 0.05, seed: 42 }
    }
}

/// Source and target id sequences, one pair per index.
#[derive(Debug, Clone, Copy)]
pub struct Pairs<'a> {
    /// Source ids (no specials).
    pub source: &'a [Vec<u32>],
    /// Target ids (no specials).
    pub target: &'a [Vec<u32>],
}

impl Pairs<'_> {
    /// The padded source, decoder input ([`BOS`] + target) and decoder output (target + [`EOS`])
    /// of the pairs at `indices`.
    fn batch(&self, indices: &[usize]) -> (Padded, Padded, Padded) {
        let source: Vec<&[u32]> = indices.iter().map(|&i| self.source[i].as_slice()).collect();
        let target: Vec<&[u32]> = indices.iter().map(|&i| self.target[i].as_slice()).collect();
        (Padded::new(&source, None, None), Padded::new(&target, Some(BOS), None), Padded::new(&target, None, Some(EOS)))
    }
}

/// The encoder–decoder's [`TrainStep`]: step `s` trains on batch `s % steps_per_epoch` of epoch
/// `s / steps_per_epoch` (seeded, bucketed by target length); metrics `accuracy` (next-symbol,
/// teacher-forced) per step, `val_loss` and `val_accuracy` per evaluation.
#[derive(Debug)]
pub struct Seq2SeqTraining<'a> {
    model: &'a mut Seq2SeqModel,
    data: Pairs<'a>,
    valid: Vec<usize>,
    batches: EpochBatches,
    config: TrainConfig,
}

impl<'a> Seq2SeqTraining<'a> {
    /// Training of `model` on the first `1 − validation_split` of `data`, validated on the rest.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a target count that is not the source count or no pairs;
    /// [`Error::Train`] ([`malmoi_train::Error::Config`]) for no training pairs left, a
    /// validation share outside `[0, 1)` or a zero batch size.
    pub fn new(model: &'a mut Seq2SeqModel, data: Pairs<'a>, config: TrainConfig) -> Result<Self> {
        if data.source.len() != data.target.len() || data.source.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "need one target per source and at least one pair, got {} and {}",
                data.source.len(),
                data.target.len()
            )));
        }
        let (train, valid) = validation_split(data.source.len(), config.validation_split, None)?;
        let lengths: Vec<usize> = data.target.iter().map(Vec::len).collect();
        let plan = BatchPlan { bucket_by_length: true, ..BatchPlan::new(config.batch_size, config.seed) };
        let batches = EpochBatches::new(plan, train, lengths)?;
        Ok(Self { model, data, valid, batches, config })
    }

    /// The engine for this run: `epochs` epochs with an evaluation after each, gradients clipped
    /// to `clip_norm`.
    ///
    /// # Errors
    /// [`Error::Train`] ([`malmoi_train::Error::Config`]) when the steps overflow.
    pub fn trainer(&self) -> Result<Trainer> {
        let config = &self.config;
        Ok(Trainer::new(self.batches.train_config(config.epochs, config.learning_rate, config.clip_norm)?))
    }

    /// Adam at the configured learning rate over the model's parameters.
    ///
    /// # Errors
    /// A learning rate Adam refuses.
    pub fn optimizer(&self) -> Result<Adam> {
        Ok(Adam::new(self.model.named_parameters(), self.config.learning_rate)?)
    }
}

impl TrainStep for Seq2SeqTraining<'_> {
    type Error = Error;

    fn model(&mut self) -> &mut dyn Module {
        &mut *self.model
    }

    fn train_step(&mut self, step: usize, seed: u64, update: &mut Update<'_>) -> Result<StepOutput> {
        self.model.reseed(seed);
        let (source, target_in, target_out) = self.data.batch(self.batches.batch(step)?);
        let (loss, logits) = self.model.loss(&source, &target_in, &target_out)?;
        let accuracy = count_correct(&logits.data(), &target_out.ids) as f64 / count_steps(&target_out).max(1) as f64;
        Ok(StepOutput::loss(update.apply(&loss)?).with("accuracy", accuracy))
    }

    fn evaluate(&mut self) -> Result<Metrics> {
        if self.valid.is_empty() {
            return Ok(Metrics::new());
        }
        let (loss, accuracy) = evaluate(self.model, self.data, &self.valid)?;
        Ok(Metrics::from([("loss".into(), loss), ("accuracy".into(), accuracy)]))
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({ "seq2seq": self.config, "pairs": self.data.source.len() })
    }
}

/// Trains `model` on `data` with teacher forcing, running the engine as `session` says
/// (checkpoints, progress bar, where to stop); returns the log of the whole run, resumed parts
/// included (per epoch: `loss`, `accuracy`, `val_loss`, `val_accuracy`). Zero epochs
/// train nothing.
///
/// With checkpoints, every epoch is saved (folder-atomic, `step-N/`) and a run found there
/// with the same configuration and data resumes exactly where it stopped.
///
/// # Errors
/// As [`Seq2SeqTraining::new`]; [`Error::Train`] for a non-finite loss (naming the step) or a
/// checkpoint of another run.
pub fn fit(model: &mut Seq2SeqModel, data: Pairs<'_>, config: &TrainConfig, session: Session) -> Result<TrainLog> {
    let mut step = Seq2SeqTraining::new(model, data, config.clone())?;
    if config.epochs == 0 {
        return Ok(TrainLog::default());
    }
    let mut optimizer = step.optimizer()?;
    step.trainer()?.with_session(session).fit(&mut step, &mut optimizer)
}

/// Teacher-forced mean loss and next-symbol accuracy over the pairs at `indices`.
pub fn evaluate(model: &Seq2SeqModel, data: Pairs<'_>, indices: &[usize]) -> Result<(f64, f64)> {
    let (mut loss_sum, mut correct, mut steps) = (0.0, 0usize, 0usize);
    for chunk in indices.chunks(256) {
        let (source, target_in, target_out) = data.batch(chunk);
        let (loss, logits) = no_grad(|| model.loss(&source, &target_in, &target_out))?;
        let counted = count_steps(&target_out);
        loss_sum += f64::from(loss.item()?) * counted as f64;
        steps += counted;
        correct += count_correct(&logits.data(), &target_out.ids);
    }
    Ok((loss_sum / steps.max(1) as f64, correct as f64 / steps.max(1) as f64))
}

fn count_steps(target: &Padded) -> usize {
    target.lengths.iter().sum()
}

/// Valid target steps whose highest logit is the target id.
fn count_correct(logits: &ArrayD<f32>, targets: &ArrayD<u32>) -> usize {
    let classes = *logits.shape().last().expect("class axis");
    let rows = logits.as_slice().expect("row-major logits").chunks(classes);
    rows.zip(targets.iter())
        .filter(|&(row, &target)| {
            target != PAD && (0..).zip(row).max_by(|a, b| a.1.total_cmp(b.1)).map(|m| m.0) == Some(target)
        })
        .count()
}
