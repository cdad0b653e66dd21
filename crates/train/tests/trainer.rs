//! The learner loop: a killed run resumes to the uninterrupted run's weights, log and optimiser
//! state; early stopping keeps the best weights; the NaN guard, the time budget and a checkpoint
//! from another config are handled.

use std::cell::Cell;
use std::time::Duration;

use malmoi_tensor::nn::{Linear, Module, prefixed};
use malmoi_tensor::optim::{AdamW, Optimizer, ParamGroup};
use malmoi_tensor::{Tensor, VarBuilder, no_grad};
use malmoi_train::{
    Checkpoints, EarlyStopping, Error, LrSchedule, Metrics, Session, StepOutput, TrainConfig, TrainStep, Trainer,
    Update,
};
use ndarray::{Array2, ArrayD};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Two layers.
struct Net {
    hidden: Linear,
    out: Linear,
}

impl Module for Net {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut params = prefixed("hidden", self.hidden.named_parameters());
        params.extend(prefixed("out", self.out.named_parameters()));
        params
    }
}

/// A two-layer regression of a fixed random function, with a batch drawn from each step's seed
/// and a counter in its own state.
struct Regression {
    net: Net,
    steps_seen: usize,
    poison_at: Option<usize>,
    evaluations: Cell<usize>,
    rows: usize,
}

impl Regression {
    fn new() -> Self {
        let vb = VarBuilder::fresh(3);
        Regression {
            net: Net {
                hidden: Linear::new(4, 16, true, vb.pp("hidden")).unwrap(),
                out: Linear::new(16, 1, true, vb.pp("out")).unwrap(),
            },
            steps_seen: 0,
            poison_at: None,
            evaluations: Cell::new(0),
            rows: 8,
        }
    }

    fn batch(seed: u64, rows: usize) -> (Tensor, Tensor) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((rows, 4), |_| rng.random_range(-1.0_f32..1.0));
        let y = Array2::from_shape_fn((rows, 1), |(r, _)| (x[[r, 0]] * 2.0 - x[[r, 1]]).sin() + x[[r, 2]] * x[[r, 3]]);
        (Tensor::constant(x.into_dyn()), Tensor::constant(y.into_dyn()))
    }

    fn loss(&self, x: &Tensor, y: &Tensor) -> malmoi_train::Result<Tensor> {
        Ok(self.net.out.forward(&self.net.hidden.forward(x)?.tanh())?.mse_loss(y)?)
    }
}

impl TrainStep for Regression {
    type Error = Error;

    fn model(&mut self) -> &mut dyn Module {
        &mut self.net
    }

    fn train_step(&mut self, step: usize, seed: u64, update: &mut Update<'_>) -> malmoi_train::Result<StepOutput> {
        self.steps_seen += 1;
        let (x, y) = Regression::batch(seed, self.rows);
        let loss = self.loss(&x, &y)?;
        let loss = if self.poison_at == Some(step) { loss.mul_scalar(f32::NAN) } else { loss };
        Ok(StepOutput::loss(update.apply(&loss)?).with("steps_seen", self.steps_seen as f64))
    }

    fn evaluate(&mut self) -> malmoi_train::Result<Metrics> {
        self.evaluations.set(self.evaluations.get() + 1);
        let (x, y) = Regression::batch(99, 64);
        let loss = no_grad(|| self.loss(&x, &y))?.item()?;
        Ok(Metrics::from([("loss".to_string(), f64::from(loss))]))
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({ "rows": self.rows })
    }

    fn state(&self) -> serde_json::Value {
        serde_json::json!({ "steps_seen": self.steps_seen })
    }

    fn load_state(&mut self, state: serde_json::Value) -> malmoi_train::Result<()> {
        self.steps_seen = state["steps_seen"].as_u64().ok_or_else(|| Error::Config("no steps_seen".into()))? as usize;
        Ok(())
    }
}

