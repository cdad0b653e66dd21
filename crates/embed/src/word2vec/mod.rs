//! word2vec (Mikolov et al. 2013): CBOW and skip-gram with negative sampling and/or
//! hierarchical softmax, trained lock-free on several threads, streaming its corpus.
//!
//! Follows word2vec.c and gensim: vocabulary with `min_count` / `max_vocab_size`, frequent-word
//! subsampling, a dynamic window (a random reach in `1..=window` per position), a learning
//! rate decaying linearly from `alpha` to `min_alpha` over all epochs, a precomputed sigmoid
//! table (1000 points on [-6, 6]; see [`sampling`]), and the unigram^0.75 noise distribution.
//! With `workers = 1` and a seed, training is deterministic.
//!
//! ```
//! use malmoi_embed::word2vec::{Corpus, Word2Vec, Word2VecConfig};
//! let sentences: Vec<Vec<String>> = (0..200)
//!     .map(|i| ["나는", if i % 2 == 0 { "영화" } else { "드라마" }, "를", "봤다"]
//!         .iter().map(|s| s.to_string()).collect())
//!     .collect();
//! let config = Word2VecConfig { vector_size: 16, min_count: 1, workers: 1, progress: false, ..Default::default() };
//! let mut model = Word2Vec::new(config).unwrap();
//! model.build_vocab(&Corpus::Sentences(&sentences)).unwrap();
//! let report = model.train(&Corpus::Sentences(&sentences)).unwrap();
//! assert_eq!(report.raw_words, 5 * 800);
//! assert_eq!(model.wv().len(), 5);
//! let neighbours = model.wv().most_similar(&["영화"], &[], 2).unwrap();
//! assert_eq!(neighbours.len(), 2);
//! ```

mod cbow;
pub mod corpus;
pub mod huffman;
mod model_io;
pub(crate) mod sampling;
mod skip_gram;
mod train;
mod vocab;

pub use corpus::{Analyzer, Corpus};
pub use train::TrainingReport;

use crate::error::{EmbedError, Result};
use crate::keyed_vectors::KeyedVectors;
use huffman::HuffmanTree;
use rand::{Rng, SeedableRng};
use sampling::{SigmoidTable, UnigramTable};
use serde::{Deserialize, Serialize};
use train::{SharedRows, Trainer, Weights};

/// Which word predicts which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Architecture {
    /// Continuous bag of words: the mean of the context vectors predicts the centre word.
    #[default]
    Cbow,
    /// Skip-gram: each context word predicts the centre word, one pair at a time.
    SkipGram,
}

/// Hyper-parameters; the defaults are gensim 4's (`Word2Vec()`), except `workers`, which
/// defaults to the number of cores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word2VecConfig {
    /// CBOW (`sg=0`) or skip-gram (`sg=1`).
    pub architecture: Architecture,
    /// Dimension of the word vectors.
    pub vector_size: usize,
    /// Largest distance between the centre word and a context word.
    pub window: usize,
    /// Ignore words rarer than this.
    pub min_count: u64,
    /// Prune the counting table to this many words while counting (rarest first).
    pub max_vocab_size: Option<usize>,
    /// Subsampling threshold for frequent words (0 disables).
    pub sample: f64,
    /// Noise words per positive example (0 disables negative sampling).
    pub negative: usize,
    /// Use hierarchical softmax.
    pub hs: bool,
    /// Exponent of the noise distribution (0.75).
    pub ns_exponent: f64,
    /// CBOW: average (true) or sum the context vectors.
    pub cbow_mean: bool,
    /// Initial learning rate.
    pub alpha: f32,
    /// Final learning rate.
    pub min_alpha: f32,
    /// Passes over the corpus per `train` call.
    pub epochs: usize,
    /// Training threads.
    pub workers: usize,
    /// Seed for initial vectors and every random choice.
    pub seed: u64,
    /// Show a progress bar (words/s, ETA) on stderr.
    pub progress: bool,
}

impl Default for Word2VecConfig {
    fn default() -> Self {
        Word2VecConfig {
            architecture: Architecture::Cbow,
            vector_size: 100,
            window: 5,
            min_count: 5,
            max_vocab_size: None,
            sample: 1e-3,
            negative: 5,
            hs: false,
            ns_exponent: 0.75,
            cbow_mean: true,
            alpha: 0.025,
            min_alpha: 1e-4,
            epochs: 5,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            seed: 1,
            progress: true,
        }
    }
}

