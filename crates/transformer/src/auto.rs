//! Loading whatever decoder a Hugging Face model directory holds — `AutoModelForCausalLM` —
//! by its `config.json`'s `model_type`: GPT-2 ([`Gpt`]), the Llama family and GPT-NeoX
//! ([`Decoder`]); and whatever encoder classifier — `AutoModelForSequenceClassification` —
//! ([`SequenceClassifier`]): BERT, ELECTRA, RoBERTa and XLM-R.
//!
//! ```no_run
//! use malmoi_transformer::auto::load_causal_lm;
//! use malmoi_transformer::generation::{GenerationConfig, generate_ids};
//! let model = load_causal_lm("Qwen2.5-0.5B")?; // a folder from `huggingface-cli download`
//! let out = generate_ids(model.as_ref(), &[9707], &GenerationConfig::greedy(10), |_| std::ops::ControlFlow::Continue(()))?;
//! # Ok::<(), malmoi_transformer::Error>(())
//! ```

use std::path::Path;

use ndarray::Array2;
use serde_json::Value;

use malmoi_tensor::nn::Module;
use malmoi_tensor::{Tensor, VarBuilder};

use crate::bert::{
    Bert, BertForSequenceClassification, BertInput, EncoderForSequenceClassification, EncoderModel, FamilyConfig,
};
use crate::causal_lm::CausalLm;
use crate::decoder::Decoder;
use crate::electra::ElectraForSequenceClassification;
use crate::error::{Error, Result};
use crate::gpt::Gpt;
use crate::hf::{CONFIG_FILE, read_config_json};
use crate::roberta::RobertaForSequenceClassification;
use crate::{gpt_neox, llama};

/// The decoder families this crate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// GPT-2 (`gpt2`; KoGPT2 is one).
    Gpt2,
    /// Llama, Qwen2, Mistral.
    Llama,
    /// GPT-NeoX (polyglot-ko, Pythia).
    GptNeox,
}

/// A model directory's parsed `config.json` and the family it names.
///
/// # Errors
/// [`Error::Io`] / [`Error::Json`] naming the file; [`Error::UnsupportedConfigKey`] naming
/// `model_type` (and the `architectures` it lists) for a family this crate does not run.
pub fn read_family(dir: &Path) -> Result<(Family, Value)> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
    let json: Value = serde_json::from_str(&text).map_err(Error::json(&path))?;
    let model_type = json.get("model_type").and_then(Value::as_str).unwrap_or("");
    let family = match model_type {
        "gpt2" | "malmoi-gpt" => Family::Gpt2,
        "gpt_neox" => Family::GptNeox,
        t if llama::MODEL_TYPES.contains(&t) => Family::Llama,
        other => {
            let architectures = json.get("architectures").map_or("none".into(), Value::to_string);
            return Err(Error::UnsupportedConfigKey {
                key: "model_type".into(),
                reason: format!(
                    "{other:?} (architectures {architectures}) is not supported: this crate runs gpt2, {}, gpt_neox",
                    llama::MODEL_TYPES.join(", ")
                ),
            });
        }
    };
    Ok((family, json))
}

impl Decoder {
    /// Loads a Llama-family or GPT-NeoX model directory (`config.json`, `model.safetensors`
    /// or its shards), in inference mode, building each layer from the stored tensors.
    ///
    /// # Errors
    /// [`read_family`]'s errors; [`Error::UnsupportedConfigKey`] for a GPT-2 directory (load it
    /// with [`Gpt::from_pretrained`]) or a key that is not implemented; tensor errors naming
    /// the tensor.
    pub fn from_pretrained(dir: impl AsRef<Path>) -> Result<Decoder> {
        let dir = dir.as_ref();
        let (family, json) = read_family(dir)?;
        let (config, names, ignorable): (_, _, fn(&str) -> bool) = match family {
            Family::Llama => {
                let (config, _) = llama::read_config(json)?;
                (config, llama::NAMES, |name| name.ends_with("rotary_emb.inv_freq"))
            }
            Family::GptNeox => {
                let (config, _) = gpt_neox::read_config(json)?;
                (config, gpt_neox::NAMES, gpt_neox::is_buffer)
            }
            Family::Gpt2 => {
                return Err(Error::UnsupportedConfigKey {
                    key: "model_type".into(),
                    reason: "a GPT-2 directory: load it with Gpt::from_pretrained or load_causal_lm".into(),
                });
            }
        };
        let vb = VarBuilder::from_dir(dir)?;
        Decoder::from_var_builder(config, names, &vb, ignorable).map_err(crate::hf::naming_file(&vb))
    }
}

