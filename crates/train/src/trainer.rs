//! The one learner loop under every model: schedule, steps, periodic held-out evaluation,
//! early stopping, a time budget, a NaN guard, progress, and folder-atomic checkpoints from which
//! a stopped run resumes exactly.

use std::path::Path;
use std::time::{Duration, Instant};

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use malmoi_tensor::Tensor;
use malmoi_tensor::optim::{Optimizer, OptimizerState};

use crate::checkpoint::{Checkpoints, load_parameters, save_parameters};
use crate::config::TrainConfig;
use crate::early_stopping::{EarlyStopping, Verdict};
use crate::error::{Error, Result};
use crate::log::{EvalRecord, StepRecord, TrainLog};
use crate::step::{TrainStep, Update};
use malmoi_fs::progress;

const PARAMETERS: &str = "parameters.safetensors";
const BEST: &str = "best.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";
const STATE: &str = "state.json";
const LOG: &str = "log.jsonl";

/// Runs a [`TrainStep`] under a [`TrainConfig`]; how this session runs (checkpoints, progress,
/// where to stop) does not change the result.
///
/// A checkpoint folder `step-N/` holds `parameters.safetensors`, `optimizer.safetensors`,
/// `state.json` (config, step, seconds, early-stopping state, the step's settings and state),
/// `log.jsonl` and, with early stopping, `best.safetensors`. A run that finds a checkpoint
/// resumes from it, and must have the same config and step settings.
///
/// ```
/// use malmoi_tensor::optim::Sgd;
/// use malmoi_tensor::{Tensor, nn::{Linear, Module}};
/// use malmoi_train::{Metrics, StepOutput, TrainConfig, TrainStep, Trainer, Update};
/// use malmoi_tensor::VarBuilder;
/// use ndarray::array;
///
/// /// Fits y = 2x − 1.
/// struct Line(Linear);
///
/// impl Line {
///     fn loss(&self) -> Result<Tensor, malmoi_train::Error> {
///         let x = Tensor::constant(array![[0.0_f32], [1.0], [2.0]].into_dyn());
///         let y = Tensor::constant(array![[-1.0_f32], [1.0], [3.0]].into_dyn());
///         Ok(self.0.forward(&x)?.mse_loss(&y)?)
///     }
/// }
///
/// impl TrainStep for Line {
///     type Error = malmoi_train::Error;
///     fn model(&mut self) -> &mut dyn Module { &mut self.0 }
///     fn train_step(&mut self, _: usize, _: u64, update: &mut Update<'_>) -> malmoi_train::Result<StepOutput> {
///         Ok(StepOutput::loss(update.apply(&self.loss()?)?))
///     }
///     fn evaluate(&mut self) -> malmoi_train::Result<Metrics> {
///         Ok(Metrics::from([("loss".into(), f64::from(self.loss()?.item()?))]))
///     }
/// }
///
/// let mut model = Line(Linear::new(1, 1, true, VarBuilder::fresh(0))?);
/// let mut sgd = Sgd::new(model.0.named_parameters(), 0.1)?;
/// let config = TrainConfig { max_steps: 200, learning_rate: 0.1, eval_interval: 50, ..Default::default() };
/// let log = Trainer::new(config).fit(&mut model, &mut sgd)?;
/// assert_eq!(log.evals.len(), 4);
/// assert!(log.last_eval().unwrap().metrics["val_loss"] < 1e-4);
/// # Ok::<(), malmoi_train::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Trainer {
    config: TrainConfig,
    session: Session,
    early_stopping: Option<EarlyStopping>,
}

/// How one session of a run behaves; none of it changes the run's result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Session {
    /// Save at each evaluation, and resume from the newest checkpoint first.
    pub checkpoints: Option<Checkpoints>,
    /// Show a progress bar and a line per evaluation on stderr.
    pub progress: bool,
    /// End this session (with an evaluation and a checkpoint) once this step is done; a later
    /// session resumes.
    pub stop_at_step: Option<usize>,
    /// End this session (with an evaluation and a checkpoint) after the first step that
    /// finishes past this much wall-clock time.
    pub time_budget: Option<Duration>,
}

impl Session {
    /// A session that keeps checkpoints in `dir` and shows progress.
    pub fn checkpointed(dir: impl Into<std::path::PathBuf>) -> Self {
        Session { checkpoints: Some(Checkpoints::new(dir)), progress: true, ..Session::default() }
    }
}

/// What `state.json` keeps besides the tensors and the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunState {
    config: TrainConfig,
    step: usize,
    seconds: f64,
    early_stopping: Option<EarlyStopping>,
    finished: bool,
    /// [`TrainStep::settings`].
    #[serde(default)]
    settings: serde_json::Value,
    step_state: serde_json::Value,
}

