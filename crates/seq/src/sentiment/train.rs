//! Training the review classifier on the shared engine (malmoi-train): epoch-based batches of
//! similar length, RMSprop, validation after every epoch, early stopping on validation loss
//! with the best epoch's weights restored, checkpoints and exact resume.

use malmoi_tensor::nn::Module;
use malmoi_tensor::optim::RmsProp;
use malmoi_tensor::{Tensor, no_grad};
use malmoi_train::batching::{BatchPlan, EpochBatches, validation_split};
use malmoi_train::metrics::ConfusionMatrix;
use malmoi_train::{EarlyStopping, Metrics, Session, StepOutput, TrainLog, TrainStep, Trainer, Update};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

use super::model::{Batch, SentimentModel};
use crate::error::{Error, Result};

/// How [`fit`] trains; the defaults are the lecture's. How a session runs (checkpoints, the
/// progress bar, where to stop) is the engine's [`Session`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Reviews per mini-batch (64).
    pub batch_size: usize,
    /// Upper bound on epochs (15).
    pub max_epochs: usize,
    /// Share of the training data held out for validation, taken from the end as Keras does (0.2).
    pub validation_split: f64,
    /// Epochs without a lower validation loss before stopping (4).
    pub patience: usize,
    /// RMSprop's learning rate (0.001, Keras' default).
    pub learning_rate: f32,
    /// Reviews keep at most their last `maxlen` tokens (30).
    pub maxlen: usize,
    /// Batch reviews of similar length together, so few padded steps are computed.
    pub bucket_by_length: bool,
    /// Seed of the batch order and dropout.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 64,
            max_epochs: 15,
            validation_split: 0.2,
            patience: 4,
            learning_rate: 0.001,
            maxlen: 30,
            bucket_by_length: true,
            seed: 42,
        }
    }
}

/// Encoded reviews and their labels.
#[derive(Debug, Clone, Copy)]
pub struct Labeled<'a> {
    /// Token-id sequences.
    pub sequences: &'a [Vec<u32>],
    /// 0 = negative, 1 = positive, one per sequence.
    pub labels: &'a [u8],
}

/// The review classifier's [`TrainStep`]: step `s` trains on batch `s % steps_per_epoch` of
/// epoch `s / steps_per_epoch` (seeded, bucketed by length); metrics `accuracy` per step,
/// `val_loss` and `val_accuracy` per evaluation.
#[derive(Debug)]
pub struct SentimentTraining<'a> {
    model: &'a mut SentimentModel,
    data: Labeled<'a>,
    valid: Vec<usize>,
    batches: EpochBatches,
    config: TrainConfig,
}

impl<'a> SentimentTraining<'a> {
    /// Training of `model` on the first `1 − validation_split` of `data`, validated on the rest.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a label count that is not the sequence count or no
    /// sequences; [`Error::Train`] ([`malmoi_train::Error::Config`]) for no training examples
    /// left, a validation share outside `[0, 1)` or a zero batch size.
    pub fn new(model: &'a mut SentimentModel, data: Labeled<'a>, config: TrainConfig) -> Result<Self> {
        if data.sequences.len() != data.labels.len() || data.sequences.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "need one label per sequence and at least one sequence, got {} and {}",
                data.sequences.len(),
                data.labels.len()
            )));
        }
        let (train, valid) = validation_split(data.sequences.len(), config.validation_split, None)?;
        let lengths: Vec<usize> = data.sequences.iter().map(|s| s.len().min(config.maxlen)).collect();
        let plan = BatchPlan {
            batch_size: config.batch_size,
            shuffle: true,
            bucket_by_length: config.bucket_by_length,
            seed: config.seed,
        };
        let batches = EpochBatches::new(plan, train, lengths)?;
        Ok(Self { model, data, valid, batches, config })
    }

    /// The engine for this run: an evaluation after every epoch, at most `max_epochs` epochs,
    /// early stopping on `val_loss` with `patience` (none without validation data), the best
    /// epoch's weights restored at the end.
    ///
    /// # Errors
    /// [`Error::Train`] ([`malmoi_train::Error::Config`]) when the steps overflow.
    pub fn trainer(&self) -> Result<Trainer> {
        let run = self.batches.train_config(self.config.max_epochs, self.config.learning_rate, 0.0)?;
        let stopping = (!self.valid.is_empty()).then(|| EarlyStopping::minimize("val_loss", self.config.patience));
        Ok(Trainer::new(run).with_early_stopping(stopping))
    }

    /// RMSprop (Keras' defaults) at the configured learning rate over the model's parameters.
    ///
    /// # Errors
    /// A learning rate RMSprop refuses.
    pub fn optimizer(&self) -> Result<RmsProp> {
        Ok(RmsProp::new(self.model.named_parameters())?.with_learning_rate(self.config.learning_rate)?)
    }
}

