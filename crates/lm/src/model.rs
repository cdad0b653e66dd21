//! The interface every language model of malmoi shares: text in, scores and next-word
//! suggestions out.
//!
//! The n-gram models of this crate, the LSTM LM of malmoi-seq and the GPT of
//! malmoi-transformer all implement [`LanguageModel`], so one sentence can be compared across
//! models (`Vec<Box<dyn LanguageModel>>`).

use crate::error::Result;

/// The sentence-end token every model predicts after the last token of a sentence.
pub const SENTENCE_END: &str = "</s>";

/// A language model that scores text and suggests the next word.
///
/// Each model tokenises the text itself (morphemes, BPE tokens, …). Scores are log10
/// probabilities, as in ARPA files and KenLM.
///
/// ```
/// use malmoi_lm::{LanguageModel, NextWord, Result, SentenceScore, SENTENCE_END};
///
/// /// Every word of a fixed vocabulary, and the sentence end, equally likely.
/// struct Uniform(Vec<&'static str>);
///
/// impl LanguageModel for Uniform {
///     fn name(&self) -> String {
///         "uniform".into()
///     }
///     fn score(&self, text: &str) -> Result<SentenceScore> {
///         let p = 1.0 / (self.0.len() + 1) as f64;
///         let mut tokens: Vec<String> = text.split_whitespace().map(String::from).collect();
///         let oov = tokens.iter().filter(|t| !self.0.contains(&t.as_str())).count();
///         tokens.push(SENTENCE_END.into());
///         let log10_probs = vec![p.log10(); tokens.len()];
///         Ok(SentenceScore::new(tokens, log10_probs, oov))
///     }
///     fn next_words(&self, _prefix: &str, k: usize) -> Result<Vec<NextWord>> {
///         let p = 1.0 / (self.0.len() + 1) as f64;
///         Ok(self.0.iter().take(k).map(|w| NextWord { word: w.to_string(), prob: p }).collect())
///     }
/// }
///
/// let models: Vec<Box<dyn LanguageModel>> = vec![Box::new(Uniform(vec!["나는", "버스를", "탔다"]))];
/// for model in &models {
///     let score = model.score("나는 버스를 탔다")?;
///     assert_eq!(score.tokens, ["나는", "버스를", "탔다", "</s>"]);
///     assert!((score.perplexity - 4.0).abs() < 1e-9);
///     assert_eq!(model.next_words("나는", 2)?.len(), 2);
/// }
/// # Ok::<(), malmoi_lm::Error>(())
/// ```
pub trait LanguageModel {
    /// A short human-readable name ("3-gram modified Kneser-Ney", "LSTM", "GPT", …).
    fn name(&self) -> String;

    /// Scores one sentence: the log10 probability of each of its tokens given the ones
    /// before, the sentence end included. An empty text scores the sentence end alone.
    fn score(&self, text: &str) -> Result<SentenceScore>;

    /// The `k` most probable next words after `prefix` (which may be empty: the start of a
    /// sentence), most probable first. The sentence end may be among them as
    /// [`SENTENCE_END`].
    fn next_words(&self, prefix: &str, k: usize) -> Result<Vec<NextWord>>;
}

/// How probable a sentence is under a model, token by token.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceScore {
    /// The predicted tokens in order, ending with [`SENTENCE_END`]. Out-of-vocabulary tokens
    /// keep their text here; the model scores them as its unknown token.
    pub tokens: Vec<String>,
    /// The log10 probability of each token given the ones before it (same length as `tokens`).
    pub log10_probs: Vec<f64>,
    /// The log10 probability of the whole sentence: the sum of `log10_probs`.
    pub log10_prob: f64,
    /// `10^(-log10_prob / tokens.len())`: the sentence's perplexity per predicted token.
    pub perplexity: f64,
    /// How many of `tokens` are out of the model's vocabulary.
    pub oov: usize,
}

impl SentenceScore {
    /// Builds a score from per-token log10 probabilities, computing the total and perplexity.
    pub fn new(tokens: Vec<String>, log10_probs: Vec<f64>, oov: usize) -> Self {
        let log10_prob: f64 = log10_probs.iter().sum();
        let perplexity = perplexity(log10_prob, log10_probs.len());
        Self { tokens, log10_probs, log10_prob, perplexity, oov }
    }
}

/// A suggested next word and its probability under the model.
#[derive(Debug, Clone, PartialEq)]
pub struct NextWord {
    /// The word (a token of the model's vocabulary, or [`SENTENCE_END`]).
    pub word: String,
    /// Its probability given the prefix, in [0, 1].
    pub prob: f64,
}

/// Perplexity of a model over many sentences, as KenLM's `query` reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CorpusScore {
    /// Sum of the sentences' log10 probabilities.
    pub log10_prob: f64,
    /// Number of predicted tokens, sentence ends included.
    pub tokens: usize,
    /// Number of out-of-vocabulary tokens.
    pub oov: usize,
    /// `10^(-log10_prob / tokens)`.
    pub perplexity: f64,
}

/// Scores every sentence of `texts` and returns the corpus perplexity (per token, sentence
/// ends included).
pub fn corpus_score<'a, M>(model: &M, texts: impl IntoIterator<Item = &'a str>) -> Result<CorpusScore>
where
    M: LanguageModel + ?Sized,
{
    let (mut log10_prob, mut tokens, mut oov) = (0.0, 0, 0);
    for text in texts {
        let score = model.score(text)?;
        log10_prob += score.log10_prob;
        tokens += score.tokens.len();
        oov += score.oov;
    }
    Ok(CorpusScore { log10_prob, tokens, oov, perplexity: perplexity(log10_prob, tokens) })
}

fn perplexity(log10_prob: f64, tokens: usize) -> f64 {
    if tokens == 0 { 1.0 } else { 10f64.powf(-log10_prob / tokens as f64) }
}
