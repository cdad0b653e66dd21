//! The one log of every training run: a record per step and per held-out evaluation, kept
//! across resumes, written as JSON lines and drawn as SVG curves.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use malmoi_tensor::checkpoint::write_atomically;

use crate::chart::{Panel, line_charts};
use crate::error::{Error, Result};

/// Named values: a step's extra training metrics or an evaluation's metrics.
pub type Metrics = BTreeMap<String, f64>;

/// One optimisation step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Step number (1-based).
    pub step: usize,
    /// The batch's loss.
    pub loss: f64,
    /// Learning rate used.
    pub learning_rate: f64,
    /// Whatever else the step measured (accuracy, reward, KL…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: Metrics,
}

/// One held-out evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// After this many steps (0: before training).
    pub step: usize,
    /// Wall-clock seconds of training so far.
    pub seconds: f64,
    /// Keras' epoch record: the held-out metrics as `val_<name>`, and `loss` (and each step
    /// metric) as the mean over the steps since the previous evaluation.
    pub metrics: Metrics,
}

impl EvalRecord {
    /// The held-out metrics under the step's own names (`val_loss` as `loss`).
    pub fn held_out(&self) -> Metrics {
        self.metrics.iter().filter_map(|(name, v)| Some((name.strip_prefix("val_")?.to_string(), *v))).collect()
    }
}

/// Everything a run logged, kept across resumes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainLog {
    /// Every step.
    pub steps: Vec<StepRecord>,
    /// Every evaluation.
    pub evals: Vec<EvalRecord>,
}

/// A named series of `(step, value)` points, owned.
type OwnedSeries = (String, Vec<(f64, f64)>);

/// A line of the JSON-lines file.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Step(StepRecord),
    Eval(EvalRecord),
}

impl TrainLog {
    /// A metric's values over the evaluations, as `(step, value)` points.
    pub fn series(&self, metric: &str) -> Vec<(f64, f64)> {
        self.evals.iter().filter_map(|e| Some((e.step as f64, *e.metrics.get(metric)?))).collect()
    }

    /// The first and last evaluated value of a metric.
    pub fn first_and_last(&self, metric: &str) -> Option<(f64, f64)> {
        let values = self.series(metric);
        Some((values.first()?.1, values.last()?.1))
    }

    /// The newest evaluation.
    pub fn last_eval(&self) -> Option<&EvalRecord> {
        self.evals.last()
    }

    /// A step metric's values (or `"loss"`) over the steps, as `(step, value)` points.
    pub fn step_series(&self, metric: &str) -> Vec<(f64, f64)> {
        let value = |s: &StepRecord| if metric == "loss" { Some(s.loss) } else { s.metrics.get(metric).copied() };
        self.steps.iter().filter_map(|s| Some((s.step as f64, value(s)?))).collect()
    }

    /// The log without wall-clock times, for comparing two runs: a resumed run's log equals the
    /// uninterrupted run's in everything else.
    pub fn without_times(&self) -> TrainLog {
        let evals = self.evals.iter().map(|e| EvalRecord { seconds: 0.0, ..e.clone() }).collect();
        TrainLog { steps: self.steps.clone(), evals }
    }

    /// The means of the step losses and step metrics after step `after`, under their own names
    /// (`loss`, `accuracy`, …).
    pub fn train_means(&self, after: usize) -> Metrics {
        let recent = &self.steps[self.steps.partition_point(|s| s.step <= after)..];
        let mut sums = Metrics::new();
        for record in recent {
            *sums.entry("loss".into()).or_default() += record.loss;
            for (name, value) in &record.metrics {
                *sums.entry(name.clone()).or_default() += value;
            }
        }
        sums.values_mut().for_each(|sum| *sum /= recent.len().max(1) as f64);
        sums
    }

    /// Writes the log as JSON lines (`{"kind":"step",…}` and `{"kind":"eval",…}` in order),
    /// atomically.
    ///
    /// # Errors
    /// Write errors.
    pub fn write_jsonl(&self, path: &Path) -> Result<()> {
        let mut text = String::new();
        let lines = self.steps.iter().cloned().map(Line::Step).chain(self.evals.iter().cloned().map(Line::Eval));
        for line in lines {
            text.push_str(&serde_json::to_string(&line).map_err(|e| json_error(path, e))?);
            text.push('\n');
        }
        Ok(write_atomically(path, text.as_bytes())?)
    }

    /// Reads a log written by [`TrainLog::write_jsonl`].
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::Json`] naming the line that does not parse.
    pub fn read_jsonl(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        let mut log = TrainLog::default();
        for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            match serde_json::from_str(line).map_err(|e| json_error(path, format!("line {}: {e}", number + 1)))? {
                Line::Step(record) => log.steps.push(record),
                Line::Eval(record) => log.evals.push(record),
            }
        }
        Ok(log)
    }

    /// Draws one SVG panel per quantity: the loss and each step metric as a moving mean over
    /// `smoothing` steps ("train"), with its held-out `val_` value beside it where there is one,
    /// then each held-out metric that no step measures.
    ///
    /// # Errors
    /// [`Error::Plot`]; write errors.
    pub fn plot(&self, path: &Path, smoothing: usize) -> Result<()> {
        let mut names = vec!["loss".to_string()];
        names.extend(self.step_metric_names());
        let mut panels: Vec<(String, Vec<OwnedSeries>)> = names
            .iter()
            .map(|name| {
                let train = ("train".to_string(), smoothed(&self.step_series(name), smoothing.max(1)));
                (name.clone(), vec![train, ("held-out".to_string(), self.series(&format!("val_{name}")))])
            })
            .collect();
        for name in self.metric_names() {
            let base = name.strip_prefix("val_").unwrap_or(&name);
            if name.starts_with("val_") && !names.iter().any(|n| n == base) {
                panels.push((base.to_string(), vec![("held-out".to_string(), self.series(&name))]));
            }
        }
        let borrowed: Vec<Panel<'_>> = panels
            .iter()
            .map(|(title, series)| {
                let drawn = series.iter().filter(|(_, p)| !p.is_empty());
                (title.as_str(), drawn.map(|(n, p)| (n.as_str(), p.as_slice())).collect())
            })
            .collect();
        line_charts(path, "step", &borrowed)
    }

    /// Every metric name a step recorded, in order.
    fn step_metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.steps.iter().flat_map(|s| s.metrics.keys().cloned()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Every metric name that appears in an evaluation, in order.
    fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.evals.iter().flat_map(|e| e.metrics.keys().cloned()).collect();
        names.sort();
        names.dedup();
        names
    }
}

/// The moving mean of `points` over `window` points.
fn smoothed(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let mut sum = 0.0;
    points
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            sum += y;
            if i >= window {
                sum -= points[i - window].1;
            }
            (x, sum / (i + 1).min(window) as f64)
        })
        .collect()
}

fn json_error(path: &Path, reason: impl ToString) -> Error {
    Error::Json { path: path.to_path_buf(), reason: reason.to_string() }
}
