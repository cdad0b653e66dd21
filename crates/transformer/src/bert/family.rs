//! BERT's descendants under their own names and `config.json`: a [`FamilyConfig`] says what an
//! architecture (ELECTRA, RoBERTa, XLM-R) changes in BERT's encoder, [`EncoderModel`] is its base
//! model and [`EncoderForSequenceClassification`] its sentence classifier, with the
//! [`ClassificationHead`] they share.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::Array2;
use serde::Serialize;
use serde_json::Value;

use malmoi_tensor::nn::{Linear, Module, named_children};
use malmoi_tensor::{Tensor, VarBuilder};

use super::{
    Bert, BertConfig, BertInput, BertOutput, BodyShape, bert, check_labels, inference_proba, load_encoder, save_dir,
};
use crate::error::{Error, Result};
use crate::hf::{CONFIG_FILE, build_checked, read_config_json};
use crate::init::{STD, linear};
use crate::lora::{LoraModel, TargetModules};

/// An architecture of the BERT family stored under its own names and `config.json` — ELECTRA
/// ([`ElectraConfig`](crate::electra::ElectraConfig)), RoBERTa and XLM-R
/// ([`RobertaConfig`](crate::roberta::RobertaConfig)): its config type says what it changes in
/// BERT's encoder, where a task model stores the encoder and how its classifier activates.
pub trait FamilyConfig: Clone + std::fmt::Debug + Serialize {
    /// The `model_type`s of `config.json` this architecture is.
    const MODEL_TYPES: &'static [&'static str];
    /// The encoder's prefix in a task model's tensors (`"electra"`, `"roberta"`).
    const PREFIX: &'static str;
    /// Whether the architecture's base model has a pooler (RoBERTa's has; ELECTRA's has none).
    const POOLER: bool;
    /// The activation between the classification head's two layers.
    const HEAD_ACTIVATION: HeadActivation;

    /// Parses a `config.json` read from `path`, filling in absent keys as `transformers` does.
    ///
    /// # Errors
    /// [`Error::Json`] naming `path` for a missing required key or a value of the wrong type.
    fn parse(json: Value, path: &Path) -> Result<Self>;

    /// The keys shared with BERT; `model_type` is the family's and `rest` holds every key the
    /// config does not name.
    fn keys(&self) -> &BertConfig;

    /// What the architecture changes in BERT's encoder, with a pooler or not.
    fn shape(&self, pooler: bool) -> BodyShape;

    /// `transformers`' class of this architecture for `task` (`"Model"`,
    /// `"ForSequenceClassification"`), e.g. `"XLMRobertaForSequenceClassification"`.
    fn architecture(&self, task: &str) -> String;

    /// True for a tensor of another task's head (`discriminator_predictions.*`, `lm_head.*`),
    /// which loading the encoder skips.
    fn is_other_head(name: &str) -> bool;
}

/// Reads and checks the `config.json` of `dir` as a `C`.
///
/// # Errors
/// I/O and JSON errors naming the file; [`encoder_config`]'s.
fn read_family_config<C: FamilyConfig>(dir: &Path) -> Result<C> {
    let config = C::parse(read_config_json(dir)?, &dir.join(CONFIG_FILE))?;
    encoder_config(&config)?;
    Ok(config)
}

/// The BERT config of a family config's encoder, every key checked by
/// [`crate::config_keys`]' convention: `model_type` must be the family's, `position_embedding_type`
/// absolute and `is_decoder` false; another key that changes the computation in some
/// architecture is refused by name; metadata is ignored.
///
/// # Errors
/// [`Error::UnsupportedConfigKey`] naming the key; [`BertConfig::validate`]'s.
fn encoder_config<C: FamilyConfig>(config: &C) -> Result<BertConfig> {
    let keys = config.keys();
    if !C::MODEL_TYPES.contains(&keys.model_type.as_str()) {
        let reason = format!("{:?} is not {}", keys.model_type, C::MODEL_TYPES.join(" or "));
        return Err(Error::UnsupportedConfigKey { key: "model_type".into(), reason });
    }
    let mut rest = keys.rest.clone();
    let only = [("position_embedding_type", Value::from("absolute")), ("is_decoder", Value::from(false))];
    for (key, implemented) in only {
        if let Some(value) = rest.remove(key).filter(|value| *value != implemented && !value.is_null()) {
            let reason = format!("{value} is not implemented for {} (only {implemented})", keys.model_type);
            return Err(Error::UnsupportedConfigKey { key: key.into(), reason });
        }
    }
    crate::config_keys::ignored_keys(&keys.model_type, &rest)?;
    let body = BertConfig { model_type: bert(), rest: BTreeMap::new(), ..keys.clone() };
    body.validate()?;
    Ok(body)
}

