//! The encoder–decoder with Luong attention: its layers, the teacher-forced forward pass and
//! one decoding step.

use malmoi_tensor::nn::{
    CellKind, Dropout, Embedding, Linear, Module, Recurrent, RecurrentConfig, RecurrentState, named_children,
};
use malmoi_tensor::{Tensor, VarBuilder, no_grad};
use ndarray::{Array2, ArrayD, Axis, Ix3};
use serde::{Deserialize, Serialize};

use super::attention::{AttentionScore, attend, attend_all};
use super::vocab::{BOS, EOS, PAD};
use crate::batching::pad_ids;
use crate::error::{Error, Result};
use crate::sizes::check_sizes;

/// The model's shape; saved in `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seq2SeqConfig {
    /// Source vocabulary size, specials included.
    pub source_vocab: usize,
    /// Target vocabulary size, specials included.
    pub target_vocab: usize,
    /// Width of the character embeddings (both sides).
    pub embedding_dim: usize,
    /// Hidden size of the encoder per direction; the decoder's is `directions × hidden_size`.
    pub hidden_size: usize,
    /// LSTM or GRU (both run as fused kernels).
    pub cell: CellKind,
    /// Encode in both directions.
    pub bidirectional: bool,
    /// How attention scores are computed.
    pub attention: AttentionScore,
    /// Dropout on embeddings and attentional states during training.
    pub dropout: f32,
}

impl Seq2SeqConfig {
    /// A bidirectional LSTM encoder with general attention and dropout 0.1.
    pub fn new(source_vocab: usize, target_vocab: usize, embedding_dim: usize, hidden_size: usize) -> Self {
        Self {
            source_vocab,
            target_vocab,
            embedding_dim,
            hidden_size,
            cell: CellKind::Lstm,
            bidirectional: true,
            attention: AttentionScore::General,
            dropout: 0.1,
        }
    }

    /// [`Error::InvalidArgument`] for a vocabulary without characters beyond the specials, or
    /// a size above the bound every model shares.
    fn check(&self) -> Result<()> {
        check_sizes(&[
            ("source_vocab", self.source_vocab),
            ("target_vocab", self.target_vocab),
            ("embedding_dim", self.embedding_dim),
            ("hidden_size", self.hidden_size),
        ])?;
        if self.source_vocab <= EOS as usize || self.target_vocab <= EOS as usize {
            return Err(Error::InvalidArgument(format!(
                "vocabularies need characters beyond the 4 specials: {} and {}",
                self.source_vocab, self.target_vocab
            )));
        }
        Ok(())
    }

    /// The decoder's hidden size: the encoder's output width.
    pub fn decoder_size(&self) -> usize {
        self.encoder().output_size()
    }

    fn encoder(&self) -> RecurrentConfig {
        RecurrentConfig {
            bidirectional: self.bidirectional,
            ..RecurrentConfig::new(self.cell, self.embedding_dim, self.hidden_size)
        }
    }

    fn decoder(&self) -> RecurrentConfig {
        RecurrentConfig::new(self.cell, self.embedding_dim, self.decoder_size())
    }
}

/// Padded id sequences: `ids (batch, time)` post-padded with [`PAD`] and the valid lengths.
#[derive(Debug, Clone)]
pub struct Padded {
    /// Ids, `(batch, time)`.
    pub ids: ArrayD<u32>,
    /// Valid steps per row.
    pub lengths: Vec<usize>,
}

impl Padded {
    /// Pads `sequences` (each optionally framed by `prefix` / `suffix`) to the longest.
    pub fn new<S: AsRef<[u32]>>(sequences: &[S], prefix: Option<u32>, suffix: Option<u32>) -> Self {
        let framed: Vec<Vec<u32>> = sequences
            .iter()
            .map(|s| prefix.into_iter().chain(s.as_ref().iter().copied()).chain(suffix).collect())
            .collect();
        let (ids, lengths) = pad_ids(&framed, PAD);
        Self { ids, lengths }
    }

    /// `(batch, time)` with `true` at padded steps.
    pub fn padding_mask(&self) -> Array2<bool> {
        let time = self.ids.shape()[1];
        Array2::from_shape_fn((self.lengths.len(), time), |(b, t)| t >= self.lengths[b])
    }
}

/// What the encoder gives the decoder.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Encoder outputs, the attention values, `(batch, source, decoder_size)`.
    pub values: Tensor,
    /// Attention keys (`W_a h_s`, or `h_s` for dot scores), same shape.
    pub keys: Tensor,
    /// `(batch, source)`, `true` at padded source steps.
    pub padding: Array2<bool>,
    /// The decoder's initial state: the encoder's final states, directions concatenated.
    pub state: RecurrentState,
}

impl Encoded {
    /// The rows `rows` of every part, in that order (beam search reorders and repeats rows).
    pub fn select(&self, rows: &[usize]) -> Result<Encoded> {
        Ok(Encoded {
            values: select_rows(&self.values, rows),
            keys: select_rows(&self.keys, rows),
            padding: self.padding.select(Axis(0), rows),
            state: select_state(&self.state, rows),
        })
    }
}

