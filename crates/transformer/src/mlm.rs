//! Masked-language-model pre-training (BERT's 80/10/10 rule) together with next-sentence
//! prediction, as a [`TrainStep`] of the shared engine: [`PreTraining`].
//!
//! ```
//! use malmoi_train::{TrainConfig, Trainer};
//! use malmoi_transformer::bert::{Bert, BertConfig, BertForPreTraining};
//! use malmoi_transformer::mlm::{PreTraining, PreTrainingConfig};
//! use malmoi_transformer::nsp::SpecialIds;
//!
//! let config: BertConfig = serde_json::from_str(r#"{"vocab_size": 40, "hidden_size": 16,
//!     "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
//!     "max_position_embeddings": 24}"#)?;
//! let mut model = BertForPreTraining::new(Bert::new(config, 0)?, 0)?;
//! let sentences: Vec<Vec<u32>> = (0..50).map(|i| (0..6).map(|t| 4 + (i + t) % 36).collect()).collect();
//! let special = SpecialIds { pad: 0, cls: 1, sep: 2, mask: 3 };
//! let config = PreTrainingConfig { batch_size: 8, max_len: 16, ..PreTrainingConfig::default() };
//! let mut step = PreTraining::new(&mut model, &sentences, &sentences[..10], special, config)?;
//! let mut optimizer = step.optimizer(1e-3)?;
//! let run = TrainConfig { max_steps: 4, learning_rate: 1e-3, eval_interval: 2, ..TrainConfig::default() };
//! let log = Trainer::new(run).fit(&mut step, &mut optimizer)?;
//! assert!(log.last_eval().unwrap().metrics.contains_key("val_mlm_loss"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use malmoi_tensor::nn::Module;
use malmoi_tensor::no_grad;
use malmoi_tensor::optim::{Adam, AdamW, ParamGroup};
use malmoi_train::{Metrics, StepOutput, TrainStep, Update};

use crate::bert::{BertForPreTraining, BertInput};
use crate::error::{Error, Result};
use crate::nsp::{SpecialIds, sample_pair, sentence_pair};

/// BERT's masking rule: each non-special token is chosen with probability `rate` (15 %); a
/// chosen token becomes `mask_id` 80 % of the time, a random id 10 %, and stays 10 %. Returns
/// the masked ids and the labels (the original id where chosen, [`crate::IGNORE_INDEX`]
/// elsewhere).
pub fn mask_tokens(
    ids: &[u32],
    special: &[bool],
    rate: f32,
    mask_id: u32,
    vocab_size: usize,
    rng: &mut impl Rng,
) -> (Vec<u32>, Vec<u32>) {
    let mut masked = ids.to_vec();
    let mut labels = vec![crate::IGNORE_INDEX; ids.len()];
    for (i, &id) in ids.iter().enumerate() {
        if special.get(i).copied().unwrap_or(false) || rng.random::<f32>() >= rate {
            continue;
        }
        labels[i] = id;
        let roll: f32 = rng.random();
        if roll < 0.8 {
            masked[i] = mask_id;
        } else if roll < 0.9 {
            // Drawn over `usize`, the vocabulary size's type: that fixes what a seed draws.
            masked[i] = rng.random_range(0..vocab_size) as u32;
        }
    }
    (masked, labels)
}

/// The pre-training knobs besides the engine's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreTrainingConfig {
    /// Sentence pairs per step.
    pub batch_size: usize,
    /// Longest pair, in tokens (at most the model's positions).
    pub max_len: usize,
    /// Share of tokens chosen for the masked-LM task (BERT: 0.15).
    pub mask_rate: f32,
    /// AdamW's weight decay on matrices (BERT: 0.01).
    pub weight_decay: f32,
    /// Held-out batches per evaluation (drawn with a fixed seed, the same every time).
    pub eval_batches: usize,
}

impl Default for PreTrainingConfig {
    fn default() -> Self {
        PreTrainingConfig { batch_size: 32, max_len: 64, mask_rate: 0.15, weight_decay: 0.01, eval_batches: 8 }
    }
}

/// One batch: the masked input, the masked-LM labels and the next-sentence labels.
struct Batch {
    input: BertInput,
    mlm_labels: Array2<u32>,
    next: Vec<usize>,
}

/// Masked LM + next-sentence prediction over consecutive `sentences` (token ids without
/// specials), validated on `held_out`: the [`TrainStep`] of BERT pre-training. Metrics:
/// `mlm_loss`, `nsp_loss` per step; `val_mlm_loss`, `val_nsp_loss`, `val_nsp_accuracy`.
#[derive(Debug)]
pub struct PreTraining<'a> {
    model: &'a mut BertForPreTraining,
    sentences: &'a [Vec<u32>],
    held_out: &'a [Vec<u32>],
    special: SpecialIds,
    config: PreTrainingConfig,
}

