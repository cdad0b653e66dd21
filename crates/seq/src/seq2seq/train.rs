//! Teacher-forced training with Adam, per-epoch checkpoints and resume.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use malmoi_tensor::checkpoint;
use malmoi_tensor::nn::Module;
use malmoi_tensor::optim::{Adam, Optimizer, OptimizerState};
use malmoi_tensor::{clip_grad_norm, no_grad};
use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use super::model::{Padded, Seq2SeqModel};
use super::vocab::{BOS, EOS, PAD};
use crate::batching::{BatchPlan, validation_split};
use crate::error::{Error, Result};
use crate::history::{EpochRecord, History};
use crate::io::write_atomic;

/// How [`fit`] trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Pairs per mini-batch.
    pub batch_size: usize,
    /// Epochs to run in total (a resumed run continues up to this number).
    pub epochs: usize,
    /// Adam's learning rate.
    pub learning_rate: f32,
    /// Gradients are clipped to this global L2 norm.
    pub clip_norm: f32,
    /// Share of the pairs (the last ones, after the caller's shuffle) held out for validation.
    pub validation_split: f64,
    /// Seed of the batch order and dropout.
    pub seed: u64,
    /// Show a progress bar per epoch.
    pub progress: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 64,
            epochs: 10,
            learning_rate: 2e-3,
            clip_norm: 5.0,
            validation_split: 0.05,
            seed: 42,
            progress: true,
        }
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

/// What `state.json` of a checkpoint directory records.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunState {
    config: TrainConfig,
    history: History,
}

/// Trains `model` on `data` with teacher forcing; returns the history (loss and next-symbol
/// accuracy on training and validation pairs per epoch).
///
/// With `checkpoints`, every epoch saves `last.safetensors`, `optimizer.safetensors` and
/// `state.json` there atomically, and a run found there with the same configuration (the epoch
/// budget and progress display aside) resumes after its last completed epoch.
pub fn fit(
    model: &mut Seq2SeqModel,
    data: Pairs<'_>,
    config: &TrainConfig,
    checkpoints: Option<&Path>,
) -> Result<History> {
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
    let mut optimizer = Adam::new(model.named_parameters(), config.learning_rate)?;
    let mut history = History::default();
    if let Some(dir) = checkpoints
        && let Some(state) = load_state(dir, config)?
    {
        checkpoint::load_module(dir.join("last.safetensors"), &*model)?;
        optimizer.load_state(&OptimizerState::load(dir.join("optimizer.safetensors"))?)?;
        history = state.history;
    }
    for epoch in history.epochs.len()..config.epochs {
        let started = Instant::now();
        model.set_training(true);
        let batches = plan.batches(&train, &lengths, epoch)?;
        let (loss, accuracy) = train_epoch(model, &mut optimizer, data, &batches, config, epoch)?;
        model.set_training(false);
        let (val_loss, val_accuracy) =
            if valid.is_empty() { (f64::NAN, f64::NAN) } else { evaluate(model, data, &valid)? };
        let record = EpochRecord {
            loss,
            accuracy,
            val_loss: Some(val_loss),
            val_accuracy: Some(val_accuracy),
            seconds: started.elapsed().as_secs_f64(),
        };
        if config.progress {
            eprintln!(
                "epoch {:>2}: loss {loss:.4} acc {accuracy:.4} · val_loss {val_loss:.4} val_acc {val_accuracy:.4} · {:.1} s",
                epoch + 1,
                record.seconds
            );
        }
        history.push(record);
        if let Some(dir) = checkpoints {
            save_epoch(dir, model, &optimizer, &RunState { config: config.clone(), history: history.clone() })?;
        }
    }
    Ok(history)
}

fn train_epoch(
    model: &Seq2SeqModel,
    optimizer: &mut Adam,
    data: Pairs<'_>,
    batches: &[Vec<usize>],
    config: &TrainConfig,
    epoch: usize,
) -> Result<(f64, f64)> {
    let bar = progress_bar(batches.len(), epoch, config.progress);
    let parameters = model.parameters();
    let (mut loss_sum, mut correct, mut steps) = (0.0, 0usize, 0usize);
    for (index, indices) in batches.iter().enumerate() {
        let (source, target_in, target_out) = data.batch(indices);
        optimizer.zero_grad();
        let (loss, logits) = model.loss(&source, &target_in, &target_out)?;
        let value = loss.item()?;
        if !value.is_finite() {
            return Err(Error::NonFiniteLoss { epoch: epoch + 1, batch: index + 1 });
        }
        loss.backward()?;
        clip_grad_norm(&parameters, config.clip_norm)?;
        optimizer.step()?;
        let counted = count_steps(&target_out);
        loss_sum += f64::from(value) * counted as f64;
        steps += counted;
        correct += count_correct(&logits.data(), &target_out.ids);
        bar.inc(1);
        if index % 20 == 0 {
            bar.set_message(format!("loss {:.4} acc {:.4}", loss_sum / steps as f64, correct as f64 / steps as f64));
        }
    }
    bar.finish_and_clear();
    Ok((loss_sum / steps.max(1) as f64, correct as f64 / steps.max(1) as f64))
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
fn count_correct(logits: &ArrayD<f32>, targets: &ArrayD<usize>) -> usize {
    let classes = *logits.shape().last().expect("class axis");
    let rows = logits.as_slice().expect("row-major logits").chunks(classes);
    rows.zip(targets.iter())
        .filter(|&(row, &target)| {
            target != PAD as usize
                && row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|m| m.0) == Some(target)
        })
        .count()
}

fn load_state(dir: &Path, config: &TrainConfig) -> Result<Option<RunState>> {
    let path = dir.join("state.json");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
    let state: RunState = serde_json::from_str(&text)
        .map_err(|e| Error::InvalidArgument(format!("{}: unreadable run state: {e}", path.display())))?;
    let comparable = |c: &TrainConfig| TrainConfig { epochs: 0, progress: false, ..c.clone() };
    if comparable(&state.config) != comparable(config) {
        return Err(Error::InvalidArgument(format!(
            "{} belongs to a run with another configuration; use a fresh checkpoint directory",
            path.display()
        )));
    }
    Ok(Some(state))
}

fn save_epoch(dir: &Path, model: &Seq2SeqModel, optimizer: &Adam, state: &RunState) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: PathBuf::from(dir), source })?;
    checkpoint::save_module(dir.join("last.safetensors"), model, &Default::default())?;
    optimizer.state().save(dir.join("optimizer.safetensors"))?;
    let json = serde_json::to_string_pretty(state).expect("run state serialises");
    write_atomic(&dir.join("state.json"), json.as_bytes())
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
