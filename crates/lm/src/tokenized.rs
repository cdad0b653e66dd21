//! A model of token sequences behind a tokenizer: text in, [`LanguageModel`] out.

use crate::error::Result;
use crate::model::{LanguageModel, NextWord, SentenceScore};
use crate::ngram::NgramModel;

/// A language model over tokens (the n-gram model, the LSTM LM of malmoi-seq, …);
/// [`TokenizedLm`] puts the tokenizer of its training text in front.
pub trait TokenLanguageModel {
    /// Scores a tokenised sentence, `</s>` included (see [`LanguageModel::score`]).
    fn score_tokens(&self, tokens: &[String]) -> Result<SentenceScore>;

    /// The `k` most probable next tokens after a tokenised prefix (see
    /// [`LanguageModel::next_words`]).
    fn next_tokens(&self, prefix: &[String], k: usize) -> Result<Vec<NextWord>>;
}

impl TokenLanguageModel for NgramModel {
    fn score_tokens(&self, tokens: &[String]) -> Result<SentenceScore> {
        Ok(NgramModel::score_tokens(self, tokens))
    }

    fn next_tokens(&self, prefix: &[String], k: usize) -> Result<Vec<NextWord>> {
        Ok(NgramModel::next_tokens(self, prefix, k))
    }
}

/// Splits a text into the tokens a model was trained on (morphemes, BPE tokens, …).
pub type Tokenize = dyn Fn(&str) -> Result<Vec<String>> + Send + Sync;

/// A token model (an [`NgramModel`] by default) with the tokenizer its training text went
/// through, so it scores raw text.
///
/// ```
/// use malmoi_lm::{LanguageModel, NgramBuilder, TokenizedLm};
///
/// let syllables = |text: &str| Ok(text.chars().filter(|c| !c.is_whitespace()).map(String::from).collect());
/// let corpus: Vec<Vec<String>> = ["나는 버스를 탔다", "나는 집에 갔다"].iter().map(|t| syllables(t).unwrap()).collect();
/// let model = NgramBuilder::new(2).discount_fallback([0.5, 1.0, 1.5]).fit(&corpus)?;
/// let lm = TokenizedLm::new("syllable 2-gram", model, syllables);
/// assert_eq!(lm.score("나는 버스")?.tokens, ["나", "는", "버", "스", "</s>"]);
/// assert_eq!(lm.next_words("나", 1)?[0].word, "는");
/// # Ok::<(), malmoi_lm::Error>(())
/// ```
pub struct TokenizedLm<M = NgramModel> {
    name: String,
    model: M,
    tokenize: Box<Tokenize>,
}

impl<M: TokenLanguageModel> TokenizedLm<M> {
    /// Wraps `model`, which was trained on `tokenize`'s output.
    pub fn new(
        name: impl Into<String>,
        model: M,
        tokenize: impl Fn(&str) -> Result<Vec<String>> + Send + Sync + 'static,
    ) -> Self {
        Self { name: name.into(), model, tokenize: Box::new(tokenize) }
    }

    /// The wrapped model.
    pub fn model(&self) -> &M {
        &self.model
    }
}

impl<M: TokenLanguageModel> LanguageModel for TokenizedLm<M> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn score(&self, text: &str) -> Result<SentenceScore> {
        self.model.score_tokens(&(self.tokenize)(text)?)
    }

    fn next_words(&self, prefix: &str, k: usize) -> Result<Vec<NextWord>> {
        self.model.next_tokens(&(self.tokenize)(prefix)?, k)
    }
}