impl<'a> PreTraining<'a> {
    /// Pre-training of `model` on `sentences`.
    ///
    /// # Errors
    /// [`Error::Input`] for fewer than two sentences (either set); [`Error::Config`] for a zero
    /// batch, a rate outside (0, 1) or pairs longer than the model's positions.
    pub fn new(
        model: &'a mut BertForPreTraining,
        sentences: &'a [Vec<u32>],
        held_out: &'a [Vec<u32>],
        special: SpecialIds,
        config: PreTrainingConfig,
    ) -> Result<Self> {
        if sentences.len() < 2 || held_out.len() < 2 {
            return Err(Error::Input("next-sentence pairs need at least two sentences in each set".into()));
        }
        let positions = model.bert.config().max_position_embeddings;
        if config.batch_size == 0 || !(config.mask_rate > 0.0 && config.mask_rate < 1.0) || config.max_len > positions {
            return Err(Error::Config(format!(
                "batch {}, mask rate {} and pairs of {} tokens (positions: {positions}) cannot train",
                config.batch_size, config.mask_rate, config.max_len
            )));
        }
        Ok(PreTraining { model, sentences, held_out, special, config })
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

    fn batch(&self, sentences: &[Vec<u32>], rng: &mut StdRng) -> Result<Batch> {
        let vocab = self.model.bert.config().vocab_size;
        let (mut inputs, mut labels, mut next) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..self.config.batch_size {
            let (a, b, label) = sample_pair(sentences, rng);
            let (ids, types) = sentence_pair(&sentences[a], Some(&sentences[b]), self.config.max_len, self.special);
            let special: Vec<bool> = ids.iter().map(|&t| t == self.special.cls || t == self.special.sep).collect();
            let (masked, label_ids) = mask_tokens(&ids, &special, self.config.mask_rate, self.special.mask, vocab, rng);
            inputs.push((masked, types));
            labels.push(label_ids);
            next.push(label);
        }
        let input = BertInput::pad(&inputs, self.special.pad)?;
        let width = input.input_ids.ncols();
        let mlm_labels = Array2::from_shape_fn((labels.len(), width), |(r, t)| {
            labels[r].get(t).copied().unwrap_or(crate::IGNORE_INDEX)
        });
        Ok(Batch { input, mlm_labels, next })
    }
}

impl TrainStep for PreTraining<'_> {
    type Error = Error;

    fn model(&mut self) -> &mut dyn Module {
        &mut *self.model
    }

    fn train_step(&mut self, _step: usize, seed: u64, update: &mut Update<'_>) -> Result<StepOutput> {
        let mut rng = StdRng::seed_from_u64(seed);
        let batch = self.batch(self.sentences, &mut rng)?;
        self.model.bert.reseed(rng.random());
        let (mlm, nsp) = self.model.losses(&batch.input, &batch.mlm_labels, &batch.next)?;
        let (mlm_value, nsp_value) = (f64::from(mlm.item()?), f64::from(nsp.item()?));
        let loss = update.apply(&mlm.add(&nsp)?)?;
        Ok(StepOutput::loss(loss).with("mlm_loss", mlm_value).with("nsp_loss", nsp_value))
    }

    fn evaluate(&mut self) -> Result<Metrics> {
        let mut rng = StdRng::seed_from_u64(0xe7a1);
        let (mut mlm_sum, mut nsp_sum, mut correct, mut pairs) = (0.0, 0.0, 0, 0);
        for _ in 0..self.config.eval_batches.max(1) {
            let batch = self.batch(self.held_out, &mut rng)?;
            let (mlm, nsp, next_logits) = no_grad(|| -> Result<_> {
                let out = self.model.forward(&batch.input)?;
                let (mlm, nsp) = out.losses(&batch.mlm_labels, &batch.next)?;
                Ok((mlm.item()?, nsp.item()?, out.seq_relationship_logits.to_array()))
            })?;
            mlm_sum += f64::from(mlm);
            nsp_sum += f64::from(nsp);
            let predicted = next_logits.outer_iter().map(|r| usize::from(r[[1]] > r[[0]]));
            correct += predicted.zip(&batch.next).filter(|(p, label)| p == *label).count();
            pairs += batch.next.len();
        }
        let batches = self.config.eval_batches.max(1) as f64;
        Ok(Metrics::from([
            ("mlm_loss".into(), mlm_sum / batches),
            ("nsp_loss".into(), nsp_sum / batches),
            ("nsp_accuracy".into(), correct as f64 / pairs as f64),
        ]))
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({ "pre_training": self.config, "special": self.special })
    }
}