/// A family classifier's dropout rate: `classifier_dropout`, else `hidden_dropout_prob`.
///
/// # Errors
/// [`Error::Config`] for a rate outside `[0, 1)`.
fn classifier_dropout(keys: &BertConfig) -> Result<f32> {
    match keys.rest.get("classifier_dropout") {
        None | Some(Value::Null) => Ok(keys.hidden_dropout_prob),
        Some(value) => match value.as_f64() {
            Some(p) if (0.0..1.0).contains(&p) => Ok(p as f32),
            _ => Err(Error::Config(format!("classifier_dropout {value}"))),
        },
    }
}

/// An encoder of the BERT family under its architecture's names — `ElectraModel`,
/// `RobertaModel`, `XLMRobertaModel` (aliases in [`crate::electra`] and [`crate::roberta`]):
/// BERT's encoder in the family's shape, and the family's config, written back on saving.
#[derive(Debug)]
pub struct EncoderModel<C> {
    config: C,
    /// BERT's encoder in the family's shape.
    pub encoder: Bert,
}

impl<C: FamilyConfig> EncoderModel<C> {
    /// A freshly initialised encoder (normal, std 0.02; a pooler if the architecture's base
    /// model has one), in training mode; `seed` drives the initialisation and dropout masks.
    ///
    /// # Errors
    /// [`Error::UnsupportedConfigKey`] or [`Error::Config`] for a config this crate does not run.
    pub fn new(config: C, seed: u64) -> Result<Self> {
        let body = encoder_config(&config)?;
        let encoder = Bert::build_shaped(body, config.shape(C::POOLER), &VarBuilder::fresh(seed), seed)?;
        Ok(EncoderModel { config, encoder })
    }

    /// Loads the architecture's base-model directory, or the encoder of one of its task models
    /// (stored under the prefix, `electra.*` / `roberta.*`; their heads — `classifier.*`,
    /// pre-training heads — are skipped), in inference mode, with the stored pooler if the
    /// architecture has one.
    ///
    /// # Errors
    /// Config errors ([`Error::UnsupportedConfigKey`] naming a key that changes the computation
    /// and is not implemented), missing- and unexpected-tensor, shape and file errors.
    pub fn from_pretrained(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let config: C = read_family_config(dir)?;
        let heads = |n: &str| n.starts_with("classifier.") || C::is_other_head(n);
        let encoder = load_encoder(dir, C::PREFIX, encoder_config(&config)?, |p| config.shape(C::POOLER && p), heads)?;
        Ok(EncoderModel { config, encoder })
    }

    /// Writes the base-model directory (`config.json` with the family's `model_type`,
    /// `model.safetensors` under `transformers`' names) that `transformers` loads.
    ///
    /// # Errors
    /// Write errors; [`Error::Config`] for a model carrying LoRA adapters (merge them first).
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        save_dir(dir.as_ref(), &self.config, &self.config.architecture("Model"), None, &self.named_parameters())
    }

    /// The model's config.
    pub fn config(&self) -> &C {
        &self.config
    }

    /// Encodes a batch (see [`Bert::forward`]).
    ///
    /// # Errors
    /// As [`Bert::forward`].
    pub fn forward(&self, input: &BertInput) -> Result<BertOutput> {
        self.encoder.forward(input)
    }
}