/// Checkpoints in `dir`, no progress bar.
fn checkpointed(dir: &std::path::Path) -> Session {
    Session { checkpoints: Some(Checkpoints::new(dir)), ..Session::default() }
}

fn config() -> TrainConfig {
    TrainConfig {
        max_steps: 60,
        learning_rate: 0.02,
        schedule: LrSchedule::Cosine { warmup_steps: 5, min_factor: 0.1 },
        grad_clip: 1.0,
        eval_interval: 10,
        eval_at_start: true,
        seed: 7,
    }
}

fn optimizer(model: &Regression) -> Box<dyn Optimizer> {
    Box::new(AdamW::groups(ParamGroup::decay_matrices(model.net.named_parameters(), 0.1), 0.02).unwrap())
}

fn weights(model: &Regression) -> Vec<ArrayD<f32>> {
    model.net.named_parameters().iter().map(|(_, t)| t.to_array()).collect()
}

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_result() {
    let mut whole = Regression::new();
    let mut whole_optimizer = optimizer(&whole);
    let whole_log = Trainer::new(config()).fit(&mut whole, whole_optimizer.as_mut()).unwrap();
    assert_eq!(whole_log.evals.len(), 7, "at start and every 10 steps");
    let (first, last) = whole_log.first_and_last("val_loss").unwrap();
    assert!(last < first * 0.7, "training helps: {first} → {last}");

    let dir = tempfile::tempdir().unwrap();
    let trainer = || Trainer::new(config());
    for stop in [13, 27, 40] {
        // a fresh process each time: new model, new optimiser, only the folder carries over
        let mut session = Regression::new();
        let mut session_optimizer = optimizer(&session);
        trainer()
            .with_session(Session { stop_at_step: Some(stop), ..checkpointed(dir.path()) })
            .fit(&mut session, session_optimizer.as_mut())
            .unwrap();
        assert!(dir.path().join(format!("step-{stop}/parameters.safetensors")).exists());
    }
    let mut resumed = Regression::new();
    let mut resumed_optimizer = optimizer(&resumed);
    let resumed_log =
        trainer().with_session(checkpointed(dir.path())).fit(&mut resumed, resumed_optimizer.as_mut()).unwrap();
    assert_eq!(weights(&resumed), weights(&whole));
    assert_eq!(resumed.steps_seen, 60, "the step's own state is restored");
    assert_eq!(resumed_optimizer.state().buffers, whole_optimizer.state().buffers);
    assert_eq!(resumed_log.without_times(), whole_log.without_times(), "the same steps and evaluations");
    let saved = malmoi_train::TrainLog::read_jsonl(&dir.path().join("step-60/log.jsonl")).unwrap();
    assert_eq!(saved, resumed_log, "the log in the checkpoint is the returned one");
}

#[test]
fn a_checkpoint_from_another_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Regression::new();
    let mut opt = optimizer(&model);
    let stop = Session { stop_at_step: Some(5), ..checkpointed(dir.path()) };
    Trainer::new(config()).with_session(stop).fit(&mut model, opt.as_mut()).unwrap();
    let other = TrainConfig { learning_rate: 0.5, ..config() };
    let err = Trainer::new(other).with_session(checkpointed(dir.path())).fit(&mut model, opt.as_mut()).unwrap_err();
    assert!(matches!(err, Error::Config(ref m) if m.contains("another config")), "{err}");
    model.rows = 4;
    let err = Trainer::new(config()).with_session(checkpointed(dir.path())).fit(&mut model, opt.as_mut()).unwrap_err();
    assert!(matches!(err, Error::Config(ref m) if m.contains("\"rows\":8")), "the step's settings differ: {err}");
}

