//! The review classifier: Embedding → recurrent encoder → (pooling) → Dense(1) → sigmoid.

use malmoi_tensor::nn::init::Init;
use malmoi_tensor::nn::{
    CellKind, Dropout, Embedding, Linear, Module, Recurrent, RecurrentConfig, RecurrentInit, named_children,
};
use malmoi_tensor::{Tensor, VarBuilder, no_grad};
use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use crate::batching::pad_ids;
use crate::error::{Error, Result};
use crate::sizes::check_sizes;

/// How the encoder's outputs become one vector per review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Pooling {
    /// The final hidden state (Keras' `LSTM(return_sequences=False)`).
    #[default]
    LastHidden,
    /// The element-wise maximum over the valid steps' outputs.
    MaxOverTime,
}

/// The classifier's shape; saved with a trained pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Rows of the embedding table (index 0 is padding).
    pub vocab_size: usize,
    /// Width of a word vector.
    pub embedding_dim: usize,
    /// The recurrent encoder (its `input_size` equals `embedding_dim`).
    pub encoder: RecurrentConfig,
    /// How encoder outputs are reduced.
    pub pooling: Pooling,
    /// Dropout on the word vectors and on the pooled features during training (0 = none).
    #[serde(default)]
    pub dropout: f32,
}

impl ModelConfig {
    /// The lecture's model: Embedding(vocab, 100) → LSTM(128) → Dense(1, sigmoid), Keras' initialisers.
    pub fn lecture(vocab_size: usize) -> Self {
        let encoder =
            RecurrentConfig { initialization: RecurrentInit::Keras, ..RecurrentConfig::new(CellKind::Lstm, 100, 128) };
        Self { vocab_size, embedding_dim: 100, encoder, pooling: Pooling::LastHidden, dropout: 0.0 }
    }

    /// [`Error::InvalidArgument`] for an encoder whose input is not the embedding width, or a
    /// size above the bound every model shares.
    fn check(&self) -> Result<()> {
        let encoder = &self.encoder;
        check_sizes(&[
            ("vocab_size", self.vocab_size),
            ("embedding_dim", self.embedding_dim),
            ("hidden_size", encoder.hidden_size),
            ("num_layers", encoder.num_layers),
        ])?;
        if encoder.input_size != self.embedding_dim {
            return Err(Error::InvalidArgument(format!(
                "encoder input {} must equal embedding width {}",
                encoder.input_size, self.embedding_dim
            )));
        }
        Ok(())
    }
}

/// A padded batch of id sequences: `ids` is `(batch, time)` with the valid ids first and 0 after.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Token ids, post-padded with 0.
    pub ids: ArrayD<u32>,
    /// Valid steps per sequence.
    pub lengths: Vec<usize>,
}

impl Batch {
    /// Pads `sequences` to the longest among them; sequences longer than `maxlen` keep their
    /// last `maxlen` ids (Keras' `truncating='pre'`).
    pub fn new<S: AsRef<[u32]>>(sequences: &[S], maxlen: usize) -> Self {
        let clipped: Vec<&[u32]> = sequences
            .iter()
            .map(|s| {
                let s = s.as_ref();
                &s[s.len().saturating_sub(maxlen)..]
            })
            .collect();
        let (ids, lengths) = pad_ids(&clipped, 0);
        Self { ids, lengths }
    }
}

/// Embedding → recurrent encoder → pooling → one logit per review.
///
/// A model starts in inference mode: dropout is off and [`probabilities`](Self::probabilities)
/// answers. Training code switches it to training mode with [`Module::set_training`]`(true)`
/// and back; in training mode `probabilities` refuses, so no prediction runs with dropout on.
#[derive(Debug)]
pub struct SentimentModel {
    config: ModelConfig,
    embedding: Embedding,
    encoder: Recurrent,
    dropout: Dropout,
    output: Linear,
    training: bool,
}

