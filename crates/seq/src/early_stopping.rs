//! Early stopping on a monitored metric, as Keras' `EarlyStopping` callback does.

use serde::{Deserialize, Serialize};

use crate::history::EpochRecord;

/// The metric early stopping watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Monitor {
    /// Validation loss (lower is better).
    ValLoss,
    /// Validation accuracy (higher is better).
    ValAccuracy,
    /// Training loss (lower is better).
    Loss,
    /// Training accuracy (higher is better).
    Accuracy,
}

impl Monitor {
    /// The monitored value in one epoch's record, if the record has it.
    pub fn value(self, record: &EpochRecord) -> Option<f64> {
        match self {
            Monitor::ValLoss => record.val_loss,
            Monitor::ValAccuracy => record.val_accuracy,
            Monitor::Loss => Some(record.loss),
            Monitor::Accuracy => Some(record.accuracy),
        }
    }

    /// Whether a lower value is better (Keras' `mode="auto"`).
    pub fn lower_is_better(self) -> bool {
        matches!(self, Monitor::ValLoss | Monitor::Loss)
    }
}

/// What early stopping concluded after an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The monitored value improved: this epoch is the best so far (checkpoint it).
    Improved,
    /// No improvement, but patience is not exhausted.
    Continue,
    /// No improvement for `patience` epochs: stop training.
    Stop,
}

/// Stops training when the monitored metric has not improved for `patience` epochs.
///
/// ```
/// use malmoi_seq::early_stopping::{EarlyStopping, Monitor, Verdict};
/// let mut stop = EarlyStopping::new(Monitor::ValLoss, 2);
/// assert_eq!(stop.observe(0.50), Verdict::Improved);
/// assert_eq!(stop.observe(0.55), Verdict::Continue);
/// assert_eq!(stop.observe(0.60), Verdict::Stop);
/// assert_eq!(stop.best_epoch(), Some(0));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    monitor: Monitor,
    patience: usize,
    min_delta: f64,
    best: Option<(usize, f64)>,
    epochs_seen: usize,
}

impl EarlyStopping {
    /// Watches `monitor`, stopping after `patience` epochs without improvement.
    pub fn new(monitor: Monitor, patience: usize) -> Self {
        Self { monitor, patience, min_delta: 0.0, best: None, epochs_seen: 0 }
    }

    /// Requires an improvement larger than `min_delta` to count.
    pub fn with_min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta.abs();
        self
    }

    /// The metric being watched.
    pub fn monitor(&self) -> Monitor {
        self.monitor
    }

    /// Records the next epoch's monitored value. A NaN never counts as an improvement.
    pub fn observe(&mut self, value: f64) -> Verdict {
        let epoch = self.epochs_seen;
        self.epochs_seen += 1;
        let improved = match self.best {
            None => !value.is_nan(),
            Some((_, best)) if self.monitor.lower_is_better() => value < best - self.min_delta,
            Some((_, best)) => value > best + self.min_delta,
        };
        if improved {
            self.best = Some((epoch, value));
            return Verdict::Improved;
        }
        let best_epoch = self.best.map_or(0, |(e, _)| e + 1);
        if epoch + 1 - best_epoch >= self.patience { Verdict::Stop } else { Verdict::Continue }
    }

    /// Records an epoch's record, reading the monitored metric from it (missing counts as NaN).
    pub fn observe_record(&mut self, record: &EpochRecord) -> Verdict {
        self.observe(self.monitor.value(record).unwrap_or(f64::NAN))
    }

    /// The 0-based epoch with the best value so far.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best.map(|(epoch, _)| epoch)
    }

    /// The best value so far.
    pub fn best_value(&self) -> Option<f64> {
        self.best.map(|(_, value)| value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patience_counts_epochs_since_the_best() {
        let mut stop = EarlyStopping::new(Monitor::ValLoss, 4);
        let losses = [0.40, 0.35, 0.36, 0.37, 0.34, 0.38, 0.39, 0.40, 0.41];
        let verdicts: Vec<Verdict> = losses.iter().map(|&l| stop.observe(l)).collect();
        use Verdict::*;
        assert_eq!(verdicts, [Improved, Improved, Continue, Continue, Improved, Continue, Continue, Continue, Stop]);
        assert_eq!(stop.best_epoch(), Some(4));
    }

    #[test]
    fn accuracy_is_maximised_and_min_delta_is_respected() {
        let mut stop = EarlyStopping::new(Monitor::ValAccuracy, 1).with_min_delta(0.01);
        assert_eq!(stop.observe(0.80), Verdict::Improved);
        assert_eq!(stop.observe(0.805), Verdict::Stop);
        let mut stop = EarlyStopping::new(Monitor::ValAccuracy, 3);
        stop.observe(0.8);
        assert_eq!(stop.observe(0.9), Verdict::Improved);
    }

    #[test]
    fn nan_is_never_an_improvement() {
        let mut stop = EarlyStopping::new(Monitor::ValLoss, 2);
        assert_eq!(stop.observe(f64::NAN), Verdict::Continue);
        assert_eq!(stop.observe(f64::NAN), Verdict::Stop);
        assert_eq!(stop.best_epoch(), None);
    }
}