#[test]
fn a_nan_loss_stops_with_a_typed_error_and_keeps_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Regression::new();
    model.poison_at = Some(24);
    let mut opt = optimizer(&model);
    let trainer = Trainer::new(config()).with_session(checkpointed(dir.path()));
    let before = weights(&model);
    let err = trainer.fit(&mut model, opt.as_mut()).unwrap_err();
    assert!(matches!(err, Error::NonFinite { step: 25, .. }), "{err}");
    assert_ne!(weights(&model), before);
    assert!(Checkpoints::new(dir.path()).latest().unwrap().unwrap().ends_with("step-20"));
}

#[test]
fn early_stopping_ends_the_run_and_restores_the_best_weights() {
    // a learning rate far too high makes the held-out loss stop improving
    let config = TrainConfig { max_steps: 400, learning_rate: 0.5, eval_interval: 5, ..config() };
    let mut model = Regression::new();
    let mut opt = optimizer(&model);
    let log = Trainer::new(config)
        .with_early_stopping(Some(EarlyStopping::minimize("val_loss", 3)))
        .fit(&mut model, opt.as_mut())
        .unwrap();
    let last_step = log.steps.last().unwrap().step;
    assert!(last_step < 400, "stopped early at {last_step}");
    let series = log.series("val_loss");
    let best = series.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    assert!(series.last().unwrap().1 > best, "stopped after worse evaluations");
    let now = model.evaluate().unwrap()["loss"];
    assert_eq!(now, best, "the best evaluated weights are back");
}

#[test]
fn a_time_budget_ends_the_session_with_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Regression::new();
    let mut opt = optimizer(&model);
    let log = Trainer::new(config())
        .with_session(Session { time_budget: Some(Duration::ZERO), ..checkpointed(dir.path()) })
        .fit(&mut model, opt.as_mut())
        .unwrap();
    assert_eq!(log.steps.len(), 1, "one step, then the budget is spent");
    assert!(Checkpoints::new(dir.path()).latest().unwrap().unwrap().ends_with("step-1"));
}

#[test]
fn bad_configs_are_typed_errors() {
    let mut model = Regression::new();
    let mut opt = optimizer(&model);
    for bad in [
        TrainConfig { max_steps: 0, ..config() },
        TrainConfig { eval_interval: 0, ..config() },
        TrainConfig { learning_rate: f32::NAN, ..config() },
        TrainConfig { schedule: LrSchedule::Linear { warmup_steps: 61 }, ..config() },
    ] {
        assert!(matches!(Trainer::new(bad).fit(&mut model, opt.as_mut()), Err(Error::Config(_))));
    }
    let watched_nothing = Trainer::new(config()).with_early_stopping(Some(EarlyStopping::minimize("accuracy", 2)));
    assert!(matches!(watched_nothing.fit(&mut model, opt.as_mut()), Err(Error::Config(_))));
}

#[test]
fn logs_round_trip_as_json_lines_and_draw() {
    let mut model = Regression::new();
    let mut opt = optimizer(&model);
    let log = Trainer::new(config()).fit(&mut model, opt.as_mut()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    log.write_jsonl(&dir.path().join("log.jsonl")).unwrap();
    assert_eq!(malmoi_train::TrainLog::read_jsonl(&dir.path().join("log.jsonl")).unwrap(), log);
    assert!(log.evals[1].metrics.contains_key("loss"), "Keras-style training means");
    assert_eq!(log.evals[1].metrics["steps_seen"], 5.5, "the mean of steps 1..=10");
    assert_eq!(log.step_series("steps_seen")[2], (3.0, 3.0));
    log.plot(&dir.path().join("curves.svg"), 5).unwrap();
    let svg = std::fs::read_to_string(dir.path().join("curves.svg")).unwrap();
    assert!(svg.contains("steps_seen") && svg.contains("held-out"));
    std::fs::write(dir.path().join("bad.jsonl"), "{\"kind\":\"step\"}\n").unwrap();
    assert!(matches!(malmoi_train::TrainLog::read_jsonl(&dir.path().join("bad.jsonl")), Err(Error::Json { .. })));
}
