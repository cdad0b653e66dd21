//! The one supervised training loop that SFT, the reward model and DPO share: length-bucketed
//! batches, AdamW with warm-up and cosine decay, clipping, held-out evaluation (before the first
//! step too, so every curve starts at the untuned model), progress, and crash-safe checkpoints
//! from which a stopped run resumes exactly.
//!
//! What differs between the three is an [`Objective`]: its parameters, the loss of a batch and
//! the held-out metrics.

use std::collections::BTreeMap;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use malmoi_tensor::optim::{Optimizer, Schedule};
use malmoi_tensor::{Tensor, clip_grad_norm};
use malmoi_transformer::train::{Checkpoints, RunOptions, optimizer_groups};

use crate::checkpoint;
pub use crate::checkpoint::save_parameters;
use crate::error::{Error, Result};

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
    /// Linear warm-up steps before the cosine decay.
    pub warmup_steps: usize,
    /// The learning rate decays to `learning_rate · min_lr_factor`.
    pub min_lr_factor: f32,
    /// AdamW's weight decay on matrices.
    pub weight_decay: f32,
    /// Global gradient-norm clip (0: off).
    pub grad_clip: f32,
    /// Held-out evaluation (and a checkpoint) every this many steps, and at the end.
    pub eval_interval: usize,
    /// Seed of the batch order.
    pub seed: u64,
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
        }
    }
}

/// What a trainer optimises.
pub trait Objective {
    /// One training example.
    type Example;
    /// The trained parameters, by stable name (checkpoints store them under these names).
    fn parameters(&self) -> Vec<(String, Tensor)>;
    /// Switches dropout on or off.
    fn set_training(&mut self, training: bool);
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
    fn evaluate(&self, examples: &[Self::Example]) -> Result<BTreeMap<String, f64>>;
}

/// One optimisation step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitStep {
    /// Step number (1-based).
    pub step: usize,
    /// The batch's loss.
    pub loss: f64,
    /// Learning rate used.
    pub learning_rate: f64,
}

/// One held-out evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitEval {
    /// After this many steps (0: before training).
    pub step: usize,
    /// The objective's metrics.
    pub metrics: BTreeMap<String, f64>,
}

/// Everything a run logged, kept across resumes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FitLog {
    /// Every step.
    pub steps: Vec<FitStep>,
    /// Every evaluation.
    pub evals: Vec<FitEval>,
}

impl FitLog {
    /// The first and last value of a held-out metric.
    pub fn first_and_last(&self, metric: &str) -> Option<(f64, f64)> {
        let values: Vec<f64> = self.evals.iter().filter_map(|e| e.metrics.get(metric).copied()).collect();
        Some((*values.first()?, *values.last()?))
    }

    /// Draws the training loss (smoothed over 20 steps) and each held-out metric as SVG panels.
    ///
    /// # Errors
    /// Drawing and write errors.
    pub fn plot(&self, path: &Path) -> Result<()> {
        let raw: Vec<f64> = self.steps.iter().map(|s| s.loss).collect();
        let train: Vec<(f64, f64)> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let window = &raw[i.saturating_sub(19)..=i];
                (s.step as f64, window.iter().sum::<f64>() / window.len() as f64)
            })
            .collect();
        let names: Vec<&String> = self.evals.first().map(|e| e.metrics.keys().collect()).unwrap_or_default();
        let held_out: Vec<(String, Vec<(f64, f64)>)> = names
            .iter()
            .map(|name| {
                let points = self.evals.iter().filter_map(|e| Some((e.step as f64, *e.metrics.get(*name)?))).collect();
                (format!("held-out {name}"), points)
            })
            .collect();
        let mut panels = vec![("training loss", vec![("train", train.as_slice())])];
        panels.extend(held_out.iter().map(|(title, points)| (title.as_str(), vec![("held-out", points.as_slice())])));
        Ok(malmoi_transformer::plot::line_charts(path, "step", &panels)?)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct FitState {
    config: FitConfig,
    step: usize,
    log: FitLog,
}

