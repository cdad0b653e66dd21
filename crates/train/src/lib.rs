//! # malmoi-train
//!
//! The one training engine under every malmoi model, in burn-train's shape: a model implements
//! [`TrainStep`] (the model, the loss of step `n`'s batch, its held-out metrics) and
//! [`Trainer`] does the rest — the learning-rate schedule, gradient clipping, evaluation every
//! N steps, [`EarlyStopping`], a time budget, a NaN guard, the progress bar of `malmoi_fs::progress`, and folder-atomic
//! [`Checkpoints`] (weights, optimiser, data position, the step's own state and the log in
//! `step-N/`, an atomic `LATEST`) from which a killed run resumes exactly. Every run logs one
//! [`TrainLog`]: JSON lines and SVG curves.
//!
//! | module | what |
//! | --- | --- |
//! | [`step`] | the [`TrainStep`] trait and [`Update`] (backward, clip, optimiser step) |
//! | [`trainer`] | the learner loop |
//! | [`config`] | [`TrainConfig`], [`LrSchedule`] |
//! | [`early_stopping`] | Keras' early stopping with the best weights kept |
//! | [`checkpoint`] | `step-N/` folders and `LATEST` |
//! | [`log`] | [`TrainLog`]: records, JSON lines, curves |
//! | [`chart`] | SVG line charts |
//! | [`batching`] | Keras' `validation_split`, seeded length buckets, step → batch of an epoch |
//! | [`metrics`] | [`metrics::ConfusionMatrix`]: accuracy, precision, recall, F1 |
//!
//! See [`Trainer`] for a complete example.

pub mod batching;
pub mod chart;
pub mod checkpoint;
pub mod config;
pub mod early_stopping;
pub mod error;
pub mod log;
pub mod metrics;
pub mod step;
pub mod trainer;

pub use checkpoint::Checkpoints;
pub use config::{LrSchedule, TrainConfig};
pub use early_stopping::{EarlyStopping, Goal, Verdict};
pub use error::{Error, Result};
pub use log::{EvalRecord, Metrics, StepRecord, TrainLog};
pub use step::{StepOutput, TrainStep, Update};
pub use trainer::{Session, Trainer};

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
