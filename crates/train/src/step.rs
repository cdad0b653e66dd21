//! What a model brings to the trainer: the model, the loss of step `n`'s batch and its
//! held-out metrics. The trainer brings everything else.

use malmoi_tensor::nn::Module;
use malmoi_tensor::optim::Optimizer;
use malmoi_tensor::{Tensor, clip_grad_norm};

use crate::error::{Error, Result};
use crate::log::Metrics;

/// One model's training and evaluation steps (burn-train's `TrainStep` / `ValidStep`).
///
/// A step chooses its batch from the step number alone (and the run's seed), so a resumed run
/// sees the batches the uninterrupted one would have: that is the data position a checkpoint
/// keeps. State beyond the parameters (an adaptive KL coefficient, a random generator) goes
/// through [`TrainStep::state`] and [`TrainStep::load_state`]; knobs that change the result go
/// through [`TrainStep::settings`], which a resumed run must match.
pub trait TrainStep {
    /// The model crate's error type.
    type Error: From<Error>;

    /// The trained model: checkpoints store its named parameters under their names, and the
    /// trainer switches its mode (dropout on for steps, off for evaluations).
    fn model(&mut self) -> &mut dyn Module;

    /// Computes step `step`'s loss (counting from 0) and applies it with
    /// [`Update::apply`] — once, or several times for PPO's inner epochs — returning the
    /// batch's loss and whatever else it measured. `seed` is the step's own seed
    /// ([`TrainConfig::step_seed`](crate::TrainConfig::step_seed)) for its batch and dropout.
    ///
    /// # Errors
    /// The model's errors; [`Error::NonFinite`] from [`Update::apply`].
    fn train_step(&mut self, step: usize, seed: u64, update: &mut Update<'_>) -> Result<StepOutput, Self::Error>;

    /// Held-out metrics by name (`loss`, `accuracy`, …), in inference mode (the trainer switches
    /// it); the log names them `val_loss`, `val_accuracy`, as Keras does.
    ///
    /// # Errors
    /// The model's errors.
    fn evaluate(&mut self) -> Result<Metrics, Self::Error>;

    /// The step's own knobs that change the result (batch size, sequence length, …), as JSON:
    /// the trainer keeps them in each checkpoint and refuses to resume under other settings,
    /// as it does for its own config.
    fn settings(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// State the trainer should checkpoint besides parameters and optimiser (JSON): what
    /// changes as the run goes (an adaptive KL coefficient), not the settings.
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Restores what [`TrainStep::state`] returned.
    ///
    /// # Errors
    /// A state this step cannot take.
    fn load_state(&mut self, state: serde_json::Value) -> Result<(), Self::Error> {
        let _ = state;
        Ok(())
    }
}

/// What a training step measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepOutput {
    /// The batch's loss (the mean of the losses applied, for several updates).
    pub loss: f64,
    /// Anything else (accuracy, reward, KL), logged with the step and averaged per evaluation.
    pub metrics: Metrics,
}

impl StepOutput {
    /// A step that measured only its loss.
    pub fn loss(loss: f64) -> Self {
        StepOutput { loss, metrics: Metrics::new() }
    }

    /// Adds a metric.
    pub fn with(mut self, name: &str, value: f64) -> Self {
        self.metrics.insert(name.into(), value);
        self
    }
}

/// The optimiser side of a step: backward, clip, update at the scheduled learning rate.
pub struct Update<'a> {
    pub(crate) optimizer: &'a mut dyn Optimizer,
    pub(crate) params: &'a [Tensor],
    pub(crate) grad_clip: f32,
    pub(crate) step: usize,
}

impl Update<'_> {
    /// Back-propagates `loss`, clips the gradients to the configured global norm, updates the
    /// parameters and clears their gradients; returns the loss's value.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for a NaN or infinite loss (nothing is updated); tensor errors.
    pub fn apply(&mut self, loss: &Tensor) -> Result<f64> {
        let value = f64::from(loss.item()?);
        if !value.is_finite() {
            self.optimizer.zero_grad();
            return Err(Error::NonFinite { what: "loss".into(), step: self.step + 1 });
        }
        loss.backward()?;
        if self.grad_clip > 0.0 {
            clip_grad_norm(self.params, self.grad_clip)?;
        }
        self.optimizer.step()?;
        self.optimizer.zero_grad();
        Ok(value)
    }

    /// The learning rate of this step.
    pub fn learning_rate(&self) -> f32 {
        self.optimizer.learning_rate()
    }
}
