//! The lecture's NSMC movie-review sentiment model, end to end.
//!
//! Hangul cleaning → morphemes with stems → stopwords → integer encoding (words seen fewer
//! than three times dropped) → at most 30 tokens → Embedding(vocab, 100) → LSTM(128) →
//! Dense(1, sigmoid), trained with RMSprop and early stopping on the shared engine
//! (malmoi-train). A [`SentimentPipeline`] holds every piece and saves to, and loads from, one
//! directory.

mod input;
mod model;
mod preprocess;
mod train;

use std::fmt;
use std::path::Path;

use malmoi_embed::KeyedVectors;
use malmoi_fs::datasets::nsmc::LabeledText;
use malmoi_tensor::checkpoint::{self, Precision};
use malmoi_tokenize::encoding::KerasTokenizer;
use malmoi_tokenize::korean::Analyzer;
use malmoi_train::metrics::ConfusionMatrix;
use malmoi_train::{Session, TrainLog};
use serde::{Deserialize, Serialize};

pub use input::{TextLines, check_text_lengths};
pub use model::{Batch, ModelConfig, Pooling, SentimentModel};
pub use preprocess::{LECTURE_STOPWORDS, PreprocessConfig, Preprocessor};
pub use train::{Labeled, SentimentTraining, TrainConfig, evaluate, fit};

use crate::error::{Error, Result};
use crate::io::{build_from_weights, check_format_version, create_model_dir, read_json, write_json};

/// The version of the saved-directory layout this code reads and writes.
const FORMAT_VERSION: u32 = 1;

/// What `config.json` of a saved pipeline holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineConfig {
    /// Layout version of the directory.
    pub format_version: u32,
    /// How text becomes tokens.
    pub preprocess: PreprocessConfig,
    /// Reviews keep at most their last `maxlen` tokens.
    pub maxlen: usize,
    /// Words seen fewer than this many times in training are left out of the vocabulary.
    pub min_count: usize,
    /// The classifier's shape.
    pub model: ModelConfig,
}

/// One review's verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sentiment {
    /// Probability that the review is positive.
    pub positive: f32,
}

impl Sentiment {
    /// Whether the review is judged positive (probability at least one half, as
    /// [`evaluate`](SentimentPipeline::evaluate) and [`ConfusionMatrix::from_probabilities`] count).
    pub fn is_positive(&self) -> bool {
        self.positive >= 0.5
    }

    /// The probability of the verdict given: `positive` for a positive one, `1 − positive` else.
    pub fn confidence(&self) -> f32 {
        if self.is_positive() { self.positive } else { 1.0 - self.positive }
    }
}

impl fmt::Display for Sentiment {
    /// The lecture's sentence, e.g. `99.11% 확률로 부정 리뷰입니다.`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = if self.is_positive() { "긍정" } else { "부정" };
        write!(f, "{:.2}% 확률로 {label} 리뷰입니다.", self.confidence() * 100.0)
    }
}

/// A verdict resting on fewer known tokens than this is flagged with
/// [`Caveat::FewKnownTokens`]: one known word (`영화`, `ㅋㅋ`) is not a review the model can read.
pub const MIN_KNOWN_TOKENS: usize = 2;

/// Why a verdict deserves no trust, most serious first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caveat {
    /// The text is empty or only whitespace.
    EmptyText,
    /// The text holds no Hangul at all (`hello world`): the model was trained on Korean.
    NoKoreanWords,
    /// No token of the text is in the vocabulary: the verdict is the model's bias alone.
    NoKnownTokens,
    /// Fewer than [`MIN_KNOWN_TOKENS`] tokens are in the vocabulary (the count is given).
    FewKnownTokens(usize),
}

impl fmt::Display for Caveat {
    /// A short English note: `empty text`, `no Korean words`, `no known tokens`,
    /// `only 1 known token`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caveat::EmptyText => f.write_str("empty text"),
            Caveat::NoKoreanWords => f.write_str("no Korean words"),
            Caveat::NoKnownTokens => f.write_str("no known tokens"),
            Caveat::FewKnownTokens(1) => f.write_str("only 1 known token"),
            Caveat::FewKnownTokens(n) => write!(f, "only {n} known tokens"),
        }
    }
}

/// The model's verdict on one text, with what it rests on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The verdict (a probability always exists: with no known token it is the model's bias).
    pub sentiment: Sentiment,
    /// Tokens left after preprocessing.
    pub tokens: usize,
    /// Those of them in the vocabulary (the model reads the last `maxlen` of these).
    pub known_tokens: usize,
    /// Why the verdict deserves no trust, if it does not.
    pub caveat: Option<Caveat>,
}