/// A run in progress: its state, its log and the best weights so far.
struct Run {
    state: RunState,
    log: TrainLog,
    best: Option<Vec<ArrayD<f32>>>,
}

impl Trainer {
    /// A trainer for `config`, without checkpoints or progress bar.
    pub fn new(config: TrainConfig) -> Self {
        Trainer { config, session: Session::default(), early_stopping: None }
    }

    /// The run's config.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Runs this session as `session` says.
    pub fn with_session(mut self, session: Session) -> Self {
        self.session = session;
        self
    }

    /// Stops the run when the watched metric stops improving, and leaves the best evaluated
    /// weights in the model at the end (Keras' `restore_best_weights`).
    pub fn with_early_stopping(mut self, early_stopping: Option<EarlyStopping>) -> Self {
        self.early_stopping = early_stopping;
        self
    }

    /// Trains `model` with `optimizer` (which must own the model's parameters), resuming from the
    /// newest checkpoint if there is one. Returns the log of the whole run so far, resumed parts
    /// included; the model is left in inference mode.
    ///
    /// # Errors
    /// [`Error::Config`] for a config that cannot train or a checkpoint from another config;
    /// [`Error::NonFinite`] for a NaN loss or metric (the last checkpoint stays as it was);
    /// the step's and I/O errors.
    pub fn fit<S: TrainStep>(&self, model: &mut S, optimizer: &mut dyn Optimizer) -> Result<TrainLog, S::Error> {
        let schedule = self.config.lr_schedule()?;
        let named = model.model().named_parameters();
        let tensors: Vec<Tensor> = named.iter().map(|(_, t)| t.clone()).collect();
        let mut run = self.start(model, &named, optimizer)?;
        let bar = progress::bar(self.config.max_steps as u64, run.state.step as u64, "steps", self.session.progress);
        let (started, seconds_before) = (Instant::now(), run.state.seconds);
        while run.state.step < self.config.max_steps && !run.state.finished {
            let step = run.state.step;
            let learning_rate = schedule.learning_rate(self.config.learning_rate, step);
            optimizer.set_learning_rate(learning_rate);
            model.model().set_training(true);
            let mut update =
                Update { optimizer: &mut *optimizer, params: &tensors, grad_clip: self.config.grad_clip, step };
            let output = model.train_step(step, self.config.step_seed(step), &mut update)?;
            run.state.step += 1;
            let record = StepRecord {
                step: run.state.step,
                loss: output.loss,
                learning_rate: f64::from(learning_rate),
                metrics: output.metrics,
            };
            bar.set_position(record.step as u64);
            bar.set_message(format!("loss {:.4}", record.loss));
            run.log.steps.push(record);
            let scheduled =
                run.state.step.is_multiple_of(self.config.eval_interval) || run.state.step == self.config.max_steps;
            // A session that ends between evaluations only saves: evaluating there would add a
            // record, and an early-stopping verdict, that the uninterrupted run never makes.
            let stopping = self.session.stop_at_step == Some(run.state.step)
                || self.session.time_budget.is_some_and(|budget| started.elapsed() >= budget);
            run.state.seconds = seconds_before + started.elapsed().as_secs_f64();
            if scheduled {
                self.evaluate(model, &named, &mut run)?;
                bar.suspend(|| self.report(&run.log));
            }
            if scheduled || stopping {
                self.save(model, &named, &*optimizer, &run)?;
            }
            if stopping {
                break;
            }
        }
        bar.finish_and_clear();
        model.model().set_training(false);
        let done = run.state.finished || run.state.step == self.config.max_steps;
        if let Some(best) = run.best.as_ref().filter(|_| done) {
            restore(&named, best)?;
        }
        Ok(run.log)
    }

    /// A fresh run (evaluated at step 0 if the config asks), or the newest checkpoint's.
    fn start<S: TrainStep>(
        &self,
        model: &mut S,
        named: &[(String, Tensor)],
        optimizer: &mut dyn Optimizer,
    ) -> Result<Run, S::Error> {
        if let Some(folder) = self.session.checkpoints.as_ref().map(Checkpoints::latest).transpose()?.flatten() {
            return self.resume(model, named, optimizer, &folder);
        }
        let state = RunState {
            config: self.config.clone(),
            step: 0,
            seconds: 0.0,
            early_stopping: self.early_stopping.clone(),
            finished: false,
            settings: model.settings(),
            step_state: serde_json::Value::Null,
        };
        let mut run = Run { state, log: TrainLog::default(), best: None };
        if self.config.eval_at_start {
            self.evaluate(model, named, &mut run)?;
        }
        Ok(run)
    }

