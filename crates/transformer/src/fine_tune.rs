//! Fine-tuning an encoder for sequence classification (NSMC's positive / negative) on the shared
//! engine, whichever the family — BERT, ELECTRA, RoBERTa, XLM-R ([`SequenceClassifier`]):
//!
//! - [`ClassifierTraining`] is the engine's [`TrainStep`]: epochs of length-bucketed batches in a
//!   seeded order, AdamW, held-out loss and accuracy; with [`ClassifierConfig::lora`], LoRA
//!   adapters on the encoder train instead of its weights, and the head trains fully. The engine
//!   adds the rest ([`ClassifierTraining::train_config`]: warm-up and linear decay; checkpoints
//!   and resume, early stopping through [`malmoi_train::Trainer`]);
//! - [`TextEncoder`] turns texts into a classifier's input: the tokenizer's ids framed by the
//!   tokens its post-processor adds (`[CLS] … [SEP]`, `<s> … </s>`), cut at a maximum length
//!   and counted when cut;
//! - [`save_classifier`] writes the result as a Hugging Face folder (`config.json` naming the
//!   labels, `model.safetensors`, the tokenizer remembering the maximum length) that
//!   `AutoModelForSequenceClassification` and [`SequenceClassifier::from_pretrained`] load.
//!
//! ```
//! use malmoi_train::{TrainConfig, Trainer};
//! use malmoi_transformer::SequenceClassifier;
//! use malmoi_transformer::bert::{Bert, BertConfig, BertForSequenceClassification};
//! use malmoi_transformer::fine_tune::{ClassifierConfig, ClassifierTraining, Labeled};
//!
//! let config: BertConfig = serde_json::from_str(r#"{"vocab_size": 20, "hidden_size": 16,
//!     "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
//!     "max_position_embeddings": 8}"#)?;
//! let mut model = SequenceClassifier::Bert(BertForSequenceClassification::new(Bert::new(config, 0)?, 2, 0)?);
//! // label 1 when the sequence holds token 7
//! let examples: Vec<Labeled> = (0..40u32)
//!     .map(|i| Labeled { ids: vec![1, 3 + i % 5, 7 * (i % 2), 2], types: vec![0; 4], label: (i % 2) as usize })
//!     .collect();
//! let config = ClassifierConfig { batch_size: 8, ..ClassifierConfig::default() };
//! let mut step = ClassifierTraining::new(&mut model, &examples, &examples, config)?;
//! let mut optimizer = step.optimizer(1e-2)?;
//! let run = TrainConfig { max_steps: 30, learning_rate: 1e-2, eval_interval: 30, ..TrainConfig::default() };
//! let log = Trainer::new(run).fit(&mut step, &mut optimizer)?;
//! assert!(log.last_eval().unwrap().metrics["val_accuracy"] > 0.9);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;

use ndarray::Array1;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use malmoi_tensor::nn::Module;
use malmoi_tensor::optim::{Adam, AdamW, ParamGroup};
use malmoi_tensor::{Tensor, no_grad};
use malmoi_tokenize::tokenizer::{Tokenizer, Truncation};
use malmoi_train::batching::{BatchPlan, EpochBatches};
use malmoi_train::{LrSchedule, Metrics, StepOutput, TrainConfig, TrainStep, Update};

use crate::auto::SequenceClassifier;
use crate::bert::BertInput;
use crate::error::{Error, Result};
use crate::generation::TOKENIZER_FILE;
use crate::hf::{CONFIG_FILE, copy_tokenizer_files, read_config_json, read_tokenizer};

/// `transformers`' tokenizer settings file, whose `model_max_length` its tokenizers truncate at.
const TOKENIZER_CONFIG_FILE: &str = "tokenizer_config.json";
use crate::lora::{LoraConfig, LoraModel};

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

/// Held-out sequences are scored this many at a time, shortest first.
const EVAL_CHUNK: usize = 64;

/// Salt of the seed that draws fresh LoRA adapters (so they differ from the batch order's draw).
const ADAPTER_SEED: u64 = 0x6c6f_7261_5f63_6c73;

