//! [`OneHotEncoder`]: words → one-hot vectors, sparse (an index / CSR rows) or dense.

use crate::error::{EmbedError, Result};
use crate::sparse::CsrMatrix;
use crate::vocab::Vocabulary;
use ndarray::{Array1, Array2};

/// One-hot encoding over a vocabulary: word `i` is the vector with a single 1 at position `i`.
///
/// The sparse form of a word is just its index (or a CSR row for a sequence); the dense form
/// is an `f32` array of vocabulary length. Unknown words give [`EmbedError::UnknownWord`].
///
/// ```
/// use malmoi_embed::OneHotEncoder;
/// let enc = OneHotEncoder::fit(["강아지", "고양이", "사자", "호랑이", "돼지"]).unwrap();
/// assert_eq!(enc.index("사자").unwrap(), 2);
/// assert_eq!(enc.encode("돼지").unwrap().to_vec(), vec![0.0, 0.0, 0.0, 0.0, 1.0]);
/// assert!(enc.encode("늑대").is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct OneHotEncoder {
    vocabulary: Vocabulary,
}

impl OneHotEncoder {
    /// Builds the vocabulary from `words` in order of first occurrence; no words at all gives
    /// [`EmbedError::EmptyVocabulary`].
    pub fn fit<I, S>(words: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let vocabulary = Vocabulary::from_terms(words.into_iter().map(|w| w.as_ref().to_string()));
        Self::from_vocabulary(vocabulary)
    }

    /// Uses an existing vocabulary (which must not be empty).
    pub fn from_vocabulary(vocabulary: Vocabulary) -> Result<Self> {
        if vocabulary.is_empty() {
            return Err(EmbedError::EmptyVocabulary("one-hot encoder needs words".into()));
        }
        Ok(OneHotEncoder { vocabulary })
    }

    /// The vocabulary.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// Length of every one-hot vector.
    pub fn dim(&self) -> usize {
        self.vocabulary.len()
    }

    /// Sparse representation: the position of the 1.
    pub fn index(&self, word: &str) -> Result<usize> {
        self.vocabulary.require(word)
    }

    /// Dense one-hot vector of `word`.
    pub fn encode(&self, word: &str) -> Result<Array1<f32>> {
        let mut v = Array1::zeros(self.dim());
        v[self.index(word)?] = 1.0;
        Ok(v)
    }

    /// One sparse one-hot row per word.
    pub fn encode_sequence<S: AsRef<str>>(&self, words: &[S]) -> Result<CsrMatrix> {
        let indices = words.iter().map(|w| self.index(w.as_ref()).map(|i| i as u32)).collect::<Result<Vec<u32>>>()?;
        let n = indices.len();
        Ok(CsrMatrix::from_parts_unchecked(n, self.dim(), (0..=n).collect(), indices, vec![1.0; n]))
    }

    /// One dense one-hot row per word (`words.len() × dim`).
    pub fn encode_sequence_dense<S: AsRef<str>>(&self, words: &[S]) -> Result<Array2<f32>> {
        let mut m = Array2::zeros((words.len(), self.dim()));
        for (r, w) in words.iter().enumerate() {
            m[[r, self.index(w.as_ref())?]] = 1.0;
        }
        Ok(m)
    }

    /// The word whose one-hot position is `index`.
    pub fn decode(&self, index: usize) -> Option<&str> {
        self.vocabulary.term(index)
    }
}
