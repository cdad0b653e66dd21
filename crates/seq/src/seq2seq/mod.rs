//! Sequence-to-sequence learning with attention: a recurrent encoder, a recurrent decoder with
//! Luong attention over the encoder states, teacher-forced training, greedy and beam decoding,
//! attention heat maps, exact-match and BLEU evaluation — and the task it is trained on here,
//! Korean words → their Revised Romanization.
//!
//! [`Seq2Seq`] holds the model with its two character vocabularies and saves to, and loads
//! from, one directory (`config.json` + `model.safetensors`).
//!
//! Bad input: an empty text is [`Seq2SeqError::EmptyInput`]; a text longer than the model's
//! `max_source_len` is [`Seq2SeqError::InputTooLong`]. Characters the source vocabulary never
//! saw are read as the unknown symbol [`UNK`] (whose vector was never trained, so the output
//! there is a guess) and listed in [`Translation::unknown`] so the caller can tell.
//!
//! ```
//! use malmoi_seq::seq2seq::{DecodeOptions, Limits, Seq2Seq, Seq2SeqConfig, TrainConfig};
//!
//! // learn to reverse three-letter words
//! let words = ["abc", "bca", "cab", "acb", "bac", "cba", "aab", "bba", "cca", "abb", "bcc", "caa"];
//! let pairs: Vec<(String, String)> = words.iter().map(|w| (w.to_string(), w.chars().rev().collect())).collect();
//! let config = TrainConfig { epochs: 60, batch_size: 4, validation_split: 0.0, ..TrainConfig::default() };
//! let (model, _log) = Seq2Seq::trainer(8, 16).limits(Limits { max_source_len: 8, max_target_len: 8 }).config(config).train(&pairs)?;
//! assert_eq!(model.translate("abc", &DecodeOptions::default())?.text, "cba");
//! # Ok::<(), malmoi_seq::seq2seq::Seq2SeqError>(())
//! ```

mod attention;
pub mod bleu;
pub mod data;
pub mod decode;
mod model;
mod plot;
mod train;
mod vocab;

use std::path::{Path, PathBuf};

use malmoi_tensor::checkpoint;
use malmoi_tensor::nn::Module;
use malmoi_tensor::no_grad;
use malmoi_train::{Session, TrainLog};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

pub use attention::AttentionScore;
pub use bleu::{Bleu, BleuTokenizer, corpus_bleu};
pub use decode::{DecodeOptions, Hypothesis, beam_search, greedy};
pub use model::{Encoded, Padded, Seq2SeqConfig, Seq2SeqModel, Step};
pub use plot::attention_svg;
pub use train::{Pairs, Seq2SeqTraining, TrainConfig, evaluate, fit};
pub use vocab::{BOS, CharVocab, EOS, PAD, UNK};

use crate::error::Error;
use crate::io::{build_from_weights, check_format_version, create_model_dir, read_json, write_json};

/// The version of the saved-directory layout this code reads and writes.
const FORMAT_VERSION: u32 = 1;

/// What can go wrong translating with, training or loading a [`Seq2Seq`].
#[derive(Debug, thiserror::Error)]
pub enum Seq2SeqError {
    /// The text to translate has no character.
    #[error("empty input: nothing to translate")]
    EmptyInput,
    /// The text is longer than the model accepts.
    #[error("input of {length} characters is longer than the model's limit of {max}")]
    InputTooLong {
        /// Characters in the input.
        length: usize,
        /// The model's `max_source_len`.
        max: usize,
    },
    /// Anything else: tensors, files, arguments, a model directory.
    #[error(transparent)]
    Seq(#[from] Error),
}

impl From<malmoi_tensor::Error> for Seq2SeqError {
    fn from(error: malmoi_tensor::Error) -> Self {
        Seq2SeqError::Seq(error.into())
    }
}

/// Shorthand for results with [`Seq2SeqError`].
pub type Result<T, E = Seq2SeqError> = std::result::Result<T, E>;

/// Input and output length limits, each at most [`Limits::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Longest source accepted, in characters.
    pub max_source_len: usize,
    /// Decoding stops after this many output symbols.
    pub max_target_len: usize,
}

