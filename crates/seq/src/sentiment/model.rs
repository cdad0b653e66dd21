//! The review classifier: Embedding → recurrent encoder → (pooling) → Dense(1) → sigmoid.

use malmoi_tensor::nn::{
    CellKind, Dropout, Embedding, Linear, Module, Recurrent, RecurrentConfig, RecurrentInit, init, prefixed,
};
use malmoi_tensor::{Tensor, no_grad};
use ndarray::ArrayD;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::batching::pad_ids;
use crate::error::{Error, Result};

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

    /// A lower bound on the number of weights this configuration has (the embedding table and
    /// one `hidden × (input + hidden)` matrix per recurrent layer and direction), saturating
    /// instead of overflowing. Loaders compare it with the weights file before building the
    /// model, so a configuration claiming 10^12 weights is refused without allocating them.
    pub(crate) fn min_parameters(&self) -> u64 {
        let [vocab, width, hidden, layers] =
            [self.vocab_size, self.embedding_dim, self.encoder.hidden_size, self.encoder.num_layers].map(|n| n as u64);
        let directions = self.encoder.directions() as u64;
        let first = hidden.saturating_mul(width.saturating_add(hidden));
        let per_layer = hidden.saturating_mul(hidden.saturating_mul(2));
        vocab.saturating_mul(width).saturating_add(
            directions.saturating_mul(first.saturating_add(layers.saturating_sub(1).saturating_mul(per_layer))),
        )
    }
}

/// A padded batch of id sequences: `ids` is `(batch, time)` with the valid ids first and 0 after.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Token ids, post-padded with 0.
    pub ids: ArrayD<usize>,
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
    /// A freshly initialised model in inference mode; the same seed gives the same weights.
    pub fn new(config: ModelConfig, seed: u64) -> Result<Self> {
        if config.encoder.input_size != config.embedding_dim {
            return Err(Error::InvalidArgument(format!(
                "encoder input {} must equal embedding width {}",
                config.encoder.input_size, config.embedding_dim
            )));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let table = init::uniform(&[config.vocab_size, config.embedding_dim], -0.05, 0.05, &mut rng)?;
        let embedding = Embedding::from_weights(table, Some(0))?;
        let encoder = Recurrent::new(config.encoder.clone(), &mut rng)?;
        let features = config.encoder.output_size();
        let weight = init::xavier_uniform(&[1, features], 1.0, &mut rng)?;
        let output = Linear::from_weights(weight, Some(init::zeros(&[1])))?;
        let dropout = Dropout::new(config.dropout, seed ^ 0x5eed)?;
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
        if let Some(&bad) = batch.ids.iter().find(|&&id| id >= self.config.vocab_size) {
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

    /// Overwrites the word vectors of the given rows (e.g. from word2vec); returns how many
    /// rows were set. Rows outside the vocabulary are skipped; a vector of the wrong width is an
    /// error.
    pub fn set_word_vectors<'v>(&self, rows: impl IntoIterator<Item = (usize, &'v [f32])>) -> Result<usize> {
        let (vocab, width) = (self.config.vocab_size, self.config.embedding_dim);
        self.embedding.weight.update_data(|table| {
            let mut set = 0;
            for (row, vector) in rows.into_iter().filter(|&(row, _)| row > 0 && row < vocab) {
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
        let mut params = prefixed("embedding", self.embedding.named_parameters());
        params.extend(prefixed("encoder", self.encoder.named_parameters()));
        params.extend(prefixed("output", self.output.named_parameters()));
        params
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
