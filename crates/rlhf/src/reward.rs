//! The reward model: a GPT trunk with a scalar head on the last token, trained on rankings with
//! the pairwise loss `−log σ(r_chosen − r_rejected)` (InstructGPT; TRL's `RewardTrainer`).
//!
//! It saves in the layout of `transformers`' `GPT2ForSequenceClassification` with one label
//! (`score.weight`, the score read at the last non-padding token, `pad_token_id` in
//! `config.json`), which is what TRL's reward trainer loads, so a reward model made here
//! continues there and back.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use serde_json::Value;

use malmoi_tensor::checkpoint::{self, write_atomically};
use malmoi_tensor::nn::init::Init;
use malmoi_tensor::nn::{Linear, Module};
use malmoi_tensor::{Tensor, VarBuilder, no_grad};
use malmoi_tokenize::tokenizer::Tokenizer;
use malmoi_train::checkpoint::save_parameters;
use malmoi_transformer::Gpt;
use malmoi_transformer::generation::{Generator, TOKENIZER_FILE};
use malmoi_transformer::hf::{self, CONFIG_FILE, WEIGHTS_FILE};

use crate::batch::{ResponseBatch, Sequence};
use crate::error::{Error, Result};
use crate::fit::Objective;
use crate::lora::LoraModel;
use crate::losses::pairwise_loss;

/// The file of a reward model's adapter folder that holds its score head
/// ([`RewardModel::save_adapter`]).
pub const SCORE_HEAD_FILE: &str = "score.safetensors";

/// A preferred and a dispreferred response to the same prompt, as tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preference {
    /// The better response after its prompt.
    pub chosen: Sequence,
    /// The worse one.
    pub rejected: Sequence,
}

/// A GPT trunk and a scalar score head.
#[derive(Debug)]
pub struct RewardModel {
    /// The transformer whose last hidden state is scored.
    pub trunk: Gpt,
    /// `score.weight (1, C)`, no bias, as in `GPT2ForSequenceClassification`.
    pub head: Linear,
    /// The tokenizer the trunk was trained with (a policy must share it).
    pub tokenizer: Tokenizer,
    /// The id batches are padded with.
    pub pad: u32,
}

/// The trunk's parameters and `score.weight`, `GPT2ForSequenceClassification`'s names.
impl Module for RewardModel {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut params = self.trunk.named_parameters();
        params.push(("score.weight".to_string(), self.head.weight.clone()));
        params
    }

    fn set_training(&mut self, training: bool) {
        self.trunk.set_training(training);
    }
}

impl RewardModel {
    /// A reward model that starts from a language model (the SFT model, as InstructGPT does),
    /// with a fresh head drawn from N(0, 0.02²) by `seed`.
    ///
    /// # Errors
    /// [`Error::Input`] if the tokenizer has no `<|endoftext|>` (the padding id).
    pub fn from_generator(generator: Generator, seed: u64) -> Result<Self> {
        let pad =
            generator.end_of_text().ok_or_else(|| Error::Input("the tokenizer has no <|endoftext|> token".into()))?;
        let head = score_head(generator.model.config().n_embd, &VarBuilder::fresh(seed))?;
        let Generator { model, tokenizer, .. } = generator;
        Ok(Self { trunk: model, head, tokenizer, pad })
    }

    /// Scores `(B)` of a batch's rows, with gradients, each read where
    /// `GPT2ForSequenceClassification` reads it: at the rightmost token that is not the padding
    /// id (so a trailing `<|endoftext|>`, which is the padding id, is not the one scored).
    ///
    /// # Errors
    /// Model errors.
    pub fn scores(&self, batch: &ResponseBatch) -> Result<Tensor> {
        let hidden = self.trunk.hidden_states(&batch.ids)?;
        let width = self.trunk.config().n_embd;
        let rows = batch.rows();
        let scored: Vec<usize> =
            batch.ids.rows().into_iter().map(|row| row.iter().rposition(|&id| id != self.pad).unwrap_or(0)).collect();
        let last = ArrayD::from_shape_fn(IxDyn(&[rows, 1, width]), |i| scored[i[0]]);
        let at_last = hidden.gather(1, &last)?.reshape(&[rows, width])?;
        Ok(self.head.forward(&at_last)?.reshape(&[rows])?)
    }