impl Limits {
    /// The largest limit a model is trained or loaded with. Decoding runs up to
    /// `max_target_len` steps when the model never emits [`EOS`], so this bounds the time one
    /// translation can take, whatever a `config.json` says.
    pub const MAX: usize = 4096;

    /// `Err` (the reason) when a limit exceeds [`Limits::MAX`].
    fn check(&self) -> std::result::Result<(), String> {
        if self.max_source_len > Self::MAX || self.max_target_len > Self::MAX {
            return Err(format!("length limits {self:?} exceed the maximum of {}", Self::MAX));
        }
        Ok(())
    }
}

/// What `config.json` of a saved model holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedConfig {
    /// Layout version of the directory.
    pub format_version: u32,
    /// The network's shape.
    pub model: Seq2SeqConfig,
    /// Source characters, in id order after the four specials.
    pub source_vocab: CharVocab,
    /// Target characters, in id order after the four specials.
    pub target_vocab: CharVocab,
    /// Length limits.
    pub limits: Limits,
}

/// One translated text.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    /// The output.
    pub text: String,
    /// The input's characters (the attention matrix's columns).
    pub source: Vec<char>,
    /// Attention weights, one row per output symbol (the end symbol last when decoding
    /// finished), one column per source character; every row sums to 1.
    pub attention: Array2<f32>,
    /// Log-probability of the output (end symbol included).
    pub log_prob: f32,
    /// Input characters unknown to the model, read as [`UNK`], in order.
    pub unknown: Vec<char>,
}

impl Translation {
    /// The output symbols labelling the attention rows: the output's characters, then `</s>`
    /// for the end symbol.
    pub fn row_labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = self.text.chars().map(String::from).collect();
        labels.resize(self.attention.nrows(), "</s>".to_string());
        labels
    }

    /// Writes the attention matrix as an SVG heat map labelled with the characters.
    pub fn plot_attention(&self, path: impl AsRef<Path>) -> Result<()> {
        Ok(attention_svg(path.as_ref(), &self.attention, &self.source, &self.row_labels())?)
    }
}

/// Held-out quality of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Share of outputs equal to their reference.
    pub exact_match: f64,
    /// Character-level corpus BLEU (sacrebleu `tokenize='char'`).
    pub bleu: Bleu,
    /// The outputs, in input order.
    pub outputs: Vec<String>,
}

/// A trained encoder–decoder with its vocabularies and limits.
#[derive(Debug)]
pub struct Seq2Seq {
    config: SavedConfig,
    model: Seq2SeqModel,
}

impl Seq2Seq {
    /// Starts configuring a training run for a model with `embedding_dim`-wide character
    /// vectors and `hidden_size` encoder units per direction.
    pub fn trainer(embedding_dim: usize, hidden_size: usize) -> Seq2SeqTrainer {
        Seq2SeqTrainer {
            shape: Seq2SeqConfig::new(0, 0, embedding_dim, hidden_size),
            limits: None,
            config: TrainConfig::default(),
            session: Session::default(),
            seed: 42,
        }
    }

    /// The saved configuration (shape, vocabularies, limits).
    pub fn config(&self) -> &SavedConfig {
        &self.config
    }

    /// The network.
    pub fn model(&self) -> &Seq2SeqModel {
        &self.model
    }

    /// Translates one text: greedy decoding for beam width 1, beam search otherwise.
    pub fn translate(&self, text: &str, options: &DecodeOptions) -> Result<Translation> {
        let (ids, unknown) = self.encode(text)?;
        let encoded = no_grad(|| self.model.encode(&Padded::new(&[&ids], None, None)))?;
        let max_len = self.config.limits.max_target_len;
        let hypothesis = if options.beam_width == 1 {
            greedy(&self.model, &encoded, max_len)?.pop().expect("one row, one hypothesis")
        } else {
            beam_search(&self.model, &encoded, options, max_len)?
        };
        Ok(self.translation(text, hypothesis, unknown))
    }

