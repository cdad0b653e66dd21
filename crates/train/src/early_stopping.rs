//! Stop when a held-out metric stops improving (Keras' `EarlyStopping`), and keep the best
//! weights.

use serde::{Deserialize, Serialize};

/// Whether lower or higher values of the monitored metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Losses, perplexities.
    Minimize,
    /// Accuracies, rewards.
    Maximize,
}

/// What one observation means for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A new best value: keep these weights.
    Improved,
    /// No improvement, but patience is left.
    Continue,
    /// Patience is used up: stop.
    Stop,
}

/// Watches one evaluated metric; after `patience` evaluations without an improvement of more
/// than `min_delta`, it says stop. Its state is part of a checkpoint.
///
/// ```
/// use malmoi_train::{EarlyStopping, Verdict};
///
/// let mut stopping = EarlyStopping::minimize("val_loss", 2);
/// assert_eq!(stopping.observe(0.9), Verdict::Improved);
/// assert_eq!(stopping.observe(0.8), Verdict::Improved);
/// assert_eq!(stopping.observe(0.85), Verdict::Continue);
/// assert_eq!(stopping.observe(0.81), Verdict::Stop);
/// assert_eq!(stopping.best(), Some((2, 0.8)));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    metric: String,
    goal: Goal,
    patience: usize,
    min_delta: f64,
    /// `(observation number from 1, value)` of the best so far.
    best: Option<(usize, f64)>,
    observations: usize,
}

impl EarlyStopping {
    /// Stops when `metric` has not gone down for `patience` evaluations.
    pub fn minimize(metric: &str, patience: usize) -> Self {
        Self::new(metric, Goal::Minimize, patience)
    }

    /// Stops when `metric` has not gone up for `patience` evaluations.
    pub fn maximize(metric: &str, patience: usize) -> Self {
        Self::new(metric, Goal::Maximize, patience)
    }

    fn new(metric: &str, goal: Goal, patience: usize) -> Self {
        EarlyStopping { metric: metric.into(), goal, patience, min_delta: 0.0, best: None, observations: 0 }
    }

    /// Counts only improvements larger than `min_delta`.
    pub fn with_min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta.abs();
        self
    }

    /// The watched metric's name.
    pub fn metric(&self) -> &str {
        &self.metric
    }

    /// The best observation so far: its number (from 1) and value.
    pub fn best(&self) -> Option<(usize, f64)> {
        self.best
    }

    /// Takes the next value of the metric.
    pub fn observe(&mut self, value: f64) -> Verdict {
        self.observations += 1;
        let improved = match (self.best, self.goal) {
            (None, _) => true,
            (Some((_, best)), Goal::Minimize) => value < best - self.min_delta,
            (Some((_, best)), Goal::Maximize) => value > best + self.min_delta,
        };
        if improved {
            self.best = Some((self.observations, value));
            return Verdict::Improved;
        }
        let since_best = self.observations - self.best.map_or(0, |(at, _)| at);
        if since_best >= self.patience { Verdict::Stop } else { Verdict::Continue }
    }
}