/// Loads any decoder directory this crate runs, ready to generate.
///
/// # Errors
/// As [`Decoder::from_pretrained`] and [`Gpt::from_pretrained`].
pub fn load_causal_lm(dir: impl AsRef<Path>) -> Result<Box<dyn CausalLm>> {
    let dir = dir.as_ref();
    Ok(match read_family(dir)?.0 {
        Family::Gpt2 => Box::new(Gpt::from_pretrained(dir)?),
        Family::Llama | Family::GptNeox => Box::new(Decoder::from_pretrained(dir)?),
    })
}

/// The encoder families this crate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderFamily {
    /// BERT (`bert`; KLUE-BERT, KoBERT's architecture).
    Bert,
    /// ELECTRA discriminators (`electra`; KoELECTRA, KcELECTRA).
    Electra,
    /// RoBERTa and XLM-R (`roberta`, `xlm-roberta`; KLUE-RoBERTa, XLM-RoBERTa).
    Roberta,
}

/// The encoder family a model directory's `config.json` names by its `model_type`.
///
/// # Errors
/// [`Error::Io`] / [`Error::Json`] naming the file; [`Error::UnsupportedConfigKey`] naming
/// `model_type` (and the `architectures` it lists) for another model.
pub fn read_encoder_family(dir: impl AsRef<Path>) -> Result<EncoderFamily> {
    let json = read_config_json(dir.as_ref())?;
    match json.get("model_type").and_then(Value::as_str).unwrap_or("") {
        "bert" => Ok(EncoderFamily::Bert),
        "electra" => Ok(EncoderFamily::Electra),
        "roberta" | "xlm-roberta" => Ok(EncoderFamily::Roberta),
        other => {
            let architectures = json.get("architectures").map_or("none".into(), Value::to_string);
            let reason = format!(
                "{other:?} (architectures {architectures}) is not an encoder this crate runs: bert, electra, roberta, \
                 xlm-roberta"
            );
            Err(Error::UnsupportedConfigKey { key: "model_type".into(), reason })
        }
    }
}

/// A sentence classifier of any encoder family — what `AutoModelForSequenceClassification`
/// loads — on the one batch type, [`BertInput`].
#[derive(Debug)]
pub enum SequenceClassifier {
    /// `BertForSequenceClassification`.
    Bert(BertForSequenceClassification),
    /// `ElectraForSequenceClassification`.
    Electra(ElectraForSequenceClassification),
    /// `RobertaForSequenceClassification` / `XLMRobertaForSequenceClassification`.
    Roberta(RobertaForSequenceClassification),
}

/// `$body` with `$model` bound to the classifier inside `$classifier`, whichever the family.
macro_rules! each_family {
    ($classifier:expr, $model:ident => $body:expr) => {
        match $classifier {
            SequenceClassifier::Bert($model) => $body,
            SequenceClassifier::Electra($model) => $body,
            SequenceClassifier::Roberta($model) => $body,
        }
    };
}