impl SentimentModel {
    /// A freshly initialised model in inference mode; the same seed gives the same weights:
    /// [`from_var_builder`](Self::from_var_builder) on [`VarBuilder::fresh`]`(seed)`, the dropout
    /// masks seeded with `seed ^ 0x5eed`.
    ///
    /// # Errors
    /// As [`from_var_builder`](Self::from_var_builder).
    pub fn new(config: ModelConfig, seed: u64) -> Result<Self> {
        let model = Self::from_var_builder(config, VarBuilder::fresh(seed))?;
        model.dropout.reseed(seed ^ 0x5eed);
        Ok(model)
    }

    /// The model's tensors under `vb`, in inference mode: `embedding.weight`, the encoder's
    /// (`encoder.weight_ih_l0`, …, PyTorch's names) and `output.weight`, `output.bias` — the
    /// names [`Module::named_parameters`] reports and a saved pipeline stores.
    ///
    /// From a fresh source they are drawn in that order: the word vectors uniform in ±0.05
    /// (padding row too), the encoder by its configured initialisation, the output weight
    /// Glorot-uniform and its bias zero; the dropout masks are seeded by [`VarBuilder::seed`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an encoder input other than the embedding width or a
    /// size above 2^32 − 1; [`Error::Tensor`] for a tensor `vb` lacks or holds in another shape
    /// (named), or an invalid layer shape or dropout probability.
    pub fn from_var_builder(config: ModelConfig, vb: VarBuilder) -> Result<Self> {
        config.check()?;
        let (vocab, width) = (config.vocab_size, config.embedding_dim);
        let embedding = Embedding::with_init(vocab, width, Some(0), Init::symmetric_uniform(0.05), vb.pp("embedding"))?;
        let encoder = Recurrent::new(config.encoder.clone(), vb.pp("encoder"))?;
        let features = config.encoder.output_size();
        let glorot = Init::XavierUniform { gain: 1.0 };
        let output = Linear::with_init(features, 1, glorot, Some(Init::Zeros), vb.pp("output"))?;
        let dropout = Dropout::new(config.dropout, vb.seed())?;
        let mut model = Self { config, embedding, encoder, dropout, output, training: true };
        model.set_training(false);
        Ok(model)
    }

    /// True between `set_training(true)` and `set_training(false)`.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Restarts the dropout masks from `seed` (the encoder's between-layer dropout from a seed
    /// derived from it); the trainer calls it before every step with that step's seed, so a
    /// resumed run draws the masks the uninterrupted one drew.
    pub(crate) fn reseed(&self, seed: u64) {
        self.dropout.reseed(seed);
        self.encoder.reseed(seed ^ 0x5eed);
    }

    /// One logit per sequence, `(batch,)`; sigmoid of it is the positive probability.
    ///
    /// This is the training forward pass: in training mode dropout is applied. A sequence of
    /// length 0 gets the output bias alone (its pooled features are zero).
    pub fn logits(&self, batch: &Batch) -> Result<Tensor> {
        if let Some(&bad) = batch.ids.iter().find(|&&id| id as usize >= self.config.vocab_size) {
            return Err(Error::InvalidArgument(format!(
                "token id {bad} is outside the vocabulary of {}",
                self.config.vocab_size
            )));
        }
        let vectors = self.dropout.forward(&self.embedding.forward(&batch.ids)?)?;
        let encoded = self.encoder.forward(&vectors, Some(&batch.lengths), None)?;
        let pooled = match self.config.pooling {
            Pooling::LastHidden => encoded.last_hidden(self.config.encoder.directions())?,
            Pooling::MaxOverTime => max_over_valid_steps(&encoded.output, &batch.lengths)?,
        };
        let batch_size = batch.lengths.len();
        Ok(self.output.forward(&self.dropout.forward(&pooled)?)?.reshape(&[batch_size])?)
    }

