//! BERT's pre-training heads (`cls.*` of `BertForPreTraining`): masked LM and next-sentence
//! prediction over the encoder, with their losses.

use std::path::Path;

use ndarray::Array2;

use malmoi_tensor::nn::init::Init;
use malmoi_tensor::nn::{LayerNorm, Linear, Module, prefixed};
use malmoi_tensor::{Tensor, VarBuilder};

use super::{Bert, BertInput, load, save_dir};
use crate::error::{Error, Result};
use crate::gpt::token_cross_entropy;
use crate::init::{STD, linear};

/// The pre-training heads (`cls.*` of `BertForPreTraining`): masked-LM (a transform, then the
/// word-embedding matrix plus a bias) and next-sentence prediction over the pooled `[CLS]`.
#[derive(Debug)]
pub struct BertForPreTraining {
    /// The encoder.
    pub bert: Bert,
    /// `cls.predictions.transform.dense`.
    pub transform: Linear,
    /// `cls.predictions.transform.LayerNorm`.
    pub transform_norm: LayerNorm,
    /// `cls.predictions.bias`; the decoder weight is the word embeddings.
    pub decoder_bias: Tensor,
    /// `cls.seq_relationship`, `H → 2` (0 = B follows A).
    pub seq_relationship: Linear,
}

/// Logits of both pre-training tasks.
#[derive(Debug, Clone)]
pub struct PreTrainingOutput {
    /// `(B, T, vocab)`.
    pub prediction_logits: Tensor,
    /// `(B, 2)`.
    pub seq_relationship_logits: Tensor,
}

impl BertForPreTraining {
    /// Heads initialised as BERT's by `seed`, over `bert` (which must have a pooler).
    ///
    /// # Errors
    /// [`Error::Config`] for an encoder without a pooler.
    pub fn new(bert: Bert, seed: u64) -> Result<Self> {
        Self::with_heads(bert, &VarBuilder::fresh(seed))
    }

    /// The heads under `vb` (`cls.predictions.transform.{dense,LayerNorm}`,
    /// `cls.predictions.bias`, `cls.seq_relationship`) over `bert`.
    fn with_heads(bert: Bert, vb: &VarBuilder) -> Result<Self> {
        if bert.pooler.is_none() {
            return Err(Error::Config("next-sentence prediction needs the pooler".into()));
        }
        let (h, eps) = (bert.config.hidden_size, bert.config.layer_norm_eps);
        Ok(BertForPreTraining {
            transform: linear(h, h, true, STD, vb.pp("cls.predictions.transform.dense"))?,
            transform_norm: LayerNorm::new(h, eps, vb.pp("cls.predictions.transform.LayerNorm"))?,
            decoder_bias: vb.parameter_or_init(&[bert.config.vocab_size], "cls.predictions.bias", Init::Zeros)?,
            seq_relationship: linear(h, 2, true, STD, vb.pp("cls.seq_relationship"))?,
            bert,
        })
    }

    /// Loads a `BertForPreTraining` directory (`bert.*` with its pooler, `cls.*`), in
    /// inference mode.
    ///
    /// # Errors
    /// As [`Bert::from_pretrained`].
    pub fn from_pretrained(dir: impl AsRef<Path>) -> Result<Self> {
        let ignorable = |n: &str| n == "cls.predictions.decoder.weight" || n.ends_with("position_ids");
        let build = |config, vb: &VarBuilder| Self::with_heads(Bert::build(config, &vb.pp("bert"), true, 0)?, vb);
        let mut model = load(dir.as_ref(), build, ignorable)?;
        model.set_training(false);
        Ok(model)
    }

    /// Writes a `BertForPreTraining` directory (the decoder tied to the word embeddings).
    ///
    /// # Errors
    /// Write errors; [`Error::Config`] for a model carrying LoRA adapters (merge them first).
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        save_dir(dir.as_ref(), &self.bert.config, "BertForPreTraining", None, &self.named_parameters())
    }

    /// Both tasks' logits.
    ///
    /// # Errors
    /// As [`Bert::forward`].
    pub fn forward(&self, input: &BertInput) -> Result<PreTrainingOutput> {
        let out = self.bert.forward(input)?;
        let h = self.bert.activation.apply(&self.transform.forward(&out.last_hidden_state)?);
        let h = self.transform_norm.forward(&h)?;
        let decoder = Linear::from_tensors(self.bert.embeddings.word_embeddings.weight.clone(), None)?;
        let prediction_logits = decoder.forward(&h)?.add(&self.decoder_bias)?;
        let pooled = out.pooler_output.expect("checked at construction");
        Ok(PreTrainingOutput { prediction_logits, seq_relationship_logits: self.seq_relationship.forward(&pooled)? })
    }

    /// The masked-LM loss (mean over labelled positions; [`crate::IGNORE_INDEX`] elsewhere)
    /// and the next-sentence loss, as `BertForPreTraining` sums them.
    ///
    /// # Errors
    /// Shape errors; [`malmoi_tensor::Error::NonFinite`] for a NaN loss.
    pub fn losses(
        &self,
        input: &BertInput,
        mlm_labels: &Array2<u32>,
        next_sentence: &[usize],
    ) -> Result<(Tensor, Tensor)> {
        self.forward(input)?.losses(mlm_labels, next_sentence)
    }
}

impl PreTrainingOutput {
    /// The masked-LM and next-sentence losses of these logits (see
    /// [`BertForPreTraining::losses`]).
    ///
    /// # Errors
    /// Shape errors; [`malmoi_tensor::Error::NonFinite`] for a NaN loss.
    pub fn losses(&self, mlm_labels: &Array2<u32>, next_sentence: &[usize]) -> Result<(Tensor, Tensor)> {
        let mlm = token_cross_entropy(&self.prediction_logits, &mlm_labels.clone().into_dyn())?;
        let labels = ndarray::Array1::from(next_sentence.to_vec()).into_dyn();
        let nsp = self.seq_relationship_logits.cross_entropy(&labels, None)?;
        if !(mlm.item()?.is_finite() && nsp.item()?.is_finite()) {
            return Err(malmoi_tensor::Error::non_finite("pre-training loss").into());
        }
        Ok((mlm, nsp))
    }
}

impl Module for BertForPreTraining {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut params = prefixed("bert", self.bert.named_parameters());
        params.extend(prefixed("cls.predictions.transform.dense", self.transform.named_parameters()));
        params.extend(prefixed("cls.predictions.transform.LayerNorm", self.transform_norm.named_parameters()));
        params.push(("cls.predictions.bias".into(), self.decoder_bias.clone()));
        params.extend(prefixed("cls.seq_relationship", self.seq_relationship.named_parameters()));
        params
    }

    fn set_training(&mut self, training: bool) {
        self.bert.set_training(training);
    }
}
