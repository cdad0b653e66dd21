//! [`Vocabulary`]: a bidirectional map between terms and column indices.

use crate::error::{EmbedError, Result};
use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

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
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    terms: Vec<String>,
    /// Each term's index, hashed by the term's text: the strings live only in `terms`.
    index: HashTable<usize>,
}

impl PartialEq for Vocabulary {
    fn eq(&self, other: &Self) -> bool {
        self.terms == other.terms
    }
}

fn hash(term: &str) -> u64 {
    FixedState::default().hash_one(term)
}

impl Vocabulary {
    /// Builds a vocabulary whose indices follow the order of `terms`; repeated terms keep
    /// their first index.
    pub fn from_terms<I, S>(terms: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let terms = terms.into_iter();
        let mut vocab = Vocabulary::default();
        vocab.terms.reserve(terms.size_hint().0);
        vocab.index.reserve(terms.size_hint().0, |&i| hash(&vocab.terms[i]));
        for term in terms {
            vocab.insert(term.into());
        }
        vocab
    }

    /// Adds `term` at the next index unless present; returns its index.
    pub fn insert(&mut self, term: String) -> usize {
        let terms = &self.terms;
        match self.index.entry(hash(&term), |&i| terms[i] == term, |&i| hash(&terms[i])) {
            Entry::Occupied(entry) => *entry.get(),
            Entry::Vacant(entry) => {
                let i = terms.len();
                entry.insert(i);
                self.terms.push(term);
                i
            }
        }
    }

    /// Column index of `term`, if known.
    pub fn index(&self, term: &str) -> Option<usize> {
        self.index.find(hash(term), |&i| self.terms[i] == term).copied()
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
        self.index(term).is_some()
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