impl<C: FamilyConfig> Module for EncoderModel<C> {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        self.encoder.named_parameters()
    }

    fn set_training(&mut self, training: bool) {
        self.encoder.set_training(training);
    }
}

/// The encoder's linear layers under the base model's names (`embeddings_project`,
/// `encoder.layer.{i}.attention.self.query`, …), as [`Bert`]'s.
impl<C: FamilyConfig> LoraModel for EncoderModel<C> {
    const TASK_TYPE: &'static str = "FEATURE_EXTRACTION";

    fn linears(&self) -> Vec<(String, &Linear)> {
        self.encoder.linears()
    }

    fn linears_mut(&mut self) -> Vec<(String, &mut Linear)> {
        self.encoder.linears_mut()
    }

    fn default_target_modules(&self) -> TargetModules {
        self.encoder.default_target_modules()
    }

    fn training_mode(&self) -> bool {
        self.encoder.is_training()
    }
}

/// The activation between a [`ClassificationHead`]'s two layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadActivation {
    /// RoBERTa's `tanh`.
    Tanh,
    /// ELECTRA's exact, erf-based GELU (whatever the encoder's `hidden_act`).
    Gelu,
}

/// The sentence classifier of BERT's descendants, over the first token's state (`<s>`,
/// `[CLS]`): dropout, `dense` (H → H), the activation, dropout, `out_proj` (H → labels) —
/// `transformers`' `RobertaClassificationHead` and `ElectraClassificationHead`.
#[derive(Debug)]
pub struct ClassificationHead {
    /// `dense`, `H → H`.
    pub dense: Linear,
    /// `out_proj`, `H → labels`.
    pub out_proj: Linear,
    activation: HeadActivation,
    dropout: f32,
}

impl ClassificationHead {
    /// A head of `num_labels` classes over `hidden`-wide states under `vb` (`dense`, `out_proj`;
    /// fresh weights `N(0, 0.02²)`, zero biases); `dropout` is its rate in training mode.
    fn new(
        hidden: usize,
        num_labels: usize,
        activation: HeadActivation,
        dropout: f32,
        vb: &VarBuilder,
    ) -> Result<Self> {
        let dense = linear(hidden, hidden, true, STD, vb.pp("dense"))?;
        let out_proj = linear(hidden, num_labels, true, STD, vb.pp("out_proj"))?;
        Ok(ClassificationHead { dense, out_proj, activation, dropout })
    }

    /// The number of classes.
    pub fn num_labels(&self) -> usize {
        self.out_proj.out_features()
    }

    /// Logits `(B, labels)` of `encoder`'s states for `input`, read at the first token; dropout
    /// from the encoder's generator when it is in training mode.
    ///
    /// # Errors
    /// As [`Bert::forward`].
    pub fn forward(&self, encoder: &Bert, input: &BertInput) -> Result<Tensor> {
        let states = encoder.forward(input)?.last_hidden_state;
        let first = states.narrow(1, 0, 1)?.reshape(&[input.input_ids.nrows(), encoder.config.hidden_size])?;
        let hidden = self.dense.forward(&encoder.dropout_with(&first, self.dropout)?)?;
        let hidden = match self.activation {
            HeadActivation::Tanh => hidden.tanh(),
            HeadActivation::Gelu => hidden.gelu(),
        };
        Ok(self.out_proj.forward(&encoder.dropout_with(&hidden, self.dropout)?)?)
    }
}

impl Module for ClassificationHead {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        named_children(&[("dense", &self.dense), ("out_proj", &self.out_proj)])
    }
}

/// A family encoder with its sentence classifier over the first token —
/// `ElectraForSequenceClassification`, `RobertaForSequenceClassification`,
/// `XLMRobertaForSequenceClassification`: tensors `<prefix>.*` and `classifier.{dense,out_proj}.*`,
/// no pooler.
#[derive(Debug)]
pub struct EncoderForSequenceClassification<C> {
    /// The encoder, without a pooler.
    pub model: EncoderModel<C>,
    /// The head.
    pub classifier: ClassificationHead,
}