/// Rows of a tensor along its first axis, as a constant (inference only).
fn select_rows(tensor: &Tensor, rows: &[usize]) -> Tensor {
    Tensor::constant(tensor.data().select(Axis(0), rows))
}

/// Rows of a decoder state.
pub(crate) fn select_state(state: &RecurrentState, rows: &[usize]) -> RecurrentState {
    RecurrentState { h: select_rows(&state.h, rows), c: state.c.as_ref().map(|c| select_rows(c, rows)) }
}

/// One decoding step's result for `n` rows.
#[derive(Debug)]
pub struct Step {
    /// Log-probabilities of the next id, `(n, target_vocab)`; [`PAD`] and [`BOS`] are −∞.
    pub log_probs: Array2<f32>,
    /// Attention weights over the source, `(n, source)`.
    pub attention: Array2<f32>,
    /// The decoder state after the step.
    pub state: RecurrentState,
}

/// Embedding → recurrent encoder; embedding → recurrent decoder → Luong attention over the
/// encoder outputs → `tanh(W_c [context; h_t])` → output layer.
///
/// The decoder runs before attention (Luong's "attention after the RNN", without input
/// feeding), so a teacher-forced pass is one fused recurrent kernel over the whole target and
/// one batched attention call.
#[derive(Debug)]
pub struct Seq2SeqModel {
    config: Seq2SeqConfig,
    source_embedding: Embedding,
    encoder: Recurrent,
    target_embedding: Embedding,
    decoder: Recurrent,
    key: Option<Linear>,
    combine: Linear,
    output: Linear,
    dropout: Dropout,
}

impl Seq2SeqModel {
    /// A freshly initialised model; the same seed gives the same weights:
    /// [`from_var_builder`](Self::from_var_builder) on [`VarBuilder::fresh`]`(seed)`, the dropout
    /// masks seeded with `seed ^ 0x5eed`.
    ///
    /// # Errors
    /// As [`from_var_builder`](Self::from_var_builder).
    pub fn new(config: Seq2SeqConfig, seed: u64) -> Result<Self> {
        let model = Self::from_var_builder(config, VarBuilder::fresh(seed))?;
        model.dropout.reseed(seed ^ 0x5eed);
        Ok(model)
    }