    /// Overwrites the word vectors of the given token ids (e.g. from word2vec); returns how many
    /// were set. The padding id 0 and ids outside the vocabulary are skipped; a vector of the
    /// wrong width is an error.
    pub fn set_word_vectors<'v>(&self, vectors: impl IntoIterator<Item = (u32, &'v [f32])>) -> Result<usize> {
        let (vocab, width) = (self.config.vocab_size, self.config.embedding_dim);
        self.embedding.weight.update_data(|table| {
            let mut set = 0;
            let rows = vectors.into_iter().map(|(id, vector)| (id as usize, vector));
            for (row, vector) in rows.filter(|&(row, _)| row > 0 && row < vocab) {
                if vector.len() != width {
                    return Err(Error::InvalidArgument(format!(
                        "word vectors of width {} for an embedding of width {width}",
                        vector.len()
                    )));
                }
                table.index_axis_mut(ndarray::Axis(0), row).iter_mut().zip(vector).for_each(|(w, &v)| *w = v);
                set += 1;
            }
            Ok(set)
        })
    }

    /// Positive-class probabilities, computed without recording gradients.
    ///
    /// Refuses with [`Error::InvalidArgument`] in training mode: a prediction never depends on
    /// dropout masks, hence never on what else is in the batch.
    pub fn probabilities(&self, batch: &Batch) -> Result<Vec<f32>> {
        self.require_inference_mode("probabilities")?;
        let logits = no_grad(|| self.logits(batch))?;
        Ok(logits.data().iter().map(|&z| 1.0 / (1.0 + (-z).exp())).collect())
    }

    /// An error naming `operation` unless the model is in inference mode.
    pub(crate) fn require_inference_mode(&self, operation: &str) -> Result<()> {
        if self.training {
            return Err(Error::InvalidArgument(format!(
                "{operation} needs inference mode; call set_training(false) after training"
            )));
        }
        Ok(())
    }
}

/// Maximum over each sequence's valid steps of `(batch, time, features)`; zero for a sequence
/// without valid steps (its outputs are all zero, so none is masked).
fn max_over_valid_steps(outputs: &Tensor, lengths: &[usize]) -> Result<Tensor> {
    let shape = outputs.shape();
    let mask = ArrayD::from_shape_fn(ndarray::IxDyn(&shape), |index| {
        let length = lengths[index[0]];
        length > 0 && index[1] >= length
    });
    Ok(outputs.masked_fill(&mask, -1e9)?.max_axis(1, false)?)
}

impl Module for SentimentModel {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        named_children(&[("embedding", &self.embedding), ("encoder", &self.encoder), ("output", &self.output)])
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
        self.encoder.set_training(training);
        self.dropout.set_training(training);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_post_pad_and_keep_the_last_ids() {
        let batch = Batch::new(&[vec![1, 2, 3, 4], vec![5]], 3);
        assert_eq!(batch.lengths, [3, 1]);
        assert_eq!(batch.ids.as_slice().unwrap(), &[2, 3, 4, 5, 0, 0]);
    }

    #[test]
    fn logits_have_one_value_per_review_and_pooling_options_work() {
        for pooling in [Pooling::LastHidden, Pooling::MaxOverTime] {
            let mut config = ModelConfig::lecture(20);
            config.embedding_dim = 6;
            config.encoder.input_size = 6;
            config.encoder.hidden_size = 5;
            config.pooling = pooling;
            let model = SentimentModel::new(config, 3).unwrap();
            let batch = Batch::new(&[vec![1, 2, 3], vec![4]], 30);
            let p = model.probabilities(&batch).unwrap();
            assert_eq!(p.len(), 2);
            assert!(p.iter().all(|p| (0.0..=1.0).contains(p)));
            assert!(model.logits(&Batch::new(&[vec![25]], 30)).is_err(), "out-of-vocabulary id");
            let empty = model.probabilities(&Batch::new(&[Vec::<u32>::new()], 30)).unwrap();
            assert_eq!(empty, [0.5], "no valid step: zero features and a zero bias");
        }
    }

    #[test]
    fn models_start_in_inference_mode_and_refuse_to_predict_in_training_mode() {
        let mut config = ModelConfig::lecture(20);
        config.dropout = 0.5;
        let mut model = SentimentModel::new(config, 3).unwrap();
        assert!(!model.is_training());
        let batch = Batch::new(&[vec![1, 2, 3]], 30);
        let before = model.probabilities(&batch).unwrap();
        model.set_training(true);
        assert!(model.probabilities(&batch).unwrap_err().to_string().contains("inference mode"));
        model.set_training(false);
        assert_eq!(model.probabilities(&batch).unwrap(), before);
    }
}