impl<C: FamilyConfig> EncoderForSequenceClassification<C> {
    /// A fresh head of `num_labels` classes over `model` (whose pooler, if any, is dropped),
    /// initialised by `seed`: a pre-trained encoder made a classifier to fine-tune.
    ///
    /// # Errors
    /// [`Error::Config`] for zero labels or an invalid `classifier_dropout`.
    pub fn new(mut model: EncoderModel<C>, num_labels: usize, seed: u64) -> Result<Self> {
        if num_labels == 0 {
            return Err(Error::Config("a classifier needs at least one label".into()));
        }
        model.encoder.pooler = None;
        let classifier = Self::head(&model.config, num_labels, &VarBuilder::fresh(seed).pp("classifier"))?;
        Ok(EncoderForSequenceClassification { model, classifier })
    }

    /// The head of `config` under `vb`.
    fn head(config: &C, num_labels: usize, vb: &VarBuilder) -> Result<ClassificationHead> {
        let (hidden, dropout) = (config.keys().hidden_size, classifier_dropout(config.keys())?);
        ClassificationHead::new(hidden, num_labels, C::HEAD_ACTIVATION, dropout, vb)
    }

    /// Loads a classifier directory (`<prefix>.*`, `classifier.*` of `num_labels` rows; a
    /// stored pooler is skipped, as `transformers` skips it), in inference mode.
    ///
    /// # Errors
    /// As [`EncoderModel::from_pretrained`]; [`Error::Config`] for zero labels or a stored head
    /// of another number of labels.
    pub fn from_pretrained(dir: impl AsRef<Path>, num_labels: usize) -> Result<Self> {
        let dir = dir.as_ref();
        let config: C = read_family_config(dir)?;
        let body = encoder_config(&config)?;
        let build = |vb: &VarBuilder| {
            check_labels(vb, "classifier.out_proj.weight", num_labels)?;
            let encoder = Bert::build_shaped(body, config.shape(false), &vb.pp(C::PREFIX), 0)?;
            Ok((encoder, Self::head(&config, num_labels, &vb.pp("classifier"))?))
        };
        let pooler = format!("{}.pooler.", C::PREFIX);
        let (encoder, classifier) =
            build_checked(dir, build, |n| n.ends_with("position_ids") || n.starts_with(&pooler))?;
        let mut model = EncoderForSequenceClassification { model: EncoderModel { config, encoder }, classifier };
        model.set_training(false);
        Ok(model)
    }

    /// Writes the classifier directory (`config.json` with the family's `model_type`, the
    /// architecture and `id2label`; `model.safetensors`) that `transformers`'
    /// `AutoModelForSequenceClassification` loads.
    ///
    /// # Errors
    /// Write errors; [`Error::Config`] for a model carrying LoRA adapters (merge them first).
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        let config = &self.model.config;
        let architecture = config.architecture("ForSequenceClassification");
        save_dir(dir.as_ref(), config, &architecture, Some(self.num_labels()), &self.named_parameters())
    }

    /// Logits `(B, num_labels)`; dropout in the head and encoder in training mode.
    ///
    /// # Errors
    /// As [`Bert::forward`].
    pub fn forward(&self, input: &BertInput) -> Result<Tensor> {
        self.classifier.forward(&self.model.encoder, input)
    }

    /// Class probabilities `(B, num_labels)` in inference (no dropout, no graph), whatever the
    /// mode: each row depends only on its own sequence.
    ///
    /// # Errors
    /// As [`Bert::forward`].
    pub fn predict_proba(&mut self, input: &BertInput) -> Result<Array2<f32>> {
        let training = self.model.encoder.is_training();
        inference_proba(self, training, |model| model.forward(input))
    }

    /// The number of classes.
    pub fn num_labels(&self) -> usize {
        self.classifier.num_labels()
    }
}

impl<C: FamilyConfig> Module for EncoderForSequenceClassification<C> {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        named_children(&[(C::PREFIX, &self.model), ("classifier", &self.classifier)])
    }

    fn set_training(&mut self, training: bool) {
        self.model.set_training(training);
    }
}