    /// The model's tensors under `vb`, named as [`Module::named_parameters`] reports them and a
    /// saved model stores them: `source_embedding`, `encoder`, `target_embedding`, `decoder`,
    /// `attention_key` (general attention only), `combine` and `output`, each layer's own
    /// names below (`encoder.weight_ih_l0_reverse`, `output.bias`, …).
    ///
    /// From a fresh source they are drawn in that order, each layer by PyTorch's default
    /// (embeddings `N(0, 1)` with the padding row zeroed); the dropout masks are seeded by
    /// [`VarBuilder::seed`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a vocabulary of specials only or a size above 2^32 − 1;
    /// [`Error::Tensor`] for a tensor `vb` lacks or holds in another shape (named), or an
    /// invalid layer shape or dropout probability.
    pub fn from_var_builder(config: Seq2SeqConfig, vb: VarBuilder) -> Result<Self> {
        config.check()?;
        let (embedding, decoder_size, pad) = (config.embedding_dim, config.decoder_size(), Some(PAD as usize));
        let source_embedding = Embedding::new(config.source_vocab, embedding, pad, vb.pp("source_embedding"))?;
        let encoder = Recurrent::new(config.encoder(), vb.pp("encoder"))?;
        let target_embedding = Embedding::new(config.target_vocab, embedding, pad, vb.pp("target_embedding"))?;
        let decoder = Recurrent::new(config.decoder(), vb.pp("decoder"))?;
        let key = match config.attention {
            AttentionScore::General => Some(Linear::new(decoder_size, decoder_size, false, vb.pp("attention_key"))?),
            AttentionScore::Dot => None,
        };
        let combine = Linear::new(2 * decoder_size, decoder_size, true, vb.pp("combine"))?;
        let output = Linear::new(decoder_size, config.target_vocab, true, vb.pp("output"))?;
        let dropout = Dropout::new(config.dropout, vb.seed())?;
        Ok(Self { config, source_embedding, encoder, target_embedding, decoder, key, combine, output, dropout })
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &Seq2SeqConfig {
        &self.config
    }

    /// Restarts the dropout masks from `seed` (the recurrent stacks' between-layer dropout from
    /// seeds derived from it); the trainer calls it before every step with that step's seed, so a
    /// resumed run draws the masks the uninterrupted one drew.
    pub(crate) fn reseed(&self, seed: u64) {
        self.dropout.reseed(seed);
        self.encoder.reseed(seed ^ 0x5eed);
        self.decoder.reseed(seed ^ 0xdec0);
    }

    /// Runs the encoder over a padded source batch.
    pub fn encode(&self, source: &Padded) -> Result<Encoded> {
        check_ids(&source.ids, self.config.source_vocab, "source")?;
        let vectors = self.dropout.forward(&self.source_embedding.forward(&source.ids)?)?;
        let encoded = self.encoder.forward(&vectors, Some(&source.lengths), None)?;
        let keys = match &self.key {
            Some(key) => key.forward(&encoded.output)?,
            None => encoded.output.clone(),
        };
        let state = concat_directions(&encoded.states)?;
        Ok(Encoded { values: encoded.output, keys, padding: source.padding_mask(), state })
    }

    /// Teacher-forced logits `(batch, target + 1, target_vocab)`: the decoder reads
    /// [`BOS`] + target and is scored against target + [`EOS`].
    pub fn logits(&self, source: &Padded, target: &Padded) -> Result<Tensor> {
        check_ids(&target.ids, self.config.target_vocab, "target")?;
        let encoded = self.encode(source)?;
        let vectors = self.dropout.forward(&self.target_embedding.forward(&target.ids)?)?;
        let states = [encoded.state.clone()];
        let decoded = self.decoder.forward(&vectors, Some(&target.lengths), Some(&states))?.output;
        let context = attend_all(&decoded, &encoded.keys, &encoded.values, &encoded.padding)?;
        self.predict_ids(&context, &decoded)
    }

    /// Mean cross-entropy of the next-id predictions over the valid target steps, and the
    /// logits it was computed from. `target_in` is [`BOS`] + target, `target_out` target +
    /// [`EOS`] (as [`Padded::new`] frames them).
    pub fn loss(&self, source: &Padded, target_in: &Padded, target_out: &Padded) -> Result<(Tensor, Tensor)> {
        let logits = self.logits(source, target_in)?;
        // cross_entropy reads class indices.
        let classes = target_out.ids.mapv(|id| id as usize);
        let loss = logits.cross_entropy(&classes, Some(PAD as usize))?;
        Ok((loss, logits))
    }

    /// `output(dropout(tanh(W_c [context; h])))`.
    fn predict_ids(&self, context: &Tensor, decoded: &Tensor) -> Result<Tensor> {
        let joined = Tensor::cat(&[context.clone(), decoded.clone()], -1)?;
        let attentional = self.dropout.forward(&self.combine.forward(&joined)?.tanh())?;
        Ok(self.output.forward(&attentional)?)
    }

    /// One decoding step without gradients: feeds `previous` ids (one per row of `encoded`)
    /// from `state`.
    pub fn step(&self, encoded: &Encoded, previous: &[u32], state: &RecurrentState) -> Result<Step> {
        no_grad(|| {
            let ids = ndarray::aview1(previous).insert_axis(Axis(1)).into_dyn().to_owned();
            check_ids(&ids, self.config.target_vocab, "previous")?;
            let vectors = self.target_embedding.forward(&ids)?;
            let decoded = self.decoder.forward(&vectors, None, Some(std::slice::from_ref(state)))?;
            let (context, attention) = attend(&decoded.output, &encoded.keys, &encoded.values, &encoded.padding)?;
            let logits = self.predict_ids(&context, &decoded.output)?;
            let mut log_probs = to_matrix(&logits.log_softmax(-1)?.to_array());
            log_probs.column_mut(PAD as usize).fill(f32::NEG_INFINITY);
            log_probs.column_mut(BOS as usize).fill(f32::NEG_INFINITY);
            let state = decoded.states.into_iter().next().expect("one decoder layer");
            Ok(Step { log_probs, attention, state })
        })
    }
}

/// `(n, 1, V)` logits as an `(n, V)` matrix.
fn to_matrix(array: &ArrayD<f32>) -> Array2<f32> {
    array.view().into_dimensionality::<Ix3>().expect("3-D logits").index_axis(Axis(1), 0).to_owned()
}

/// The final states of a one-layer encoder, directions concatenated along the features.
fn concat_directions(states: &[RecurrentState]) -> Result<RecurrentState> {
    let join = |parts: Vec<Tensor>| -> Result<Tensor> {
        Ok(if parts.len() == 1 { parts.into_iter().next().expect("one") } else { Tensor::cat(&parts, 1)? })
    };
    let h = join(states.iter().map(|s| s.h.clone()).collect())?;
    let c = states.iter().map(|s| s.c.clone()).collect::<Option<Vec<_>>>().map(join).transpose()?;
    Ok(RecurrentState { h, c })
}

fn check_ids(ids: &ArrayD<u32>, size: usize, what: &str) -> Result<()> {
    match ids.iter().find(|&&id| id as usize >= size) {
        Some(bad) => Err(Error::InvalidArgument(format!("{what} id {bad} is outside the vocabulary of {size}"))),
        None => Ok(()),
    }
}

impl Module for Seq2SeqModel {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut children: Vec<(&str, &dyn Module)> = vec![
            ("source_embedding", &self.source_embedding),
            ("encoder", &self.encoder),
            ("target_embedding", &self.target_embedding),
            ("decoder", &self.decoder),
        ];
        children.extend(self.key.as_ref().map(|key| ("attention_key", key as &dyn Module)));
        children.extend([("combine", &self.combine as &dyn Module), ("output", &self.output)]);
        named_children(&children)
    }

    fn set_training(&mut self, training: bool) {
        self.encoder.set_training(training);
        self.decoder.set_training(training);
        self.dropout.set_training(training);
    }
}
