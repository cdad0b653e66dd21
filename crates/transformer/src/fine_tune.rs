//! Fine-tuning BERT for sequence classification (NSMC's positive / negative) on the shared
//! engine: [`ClassifierTraining`] draws random batches of labelled, encoded sequences and
//! reports held-out loss and accuracy.
//!
//! ```
//! use malmoi_train::{TrainConfig, Trainer};
//! use malmoi_transformer::bert::{Bert, BertConfig, BertForSequenceClassification};
//! use malmoi_transformer::fine_tune::{ClassifierConfig, ClassifierTraining, Labeled};
//!
//! let config: BertConfig = serde_json::from_str(r#"{"vocab_size": 20, "hidden_size": 16,
//!     "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
//!     "max_position_embeddings": 8}"#)?;
//! let mut model = BertForSequenceClassification::new(Bert::new(config, 0)?, 2, 0)?;
//! // label 1 when the sequence holds token 7
//! let examples: Vec<Labeled> = (0..40u32)
//!     .map(|i| Labeled { ids: vec![1, 3 + i % 5, 7 * (i % 2), 2], types: vec![0; 4], label: (i % 2) as usize })
//!     .collect();
//! let config = ClassifierConfig { batch_size: 8, pad_id: 0, weight_decay: 0.01 };
//! let mut step = ClassifierTraining::new(&mut model, &examples, &examples, config)?;
//! let mut optimizer = step.optimizer(1e-2)?;
//! let run = TrainConfig { max_steps: 30, learning_rate: 1e-2, eval_interval: 30, ..TrainConfig::default() };
//! let log = Trainer::new(run).fit(&mut step, &mut optimizer)?;
//! assert!(log.last_eval().unwrap().metrics["val_accuracy"] > 0.9);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use ndarray::Array1;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use malmoi_tensor::nn::Module;
use malmoi_tensor::optim::{Adam, AdamW, ParamGroup};
use malmoi_tensor::{Tensor, no_grad};
use malmoi_train::{Metrics, StepOutput, TrainStep, Update};

use crate::bert::{BertForSequenceClassification, BertInput};
use crate::error::{Error, Result};

/// An encoded sequence (`[CLS] … [SEP]` ids and token types) and its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labeled {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Token-type ids, one per token.
    pub types: Vec<u32>,
    /// The class.
    pub label: usize,
}

/// Held-out sequences are scored this many at a time.
const EVAL_CHUNK: usize = 256;

/// The fine-tuning knobs besides the engine's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Sequences per step, drawn at random from the training set.
    pub batch_size: usize,
    /// The `[PAD]` id batches are padded with.
    pub pad_id: u32,
    /// AdamW's weight decay on matrices (BERT: 0.01).
    pub weight_decay: f32,
}

/// Classification fine-tuning: the [`TrainStep`] of a [`BertForSequenceClassification`].
/// Metrics: `accuracy` per step; `val_loss`, `val_accuracy`.
#[derive(Debug)]
pub struct ClassifierTraining<'a> {
    model: &'a mut BertForSequenceClassification,
    train: &'a [Labeled],
    held_out: &'a [Labeled],
    config: ClassifierConfig,
}

impl<'a> ClassifierTraining<'a> {
    /// Fine-tuning of `model` on `train`, validated on `held_out`.
    ///
    /// # Errors
    /// [`Error::Input`] for no training examples or a label outside the head;
    /// [`Error::Config`] for a zero batch.
    pub fn new(
        model: &'a mut BertForSequenceClassification,
        train: &'a [Labeled],
        held_out: &'a [Labeled],
        config: ClassifierConfig,
    ) -> Result<Self> {
        if config.batch_size == 0 {
            return Err(Error::Config("batch size 0".into()));
        }
        let classes = model.classifier.out_features();
        if train.is_empty() {
            return Err(Error::Input("no training examples".into()));
        }
        if let Some(bad) = train.iter().chain(held_out).find(|e| e.label >= classes) {
            return Err(Error::Input(format!("label {} outside the head's {classes} classes", bad.label)));
        }
        Ok(ClassifierTraining { model, train, held_out, config })
    }

    /// AdamW with the decay on matrices only, one optimiser over two parameter groups.
    ///
    /// # Errors
    /// [`Error::Tensor`] for a negative decay or learning rate.
    pub fn optimizer(&self, learning_rate: f32) -> Result<Adam> {
        Ok(AdamW::groups(
            ParamGroup::decay_matrices(self.model.named_parameters(), self.config.weight_decay),
            learning_rate,
        )?)
    }

    /// Logits of `examples` and their labels.
    fn logits(&self, examples: &[&Labeled]) -> Result<(Tensor, ndarray::ArrayD<usize>)> {
        let sequences: Vec<(Vec<u32>, Vec<u32>)> = examples.iter().map(|e| (e.ids.clone(), e.types.clone())).collect();
        let logits = self.model.forward(&BertInput::pad(&sequences, self.config.pad_id)?)?;
        Ok((logits, Array1::from_iter(examples.iter().map(|e| e.label)).into_dyn()))
    }
}

/// How many rows of `logits` `(B, classes)` pick their label.
fn correct(logits: &Tensor, labels: &ndarray::ArrayD<usize>) -> usize {
    let logits = logits.to_array();
    let predicted = logits.outer_iter().map(|row| {
        row.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best }).0
    });
    predicted.zip(labels.iter()).filter(|(p, l)| p == *l).count()
}

impl TrainStep for ClassifierTraining<'_> {
    type Error = Error;

    fn model(&mut self) -> &mut dyn Module {
        &mut *self.model
    }

    fn train_step(&mut self, _step: usize, seed: u64, update: &mut Update<'_>) -> Result<StepOutput> {
        let mut rng = StdRng::seed_from_u64(seed);
        let batch: Vec<&Labeled> =
            (0..self.config.batch_size).map(|_| &self.train[rng.random_range(0..self.train.len())]).collect();
        self.model.bert.reseed(rng.random());
        let (logits, labels) = self.logits(&batch)?;
        let accuracy = correct(&logits, &labels) as f64 / batch.len() as f64;
        let loss = update.apply(&logits.cross_entropy(&labels, None)?)?;
        Ok(StepOutput::loss(loss).with("accuracy", accuracy))
    }

    fn evaluate(&mut self) -> Result<Metrics> {
        if self.held_out.is_empty() {
            return Ok(Metrics::new());
        }
        let (mut loss_sum, mut hits) = (0.0, 0);
        for chunk in self.held_out.chunks(EVAL_CHUNK) {
            let refs: Vec<&Labeled> = chunk.iter().collect();
            let (loss, right) = no_grad(|| -> Result<_> {
                let (logits, labels) = self.logits(&refs)?;
                Ok((logits.cross_entropy(&labels, None)?.item()?, correct(&logits, &labels)))
            })?;
            loss_sum += f64::from(loss) * chunk.len() as f64;
            hits += right;
        }
        let n = self.held_out.len() as f64;
        Ok(Metrics::from([("loss".into(), loss_sum / n), ("accuracy".into(), hits as f64 / n)]))
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::json!(self.config)
    }
}