    /// The score of each sequence, in inference (32 at a time; a score never depends on the
    /// other sequences).
    ///
    /// # Errors
    /// Model errors; [`malmoi_tensor::Error::NonFinite`] for a NaN score.
    pub fn score(&self, sequences: &[Sequence]) -> Result<Vec<f32>> {
        let block = self.trunk.config().block_size;
        let mut scores = Vec::with_capacity(sequences.len());
        for chunk in sequences.chunks(32) {
            let batch = ResponseBatch::new(chunk, self.pad, block)?;
            scores.extend(no_grad(|| self.scores(&batch))?.to_array());
        }
        if scores.iter().any(|s| !s.is_finite()) {
            return Err(malmoi_tensor::Error::non_finite("reward-model score").into());
        }
        Ok(scores)
    }

    /// Checks that `tokenizer` (a policy's) is this model's, id for id.
    ///
    /// # Errors
    /// [`Error::VocabularyMismatch`] naming the first difference.
    pub fn check_vocabulary(&self, tokenizer: &Tokenizer) -> Result<()> {
        let (ours, theirs) = (self.tokenizer.vocab_size(), tokenizer.vocab_size());
        if ours != theirs {
            return Err(Error::VocabularyMismatch(format!("the reward model has {ours} tokens, the policy {theirs}")));
        }
        let last = self.tokenizer.max_token_id().max(tokenizer.max_token_id()).unwrap_or(0);
        match (0..=last).find(|&id| self.tokenizer.id_to_token(id) != tokenizer.id_to_token(id)) {
            Some(id) => Err(Error::VocabularyMismatch(format!(
                "token {id} is {:?} for the reward model but {:?} for the policy",
                self.tokenizer.id_to_token(id),
                tokenizer.id_to_token(id)
            ))),
            None => Ok(()),
        }
    }

    /// Writes `config.json`, `model.safetensors` and `tokenizer.json` in the layout of
    /// `GPT2ForSequenceClassification` (one label), each file atomically.
    ///
    /// # Errors
    /// Write errors; [`Error::Transformer`] for a trunk that carries LoRA adapters
    /// (`transformers` would ignore them): [`save_adapter`](Self::save_adapter) or
    /// [`save_merged`](Self::save_merged) it.
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        self.trunk.save_pretrained(dir)?;
        let weights = dir.join(WEIGHTS_FILE);
        let trunk = checkpoint::load(&weights)?;
        let score = self.head.weight.to_array();
        let mut tensors: Vec<(&str, &ArrayD<f32>)> = trunk
            .names()
            .into_iter()
            .map(|name| trunk.get(name).map(|t| (name, t)))
            .collect::<std::result::Result<_, _>>()?;
        tensors.push(("score.weight", &score));
        checkpoint::save(&weights, tensors, trunk.metadata())?;
        let config_path = dir.join(CONFIG_FILE);
        let mut config: Value = serde_json::from_str(&read(&config_path)?).map_err(|e| Error::Input(e.to_string()))?;
        config["architectures"] = Value::from(vec!["GPT2ForSequenceClassification"]);
        config["id2label"] = serde_json::json!({"0": "LABEL_0"});
        config["label2id"] = serde_json::json!({"LABEL_0": 0});
        config["pad_token_id"] = Value::from(self.pad);
        let text = serde_json::to_string_pretty(&config).expect("plain data");
        write_atomically(&config_path, text.as_bytes())?;
        self.tokenizer.save(dir.join(TOKENIZER_FILE)).map_err(|e| Error::Transformer(e.into()))?;
        Ok(())
    }

    /// Writes a reward model tuned with LoRA adapters on its trunk: the adapters as PEFT's
    /// folder ([`save_adapter`](crate::lora::save_adapter)'s files: `adapter_config.json`,
    /// `adapter_model.safetensors`, `tokenizer.json`) and the score head beside them
    /// ([`SCORE_HEAD_FILE`], `score.weight`). PEFT keeps a trained head inside the adapter file
    /// through `modules_to_save`, which this crate's LoRA does not read or write; the head's
    /// file has the tensor name `transformers` gives it.
    ///
    /// # Errors
    /// [`LoraError::NoAdapters`](malmoi_tensor::nn::lora::LoraError::NoAdapters) for a plain
    /// trunk; write errors.
    pub fn save_adapter(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        self.trunk.save_adapter(dir)?;
        self.tokenizer.save(dir.join(TOKENIZER_FILE)).map_err(|e| Error::Transformer(e.into()))?;
        let head = [("score.weight".to_string(), self.head.weight.clone())];
        Ok(save_parameters(&dir.join(SCORE_HEAD_FILE), &head)?)
    }

    /// Folds the trunk's LoRA adapters into its weights (the model in memory becomes a plain
    /// one) and writes it as [`save_pretrained`](Self::save_pretrained) does; a plain model is
    /// written as it is. Returns the merged modules.
    ///
    /// # Errors
    /// Write errors.
    pub fn save_merged(&mut self, dir: impl AsRef<Path>) -> Result<Vec<String>> {
        let merged = self.trunk.merge_and_unload();
        self.save_pretrained(dir)?;
        Ok(merged)
    }

    /// Loads a directory written by [`save_pretrained`](Self::save_pretrained) (or by
    /// `transformers` for a one-label `GPT2ForSequenceClassification`), in inference mode.
    ///
    /// # Errors
    /// Missing, unexpected or misshapen tensors; unreadable files.
    pub fn from_pretrained(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let (mut trunk, head) = hf::build_from_dir(dir, |config, vb| {
            let trunk = Gpt::from_var_builder(config, vb, 0)?;
            let head = score_head(trunk.config().n_embd, vb)?;
            Ok((trunk, head))
        })?;
        trunk.set_training(false);
        let tokenizer = Tokenizer::from_file(dir.join(TOKENIZER_FILE)).map_err(|e| Error::Transformer(e.into()))?;
        let config: Value =
            serde_json::from_str(&read(&dir.join(CONFIG_FILE))?).map_err(|e| Error::Input(e.to_string()))?;
        let pad = match config.get("pad_token_id").and_then(Value::as_u64) {
            Some(pad) => u32::try_from(pad).map_err(|_| {
                Error::Input(format!("{}: pad_token_id {pad} is not a u32 token id", dir.join(CONFIG_FILE).display()))
            })?,
            None => tokenizer.token_to_id(malmoi_transformer::generation::END_OF_TEXT).unwrap_or(0),
        };
        Ok(Self { trunk, head, tokenizer, pad })
    }
}