/// Largest context window accepted (word2vec.c and gensim set none; a window this wide already
/// covers any sentence).
pub const MAX_WINDOW: usize = 10_000;
/// Largest number of noise words per example accepted.
pub const MAX_NEGATIVE: usize = 1_000;
/// Largest number of training threads accepted.
pub const MAX_WORKERS: usize = 1_024;
/// Largest vector width accepted (the published models use 100 to 1,000; memory grows with
/// vocabulary × width).
pub const MAX_VECTOR_SIZE: usize = 10_000;
/// Largest number of passes over the corpus accepted.
pub const MAX_EPOCHS: usize = 10_000;

impl Word2VecConfig {
    fn validate(&self) -> Result<()> {
        let bad = |msg: &str| Err(EmbedError::InvalidParameter(msg.to_string()));
        for (name, value, low, high) in [
            ("vector_size", self.vector_size, 1, MAX_VECTOR_SIZE),
            ("window", self.window, 1, MAX_WINDOW),
            ("epochs", self.epochs, 1, MAX_EPOCHS),
            ("workers", self.workers, 1, MAX_WORKERS),
            ("negative", self.negative, 0, MAX_NEGATIVE),
        ] {
            if !(low..=high).contains(&value) {
                return bad(&format!("{name} = {value} is outside {low}..={high}"));
            }
        }
        if self.negative == 0 && !self.hs {
            return bad("enable negative sampling (negative > 0) or hierarchical softmax (hs)");
        }
        if !(self.alpha > 0.0 && self.min_alpha >= 0.0 && self.sample >= 0.0) {
            return bad("alpha must be positive; min_alpha and sample non-negative");
        }
        Ok(())
    }
}

/// A word2vec model: vocabulary, input vectors ([`KeyedVectors`]) and output weights.
///
/// `build_vocab` counts the corpus; `train` runs `epochs` passes (call it again, or after
/// [`load`](Self::load), to continue training). Building a vocabulary from a corpus with no
/// word reaching `min_count` returns [`EmbedError::EmptyVocabulary`].
#[derive(Debug, Clone)]
pub struct Word2Vec {
    config: Word2VecConfig,
    wv: KeyedVectors,
    counts: Vec<u64>,
    syn1neg: Vec<f32>,
    syn1: Vec<f32>,
    /// Raw tokens per pass over the corpus the vocabulary was built on.
    corpus_words: u64,
}

impl Word2Vec {
    /// An untrained model with the given configuration.
    pub fn new(config: Word2VecConfig) -> Result<Self> {
        config.validate()?;
        Ok(Word2Vec {
            config,
            wv: KeyedVectors::from_flat(Vec::new(), 0, Vec::new())?,
            counts: Vec::new(),
            syn1neg: Vec::new(),
            syn1: Vec::new(),
            corpus_words: 0,
        })
    }

    /// Builds the vocabulary and trains: `new`, `build_vocab`, `train`.
    pub fn fit(config: Word2VecConfig, corpus: &Corpus<'_>) -> Result<(Self, TrainingReport)> {
        let mut model = Word2Vec::new(config)?;
        model.build_vocab(corpus)?;
        let report = model.train(corpus)?;
        Ok((model, report))
    }

    /// The configuration.
    pub fn config(&self) -> &Word2VecConfig {
        &self.config
    }

    /// Mutable configuration, e.g. to change `epochs`, `alpha` or `workers` before continuing
    /// training. Changing `vector_size`, `negative` or `hs` after `build_vocab` is an error at
    /// the next `train`.
    pub fn config_mut(&mut self) -> &mut Word2VecConfig {
        &mut self.config
    }

    /// The trained word vectors.
    pub fn wv(&self) -> &KeyedVectors {
        &self.wv
    }

    /// The word vectors, consuming the model.
    pub fn into_keyed_vectors(self) -> KeyedVectors {
        self.wv
    }

    /// Corpus count of `word`, if in the vocabulary.
    pub fn word_count(&self, word: &str) -> Option<u64> {
        self.wv.key_to_index(word).map(|i| self.counts[i])
    }