    /// Greedy translations of many texts, decoded together; one result per text (a text that is
    /// empty or too long gets its error, the others are unaffected).
    pub fn translate_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Result<Translation>>> {
        let encoded: Vec<Result<(Vec<u32>, Vec<char>)>> = texts.iter().map(|t| self.encode(t.as_ref())).collect();
        let valid: Vec<&[u32]> =
            encoded.iter().filter_map(|e| e.as_ref().ok()).map(|(ids, _)| ids.as_slice()).collect();
        let mut hypotheses = if valid.is_empty() {
            Vec::new().into_iter()
        } else {
            let states = no_grad(|| self.model.encode(&Padded::new(&valid, None, None)))?;
            greedy(&self.model, &states, self.config.limits.max_target_len)?.into_iter()
        };
        Ok(texts
            .iter()
            .zip(encoded)
            .map(|(text, encoded)| {
                let (ids, unknown) = encoded?;
                let mut hypothesis = hypotheses.next().expect("one hypothesis per valid text");
                hypothesis.attention = hypothesis.attention.slice(ndarray::s![.., ..ids.len()]).to_owned();
                Ok(self.translation(text.as_ref(), hypothesis, unknown))
            })
            .collect())
    }

    /// Exact-match accuracy and character BLEU of greedy outputs against references.
    pub fn evaluate(&self, pairs: &[(String, String)]) -> Result<Evaluation> {
        let mut outputs = Vec::with_capacity(pairs.len());
        for chunk in pairs.chunks(256) {
            let sources: Vec<&str> = chunk.iter().map(|(s, _)| s.as_str()).collect();
            for translation in self.translate_batch(&sources)? {
                outputs.push(translation?.text);
            }
        }
        let references: Vec<&str> = pairs.iter().map(|(_, t)| t.as_str()).collect();
        let exact = outputs.iter().zip(&references).filter(|(o, r)| o == r).count();
        Ok(Evaluation {
            exact_match: exact as f64 / pairs.len().max(1) as f64,
            bleu: corpus_bleu(&outputs, &references, BleuTokenizer::Char),
            outputs,
        })
    }

    fn encode(&self, text: &str) -> Result<(Vec<u32>, Vec<char>)> {
        let length = text.chars().count();
        if length == 0 {
            return Err(Seq2SeqError::EmptyInput);
        }
        let max = self.config.limits.max_source_len;
        if length > max {
            return Err(Seq2SeqError::InputTooLong { length, max });
        }
        Ok(self.config.source_vocab.encode(text))
    }

    fn translation(&self, text: &str, hypothesis: Hypothesis, unknown: Vec<char>) -> Translation {
        Translation {
            text: self.config.target_vocab.decode(&hypothesis.ids),
            source: text.chars().collect(),
            attention: hypothesis.attention,
            log_prob: hypothesis.log_prob,
            unknown,
        }
    }

    /// Saves `config.json` and `model.safetensors` into `dir` (created if needed), each written
    /// atomically.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        create_model_dir(dir)?;
        write_json(dir, "config.json", &self.config)?;
        checkpoint::save_module(dir.join("model.safetensors"), &self.model, &Default::default())?;
        Ok(())
    }

    /// Loads a model saved by [`save`](Self::save), ready for inference (dropout off).
    ///
    /// The model is built from `model.safetensors` by name
    /// ([`Seq2SeqModel::from_var_builder`]), nothing initialised at random first. A missing or
    /// unreadable file, another format version, a tensor the configuration asks for that is
    /// missing or of another shape, or a stored tensor the configuration has no place for give
    /// [`Error::ModelDir`] naming the directory and the problem (and the tensor), as do length
    /// limits above [`Limits::MAX`]. Each tensor's shape is checked before it is read, so a
    /// configuration claiming 10^12 weights is refused without allocating them.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let fail = |reason: String| Seq2SeqError::Seq(Error::ModelDir { path: PathBuf::from(dir), reason });
        let config: SavedConfig = read_json(dir, "config.json").map_err(fail)?;
        check_format_version(config.format_version, FORMAT_VERSION).map_err(fail)?;
        config.limits.check().map_err(|reason| fail(format!("config.json: {reason}")))?;
        let mut model =
            build_from_weights(dir, |vb| Seq2SeqModel::from_var_builder(config.model.clone(), vb)).map_err(fail)?;
        model.set_training(false);
        Ok(Self { config, model })
    }
}