impl TrainStep for SentimentTraining<'_> {
    type Error = Error;

    fn model(&mut self) -> &mut dyn Module {
        &mut *self.model
    }

    fn train_step(&mut self, step: usize, seed: u64, update: &mut Update<'_>) -> Result<StepOutput> {
        self.model.reseed(seed);
        let indices = self.batches.batch(step)?;
        let (batch, targets) = gather(self.data, indices, self.config.maxlen);
        let logits = self.model.logits(&batch)?;
        let accuracy = count_correct(&logits.data(), &targets.data()) as f64 / indices.len() as f64;
        let loss = update.apply(&logits.binary_cross_entropy_with_logits(&targets)?)?;
        Ok(StepOutput::loss(loss).with("accuracy", accuracy))
    }

    fn evaluate(&mut self) -> Result<Metrics> {
        if self.valid.is_empty() {
            return Ok(Metrics::new());
        }
        let (loss, matrix) = evaluate(self.model, self.data, &self.valid, self.config.maxlen)?;
        Ok(Metrics::from([("loss".into(), loss), ("accuracy".into(), matrix.accuracy())]))
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({ "sentiment": self.config, "examples": self.data.sequences.len() })
    }
}

/// Trains `model` on `data` with RMSprop and early stopping on validation loss, running the
/// engine as `session` says (checkpoints, progress bar, where to stop); returns the log of the
/// whole run (resumed parts included) and leaves the best epoch's weights in the model, in
/// inference mode. Zero epochs train nothing.
///
/// With checkpoints, every epoch is saved (folder-atomic, `step-N/`) and a run found there
/// with the same configuration and data resumes exactly where it stopped.
///
/// # Errors
/// As [`SentimentTraining::new`]; [`Error::Train`] for a non-finite loss (naming the step) or a
/// checkpoint of another run.
pub fn fit(model: &mut SentimentModel, data: Labeled<'_>, config: &TrainConfig, session: Session) -> Result<TrainLog> {
    let mut step = SentimentTraining::new(model, data, config.clone())?;
    if config.max_epochs == 0 {
        return Ok(TrainLog::default());
    }
    let mut optimizer = step.optimizer()?;
    step.trainer()?.with_session(session).fit(&mut step, &mut optimizer)
}

/// Mean loss and confusion matrix of `model` on the examples at `indices`, in batches of
/// similar length. The model must be in inference mode ([`Error::InvalidArgument`] otherwise).
pub fn evaluate(
    model: &SentimentModel,
    data: Labeled<'_>,
    indices: &[usize],
    maxlen: usize,
) -> Result<(f64, ConfusionMatrix)> {
    model.require_inference_mode("evaluate")?;
    let mut sorted = indices.to_vec();
    sorted.sort_by_key(|&i| data.sequences[i].len());
    let (mut loss_sum, mut matrix) = (0.0, ConfusionMatrix::default());
    for chunk in sorted.chunks(512) {
        let (batch, targets) = gather(data, chunk, maxlen);
        let (loss, logits) = no_grad(|| -> Result<(f32, Tensor)> {
            let logits = model.logits(&batch)?;
            Ok((logits.binary_cross_entropy_with_logits(&targets)?.item()?, logits))
        })?;
        loss_sum += f64::from(loss) * chunk.len() as f64;
        for (&z, &i) in logits.data().iter().zip(chunk) {
            matrix.add(z >= 0.0, data.labels[i] != 0);
        }
    }
    Ok((loss_sum / indices.len().max(1) as f64, matrix))
}

fn gather(data: Labeled<'_>, indices: &[usize], maxlen: usize) -> (Batch, Tensor) {
    let sequences: Vec<&[u32]> = indices.iter().map(|&i| data.sequences[i].as_slice()).collect();
    let labels: Vec<f32> = indices.iter().map(|&i| f32::from(data.labels[i])).collect();
    let targets = ArrayD::from_shape_vec(IxDyn(&[indices.len()]), labels).expect("one label per index");
    (Batch::new(&sequences, maxlen), Tensor::constant(targets))
}

fn count_correct(logits: &ArrayD<f32>, targets: &ArrayD<f32>) -> usize {
    logits.iter().zip(targets).filter(|&(&z, &t)| (z >= 0.0) == (t >= 0.5)).count()
}
