//! Language-model training as nanoGPT's `train.py` runs it: random windows of a token
//! stream, AdamW (weight decay on matrices only) with warm-up and cosine decay, gradient
//! clipping, periodic validation loss, and checkpoints from which a stopped run resumes
//! exactly.
//!
//! A checkpoint directory holds `step-N/` folders (the model in Hugging Face's layout, both
//! optimisers' states, `state.json`) and a `LATEST` file naming the newest complete one; a
//! new checkpoint is written in full before `LATEST` is switched to it atomically, so a crash
//! at any moment leaves the previous checkpoint loadable.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use malmoi_tensor::checkpoint::write_atomically;
use malmoi_tensor::nn::Module;
use malmoi_tensor::optim::{Adam, AdamW, Optimizer, OptimizerState, Schedule};
use malmoi_tensor::{clip_grad_norm, no_grad};

use crate::error::{Error, Result};
use crate::gpt::Gpt;

/// The knobs of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Windows per step.
    pub batch_size: usize,
    /// Tokens per window (at most the model's `block_size`).
    pub block_size: usize,
    /// Optimiser steps in the whole run.
    pub max_steps: usize,
    /// Peak learning rate.
    pub learning_rate: f32,
    /// Linear warm-up steps before the cosine decay.
    pub warmup_steps: usize,
    /// The learning rate decays to `learning_rate · min_lr_factor`.
    pub min_lr_factor: f32,
    /// AdamW's decoupled weight decay on weight matrices (not on biases, norms or positions).
    pub weight_decay: f32,
    /// Gradients are clipped to this global norm (0: off).
    pub grad_clip: f32,
    /// Validation (and a checkpoint) every this many steps.
    pub eval_interval: usize,
    /// Validation windows (contiguous, the same every time).
    pub eval_windows: usize,
    /// Seed of the batch sampler.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            batch_size: 32,
            block_size: 64,
            max_steps: 2000,
            learning_rate: 1e-3,
            warmup_steps: 100,
            min_lr_factor: 0.1,
            weight_decay: 0.1,
            grad_clip: 1.0,
            eval_interval: 250,
            eval_windows: 256,
            seed: 1337,
        }
    }
}

/// One logged step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Step number (1-based).
    pub step: usize,
    /// Training loss of the step's batch.
    pub loss: f64,
    /// Learning rate used.
    pub learning_rate: f64,
}

/// One validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// After this many steps.
    pub step: usize,
    /// Mean validation cross-entropy (nats per token).
    pub val_loss: f64,
    /// `exp(val_loss)`.
    pub val_perplexity: f64,
    /// Wall-clock seconds of training so far.
    pub seconds: f64,
}

/// Everything a run logged, kept across resumes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainLog {
    /// Every step.
    pub steps: Vec<StepRecord>,
    /// Every validation.
    pub evals: Vec<EvalRecord>,
}

impl TrainLog {
    /// Writes the loss curves (training loss smoothed over 50 steps, validation loss) as SVG.
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
                let window = &raw[i.saturating_sub(49)..=i];
                (s.step as f64, window.iter().sum::<f64>() / window.len() as f64)
            })
            .collect();
        let val: Vec<(f64, f64)> = self.evals.iter().map(|e| (e.step as f64, e.val_loss)).collect();
        crate::plot::line_charts(
            path,
            "step",
            &[("cross-entropy (nats/token)", vec![("train", &train), ("validation", &val)])],
        )
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct RunState {
    config: TrainConfig,
    step: usize,
    seconds: f64,
    log: TrainLog,
}

/// `batch_size` random windows of `block_size + 1` tokens: inputs and next-token targets.
pub fn sample_batch(
    tokens: &[u32],
    batch_size: usize,
    block_size: usize,
    rng: &mut impl Rng,
) -> (Array2<usize>, Array2<usize>) {
    let starts: Vec<usize> = (0..batch_size).map(|_| rng.random_range(0..tokens.len() - block_size)).collect();
    let x = Array2::from_shape_fn((batch_size, block_size), |(b, t)| tokens[starts[b] + t] as usize);
    let y = Array2::from_shape_fn((batch_size, block_size), |(b, t)| tokens[starts[b] + t + 1] as usize);
    (x, y)
}

/// Mean next-token cross-entropy over up to `max_windows` consecutive windows of `tokens`, in
/// inference mode (the model's mode is restored afterwards).
///
/// # Errors
/// [`Error::Input`] if `tokens` is shorter than one window; forward errors.
pub fn evaluate(model: &mut Gpt, tokens: &[u32], block_size: usize, max_windows: usize) -> Result<f64> {
    let windows = ((tokens.len().saturating_sub(1)) / block_size).min(max_windows);
    if windows == 0 {
        return Err(Error::Input(format!("{} tokens do not fill one window of {block_size}", tokens.len())));
    }
    let was_training = model.is_training();
    model.set_training(false);
    let result = no_grad(|| -> Result<f64> {
        let mut total = 0.0;
        for chunk in (0..windows).collect::<Vec<_>>().chunks(32) {
            let x =
                Array2::from_shape_fn((chunk.len(), block_size), |(b, t)| tokens[chunk[b] * block_size + t] as usize);
            let y = Array2::from_shape_fn((chunk.len(), block_size), |(b, t)| {
                tokens[chunk[b] * block_size + t + 1] as usize
            });
            let (_, loss) = model.forward(&x, Some(&y))?;
            total += loss.expect("targets given").item()? as f64 * chunk.len() as f64;
        }
        Ok(total / windows as f64)
    });
    model.set_training(was_training);
    result
}