/// Trains `objective` on `train`, evaluating on `held_out` before the first step, every
/// `eval_interval` steps and at the end. With checkpoints it saves at each evaluation and first
/// resumes from the newest one (which must come from the same config).
///
/// # Errors
/// [`Error::Input`] for no training examples or a zero batch size; [`Error::NonFinite`] for a
/// NaN or infinite loss or metric (the last checkpoint is kept); model and I/O errors.
pub fn fit<O: Objective>(
    objective: &mut O,
    train: &[O::Example],
    held_out: &[O::Example],
    config: &FitConfig,
    options: RunOptions,
) -> Result<FitLog> {
    if train.is_empty() || config.batch_size == 0 || config.epochs == 0 {
        return Err(Error::Input(format!(
            "{} training examples, batch size {}, {} epochs: nothing to train",
            train.len(),
            config.batch_size,
            config.epochs
        )));
    }
    let batches = buckets(objective, train, config.batch_size);
    let total = batches.len() * config.epochs;
    let (mut decay, mut no_decay) =
        optimizer_groups(objective.parameters(), config.learning_rate, config.weight_decay)?;
    let mut state = FitState { config: config.clone(), step: 0, log: FitLog::default() };
    match options.checkpoints.map(Checkpoints::latest).transpose()?.flatten() {
        Some(folder) => state = resume(objective, [&mut decay, &mut no_decay], &folder, config)?,
        None => state.log.evals.push(evaluation(objective, held_out, 0)?),
    }
    let schedule = Schedule::warmup_cosine(config.warmup_steps.min(total), total, config.min_lr_factor)?;
    let bar = progress_bar(total, state.step, options.progress);
    while state.step < total {
        let (epoch, index) = (state.step / batches.len(), state.step % batches.len());
        let batch: Vec<&O::Example> =
            epoch_order(&batches, config.seed, epoch)[index].iter().map(|&i| &train[i]).collect();
        let lr = schedule.learning_rate(config.learning_rate, state.step);
        objective.set_training(true);
        decay.zero_grad();
        no_decay.zero_grad();
        let loss = objective.loss(&batch)?;
        let value = loss.item()? as f64;
        if !value.is_finite() {
            return Err(Error::NonFinite { what: "loss".into(), step: state.step + 1 });
        }
        loss.backward()?;
        if config.grad_clip > 0.0 {
            let params: Vec<Tensor> = objective.parameters().into_iter().map(|(_, p)| p).collect();
            clip_grad_norm(&params, config.grad_clip)?;
        }
        for optimizer in [&mut decay, &mut no_decay] {
            optimizer.set_learning_rate(lr);
            optimizer.step()?;
        }
        state.step += 1;
        state.log.steps.push(FitStep { step: state.step, loss: value, learning_rate: lr as f64 });
        bar.set_position(state.step as u64);
        bar.set_message(format!("loss {value:.4}"));
        let stopping = options.stop_at_step == Some(state.step);
        if state.step.is_multiple_of(config.eval_interval.max(1)) || state.step == total || stopping {
            let record = evaluation(objective, held_out, state.step)?;
            bar.suspend(|| eprintln!("step {}: {}", state.step, describe(&record.metrics)));
            state.log.evals.push(record);
            if let Some(checkpoints) = options.checkpoints {
                save(checkpoints, objective, [&decay, &no_decay], &state)?;
            }
        }
        if stopping {
            break;
        }
    }
    bar.finish_and_clear();
    objective.set_training(false);
    Ok(state.log)
}

/// `name value` pairs on one line.
pub fn describe(metrics: &BTreeMap<String, f64>) -> String {
    metrics.iter().map(|(name, value)| format!("{name} {value:.4}")).collect::<Vec<_>>().join(", ")
}

fn evaluation<O: Objective>(objective: &mut O, held_out: &[O::Example], step: usize) -> Result<FitEval> {
    objective.set_training(false);
    let metrics = if held_out.is_empty() { BTreeMap::new() } else { objective.evaluate(held_out)? };
    if let Some((name, _)) = metrics.iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite { what: format!("held-out {name}"), step });
    }
    Ok(FitEval { step, metrics })
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

fn save<O: Objective>(
    checkpoints: &Checkpoints,
    objective: &O,
    optimizers: [&dyn Optimizer; 2],
    state: &FitState,
) -> Result<()> {
    checkpoint::save(checkpoints, state.step, &objective.parameters(), &optimizers, state)
}

fn resume<O: Objective>(
    objective: &mut O,
    mut optimizers: [&mut dyn Optimizer; 2],
    folder: &Path,
    config: &FitConfig,
) -> Result<FitState> {
    let state: FitState = checkpoint::read_state(folder)?;
    if state.config != *config {
        return Err(checkpoint::other_config(folder));
    }
    checkpoint::load_weights(folder, &objective.parameters(), &mut optimizers)?;
    Ok(state)
}

/// A progress bar over `steps` (hidden unless `visible`).
pub(crate) fn progress_bar(steps: usize, done: usize, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(steps as u64).with_position(done as u64);
    let style = ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps {msg} (eta {eta})")
        .expect("valid template")
        .progress_chars("=> ");
    bar.set_style(style);
    bar
}