impl SequenceClassifier {
    /// Loads the encoder directory `dir` as a classifier of `num_labels` classes, in inference
    /// mode: with its stored head when it has one (which must have `num_labels` rows, as
    /// `transformers` requires), else with a fresh head drawn from `seed` over the stored
    /// encoder — a pre-trained checkpoint to fine-tune (a masked-LM or discriminator folder,
    /// whose pre-training head is skipped).
    ///
    /// # Errors
    /// [`read_encoder_family`]'s; the family's `from_pretrained` errors; [`Error::Config`] for
    /// zero labels or a stored head of another number of labels.
    pub fn from_pretrained(dir: impl AsRef<Path>, num_labels: usize, seed: u64) -> Result<Self> {
        let dir = dir.as_ref();
        let family = read_encoder_family(dir)?;
        let head = if family == EncoderFamily::Bert { "classifier.weight" } else { "classifier.out_proj.weight" };
        let stored = VarBuilder::from_dir(dir)?.contains(head);
        Ok(match family {
            EncoderFamily::Bert if stored => {
                Self::Bert(BertForSequenceClassification::from_pretrained(dir, num_labels)?)
            }
            EncoderFamily::Bert => {
                Self::Bert(BertForSequenceClassification::new(Bert::from_pretrained(dir)?, num_labels, seed)?)
            }
            EncoderFamily::Electra => Self::Electra(family_classifier(dir, stored, num_labels, seed)?),
            EncoderFamily::Roberta => Self::Roberta(family_classifier(dir, stored, num_labels, seed)?),
        })
    }

    /// The family.
    pub fn family(&self) -> EncoderFamily {
        match self {
            SequenceClassifier::Bert(_) => EncoderFamily::Bert,
            SequenceClassifier::Electra(_) => EncoderFamily::Electra,
            SequenceClassifier::Roberta(_) => EncoderFamily::Roberta,
        }
    }

    /// The encoder (its config: `vocab_size`, `pad_token_id`, positions; LoRA adapters go on
    /// it, under the base model's module names).
    pub fn encoder(&self) -> &Bert {
        match self {
            SequenceClassifier::Bert(model) => &model.bert,
            SequenceClassifier::Electra(model) => &model.model.encoder,
            SequenceClassifier::Roberta(model) => &model.model.encoder,
        }
    }

    /// [`encoder`](Self::encoder), mutably.
    pub fn encoder_mut(&mut self) -> &mut Bert {
        match self {
            SequenceClassifier::Bert(model) => &mut model.bert,
            SequenceClassifier::Electra(model) => &mut model.model.encoder,
            SequenceClassifier::Roberta(model) => &mut model.model.encoder,
        }
    }

    /// The number of classes.
    pub fn num_labels(&self) -> usize {
        each_family!(self, model => model.num_labels())
    }

    /// Logits `(B, num_labels)`; dropout in training mode.
    ///
    /// # Errors
    /// As [`Bert::forward`].
    pub fn forward(&self, input: &BertInput) -> Result<Tensor> {
        each_family!(self, model => model.forward(input))
    }

    /// Class probabilities `(B, num_labels)` in inference, whatever the mode: each row depends
    /// only on its own sequence.
    ///
    /// # Errors
    /// As [`Bert::forward`].
    pub fn predict_proba(&mut self, input: &BertInput) -> Result<Array2<f32>> {
        each_family!(self, model => model.predict_proba(input))
    }

    /// Writes the classifier directory in the family's layout, which
    /// `AutoModelForSequenceClassification` loads (copy the tokenizer beside it with
    /// [`crate::hf::copy_tokenizer_files`]).
    ///
    /// # Errors
    /// Write errors; [`Error::Config`] for a model carrying LoRA adapters (merge them first).
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        each_family!(self, model => model.save_pretrained(dir))
    }
}

/// A family's classifier of `dir`: its stored head, or a fresh one over its encoder.
fn family_classifier<C: FamilyConfig>(
    dir: &Path,
    stored: bool,
    num_labels: usize,
    seed: u64,
) -> Result<EncoderForSequenceClassification<C>> {
    if stored {
        EncoderForSequenceClassification::from_pretrained(dir, num_labels)
    } else {
        EncoderForSequenceClassification::new(EncoderModel::from_pretrained(dir)?, num_labels, seed)
    }
}

impl Module for SequenceClassifier {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        each_family!(self, model => model.named_parameters())
    }

    fn set_training(&mut self, training: bool) {
        each_family!(self, model => model.set_training(training));
    }
}