/// The fine-tuning knobs besides the engine's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Sequences per step; an epoch's batches group sequences of similar length.
    pub batch_size: usize,
    /// AdamW's weight decay on matrices (BERT: 0.01).
    pub weight_decay: f32,
    /// Seed of the epochs' batch order (and of fresh LoRA adapters).
    pub seed: u64,
    /// LoRA adapters to put on the encoder and train instead of its weights (the head trains
    /// fully; BERT's pooler, part of the encoder, stays frozen as in PEFT; no targets adapt
    /// `query` and `value`, PEFT's default); `None`: every weight trains, unless the encoder
    /// carries adapters already. Part of the settings a resumed run must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraConfig>,
}

impl Default for ClassifierConfig {
    /// Batches of 32, weight decay 0.01, seed 0, full fine-tuning.
    fn default() -> Self {
        ClassifierConfig { batch_size: 32, weight_decay: 0.01, seed: 0, lora: None }
    }
}

/// Classification fine-tuning: the [`TrainStep`] of a [`SequenceClassifier`]. Step `n` trains on
/// batch `n mod b` of epoch `n / b` (`b` = [`steps_per_epoch`](Self::steps_per_epoch)), in an
/// order drawn from the seed and the epoch alone. Metrics: `accuracy` per step; `val_loss`,
/// `val_accuracy`.
///
/// In a LoRA run the optimiser gets the adapters and the head; the base is frozen. Checkpoints
/// hold every parameter of the classifier, the frozen base included, so a resumed run continues
/// on the base it started from whatever it was given.
#[derive(Debug)]
pub struct ClassifierTraining<'a> {
    model: &'a mut SequenceClassifier,
    train: &'a [Labeled],
    held_out: &'a [Labeled],
    config: ClassifierConfig,
    batches: EpochBatches,
    /// Held-out indices, shortest first (verdicts do not depend on the batch).
    held_out_order: Vec<usize>,
    /// The adapters' configuration in a LoRA run.
    adapters: Option<LoraConfig>,
}

impl<'a> ClassifierTraining<'a> {
    /// Fine-tuning of `model` on `train`, validated on `held_out`. With `config.lora`, fresh
    /// adapters drawn from `config.seed` go on the encoder first.
    ///
    /// # Errors
    /// [`Error::Input`] for no training examples, a label outside the head, or a sequence that is
    /// empty, has type ids of another length or is longer than the encoder takes;
    /// [`Error::Config`] for a zero batch; [`Error::Lora`] for adapters the encoder refuses (a
    /// target that selects nothing, a rank too large, adapters already there).
    pub fn new(
        model: &'a mut SequenceClassifier,
        train: &'a [Labeled],
        held_out: &'a [Labeled],
        config: ClassifierConfig,
    ) -> Result<Self> {
        if config.batch_size == 0 {
            return Err(Error::Config("batch size 0".into()));
        }
        if train.is_empty() {
            return Err(Error::Input("no training examples".into()));
        }
        check_examples(model, train, "training")?;
        check_examples(model, held_out, "held-out")?;
        if let Some(lora) = &config.lora {
            model.encoder_mut().add_lora(lora, config.seed ^ ADAPTER_SEED)?;
        }
        let adapters = model.encoder().lora_config()?;
        let plan = BatchPlan { bucket_by_length: true, ..BatchPlan::new(config.batch_size, config.seed) };
        let batches = EpochBatches::new(plan, (0..train.len()).collect(), train.iter().map(|e| e.ids.len()).collect())?;
        let mut held_out_order: Vec<usize> = (0..held_out.len()).collect();
        held_out_order.sort_by_key(|&i| held_out[i].ids.len());
        Ok(ClassifierTraining { model, train, held_out, config, batches, held_out_order, adapters })
    }

    /// Steps in one pass over the training examples.
    pub fn steps_per_epoch(&self) -> usize {
        self.batches.steps_per_epoch()
    }

