//! `BertForSequenceClassification`: BERT's sentence classifier, a linear head on the pooled
//! `[CLS]` state.

use std::path::Path;

use ndarray::Array2;

use malmoi_tensor::nn::{Linear, Module, named_children};
use malmoi_tensor::{Tensor, VarBuilder};

use super::{Bert, BertInput, check_labels, inference_proba, load, save_dir};
use crate::error::{Error, Result};
use crate::init::{STD, linear};

/// BERT with a classification head on the pooled `[CLS]` state (`BertForSequenceClassification`:
/// `bert.*` and `classifier.*`), e.g. NSMC's positive / negative.
#[derive(Debug)]
pub struct BertForSequenceClassification {
    /// The encoder (with its pooler).
    pub bert: Bert,
    /// `H → num_labels`.
    pub classifier: Linear,
}

impl BertForSequenceClassification {
    /// A fresh head of `num_labels` classes over `bert`, initialised by `seed`.
    ///
    /// # Errors
    /// [`Error::Config`] for an encoder without a pooler or zero labels.
    pub fn new(bert: Bert, num_labels: usize, seed: u64) -> Result<Self> {
        Self::with_head(bert, num_labels, &VarBuilder::fresh(seed))
    }

    /// The head `classifier` under `vb` over `bert`.
    fn with_head(bert: Bert, num_labels: usize, vb: &VarBuilder) -> Result<Self> {
        if bert.pooler.is_none() || num_labels == 0 {
            return Err(Error::Config("classification needs the pooler and at least one label".into()));
        }
        let classifier = linear(bert.config.hidden_size, num_labels, true, STD, vb.pp("classifier"))?;
        Ok(BertForSequenceClassification { bert, classifier })
    }

    /// Logits `(B, num_labels)`; dropout on the pooled state in training mode.
    ///
    /// # Errors
    /// As [`Bert::forward`].
    pub fn forward(&self, input: &BertInput) -> Result<Tensor> {
        let pooled = self.bert.forward(input)?.pooler_output.expect("checked at construction");
        Ok(self.classifier.forward(&self.bert.dropout(&pooled)?)?)
    }

    /// Class probabilities `(B, num_labels)` in inference (no dropout, no graph), whatever the
    /// mode: each row depends only on its own sequence.
    ///
    /// # Errors
    /// As [`Bert::forward`].
    pub fn predict_proba(&mut self, input: &BertInput) -> Result<Array2<f32>> {
        let training = self.bert.is_training();
        inference_proba(self, training, |model| model.forward(input))
    }

    /// Loads a `BertForSequenceClassification` directory (`bert.*` with its pooler,
    /// `classifier.*` of `num_labels` rows), in inference mode.
    ///
    /// # Errors
    /// As [`Bert::from_pretrained`]; [`Error::Config`] for zero labels or a stored head of
    /// another number of labels.
    pub fn from_pretrained(dir: impl AsRef<Path>, num_labels: usize) -> Result<Self> {
        let build = |config, vb: &VarBuilder| {
            check_labels(vb, "classifier.weight", num_labels)?;
            Self::with_head(Bert::build(config, &vb.pp("bert"), true, 0)?, num_labels, vb)
        };
        let mut model = load(dir.as_ref(), build, |n| n.ends_with("position_ids"))?;
        model.set_training(false);
        Ok(model)
    }

    /// Writes a `BertForSequenceClassification` directory.
    ///
    /// # Errors
    /// Write errors; [`Error::Config`] for a model carrying LoRA adapters (merge them first).
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        let (labels, params) = (self.num_labels(), self.named_parameters());
        save_dir(dir.as_ref(), &self.bert.config, "BertForSequenceClassification", Some(labels), &params)
    }

    /// The number of classes.
    pub fn num_labels(&self) -> usize {
        self.classifier.out_features()
    }
}

impl Module for BertForSequenceClassification {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        named_children(&[("bert", &self.bert), ("classifier", &self.classifier)])
    }

    fn set_training(&mut self, training: bool) {
        self.bert.set_training(training);
    }
}
