//! The training loop: seeded batches, RMSprop, validation, early stopping, checkpoints, resume.

use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use malmoi_tensor::checkpoint;
use malmoi_tensor::nn::Module;
use malmoi_tensor::optim::{Optimizer, OptimizerState, RmsProp};
use malmoi_tensor::{Tensor, no_grad};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

use super::model::{Batch, SentimentModel};
use crate::batching::{BatchPlan, validation_split};
use crate::early_stopping::{EarlyStopping, Monitor, Verdict};
use crate::error::{Error, Result};
use crate::history::{EpochRecord, History};
use crate::io::write_atomic;
use crate::metrics::ConfusionMatrix;

/// How [`fit`] trains; the defaults are the lecture's.
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
    /// Show a progress bar per epoch.
    pub progress: bool,
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
            progress: true,
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

/// Where a run's checkpoints live: `best.safetensors` (the best epoch's weights) and, for
/// resuming, `last.safetensors`, `optimizer.safetensors` and `state.json`.
#[derive(Debug, Clone)]
pub struct CheckpointDir(pub PathBuf);

/// What `state.json` records, so an interrupted run continues where it stopped.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunState {
    config: TrainConfig,
    history: History,
    stopping: EarlyStopping,
    finished: bool,
}

impl CheckpointDir {
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn load_state(&self, config: &TrainConfig) -> Result<Option<RunState>> {
        let path = self.path("state.json");
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
        let state: RunState = serde_json::from_str(&text)
            .map_err(|e| Error::InvalidArgument(format!("{}: unreadable run state: {e}", path.display())))?;
        if !same_run(&state.config, config) {
            return Err(Error::InvalidArgument(format!(
                "{} belongs to a run with another configuration; use a fresh checkpoint directory",
                path.display()
            )));
        }
        Ok(Some(state))
    }

    fn save_epoch(&self, model: &SentimentModel, optimizer: &RmsProp, state: &RunState, improved: bool) -> Result<()> {
        std::fs::create_dir_all(&self.0).map_err(|source| Error::Io { path: self.0.clone(), source })?;
        let metadata = Default::default();
        if improved {
            checkpoint::save_module(self.path("best.safetensors"), model, &metadata)?;
        }
        checkpoint::save_module(self.path("last.safetensors"), model, &metadata)?;
        optimizer.state().save(self.path("optimizer.safetensors"))?;
        let json = serde_json::to_string_pretty(state).expect("run state serialises");
        write_atomic(&self.path("state.json"), json.as_bytes())
    }
}

/// Whether a checkpoint made under `saved` may be continued under `requested`: everything but
/// the epoch budget and the progress display must agree.
fn same_run(saved: &TrainConfig, requested: &TrainConfig) -> bool {
    let comparable = |c: &TrainConfig| TrainConfig { max_epochs: 0, progress: false, ..c.clone() };
    comparable(saved) == comparable(requested)
}