    /// The engine's run of `epochs` epochs at peak `learning_rate`: linear warm-up over the
    /// share `warmup` of the steps, then linear decay to 0 (Hugging Face's default schedule),
    /// gradients clipped to norm 1, an evaluation (and a checkpoint) after every epoch, the
    /// config's seed.
    ///
    /// # Errors
    /// [`Error::Config`] for zero epochs or a warm-up share outside `[0, 1]`;
    /// [`Error::Train`] when the steps overflow.
    pub fn train_config(&self, epochs: usize, learning_rate: f32, warmup: f32) -> Result<TrainConfig> {
        if epochs == 0 || !(0.0..=1.0).contains(&warmup) {
            return Err(Error::Config(format!("{epochs} epochs, warm-up share {warmup} (0 to 1)")));
        }
        let run = self.batches.train_config(epochs, learning_rate, 1.0)?;
        let warmup_steps = (warmup * run.max_steps as f32).round() as usize;
        Ok(TrainConfig { schedule: LrSchedule::Linear { warmup_steps }, ..run })
    }

    /// AdamW with the decay on matrices only, over the parameters that train (every one, or in
    /// a LoRA run the adapters and the head).
    ///
    /// # Errors
    /// [`Error::Tensor`] for a negative decay or learning rate.
    pub fn optimizer(&self, learning_rate: f32) -> Result<Adam> {
        Ok(AdamW::groups(ParamGroup::decay_matrices(self.trained(), self.config.weight_decay), learning_rate)?)
    }

    /// The parameters that train: those not frozen.
    pub fn trained(&self) -> Vec<(String, Tensor)> {
        self.model.named_parameters().into_iter().filter(|(_, tensor)| tensor.requires_grad()).collect()
    }

    /// Logits of `examples` and their labels.
    fn logits(&self, examples: &[&Labeled]) -> Result<(Tensor, ndarray::ArrayD<usize>)> {
        let sequences: Vec<(Vec<u32>, Vec<u32>)> = examples.iter().map(|e| (e.ids.clone(), e.types.clone())).collect();
        let pad_id = self.model.encoder().config().pad_token_id;
        let logits = self.model.forward(&BertInput::pad(&sequences, pad_id)?)?;
        Ok((logits, Array1::from_iter(examples.iter().map(|e| e.label)).into_dyn()))
    }
}