impl Prediction {
    fn new(text: &str, tokens: usize, known_tokens: usize, positive: f32) -> Self {
        let caveat = if text.trim().is_empty() {
            Some(Caveat::EmptyText)
        } else if !text.chars().any(is_hangul) {
            Some(Caveat::NoKoreanWords)
        } else if known_tokens == 0 {
            Some(Caveat::NoKnownTokens)
        } else if known_tokens < MIN_KNOWN_TOKENS {
            Some(Caveat::FewKnownTokens(known_tokens))
        } else {
            None
        };
        Self { sentiment: Sentiment { positive }, tokens, known_tokens, caveat }
    }

    /// Whether the text is judged positive.
    pub fn is_positive(&self) -> bool {
        self.sentiment.is_positive()
    }
}

/// Hangul syllables and jamo (conjoining and compatibility).
fn is_hangul(c: char) -> bool {
    matches!(c, '가'..='힣' | '\u{1100}'..='\u{11FF}' | '\u{3131}'..='\u{318E}')
}

/// Texts per model call inside [`SentimentPipeline::predict_batch`]: bounds memory; verdicts do
/// not depend on it.
const PREDICT_CHUNK: usize = 1024;
/// Bytes of text analysed at once inside [`SentimentPipeline::predict_batch`] (analysis takes
/// about 30 times the text): bounds memory whatever the batch; verdicts do not depend on it.
const PREDICT_CHUNK_BYTES: usize = 1 << 20;

/// Preprocessing, vocabulary and classifier together.
#[derive(Debug)]
pub struct SentimentPipeline {
    config: PipelineConfig,
    preprocessor: Preprocessor,
    tokenizer: KerasTokenizer,
    model: SentimentModel,
}

impl SentimentPipeline {
    /// Starts configuring a training run that preprocesses with `preprocessor`; the defaults
    /// are the lecture's (its model, words seen fewer than 3 times dropped, [`TrainConfig`]'s
    /// defaults, a quiet session without checkpoints, randomly initialised word vectors).
    pub fn trainer<'a>(preprocessor: Preprocessor) -> SentimentTrainer<'a> {
        SentimentTrainer {
            preprocessor,
            model: Box::new(ModelConfig::lecture),
            min_count: 3,
            config: TrainConfig::default(),
            session: Session::default(),
            pretrained: None,
        }
    }