    fn resume<S: TrainStep>(
        &self,
        model: &mut S,
        named: &[(String, Tensor)],
        optimizer: &mut dyn Optimizer,
        folder: &Path,
    ) -> Result<Run, S::Error> {
        let path = folder.join(STATE);
        let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
        let mut state: RunState =
            serde_json::from_str(&text).map_err(|e| Error::Json { path: path.clone(), reason: e.to_string() })?;
        if state.config != self.config || state.settings != model.settings() {
            return Err(Error::Config(format!(
                "{} was written by a run with another config: {} {}",
                folder.display(),
                serde_json::to_string(&state.config).unwrap_or_default(),
                state.settings
            ))
            .into());
        }
        if state.early_stopping.as_ref().map(EarlyStopping::metric)
            != self.early_stopping.as_ref().map(EarlyStopping::metric)
        {
            return Err(Error::Config(format!("{} was written with other early stopping", folder.display())).into());
        }
        load_parameters(&folder.join(PARAMETERS), named)?;
        optimizer
            .load_state(&OptimizerState::load(folder.join(OPTIMIZER)).map_err(Error::from)?)
            .map_err(Error::from)?;
        model.load_state(std::mem::take(&mut state.step_state))?;
        let best = match folder.join(BEST) {
            best if best.exists() => Some(read_snapshot(&best, named)?),
            _ => None,
        };
        Ok(Run { state, log: TrainLog::read_jsonl(&folder.join(LOG))?, best })
    }

    /// Evaluates in inference mode and logs the held-out metrics as `val_<name>` beside the
    /// training means since the previous evaluation (Keras' epoch record), then lets early
    /// stopping judge them.
    fn evaluate<S: TrainStep>(&self, model: &mut S, named: &[(String, Tensor)], run: &mut Run) -> Result<(), S::Error> {
        let step = run.state.step;
        model.model().set_training(false);
        let previous = run.log.evals.last().map_or(0, |e| e.step);
        let mut metrics = if step > previous { run.log.train_means(previous) } else { Default::default() };
        metrics.extend(model.evaluate()?.into_iter().map(|(name, value)| (format!("val_{name}"), value)));
        if let Some((name, _)) = metrics.iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite { what: format!("held-out {name}"), step }.into());
        }
        if let Some(stopping) = run.state.early_stopping.as_mut() {
            let value = *metrics.get(stopping.metric()).ok_or_else(|| {
                Error::Config(format!(
                    "early stopping watches {:?}, which the evaluation does not report",
                    stopping.metric()
                ))
            })?;
            match stopping.observe(value) {
                Verdict::Improved => run.best = Some(named.iter().map(|(_, t)| t.to_array()).collect()),
                Verdict::Stop => run.state.finished = true,
                Verdict::Continue => {}
            }
        }
        run.log.evals.push(EvalRecord { step, seconds: run.state.seconds, metrics });
        Ok(())
    }

    fn report(&self, log: &TrainLog) {
        if let (true, Some(record)) = (self.session.progress, log.last_eval()) {
            let metrics: Vec<String> =
                record.metrics.iter().map(|(name, value)| format!("{name} {value:.4}")).collect();
            eprintln!("step {}: {}", record.step, metrics.join(", "));
        }
    }

    fn save<S: TrainStep>(
        &self,
        model: &S,
        named: &[(String, Tensor)],
        optimizer: &dyn Optimizer,
        run: &Run,
    ) -> Result<(), S::Error> {
        let Some(checkpoints) = &self.session.checkpoints else { return Ok(()) };
        let state = RunState { step_state: model.state(), ..run.state.clone() };
        checkpoints.commit(run.state.step, |folder| -> Result<()> {
            save_parameters(&folder.join(PARAMETERS), named)?;
            if let Some(best) = &run.best {
                let best: Vec<(String, Tensor)> = named
                    .iter()
                    .zip(best)
                    .map(|((name, _), value)| (name.clone(), Tensor::constant(value.clone())))
                    .collect();
                save_parameters(&folder.join(BEST), &best)?;
            }
            optimizer.state().save(folder.join(OPTIMIZER))?;
            let json = serde_json::to_string(&state)
                .map_err(|e| Error::Json { path: folder.join(STATE), reason: e.to_string() })?;
            malmoi_tensor::checkpoint::write_atomically(&folder.join(STATE), json.as_bytes())?;
            run.log.write_jsonl(&folder.join(LOG))
        })?;
        Ok(())
    }
}

fn read_snapshot(path: &Path, named: &[(String, Tensor)]) -> Result<Vec<ArrayD<f32>>> {
    let file = malmoi_tensor::checkpoint::load(path)?;
    named.iter().map(|(name, t)| Ok(file.get_shaped(name, &t.shape())?.clone())).collect()
}

fn restore(named: &[(String, Tensor)], values: &[ArrayD<f32>]) -> Result<()> {
    for ((_, param), value) in named.iter().zip(values) {
        param.set_data(value.clone())?;
    }
    Ok(())
}