/// Refuses `examples` (the `which` set) that `model` cannot take: a label outside its head, an
/// empty sequence, type ids of another length, more tokens than its positions.
fn check_examples(model: &SequenceClassifier, examples: &[Labeled], which: &str) -> Result<()> {
    let (classes, longest) = (model.num_labels(), model.encoder().longest_input());
    let bad = examples
        .iter()
        .enumerate()
        .find(|(_, e)| e.label >= classes || e.ids.is_empty() || e.ids.len() != e.types.len() || e.ids.len() > longest);
    match bad {
        None => Ok(()),
        Some((i, e)) => Err(Error::Input(format!(
            "{which} example {i}: label {} ({classes} classes), {} ids, {} type ids ({longest} positions)",
            e.label,
            e.ids.len(),
            e.types.len()
        ))),
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

    /// The whole classifier: checkpoints hold all its parameters.
    fn model(&mut self) -> &mut dyn Module {
        &mut *self.model
    }

    fn train_step(&mut self, step: usize, seed: u64, update: &mut Update<'_>) -> Result<StepOutput> {
        let train = self.train;
        let batch: Vec<&Labeled> = self.batches.batch(step)?.iter().map(|&i| &train[i]).collect();
        self.model.encoder().reseed(seed);
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
        for chunk in self.held_out_order.chunks(EVAL_CHUNK) {
            let refs: Vec<&Labeled> = chunk.iter().map(|&i| &self.held_out[i]).collect();
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

    /// The knobs, and in a LoRA run the adapters' configuration.
    fn settings(&self) -> Value {
        serde_json::json!({ "classifier": self.config, "adapters": self.adapters })
    }
}

/// A text encoded for a classifier, and whether it lost tokens to the maximum length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedText {
    /// Token ids, special tokens included.
    pub ids: Vec<u32>,
    /// True when the text had more tokens than fit.
    pub truncated: bool,
}

impl EncodedText {
    /// The labelled example of this text: one segment, type ids 0 (RoBERTa and XLM-R have no
    /// other).
    pub fn labeled(self, label: usize) -> Labeled {
        Labeled { types: vec![0; self.ids.len()], ids: self.ids, label }
    }
}

/// How texts become a classifier's input: the tokenizer's ids of a text, framed by the tokens
/// its post-processor adds around one sequence (`[CLS] … [SEP]`, `<s> … </s>`) — or, for a
/// tokenizer without one (the byte-level BPE `examples/bert.rs` trains), by its `[CLS]` and
/// `[SEP]` (else `<s>` and `</s>`) — in at most `max_len` tokens: a longer text keeps its first
/// tokens and the closing one, and is marked truncated.
///
/// Special tokens written in a text (`[SEP]`) are recognised, as `transformers`' tokenizers do.
#[derive(Debug, Clone)]
pub struct TextEncoder {
    tokenizer: Tokenizer,
    framing: Framing,
    max_len: usize,
}

/// The ids a single sequence gets before and after its own.
#[derive(Debug, Clone)]
struct Framing {
    prefix: Vec<u32>,
    suffix: Vec<u32>,
    /// The names of the opening and closing tokens when the encoder adds them itself (the
    /// tokenizer has no post-processor that does).
    added: Option<[String; 2]>,
}

impl Framing {
    /// Special tokens in all.
    fn len(&self) -> usize {
        self.prefix.len() + self.suffix.len()
    }
}

impl TextEncoder {
    /// An encoder over `tokenizer` for a model taking at most `longest` tokens, with at most
    /// `max_len` tokens per text: when `None`, the tokenizer's own truncation length (what
    /// [`save_classifier`] stores), else `longest`. The tokenizer's truncation and padding are
    /// switched off (this encoder truncates, and batches pad).
    ///
    /// # Errors
    /// [`Error::Config`] for a `max_len` beyond `longest` or too short for the special tokens
    /// and one more, or a tokenizer that frames nothing and knows neither `[CLS]`/`[SEP]` nor
    /// `<s>`/`</s>`; [`Error::Tokenizer`] for a tokenizer that cannot encode.
    pub fn new(mut tokenizer: Tokenizer, max_len: Option<usize>, longest: usize) -> Result<Self> {
        let max_len = max_len.or(tokenizer.truncation().map(|t| t.max_length.min(longest))).unwrap_or(longest);
        if max_len > longest {
            return Err(Error::Config(format!("max length {max_len} exceeds the {longest} tokens the model takes")));
        }
        tokenizer.set_truncation(None)?;
        tokenizer.set_padding(None);
        let framing = framing(&tokenizer)?;
        if max_len <= framing.len() {
            let specials = framing.len();
            return Err(Error::Config(format!("max length {max_len} leaves no room beside {specials} special tokens")));
        }
        Ok(TextEncoder { tokenizer, framing, max_len })
    }

    /// The encoder of the classifier folder `dir` for `model`: its `tokenizer.json` (which must
    /// not have ids beyond the model's vocabulary), at most `max_len` tokens (see
    /// [`new`](Self::new)).
    ///
    /// # Errors
    /// [`read_tokenizer`]'s: a missing or unreadable tokenizer, [`Error::Config`] for one that
    /// does not match the vocabulary; [`new`](Self::new)'s.
    pub fn for_classifier(dir: impl AsRef<Path>, model: &SequenceClassifier, max_len: Option<usize>) -> Result<Self> {
        let encoder = model.encoder();
        let tokenizer = read_tokenizer(dir, encoder.config().vocab_size)?;
        Self::new(tokenizer, max_len, encoder.longest_input())
    }

    /// The most tokens a text gets, special tokens included.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The tokenizer (without truncation or padding).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Encodes `texts` (in parallel, in order).
    ///
    /// # Errors
    /// [`Error::Tokenizer`].
    pub fn encode<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<EncodedText>> {
        let (room, Framing { prefix, suffix, .. }) = (self.max_len - self.framing.len(), &self.framing);
        let encoded = self.tokenizer.encode_batch_ids(texts, false)?;
        Ok(encoded
            .into_iter()
            .map(|ids| EncodedText {
                truncated: ids.len() > room,
                ids: [&prefix[..], &ids[..ids.len().min(room)], &suffix[..]].concat(),
            })
            .collect())
    }
}

/// The ids a single sequence gets before and after it from `tokenizer`: those its post-processor
/// adds, else its `[CLS]` and `[SEP]` (or `<s>` and `</s>`), which are then named.
fn framing(tokenizer: &Tokenizer) -> Result<Framing> {
    let probe = tokenizer.encode("a 가", true)?;
    let special = |i: &usize| probe.special_tokens_mask[*i] == 1;
    let leading = (0..probe.len()).take_while(special).count();
    let trailing = (leading..probe.len()).rev().take_while(special).count();
    if leading + trailing > 0 {
        let suffix_start = probe.len() - trailing;
        return Ok(Framing {
            prefix: probe.ids[..leading].to_vec(),
            suffix: probe.ids[suffix_start..].to_vec(),
            added: None,
        });
    }
    let known = |(open, close): &(&str, &str)| {
        let (first, last) = (tokenizer.token_to_id(open)?, tokenizer.token_to_id(close)?);
        Some(Framing { prefix: vec![first], suffix: vec![last], added: Some([open.to_string(), close.to_string()]) })
    };
    [("[CLS]", "[SEP]"), ("<s>", "</s>")].iter().find_map(known).ok_or_else(|| {
        Error::Config("the tokenizer adds no special tokens and has neither [CLS]/[SEP] nor <s>/</s>".into())
    })
}

/// `text`'s tokenizer as a classifier folder stores it: truncating at the encoder's maximum
/// length and, when the encoder framed texts itself, with a post-processor adding the same
/// tokens (`BertProcessing`, after the tokenizer's own post-processor if it has one), so that
/// `transformers` encodes a text as training did.
fn tokenizer_to_save(text: &TextEncoder) -> Result<Tokenizer> {
    let Framing { prefix, suffix, added } = &text.framing;
    let mut tokenizer = match (added, prefix.first(), suffix.first()) {
        (Some([open, close]), Some(&first), Some(&last)) => {
            let mut json: Value = serde_json::from_str(&text.tokenizer.to_json_string()?)
                .map_err(|e| Error::Config(format!("the tokenizer's own JSON: {e}")))?;
            let framing = serde_json::json!({ "type": "BertProcessing", "sep": [close, last], "cls": [open, first] });
            json["post_processor"] = match json["post_processor"].take() {
                Value::Null => framing,
                own => serde_json::json!({ "type": "Sequence", "processors": [own, framing] }),
            };
            Tokenizer::from_json_value(json)?
        }
        _ => text.tokenizer.clone(),
    };
    tokenizer.set_truncation(Some(Truncation::new(text.max_len)))?;
    Ok(tokenizer)
}

/// Writes `model` as the Hugging Face classifier folder `dir`, which
/// `AutoModelForSequenceClassification` and [`SequenceClassifier::from_pretrained`] load: a model
/// carrying LoRA adapters is merged first ([`LoraModel::merge_and_unload`]); `config.json` names
/// the classes `labels` (`id2label`, `label2id`); the tokenizer files of `tokenizer_dir` are
/// copied beside it, `tokenizer.json` with `text`'s maximum length as its truncation (and as
/// `tokenizer_config.json`'s `model_max_length`; that file is written if the tokenizer came
/// without one) and the tokens `text` frames a text with, so that the folder encodes as it was
/// trained, here ([`TextEncoder::new`] reads it back) and in `transformers`' `AutoTokenizer`.
///
/// # Errors
/// [`Error::Config`] for as many labels as the head does not have; write errors.
pub fn save_classifier(
    model: &mut SequenceClassifier,
    text: &TextEncoder,
    tokenizer_dir: impl AsRef<Path>,
    labels: &[impl AsRef<str>],
    dir: impl AsRef<Path>,
) -> Result<()> {
    let dir = dir.as_ref();
    if labels.len() != model.num_labels() {
        return Err(Error::Config(format!("{} label names for {} classes", labels.len(), model.num_labels())));
    }
    model.encoder_mut().merge_and_unload();
    model.save_pretrained(dir)?;
    name_labels(dir, labels)?;
    copy_tokenizer_files(tokenizer_dir, dir)?;
    tokenizer_to_save(text)?.save(dir.join(TOKENIZER_FILE))?;
    write_tokenizer_config(dir, text, model.encoder().config().pad_token_id)
}

/// Sets `model_max_length` (where `transformers`' tokenizers truncate) in the `tokenizer_config.json`
/// of `dir` to `text`'s maximum length; a tokenizer that came without that file (the one
/// `examples/bert.rs` trains) gets one that loads `tokenizer.json` as it is
/// (`PreTrainedTokenizerFast`) and names its padding (`pad_id`) and framing tokens.
fn write_tokenizer_config(dir: &Path, text: &TextEncoder, pad_id: u32) -> Result<()> {
    let path = dir.join(TOKENIZER_CONFIG_FILE);
    if path.is_file() {
        return edit_json(&path, |config| {
            config.insert("model_max_length".into(), Value::from(text.max_len));
        });
    }
    let token = |id: Option<&u32>| id.and_then(|&id| text.tokenizer.id_to_token(id)).map_or(Value::Null, Value::from);
    let config = serde_json::json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": text.max_len,
        "pad_token": token(Some(&pad_id)),
        "cls_token": token(text.framing.prefix.first()),
        "sep_token": token(text.framing.suffix.last()),
    });
    let json = serde_json::to_string_pretty(&config).expect("plain data");
    Ok(malmoi_tensor::checkpoint::write_atomically(&path, json.as_bytes())?)
}