    /// The saved configuration.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Number of words the model knows (index 0, padding, included).
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.vocab_size()
    }

    /// The verdict on one review, with how many of its tokens the model knows.
    ///
    /// Every text gets a verdict; an empty, non-Korean or unknown-word text carries a
    /// [`Caveat`]. Errors come only from the Korean analyzer.
    ///
    /// ```no_run
    /// use malmoi_seq::sentiment::SentimentPipeline;
    /// use malmoi_tokenize::korean::Analyzer;
    ///
    /// let pipeline = SentimentPipeline::load("models/sentiment", Analyzer::new()?)?;
    /// let verdict = pipeline.predict("영화 노잼이네")?;
    /// println!("{} ({} of {} tokens known)", verdict.sentiment, verdict.known_tokens, verdict.tokens);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn predict(&self, text: &str) -> Result<Prediction> {
        Ok(self.predict_batch(&[text])?.pop().expect("one text, one verdict"))
    }

    /// Verdicts on many texts, one per text in input order. A text's verdict is the same
    /// whatever else is in the batch: the model runs in inference mode and padding is masked.
    /// The batch is analysed a megabyte of text at a time, so memory does not grow with it.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first text longer than
    /// [`MAX_TEXT_BYTES`](malmoi_fs::datasets::nsmc::MAX_TEXT_BYTES) (before any work); the
    /// Korean analyzer's errors.
    pub fn predict_batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Prediction>> {
        check_text_lengths(texts)?;
        let mut verdicts = Vec::with_capacity(texts.len());
        for range in input::byte_bounded_chunks(texts, usize::MAX, PREDICT_CHUNK_BYTES) {
            verdicts.extend(self.predict_chunk(&texts[range])?);
        }
        Ok(verdicts)
    }

    /// [`predict_batch`](Self::predict_batch) on one piece of the batch.
    fn predict_chunk<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Prediction>> {
        let tokens = self.preprocessor.batch_tokens(texts)?;
        let sequences = self.tokenizer.texts_to_sequences(&tokens);
        // Texts of similar length share a chunk, so little padding is computed.
        let mut order: Vec<usize> = (0..sequences.len()).collect();
        order.sort_by_key(|&i| sequences[i].len());
        let mut probabilities = vec![0.0; texts.len()];
        for chunk in order.chunks(PREDICT_CHUNK) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| sequences[i].as_slice()).collect();
            for (&i, p) in chunk.iter().zip(self.model.probabilities(&Batch::new(&batch, self.config.maxlen))?) {
                probabilities[i] = p;
            }
        }
        Ok(texts
            .iter()
            .zip(tokens.iter().zip(&sequences))
            .zip(probabilities)
            .map(|((text, (tokens, known)), p)| Prediction::new(text.as_ref(), tokens.len(), known.len(), p))
            .collect())
    }

    /// Accuracy and friends on labelled reviews, in batches of similar length; equal to
    /// thresholding [`predict_batch`](Self::predict_batch) at one half. Reviews with no known
    /// word are judged by the model's bias alone.
    pub fn evaluate(&self, reviews: &[LabeledText]) -> Result<ConfusionMatrix> {
        let texts: Vec<&str> = reviews.iter().map(|r| r.document.as_str()).collect();
        let sequences = self.tokenizer.texts_to_sequences(self.preprocessor.batch_tokens(&texts)?);
        let labels: Vec<u8> = reviews.iter().map(|r| r.label).collect();
        let all: Vec<usize> = (0..reviews.len()).collect();
        Ok(evaluate(&self.model, Labeled { sequences: &sequences, labels: &labels }, &all, self.config.maxlen)?.1)
    }

    /// Saves `config.json`, `tokenizer.json` and `model.safetensors` (f32) into `dir`
    /// (created if needed); every file is written atomically.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        self.save_with(dir, Precision::F32)
    }

    /// As [`save`](Self::save), storing the weights with `precision`: `F16` halves the model
    /// for distribution at a cost of about 1e-3 in the probabilities.
    pub fn save_with(&self, dir: impl AsRef<Path>, precision: Precision) -> Result<()> {
        let dir = dir.as_ref();
        create_model_dir(dir)?;
        write_json(dir, "config.json", &self.config)?;
        self.tokenizer.save(dir.join("tokenizer.json"))?;
        checkpoint::save_module_with(dir.join("model.safetensors"), &self.model, &Default::default(), precision)?;
        Ok(())
    }

    /// Loads a pipeline saved by [`save`](Self::save), analysing text with `analyzer`; it
    /// predicts in inference mode (no dropout).
    ///
    /// The classifier is built from `model.safetensors` by name
    /// ([`SentimentModel::from_var_builder`]), nothing initialised at random first. A missing
    /// file, a directory of another format version, a tensor the configuration asks for that is
    /// missing or of another shape, or a stored tensor the configuration has no place for give
    /// [`Error::ModelDir`] naming the directory and the problem (and the tensor).
    pub fn load(dir: impl AsRef<Path>, analyzer: Analyzer) -> Result<Self> {
        let dir = dir.as_ref();
        let model_dir_error = |reason: String| Error::ModelDir { path: dir.to_path_buf(), reason };
        let config: PipelineConfig = read_json(dir, "config.json").map_err(model_dir_error)?;
        check_format_version(config.format_version, FORMAT_VERSION).map_err(model_dir_error)?;
        let tokenizer = KerasTokenizer::load(dir.join("tokenizer.json")).map_err(|e| model_dir_error(e.to_string()))?;
        let model = build_from_weights(dir, |vb| SentimentModel::from_var_builder(config.model.clone(), vb))
            .map_err(model_dir_error)?;
        let preprocessor = Preprocessor::new(config.preprocess.clone(), analyzer);
        Ok(Self { config, preprocessor, tokenizer, model })
    }
}

/// A training run being configured; [`train`](Self::train) runs it.
pub struct SentimentTrainer<'a> {
    preprocessor: Preprocessor,
    model: Box<dyn FnOnce(usize) -> ModelConfig + 'a>,
    min_count: usize,
    config: TrainConfig,
    session: Session,
    pretrained: Option<&'a KeyedVectors>,
}

impl<'a> SentimentTrainer<'a> {
    /// The classifier's shape for a given vocabulary size (default [`ModelConfig::lecture`]).
    pub fn model(mut self, model: impl FnOnce(usize) -> ModelConfig + 'a) -> Self {
        self.model = Box::new(model);
        self
    }