    /// Raw tokens in one pass over the corpus the vocabulary was built from.
    pub fn corpus_words(&self) -> u64 {
        self.corpus_words
    }

    /// Counts the corpus, keeps words with at least `min_count` occurrences (most frequent
    /// first) and initialises the weights: input vectors uniform in `±1 / vector_size`
    /// (gensim's range; word2vec.c uses `±0.5 / vector_size`), output weights zero.
    pub fn build_vocab(&mut self, corpus: &Corpus<'_>) -> Result<&mut Self> {
        self.config.validate()?;
        let counted = vocab::count_words(corpus, self.config.workers, self.config.max_vocab_size)?;
        let (words, counts) = vocab::select_words(counted.counts, self.config.min_count);
        if words.is_empty() {
            return Err(EmbedError::EmptyVocabulary(format!(
                "no word occurs at least min_count = {} times",
                self.config.min_count
            )));
        }
        let d = self.config.vector_size;
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.config.seed);
        let syn0: Vec<f32> = (0..words.len() * d).map(|_| (rng.random::<f32>() * 2.0 - 1.0) / d as f32).collect();
        self.syn1neg = vec![0.0; if self.config.negative > 0 { words.len() * d } else { 0 }];
        self.syn1 = vec![0.0; if self.config.hs { (words.len() - 1) * d } else { 0 }];
        self.wv = KeyedVectors::from_flat(words, d, syn0)?;
        self.counts = counts;
        self.corpus_words = counted.raw_words;
        Ok(self)
    }

    /// Trains `epochs` passes over `corpus` (normally the one the vocabulary was built on;
    /// words outside the vocabulary are skipped). The learning rate decays over
    /// `epochs × corpus_words()` raw words.
    pub fn train(&mut self, corpus: &Corpus<'_>) -> Result<TrainingReport> {
        self.check_trainable()?;
        let config = &self.config;
        let d = config.vector_size;
        let planned_words = config.epochs as u64 * self.corpus_words;
        let progress = malmoi_fs::progress::bar(planned_words, 0, "words", config.progress);
        let unigrams = UnigramTable::new(&self.counts, config.ns_exponent);
        let huffman = if config.hs { HuffmanTree::new(&self.counts) } else { HuffmanTree::new(&[]) };
        let keep = vocab::keep_thresholds(&self.counts, config.sample);
        let mut syn0 = self.wv.take_vectors();
        let trainer = Trainer {
            architecture: config.architecture,
            vector_size: d,
            window: config.window,
            negative: config.negative,
            hs: config.hs,
            cbow_mean: config.cbow_mean,
            alpha: config.alpha,
            min_alpha: config.min_alpha,
            seed: config.seed,
            vocab: self.wv.vocabulary(),
            keep: &keep,
            unigrams: &unigrams,
            huffman: &huffman,
            sigmoid: SigmoidTable::new(),
            planned_words,
        };
        let weights = Weights {
            syn0: SharedRows::new(&mut syn0, d),
            syn1neg: SharedRows::new(&mut self.syn1neg, d),
            syn1: SharedRows::new(&mut self.syn1, d),
        };
        let start = std::time::Instant::now();
        let result = trainer.run(corpus, config.epochs, config.workers, &weights, &progress);
        let seconds = start.elapsed().as_secs_f64();
        self.wv.put_vectors(syn0);
        progress.finish_and_clear();
        let (raw_words, effective_words) = result?;
        Ok(TrainingReport { epochs: config.epochs, raw_words, effective_words, seconds })
    }

    fn check_trainable(&self) -> Result<()> {
        self.config.validate()?;
        if self.wv.is_empty() {
            return Err(EmbedError::EmptyVocabulary("call build_vocab before train".into()));
        }
        let n = self.wv.len();
        let d = self.config.vector_size;
        let expected_neg = if self.config.negative > 0 { n * d } else { 0 };
        let expected_hs = if self.config.hs { (n - 1) * d } else { 0 };
        if self.wv.vector_size() != d || self.syn1neg.len() != expected_neg || self.syn1.len() != expected_hs {
            return Err(EmbedError::InvalidParameter("vector_size, negative or hs changed after build_vocab".into()));
        }
        Ok(())
    }
}