/// A checkpoint directory (see the module docs).
#[derive(Debug, Clone)]
pub struct Checkpoints {
    dir: PathBuf,
}

impl Checkpoints {
    /// Checkpoints under `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Checkpoints { dir: dir.into() }
    }

    /// The newest complete checkpoint's folder, if any.
    ///
    /// # Errors
    /// [`Error::Io`] if `LATEST` exists but cannot be read.
    pub fn latest(&self) -> Result<Option<PathBuf>> {
        let pointer = self.dir.join("LATEST");
        match std::fs::read_to_string(&pointer) {
            Ok(name) => Ok(Some(self.dir.join(name.trim()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io { path: pointer, source: e }),
        }
    }

    /// Writes checkpoint `step-{step}/` with `write` (which fills the folder it is given), then
    /// points `LATEST` at it atomically and removes the previous checkpoint. A crash inside
    /// `write` leaves `LATEST` on the previous, complete checkpoint. Any trainer can keep its
    /// checkpoints this way; `write` may return its own error type.
    ///
    /// # Errors
    /// `write`'s errors; [`Error::Io`] for the pointer or the removal of the old folder.
    pub fn commit<E: From<Error>>(
        &self,
        step: usize,
        write: impl FnOnce(&Path) -> std::result::Result<(), E>,
    ) -> std::result::Result<PathBuf, E> {
        let name = format!("step-{step}");
        let folder = self.dir.join(&name);
        std::fs::create_dir_all(&folder).map_err(|e| E::from(Error::io(&folder)(e)))?;
        write(&folder)?;
        let previous = self.latest()?;
        write_atomically(&self.dir.join("LATEST"), name.as_bytes()).map_err(|e| E::from(Error::from(e)))?;
        if let Some(previous) = previous.filter(|p| *p != folder) {
            std::fs::remove_dir_all(&previous).map_err(|e| E::from(Error::io(&previous)(e)))?;
        }
        Ok(folder)
    }

    fn save(&self, model: &Gpt, optimizers: &[&dyn Optimizer], state: &RunState) -> Result<()> {
        self.commit(state.step, |folder| -> Result<()> {
            model.save_pretrained(folder)?;
            for (i, optimizer) in optimizers.iter().enumerate() {
                optimizer.state().save(folder.join(format!("optimizer-{i}.safetensors")))?;
            }
            let json = serde_json::to_string(state).expect("plain data");
            write_atomically(&folder.join("state.json"), json.as_bytes())?;
            Ok(())
        })?;
        Ok(())
    }
}

/// How one session of a run behaves (none of it changes the result).
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions<'a> {
    /// Save at each validation, and resume from the newest checkpoint first.
    pub checkpoints: Option<&'a Checkpoints>,
    /// Show a progress bar.
    pub progress: bool,
    /// End this session (with a checkpoint) once this step is done; a later call resumes.
    pub stop_at_step: Option<usize>,
}