/// Trains `model` on `data` with RMSprop and early stopping on validation loss; returns the
/// history and leaves the best epoch's weights in the model, in inference mode (also when an
/// epoch fails).
///
/// With a checkpoint directory every epoch is saved atomically and a run that was stopped
/// resumes from its last completed epoch when called again with the same configuration.
pub fn fit(
    model: &mut SentimentModel,
    data: Labeled<'_>,
    config: &TrainConfig,
    checkpoints: Option<&CheckpointDir>,
) -> Result<History> {
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
    let mut optimizer = RmsProp::new(model.named_parameters())?.with_learning_rate(config.learning_rate)?;
    let mut state = RunState {
        config: config.clone(),
        history: History::default(),
        stopping: EarlyStopping::new(Monitor::ValLoss, config.patience),
        finished: false,
    };
    if let Some(resumed) = checkpoints.map(|dir| dir.load_state(config)).transpose()?.flatten() {
        let dir = checkpoints.expect("resumed from a directory");
        checkpoint::load_module(dir.path("last.safetensors"), &*model)?;
        optimizer.load_state(&OptimizerState::load(dir.path("optimizer.safetensors"))?)?;
        state = RunState { config: config.clone(), ..resumed };
    }
    let mut best = snapshot(model);
    for epoch in state.history.epochs.len()..config.max_epochs {
        if state.finished {
            break;
        }
        let started = Instant::now();
        let batches = plan.batches(&train, &lengths, epoch)?;
        model.set_training(true);
        let trained = train_epoch(model, &mut optimizer, data, &batches, config, epoch);
        model.set_training(false);
        let (loss, accuracy) = trained?;
        let (val_loss, val) = if valid.is_empty() {
            (f64::NAN, ConfusionMatrix::default())
        } else {
            evaluate(model, data, &valid, config.maxlen)?
        };
        let record = EpochRecord {
            loss,
            accuracy,
            val_loss: Some(val_loss),
            val_accuracy: Some(val.accuracy()),
            seconds: started.elapsed().as_secs_f64(),
        };
        if config.progress {
            eprintln!(
                "epoch {:>2}: loss {loss:.4} acc {:.4} · val_loss {val_loss:.4} val_acc {:.4} · {:.1} s",
                epoch + 1,
                accuracy,
                val.accuracy(),
                record.seconds
            );
        }
        let verdict = state.stopping.observe_record(&record);
        state.history.push(record);
        state.finished = verdict == Verdict::Stop;
        if verdict == Verdict::Improved {
            best = snapshot(model);
        }
        if let Some(dir) = checkpoints {
            dir.save_epoch(model, &optimizer, &state, verdict == Verdict::Improved)?;
        }
    }
    if let Some(dir) = checkpoints.filter(|dir| dir.path("best.safetensors").exists()) {
        checkpoint::load_module(dir.path("best.safetensors"), &*model)?;
    } else {
        restore(model, &best)?;
    }
    Ok(state.history)
}

fn train_epoch(
    model: &SentimentModel,
    optimizer: &mut RmsProp,
    data: Labeled<'_>,
    batches: &[Vec<usize>],
    config: &TrainConfig,
    epoch: usize,
) -> Result<(f64, f64)> {
    let bar = progress_bar(batches.len(), epoch, config.progress);
    let (mut loss_sum, mut seen, mut correct) = (0.0, 0usize, 0usize);
    for (step, indices) in batches.iter().enumerate() {
        let (batch, targets) = gather(data, indices, config.maxlen);
        optimizer.zero_grad();
        let logits = model.logits(&batch)?;
        let loss = logits.binary_cross_entropy_with_logits(&targets)?;
        let value = loss.item()?;
        if !value.is_finite() {
            return Err(Error::NonFiniteLoss { epoch: epoch + 1, batch: step + 1 });
        }
        loss.backward()?;
        optimizer.step()?;
        loss_sum += f64::from(value) * indices.len() as f64;
        seen += indices.len();
        correct += count_correct(&logits.data(), &targets.data());
        bar.inc(1);
        if step % 50 == 0 {
            bar.set_message(format!("loss {:.4} acc {:.4}", loss_sum / seen as f64, correct as f64 / seen as f64));
        }
    }
    bar.finish_and_clear();
    Ok((loss_sum / seen as f64, correct as f64 / seen as f64))
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

fn progress_bar(len: usize, epoch: usize, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    let style =
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({eta})").expect("valid template");
    bar.set_style(style.progress_chars("=> "));
    bar.set_prefix((epoch + 1).to_string());
    bar
}

fn snapshot(model: &SentimentModel) -> Vec<ArrayD<f32>> {
    model.parameters().iter().map(Tensor::to_array).collect()
}

fn restore(model: &SentimentModel, values: &[ArrayD<f32>]) -> Result<()> {
    for (param, value) in model.parameters().iter().zip(values) {
        param.set_data(value.clone())?;
    }
    Ok(())
}