/// A training run being configured; [`train`](Self::train) runs it.
#[derive(Debug, Clone)]
pub struct Seq2SeqTrainer {
    shape: Seq2SeqConfig,
    limits: Option<Limits>,
    config: TrainConfig,
    session: Session,
    seed: u64,
}

impl Seq2SeqTrainer {
    /// Cell kind, direction, attention score and dropout (the vocabulary sizes are set from the
    /// data; the embedding and hidden sizes given to [`Seq2Seq::trainer`] are kept).
    pub fn shape(mut self, shape: impl FnOnce(Seq2SeqConfig) -> Seq2SeqConfig) -> Self {
        self.shape = shape(self.shape);
        self
    }

    /// Length limits (default: the longest training source and target, plus a quarter); each
    /// at most [`Limits::MAX`], or [`train`](Self::train) fails.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Batch size, epochs, learning rate, … (default [`TrainConfig::default`]).
    pub fn config(mut self, config: TrainConfig) -> Self {
        self.config = config;
        self
    }

    /// How the engine runs this session (default: quiet, no checkpoints):
    /// [`Session::checkpointed`]`(dir)` saves every epoch into `dir` with a progress bar and
    /// resumes an interrupted run found there; `stop_at_step` and `time_budget` end the session
    /// early, resumable.
    pub fn session(mut self, session: Session) -> Self {
        self.session = session;
        self
    }

    /// Seed of the initial weights (default 42).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Builds the vocabularies from `pairs` (source, target) and trains; returns the model in
    /// inference mode and the run's log (see [`fit`]).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a pair with an empty side or limits above
    /// [`Limits::MAX`]; those of [`fit`].
    pub fn train(self, pairs: &[(String, String)]) -> Result<(Seq2Seq, TrainLog)> {
        if let Some((source, _)) = pairs.iter().find(|(s, t)| s.is_empty() || t.is_empty()) {
            return Err(
                Error::InvalidArgument(format!("a training pair with an empty side (source {source:?})")).into()
            );
        }
        let source_vocab = CharVocab::from_texts(pairs.iter().map(|(s, _)| s));
        let target_vocab = CharVocab::from_texts(pairs.iter().map(|(_, t)| t));
        let longest = |side: fn(&(String, String)) -> &String| pairs.iter().map(|p| side(p).chars().count()).max();
        let limits = self.limits.unwrap_or_else(|| {
            let grow = |n: Option<usize>| n.map_or(1, |n| n + n.div_ceil(4));
            Limits { max_source_len: grow(longest(|p| &p.0)), max_target_len: grow(longest(|p| &p.1)) }
        });
        limits.check().map_err(Error::InvalidArgument)?;
        let shape = Seq2SeqConfig { source_vocab: source_vocab.len(), target_vocab: target_vocab.len(), ..self.shape };
        let source: Vec<Vec<u32>> = pairs.iter().map(|(s, _)| source_vocab.encode(s).0).collect();
        let target: Vec<Vec<u32>> = pairs.iter().map(|(_, t)| target_vocab.encode(t).0).collect();
        let mut model = Seq2SeqModel::new(shape.clone(), self.seed)?;
        let log = fit(&mut model, Pairs { source: &source, target: &target }, &self.config, self.session)?;
        model.set_training(false);
        let config = SavedConfig { format_version: FORMAT_VERSION, model: shape, source_vocab, target_vocab, limits };
        Ok((Seq2Seq { config, model }, log))
    }
}
