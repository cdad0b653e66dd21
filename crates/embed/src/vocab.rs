//! [`Vocabulary`]: a bidirectional map between terms and column indices.

use crate::error::{EmbedError, Result};
use foldhash::HashMap;

/// Terms and their column indices, in index order.
///
/// Vectorizers build it sorted by term (byte order of UTF-8, which equals Unicode code-point
/// order, as scikit-learn does); one-hot encoders and word2vec may use other orders.
///
/// ```
/// use malmoi_embed::Vocabulary;
/// let vocab = Vocabulary::from_terms(["사과", "배"]);
/// assert_eq!(vocab.index("배"), Some(1));
/// assert_eq!(vocab.term(0), Some("사과"));
/// assert_eq!(vocab.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vocabulary {
    terms: Vec<String>,
    index: HashMap<String, usize>,
}

impl Vocabulary {
    /// Builds a vocabulary whose indices follow the order of `terms`; repeated terms keep
    /// their first index.
    pub fn from_terms<I, S>(terms: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut vocab = Vocabulary::default();
        for term in terms {
            vocab.insert(term.into());
        }
        vocab
    }

    /// Adds `term` at the next index unless present; returns its index.
    pub fn insert(&mut self, term: String) -> usize {
        if let Some(&i) = self.index.get(term.as_str()) {
            return i;
        }
        let i = self.terms.len();
        self.index.insert(term.clone(), i);
        self.terms.push(term);
        i
    }

    /// Column index of `term`, if known.
    pub fn index(&self, term: &str) -> Option<usize> {
        self.index.get(term).copied()
    }

    /// Column index of `term`, or [`EmbedError::UnknownWord`] naming it.
    pub fn require(&self, term: &str) -> Result<usize> {
        self.index(term).ok_or_else(|| EmbedError::UnknownWord(term.to_string()))
    }

    /// The term at column `i`.
    pub fn term(&self, i: usize) -> Option<&str> {
        self.terms.get(i).map(String::as_str)
    }

    /// All terms in index order (scikit-learn's `get_feature_names_out`).
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// Whether `term` is in the vocabulary.
    pub fn contains(&self, term: &str) -> bool {
        self.index.contains_key(term)
    }

    /// Number of terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// Whether there are no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}
