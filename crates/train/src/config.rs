//! The knobs of a run that change its result (how a session runs is the trainer's business).

use serde::{Deserialize, Serialize};

use malmoi_tensor::optim::Schedule;

use crate::error::{Error, Result};

/// How the learning rate moves over the run (Hugging Face's schedules).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LrSchedule {
    /// The same learning rate throughout (Keras' default).
    #[default]
    Constant,
    /// Linear warm-up, then constant.
    Warmup {
        /// Warm-up steps.
        warmup_steps: usize,
    },
    /// Linear warm-up, then linear decay to 0.
    Linear {
        /// Warm-up steps.
        warmup_steps: usize,
    },
    /// Linear warm-up, then a half cosine down to `min_factor` of the peak (nanoGPT: 0.1).
    Cosine {
        /// Warm-up steps.
        warmup_steps: usize,
        /// The floor, as a share of the peak learning rate.
        min_factor: f32,
    },
}

/// What a run optimises for how long, and how often it looks at held-out data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Optimiser steps in the whole run (an epoch-based trainer: epochs × steps per epoch).
    pub max_steps: usize,
    /// Peak learning rate.
    pub learning_rate: f32,
    /// The learning-rate schedule.
    pub schedule: LrSchedule,
    /// Gradients are clipped to this global norm (0: off).
    pub grad_clip: f32,
    /// Held-out evaluation (and a checkpoint) every this many steps, and at the end.
    pub eval_interval: usize,
    /// Also evaluate before the first step, so every curve starts at the untrained model.
    pub eval_at_start: bool,
    /// Seed of the batch order and of dropout.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            max_steps: 1000,
            learning_rate: 1e-3,
            schedule: LrSchedule::Constant,
            grad_clip: 0.0,
            eval_interval: 100,
            eval_at_start: false,
            seed: 1337,
        }
    }
}

impl TrainConfig {
    /// The schedule over this run's steps.
    ///
    /// # Errors
    /// [`Error::Config`] for no steps, a zero evaluation interval, a negative or non-finite
    /// learning rate or clip, or a warm-up longer than the run.
    pub fn lr_schedule(&self) -> Result<Schedule> {
        if self.max_steps == 0 || self.eval_interval == 0 {
            return Err(Error::Config(format!(
                "max_steps {} and eval_interval {} must be positive",
                self.max_steps, self.eval_interval
            )));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate >= 0.0 && self.grad_clip >= 0.0) {
            return Err(Error::Config(format!(
                "learning rate {} and grad clip {} must be finite and not negative",
                self.learning_rate, self.grad_clip
            )));
        }
        let schedule = match self.schedule {
            LrSchedule::Constant => Ok(Schedule::Constant),
            LrSchedule::Warmup { warmup_steps } => Schedule::warmup_constant(warmup_steps, self.max_steps),
            LrSchedule::Linear { warmup_steps } => Schedule::warmup_linear(warmup_steps, self.max_steps),
            LrSchedule::Cosine { warmup_steps, min_factor } => {
                Schedule::warmup_cosine(warmup_steps, self.max_steps, min_factor)
            }
        };
        schedule.map_err(|e| Error::Config(e.to_string()))
    }

    /// The seed of step `step`'s randomness (its batch, its dropout masks): a function of the
    /// run's seed and the step only, so a resumed run draws what the uninterrupted one drew.
    pub fn step_seed(&self, step: usize) -> u64 {
        self.seed ^ (step as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}