    /// Words seen fewer than `min_count` times in training are left out (default 3).
    pub fn min_count(mut self, min_count: usize) -> Self {
        self.min_count = min_count;
        self
    }

    /// Batch size, epochs, learning rate, seed, … (default [`TrainConfig::default`]).
    pub fn config(mut self, config: TrainConfig) -> Self {
        self.config = config;
        self
    }

    /// How the engine runs this session (default: quiet, no checkpoints):
    /// [`Session::checkpointed`]`(dir)` saves every epoch into `dir` (`step-N/` folders and
    /// `LATEST`) with a progress bar and resumes an interrupted run found there; `stop_at_step`
    /// and `time_budget` end the session early, resumable (such a session returns the weights
    /// where it stopped; the best epoch's are restored when the run ends).
    pub fn session(mut self, session: Session) -> Self {
        self.session = session;
        self
    }

    /// Starts the word vectors of words that `vectors` knows from its vectors (for example
    /// word2vec trained on unlabelled reviews); their width must equal the model's.
    pub fn pretrained_embeddings(mut self, vectors: &'a KeyedVectors) -> Self {
        self.pretrained = Some(vectors);
        self
    }

    /// Preprocesses `reviews`, builds the vocabulary and trains; returns the pipeline with the
    /// best epoch's weights and the run's log (one evaluation per epoch: `loss`,
    /// `accuracy`, `val_loss`, `val_accuracy`).
    ///
    /// # Errors
    /// The analyzer's errors; those of [`fit`].
    pub fn train(self, reviews: &[LabeledText]) -> Result<(SentimentPipeline, TrainLog)> {
        let texts: Vec<&str> = reviews.iter().map(|r| r.document.as_str()).collect();
        let tokens = self.preprocessor.batch_tokens(&texts)?;
        let tokenizer = build_vocabulary(&tokens, self.min_count);
        let encoded = tokenizer.texts_to_sequences(&tokens);
        let (sequences, labels): (Vec<Vec<u32>>, Vec<u8>) =
            encoded.into_iter().zip(reviews).filter(|(s, _)| !s.is_empty()).map(|(s, r)| (s, r.label)).unzip();
        let model_config = (self.model)(tokenizer.vocab_size());
        let mut model = SentimentModel::new(model_config.clone(), self.config.seed)?;
        if let Some(vectors) = self.pretrained {
            let known = tokenizer.word_index().filter_map(|(word, id)| Some((id, vectors.get_vector(word).ok()?)));
            model.set_word_vectors(known)?;
        }
        let data = Labeled { sequences: &sequences, labels: &labels };
        let log = fit(&mut model, data, &self.config, self.session)?;
        let config = PipelineConfig {
            format_version: FORMAT_VERSION,
            preprocess: self.preprocessor.config().clone(),
            maxlen: self.config.maxlen,
            min_count: self.min_count,
            model: model_config,
        };
        Ok((SentimentPipeline { config, preprocessor: self.preprocessor, tokenizer, model }, log))
    }
}

/// The lecture's vocabulary: words seen at least `min_count` times, most frequent first.
///
/// The tokenizer is fitted on the kept words alone, so it stores nothing about rare words (a
/// smaller `tokenizer.json`) and gives every kept word the index it has among all words.
fn build_vocabulary(tokens: &[Vec<String>], min_count: usize) -> KerasTokenizer {
    let mut counter = KerasTokenizer::new();
    counter.fit_on_texts(tokens);
    let keep = counter.rare_words(min_count).vocab_size_without_rare();
    let kept = |word: &&String| counter.index_of(&word.to_lowercase()).is_some_and(|index| (index as usize) < keep);
    let mut tokenizer = KerasTokenizer::new();
    tokenizer.fit_on_texts(tokens.iter().map(|doc| doc.iter().filter(kept)));
    tokenizer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vocabulary_keeps_frequent_words_with_their_full_ranking() {
        let docs: Vec<Vec<String>> = [["영화", "최고", "희귀"], ["영화", "최고", "영화"], ["영화", "별로", "별로"]]
            .iter()
            .map(|d| d.iter().map(|w| w.to_string()).collect())
            .collect();
        let vocabulary = build_vocabulary(&docs, 2);
        let mut full = KerasTokenizer::new();
        full.fit_on_texts(&docs);
        assert_eq!(vocabulary.len(), 3, "희귀 is seen once");
        for word in ["영화", "최고", "별로"] {
            assert_eq!(vocabulary.index_of(word), full.index_of(word), "{word}");
        }
        assert_eq!(vocabulary.index_of("희귀"), None);
    }
}