/// Sets `id2label` and `label2id` of the `config.json` in `dir` to `labels`.
fn name_labels(dir: &Path, labels: &[impl AsRef<str>]) -> Result<()> {
    edit_json(&dir.join(CONFIG_FILE), |config| {
        let id2label = labels.iter().enumerate().map(|(i, name)| (i.to_string(), Value::from(name.as_ref())));
        let label2id = labels.iter().enumerate().map(|(i, name)| (name.as_ref().to_string(), Value::from(i)));
        config.insert("id2label".into(), Value::Object(id2label.collect()));
        config.insert("label2id".into(), Value::Object(label2id.collect()));
    })
}

/// Rewrites the JSON object in the file `path` as `edit` changes it.
///
/// # Errors
/// [`Error::Io`] and [`Error::Json`] naming the file; [`Error::Config`] for JSON that is not an
/// object.
fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
    let Value::Object(mut json) = serde_json::from_str(&text).map_err(Error::json(path))? else {
        return Err(Error::Config(format!("{}: not a JSON object", path.display())));
    };
    edit(&mut json);
    let text = serde_json::to_string_pretty(&json).expect("plain data");
    Ok(malmoi_tensor::checkpoint::write_atomically(path, text.as_bytes())?)
}

/// The class names of the classifier folder `dir` (`config.json`'s `id2label`, in id order;
/// `LABEL_i` for a missing one), `num_labels` of them.
///
/// # Errors
/// [`Error::Io`] and [`Error::Json`] naming the file.
pub fn read_labels(dir: impl AsRef<Path>, num_labels: usize) -> Result<Vec<String>> {
    let config = read_config_json(dir.as_ref())?;
    let name = |i: usize| config["id2label"][i.to_string()].as_str().map_or_else(|| format!("LABEL_{i}"), String::from);
    Ok((0..num_labels).map(name).collect())
}
