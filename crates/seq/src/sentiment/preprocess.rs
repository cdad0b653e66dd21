//! Text → tokens for the sentiment model: the lecture's cleaning, morphemes and stopwords.

use malmoi_tokenize::korean::Analyzer;
use malmoi_tokenize::text::{HangulCleaner, Stopwords};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// The lecture's Korean stopwords.
pub const LECTURE_STOPWORDS: [&str; 18] =
    ["의", "가", "이", "은", "들", "는", "좀", "잘", "강", "과", "도", "를", "으로", "자", "에", "와", "한", "하다"];

/// How raw reviews become tokens; saved with a trained pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreprocessConfig {
    /// Keep only Hangul jamo, syllables and spaces before analysis (`[^ㄱ-ㅎㅏ-ㅣ가-힣 ]` removed).
    pub clean_hangul: bool,
    /// Restore dictionary forms of predicates (Okt's `stem=True`).
    pub stem: bool,
    /// Tokens dropped after analysis.
    pub stopwords: Vec<String>,
}

impl Default for PreprocessConfig {
    /// The lecture's choices: Hangul cleaning, stems, its stopword list.
    fn default() -> Self {
        Self { clean_hangul: true, stem: true, stopwords: LECTURE_STOPWORDS.iter().map(|s| s.to_string()).collect() }
    }
}

/// Turns reviews into morpheme tokens with the Korean analyzer.
#[derive(Debug, Clone)]
pub struct Preprocessor {
    config: PreprocessConfig,
    cleaner: HangulCleaner,
    stopwords: Stopwords,
    analyzer: Analyzer,
}

impl Preprocessor {
    /// A preprocessor applying `config` with `analyzer`.
    pub fn new(config: PreprocessConfig, analyzer: Analyzer) -> Self {
        let mut stopwords = Stopwords::new();
        for word in &config.stopwords {
            stopwords.insert(word.clone());
        }
        Self { config, cleaner: HangulCleaner::new(), stopwords, analyzer }
    }

    /// The configuration it applies.
    pub fn config(&self) -> &PreprocessConfig {
        &self.config
    }

    /// The tokens of one text (empty when nothing Korean is left).
    pub fn tokens(&self, text: &str) -> Result<Vec<String>> {
        Ok(self.batch_tokens(&[text])?.pop().unwrap_or_default())
    }

    /// The tokens of many texts, analysed in parallel, in input order.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) naming the first text longer
    /// than [`MAX_TEXT_BYTES`](malmoi_fs::datasets::nsmc::MAX_TEXT_BYTES), before any analysis; the analyzer's errors.
    pub fn batch_tokens<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Vec<String>>> {
        super::check_text_lengths(texts)?;
        let cleaned: Vec<String> = texts
            .iter()
            .map(|t| if self.config.clean_hangul { self.cleaner.clean(t.as_ref()) } else { t.as_ref().to_owned() })
            .collect();
        let morphs = self.analyzer.batch_morphs(&cleaned, self.config.stem)?;
        Ok(morphs.into_iter().map(|tokens| self.stopwords.filter(tokens)).collect())
    }
}