/// Trains `model` on `train_tokens`, validating on `val_tokens` every `eval_interval` steps and
/// at the end. With checkpoints it saves at each validation and first resumes from the newest
/// checkpoint (which must come from the same config). Returns the log of the whole run so far,
/// resumed parts included.
///
/// # Errors
/// [`Error::Config`] for a block longer than the model's context, or a checkpoint from another
/// config; [`Error::Input`] for too little data; [`Error::NonFinite`] for a NaN loss (the
/// last checkpoint is left as it was); I/O errors.
pub fn train(
    model: &mut Gpt,
    train_tokens: &[u32],
    val_tokens: &[u32],
    config: &TrainConfig,
    options: RunOptions,
) -> Result<TrainLog> {
    let RunOptions { checkpoints, progress, stop_at_step } = options;
    if config.block_size == 0 || config.block_size > model.config().block_size || config.batch_size == 0 {
        return Err(Error::Config(format!(
            "batch {} × block {} must be positive and the block at most the model's {}",
            config.batch_size,
            config.block_size,
            model.config().block_size
        )));
    }
    if train_tokens.len() <= config.block_size + 1 {
        return Err(Error::Input(format!("{} training tokens do not fill one window", train_tokens.len())));
    }
    let (mut decay, mut no_decay) = optimizers(model, config)?;
    let mut state = RunState { config: config.clone(), step: 0, seconds: 0.0, log: TrainLog::default() };
    if let Some(folder) = checkpoints.map(Checkpoints::latest).transpose()?.flatten() {
        state = resume(model, &mut decay, &mut no_decay, &folder, config)?;
    }
    let schedule = Schedule::warmup_cosine(config.warmup_steps, config.max_steps, config.min_lr_factor)?;
    let bar = progress_bar(config.max_steps, state.step, progress);
    let started = std::time::Instant::now();
    let seconds_before = state.seconds;
    model.set_training(true);
    while state.step < config.max_steps {
        let lr = schedule.learning_rate(config.learning_rate, state.step);
        // Each step's batch depends only on the seed and the step, so a resumed run sees the
        // batches the uninterrupted one would have.
        let mut rng = StdRng::seed_from_u64(config.seed ^ (state.step as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let (x, y) = sample_batch(train_tokens, config.batch_size, config.block_size, &mut rng);
        decay.zero_grad();
        no_decay.zero_grad();
        let (_, loss) = model.forward(&x, Some(&y))?;
        let loss = loss.expect("targets given");
        loss.backward()?;
        if config.grad_clip > 0.0 {
            clip_grad_norm(&model.parameters(), config.grad_clip)?;
        }
        for optimizer in [&mut decay, &mut no_decay] {
            optimizer.set_learning_rate(lr);
            optimizer.step()?;
        }
        state.step += 1;
        let loss = loss.item()? as f64;
        state.log.steps.push(StepRecord { step: state.step, loss, learning_rate: lr as f64 });
        bar.set_position(state.step as u64);
        bar.set_message(format!("loss {loss:.3}"));
        let stopping = stop_at_step == Some(state.step);
        if state.step.is_multiple_of(config.eval_interval.max(1)) || state.step == config.max_steps || stopping {
            state.seconds = seconds_before + started.elapsed().as_secs_f64();
            let val_loss = evaluate(model, val_tokens, config.block_size, config.eval_windows)?;
            let record =
                EvalRecord { step: state.step, val_loss, val_perplexity: val_loss.exp(), seconds: state.seconds };
            bar.suspend(|| {
                eprintln!("step {}: val loss {val_loss:.4} (perplexity {:.1})", state.step, record.val_perplexity)
            });
            state.log.evals.push(record);
            if let Some(checkpoints) = checkpoints {
                checkpoints.save(model, &[&decay, &no_decay], &state)?;
            }
        }
        if stopping {
            break;
        }
    }
    bar.finish_and_clear();
    model.set_training(false);
    Ok(state.log)
}

fn optimizers(model: &Gpt, config: &TrainConfig) -> Result<(Adam, Adam)> {
    optimizer_groups(model.named_parameters(), config.learning_rate, config.weight_decay)
}

/// nanoGPT's optimiser split: AdamW with `weight_decay` over the weight matrices and embeddings,
/// plain Adam over biases and norms, both with betas (0.9, 0.95).
///
/// # Errors
/// [`Error::Tensor`] for an invalid learning rate or decay.
pub fn optimizer_groups(
    params: Vec<(String, malmoi_tensor::Tensor)>,
    learning_rate: f32,
    weight_decay: f32,
) -> Result<(Adam, Adam)> {
    let (matrices, vectors): (Vec<_>, Vec<_>) = params.into_iter().partition(|(_, p)| p.ndim() >= 2);
    let decay = AdamW::new(matrices, learning_rate)?.with_betas(0.9, 0.95, 1e-8)?.with_weight_decay(weight_decay)?;
    let no_decay = Adam::new(vectors, learning_rate)?.with_betas(0.9, 0.95, 1e-8)?;
    Ok((decay, no_decay))
}

fn resume(
    model: &mut Gpt,
    decay: &mut Adam,
    no_decay: &mut Adam,
    folder: &Path,
    config: &TrainConfig,
) -> Result<RunState> {
    let state_path = folder.join("state.json");
    let text = std::fs::read_to_string(&state_path).map_err(Error::io(&state_path))?;
    let state: RunState = serde_json::from_str(&text).map_err(Error::json(&state_path))?;
    if state.config != *config {
        return Err(Error::Config(format!("{} was written by a run with another config", folder.display())));
    }
    let saved = Gpt::from_pretrained(folder)?;
    if saved.config() != model.config() {
        return Err(Error::Config(format!("{} holds a model of another shape", folder.display())));
    }
    for ((_, target), (_, source)) in model.named_parameters().iter().zip(saved.named_parameters()) {
        target.set_data(source.to_array())?;
    }
    decay.load_state(&OptimizerState::load(folder.join("optimizer-0.safetensors"))?)?;
    no_decay.load_state(&OptimizerState::load(folder.join("optimizer-1.safetensors"))?)?;
    Ok(state)
}

fn progress_bar(steps: usize, done: usize, visible: bool) -> ProgressBar {
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
