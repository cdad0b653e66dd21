//! Binary classification metrics: accuracy, precision, recall, F1 and the confusion matrix.

use serde::{Deserialize, Serialize};

/// Counts of a binary classifier's decisions against the true labels (positive = 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// Predicted 1, truly 1.
    pub true_positive: usize,
    /// Predicted 1, truly 0.
    pub false_positive: usize,
    /// Predicted 0, truly 0.
    pub true_negative: usize,
    /// Predicted 0, truly 1.
    pub false_negative: usize,
}

impl ConfusionMatrix {
    /// Tallies predicted labels against true labels, pairing them in order.
    ///
    /// ```
    /// use malmoi_train::metrics::ConfusionMatrix;
    /// let m = ConfusionMatrix::from_labels(&[1, 0, 1, 1], &[1, 0, 0, 1]);
    /// assert_eq!(m.accuracy(), 0.75);
    /// assert_eq!(m.precision(), 2.0 / 3.0);
    /// assert_eq!(m.recall(), 1.0);
    /// ```
    pub fn from_labels(predicted: &[u8], truth: &[u8]) -> Self {
        predicted.iter().zip(truth).fold(Self::default(), |mut m, (&p, &t)| {
            m.add(p != 0, t != 0);
            m
        })
    }

    /// Tallies probabilities of the positive class, thresholded at 0.5, against true labels.
    pub fn from_probabilities(probabilities: &[f32], truth: &[u8]) -> Self {
        probabilities.iter().zip(truth).fold(Self::default(), |mut m, (&p, &t)| {
            m.add(p >= 0.5, t != 0);
            m
        })
    }

    /// Records one decision.
    pub fn add(&mut self, predicted_positive: bool, truly_positive: bool) {
        match (predicted_positive, truly_positive) {
            (true, true) => self.true_positive += 1,
            (true, false) => self.false_positive += 1,
            (false, false) => self.true_negative += 1,
            (false, true) => self.false_negative += 1,
        }
    }

    /// Number of decisions recorded.
    pub fn total(&self) -> usize {
        self.true_positive + self.false_positive + self.true_negative + self.false_negative
    }

    /// Share of correct decisions (0 when nothing was recorded).
    pub fn accuracy(&self) -> f64 {
        ratio(self.true_positive + self.true_negative, self.total())
    }

    /// Share of predicted positives that are positive (0 when none was predicted).
    pub fn precision(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_positive)
    }

    /// Share of true positives that were found (0 when there are none).
    pub fn recall(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_negative)
    }

    /// Harmonic mean of precision and recall (0 when both are 0).
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
    }
}

impl std::fmt::Display for ConfusionMatrix {
    /// The matrix as a small table, true labels down, predictions across:
    ///
    /// ```text
    ///                 predicted neg  predicted pos
    /// truly negative          21777           3050
    /// truly positive           3290          21883
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{:<16}{:>13}  {:>13}", "", "predicted neg", "predicted pos")?;
        writeln!(f, "{:<16}{:>13}  {:>13}", "truly negative", self.true_negative, self.false_positive)?;
        write!(f, "{:<16}{:>13}  {:>13}", "truly positive", self.false_negative, self.true_positive)
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_hand_counts() {
        // truth:     1 1 1 0 0 0 0 1
        // predicted: 1 0 1 0 1 0 0 1  → TP 3, FN 1, FP 1, TN 3
        let m = ConfusionMatrix::from_labels(&[1, 0, 1, 0, 1, 0, 0, 1], &[1, 1, 1, 0, 0, 0, 0, 1]);
        assert_eq!((m.true_positive, m.false_negative, m.false_positive, m.true_negative), (3, 1, 1, 3));
        assert_eq!(m.accuracy(), 0.75);
        assert_eq!(m.precision(), 0.75);
        assert_eq!(m.recall(), 0.75);
        assert!((m.f1() - 0.75).abs() < 1e-12);
    }

    #[test]
    fn the_table_puts_truth_down_and_predictions_across() {
        let m = ConfusionMatrix { true_negative: 5, false_positive: 1, false_negative: 2, true_positive: 7 };
        let table = m.to_string();
        let rows: Vec<Vec<&str>> = table.lines().skip(1).map(|l| l.split_whitespace().skip(2).collect()).collect();
        assert_eq!(rows, [["5", "1"], ["2", "7"]]);
    }

    #[test]
    fn empty_and_degenerate_cases_are_zero_not_nan() {
        let m = ConfusionMatrix::default();
        assert_eq!((m.accuracy(), m.precision(), m.recall(), m.f1()), (0.0, 0.0, 0.0, 0.0));
        let all_negative = ConfusionMatrix::from_probabilities(&[0.1, 0.2], &[0, 0]);
        assert_eq!(all_negative.accuracy(), 1.0);
        assert_eq!(all_negative.f1(), 0.0);
    }
}
