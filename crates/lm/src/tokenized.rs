//! An n-gram model behind a tokenizer: text in, [`LanguageModel`] out.

use crate::error::Result;
use crate::model::{LanguageModel, NextWord, SentenceScore};
use crate::ngram::NgramModel;

/// Splits a text into the tokens a model was trained on (morphemes, BPE tokens, …).
pub type Tokenize = dyn Fn(&str) -> Result<Vec<String>> + Send + Sync;

/// An [`NgramModel`] with the tokenizer its training text went through, so it scores raw
/// text like the neural models do.
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
pub struct TokenizedLm {
    name: String,
    model: NgramModel,
    tokenize: Box<Tokenize>,
}

impl TokenizedLm {
    /// Wraps `model`, which was trained on `tokenize`'s output.
    pub fn new(
        name: impl Into<String>,
        model: NgramModel,
        tokenize: impl Fn(&str) -> Result<Vec<String>> + Send + Sync + 'static,
    ) -> Self {
        Self { name: name.into(), model, tokenize: Box::new(tokenize) }
    }

    /// The wrapped model.
    pub fn model(&self) -> &NgramModel {
        &self.model
    }
}

impl LanguageModel for TokenizedLm {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn score(&self, text: &str) -> Result<SentenceScore> {
        Ok(self.model.score_tokens(&(self.tokenize)(text)?))
    }

    fn next_words(&self, prefix: &str, k: usize) -> Result<Vec<NextWord>> {
        Ok(self.model.next_tokens(&(self.tokenize)(prefix)?, k))
    }
}
