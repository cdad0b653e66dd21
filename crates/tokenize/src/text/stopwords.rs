//! Stopword lists: the lecture's Korean list built in, user lists from code
//! or files.

use std::collections::HashSet;
use std::path::Path;

use super::TextError;

/// The lecture's Korean stopwords (불용어): particles and light words that
/// carry little meaning for sentiment analysis.
pub const KOREAN_STOPWORDS: [&str; 18] =
    ["의", "가", "이", "은", "들", "는", "좀", "잘", "강", "과", "도", "를", "으로", "자", "에", "와", "한", "하다"];

/// A set of stopwords and the filter that removes them from token lists.
///
/// ```
/// use malmoi_tokenize::text::Stopwords;
///
/// let tokens = ["오다", "이렇다", "것", "도", "영화", "라고", "차라리", "뮤직비디오", "를", "만들다"];
/// let kept = Stopwords::korean().filter(tokens);
/// assert_eq!(kept, ["오다", "이렇다", "것", "영화", "라고", "차라리", "뮤직비디오", "만들다"]);
///
/// let mut mine = Stopwords::korean();
/// mine.extend(["라고", "것"]);
/// assert!(mine.contains("라고") && mine.contains("하다"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stopwords {
    words: HashSet<String>,
}

impl Stopwords {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// The lecture's Korean list, [`KOREAN_STOPWORDS`].
    pub fn korean() -> Self {
        KOREAN_STOPWORDS.into_iter().collect()
    }

    /// Reads a user list: one word per line, surrounding whitespace trimmed,
    /// blank lines and lines starting with `#` ignored.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TextError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| TextError::Io { path: path.to_owned(), source })?;
        Ok(Self::parse(&text))
    }

    /// Parses a list in the [`from_file`](Self::from_file) format.
    pub fn parse(text: &str) -> Self {
        text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).collect()
    }

    /// Adds one word; returns whether it was new.
    pub fn insert(&mut self, word: impl Into<String>) -> bool {
        self.words.insert(word.into())
    }

    /// Whether `word` is a stopword.
    pub fn contains(&self, word: &str) -> bool {
        self.words.contains(word)
    }

    /// Number of stopwords.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True when the list is empty.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The tokens that are not stopwords, in their original order (the
    /// lecture's `[word for word in tokens if word not in stopwords]`).
    pub fn filter<S: AsRef<str>>(&self, tokens: impl IntoIterator<Item = S>) -> Vec<S> {
        tokens.into_iter().filter(|token| !self.contains(token.as_ref())).collect()
    }
}

impl<S: Into<String>> FromIterator<S> for Stopwords {
    fn from_iter<I: IntoIterator<Item = S>>(words: I) -> Self {
        Self { words: words.into_iter().map(Into::into).collect() }
    }
}

impl<S: Into<String>> Extend<S> for Stopwords {
    fn extend<I: IntoIterator<Item = S>>(&mut self, words: I) {
        self.words.extend(words.into_iter().map(Into::into));
    }
}