/// `score.weight (1, width)` under `vb`, no bias; a fresh one drawn from N(0, 0.02²).
fn score_head(width: usize, vb: &VarBuilder) -> malmoi_transformer::Result<Linear> {
    let normal = Init::Normal { mean: 0.0, std: 0.02 };
    Ok(Linear::with_init(width, 1, normal, None, vb.pp("score"))?)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

/// Training a [`RewardModel`] on preference pairs: the [`Objective`] that
/// [`fit`](crate::fit::fit) trains.
#[derive(Debug)]
pub struct RewardTraining<'a> {
    model: &'a mut RewardModel,
}

impl<'a> RewardTraining<'a> {
    /// Trains `model`.
    pub fn new(model: &'a mut RewardModel) -> Self {
        Self { model }
    }

    /// Scores of the chosen and rejected responses, in one forward pass.
    fn pair_scores(&self, pairs: &[&Preference]) -> Result<(Tensor, Tensor)> {
        let rows = pairs.iter().map(|p| &p.chosen).chain(pairs.iter().map(|p| &p.rejected));
        let batch = ResponseBatch::new(rows, self.model.pad, self.model.trunk.config().block_size)?;
        let scores = self.model.scores(&batch)?;
        let n = pairs.len();
        Ok((scores.narrow(0, 0, n)?, scores.narrow(0, n, n)?))
    }
}

impl Objective for RewardTraining<'_> {
    type Example = Preference;

    fn model(&mut self) -> &mut dyn Module {
        &mut *self.model
    }

    fn transformer(&mut self) -> Option<&mut Gpt> {
        Some(&mut self.model.trunk)
    }

    fn reseed(&self, seed: u64) {
        self.model.trunk.reseed(seed);
    }

    fn length(&self, example: &Preference) -> usize {
        example.chosen.len().max(example.rejected.len())
    }

    fn loss(&self, batch: &[&Preference]) -> Result<Tensor> {
        let (chosen, rejected) = self.pair_scores(batch)?;
        pairwise_loss(&chosen, &rejected)
    }

    /// `accuracy`: fraction of held-out pairs whose chosen response scores higher; `loss`: the
    /// pairwise loss; `margin`: mean score difference.
    fn evaluate(&self, examples: &[Preference]) -> Result<BTreeMap<String, f64>> {
        no_grad(|| {
            let (mut right, mut loss, mut margin) = (0usize, 0.0, 0.0);
            let refs: Vec<&Preference> = examples.iter().collect();
            for chunk in refs.chunks(16) {
                let (chosen, rejected) = self.pair_scores(chunk)?;
                loss += pairwise_loss(&chosen, &rejected)?.item()? as f64 * chunk.len() as f64;
                for (c, r) in chosen.to_array().iter().zip(rejected.to_array().iter()) {
                    right += usize::from(c > r);
                    margin += (c - r) as f64;
                }
            }
            let n = examples.len() as f64;
            Ok(BTreeMap::from([
                ("accuracy".to_string(), right as f64 / n),
                ("loss".to_string(), loss / n),
                ("margin".to_string(), margin / n),
            ]))
        })
    }
}
