//! [`KeyedVectors`]: a table of dense word vectors with gensim's similarity queries.

use crate::error::{EmbedError, Result};
use crate::vocab::Vocabulary;
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use std::sync::OnceLock;

/// Words and their dense `f32` vectors (gensim's `KeyedVectors`).
///
/// Queries use unit-normalised copies of the vectors, computed once and cached. Every query
/// naming a word outside the table returns [`EmbedError::UnknownWord`] with that word.
///
/// ```
/// use malmoi_embed::KeyedVectors;
/// let kv = KeyedVectors::from_flat(
///     vec!["왕".into(), "여왕".into(), "남자".into(), "여자".into()],
///     2,
///     vec![1.0, 1.0, 1.0, -1.0, 0.9, 1.1, 0.9, -0.9],
/// )
/// .unwrap();
/// // 왕 - 남자 + 여자 ≈ 여왕
/// let best = kv.most_similar(&["왕", "여자"], &["남자"], 1).unwrap();
/// assert_eq!(best[0].0, "여왕");
/// assert_eq!(kv.doesnt_match(&["왕", "남자", "여왕"]).unwrap(), "여왕");
/// assert!(kv.similarity("왕", "없는말").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct KeyedVectors {
    vocab: Vocabulary,
    vector_size: usize,
    vectors: Vec<f32>,
    unit: OnceLock<Vec<f32>>,
}

impl PartialEq for KeyedVectors {
    fn eq(&self, other: &Self) -> bool {
        self.vocab == other.vocab && self.vector_size == other.vector_size && self.vectors == other.vectors
    }
}

impl KeyedVectors {
    /// Table from words and a `words.len() × vector_size` row-major buffer. Words must be
    /// distinct.
    pub fn from_flat(words: Vec<String>, vector_size: usize, vectors: Vec<f32>) -> Result<Self> {
        let expected = words.len().checked_mul(vector_size).ok_or_else(|| {
            EmbedError::InvalidParameter(format!("{} words × {vector_size} dimensions overflows", words.len()))
        })?;
        if vectors.len() != expected {
            return Err(EmbedError::DimensionMismatch { expected, actual: vectors.len() });
        }
        let n = words.len();
        let vocab = Vocabulary::from_terms(words);
        if vocab.len() != n {
            return Err(EmbedError::InvalidParameter("duplicate words".into()));
        }
        Ok(KeyedVectors { vocab, vector_size, vectors, unit: OnceLock::new() })
    }

    /// Table from words and a `words.len() × d` matrix.
    pub fn new(words: Vec<String>, vectors: Array2<f32>) -> Result<Self> {
        let d = vectors.ncols();
        if vectors.nrows() != words.len() {
            return Err(EmbedError::DimensionMismatch { expected: words.len(), actual: vectors.nrows() });
        }
        Self::from_flat(words, d, vectors.as_standard_layout().iter().copied().collect())
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.vocab.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.vocab.is_empty()
    }

    /// Length of each vector.
    pub fn vector_size(&self) -> usize {
        self.vector_size
    }

    /// Words in row order (gensim's `index_to_key`).
    pub fn index_to_key(&self) -> &[String] {
        self.vocab.terms()
    }

    /// Row of `word`, if present (gensim's `key_to_index`).
    pub fn key_to_index(&self, word: &str) -> Option<usize> {
        self.vocab.index(word)
    }

    /// Whether `word` has a vector.
    pub fn contains(&self, word: &str) -> bool {
        self.vocab.contains(word)
    }

    /// All vectors as a `len × vector_size` view.
    pub fn vectors(&self) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((self.len(), self.vector_size), &self.vectors)
            .expect("buffer length checked at construction")
    }

    /// The raw row-major buffer.
    pub fn as_flat(&self) -> &[f32] {
        &self.vectors
    }

    /// The word ↔ row map.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocab
    }

    /// Moves the vector buffer out for training (the table is unusable until
    /// [`put_vectors`](Self::put_vectors)); invalidates the unit-vector cache.
    pub(crate) fn take_vectors(&mut self) -> Vec<f32> {
        self.unit = OnceLock::new();
        std::mem::take(&mut self.vectors)
    }

    /// Puts back a buffer of the same shape taken by [`take_vectors`](Self::take_vectors).
    pub(crate) fn put_vectors(&mut self, vectors: Vec<f32>) {
        debug_assert_eq!(vectors.len(), self.len() * self.vector_size);
        self.unit = OnceLock::new();
        self.vectors = vectors;
    }

    /// Vector of row `i`.
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn vector(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.vector_size..(i + 1) * self.vector_size]
    }

    /// Vector of `word`.
    pub fn get_vector(&self, word: &str) -> Result<&[f32]> {
        Ok(self.vector(self.vocab.require(word)?))
    }

    /// Unit-normalised vector of `word` (from the cache).
    pub fn get_unit_vector(&self, word: &str) -> Result<&[f32]> {
        let i = self.vocab.require(word)?;
        Ok(&self.unit_flat()[i * self.vector_size..(i + 1) * self.vector_size])
    }

    /// All unit-normalised vectors (computed on first use, then cached; zero vectors stay
    /// zero).
    pub fn unit_vectors(&self) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((self.len(), self.vector_size), self.unit_flat())
            .expect("buffer length checked at construction")
    }

    fn unit_flat(&self) -> &[f32] {
        self.unit.get_or_init(|| {
            let mut unit = self.vectors.clone();
            if self.vector_size > 0 {
                unit.par_chunks_mut(self.vector_size).for_each(normalize);
            }
            unit
        })
    }

    /// Cosine similarity of two words.
    pub fn similarity(&self, a: &str, b: &str) -> Result<f32> {
        Ok(dot(self.get_unit_vector(a)?, self.get_unit_vector(b)?))
    }

    /// The `topn` words closest (by cosine) to the mean of the `positive` unit vectors minus
    /// the `negative` ones, excluding the query words: gensim's `most_similar`, which for
    /// `positive = [b, c]`, `negative = [a]` is the 3CosAdd analogy `a : b = c : ?`.
    pub fn most_similar(&self, positive: &[&str], negative: &[&str], topn: usize) -> Result<Vec<(String, f32)>> {
        // Validate the query first: an empty table may claim any dimension.
        let used = self.query_rows(positive, negative)?;
        let mut mean = vec![0.0f32; self.vector_size];
        for (&row, weight) in used.iter().zip(signs(positive, negative)) {
            axpy(weight, &self.unit_flat()[row * self.vector_size..][..self.vector_size], &mut mean);
        }
        normalize(&mut mean);
        let scores = self.cosine_to_all(&mean);
        Ok(self.top(&scores, &used, topn))
    }

    /// The 3CosMul analogy (Levy & Goldberg 2014, gensim's `most_similar_cosmul`): ranks words
    /// by `Π_pos (1 + cos)/2 / (Π_neg (1 + cos)/2 + 1e-6)`.
    pub fn most_similar_cosmul(&self, positive: &[&str], negative: &[&str], topn: usize) -> Result<Vec<(String, f32)>> {
        let used = self.query_rows(positive, negative)?;
        let shifted = |row: usize| {
            let v = &self.unit_flat()[row * self.vector_size..][..self.vector_size];
            self.cosine_to_all(v).into_iter().map(|c| (1.0 + c) / 2.0).collect::<Vec<f32>>()
        };
        let mut numerator = vec![1.0f32; self.len()];
        let mut denominator = vec![1.0f32; self.len()];
        for (&row, weight) in used.iter().zip(signs(positive, negative)) {
            let target = if weight > 0.0 { &mut numerator } else { &mut denominator };
            target.iter_mut().zip(shifted(row)).for_each(|(t, s)| *t *= s);
        }
        let scores: Vec<f32> = numerator
            .iter()
            .zip(&denominator)
            .map(|(n, d)| n / (if negative.is_empty() { 1.0 } else { *d } + 1e-6))
            .collect();
        Ok(self.top(&scores, &used, topn))
    }

    /// Analogy `a : b = c : ?` by 3CosAdd (`b - a + c`).
    pub fn analogy(&self, a: &str, b: &str, c: &str, topn: usize) -> Result<Vec<(String, f32)>> {
        self.most_similar(&[b, c], &[a], topn)
    }

    /// Analogy `a : b = c : ?` by 3CosMul.
    pub fn analogy_cosmul(&self, a: &str, b: &str, c: &str, topn: usize) -> Result<Vec<(String, f32)>> {
        self.most_similar_cosmul(&[b, c], &[a], topn)
    }

    /// The word furthest from the mean of `words` (gensim's `doesnt_match`).
    pub fn doesnt_match(&self, words: &[&str]) -> Result<String> {
        if words.is_empty() {
            return Err(EmbedError::InvalidParameter("doesnt_match needs words".into()));
        }
        let used = self.query_rows(words, &[])?;
        let mut mean = vec![0.0f32; self.vector_size];
        for &row in &used {
            axpy(1.0, &self.unit_flat()[row * self.vector_size..][..self.vector_size], &mut mean);
        }
        normalize(&mut mean);
        let worst = used
            .iter()
            .zip(words)
            .map(|(&row, w)| (dot(&self.unit_flat()[row * self.vector_size..][..self.vector_size], &mean), *w))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, w)| w.to_string());
        Ok(worst.unwrap_or_default())
    }

    /// The `topn` words closest (by cosine) to an arbitrary vector.
    pub fn similar_by_vector(&self, vector: &[f32], topn: usize) -> Result<Vec<(String, f32)>> {
        if vector.len() != self.vector_size {
            return Err(EmbedError::DimensionMismatch { expected: self.vector_size, actual: vector.len() });
        }
        let mut unit = vector.to_vec();
        normalize(&mut unit);
        Ok(self.top(&self.cosine_to_all(&unit), &[], topn))
    }

    /// The `topn` nearest neighbours of `word`, excluding itself.
    pub fn similar_by_word(&self, word: &str, topn: usize) -> Result<Vec<(String, f32)>> {
        self.most_similar(&[word], &[], topn)
    }

    /// Rows of the query words, positive first; unknown words are errors.
    fn query_rows(&self, positive: &[&str], negative: &[&str]) -> Result<Vec<usize>> {
        if positive.is_empty() && negative.is_empty() {
            return Err(EmbedError::InvalidParameter("a query needs at least one word".into()));
        }
        positive.iter().chain(negative).map(|w| self.vocab.require(w)).collect()
    }

    /// Cosine of a unit vector with every unit vector in the table.
    fn cosine_to_all(&self, unit: &[f32]) -> Vec<f32> {
        if self.vector_size == 0 {
            return vec![0.0; self.len()];
        }
        self.unit_flat().par_chunks(self.vector_size).map(|row| dot(row, unit)).collect()
    }

    /// The `topn` best-scoring words, best first, skipping rows in `exclude`.
    fn top(&self, scores: &[f32], exclude: &[usize], topn: usize) -> Vec<(String, f32)> {
        let mut candidates: Vec<usize> = (0..scores.len()).filter(|i| !exclude.contains(i)).collect();
        let by_score = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b));
        if topn < candidates.len() {
            candidates.select_nth_unstable_by(topn, by_score);
            candidates.truncate(topn);
        }
        candidates.sort_unstable_by(by_score);
        candidates.into_iter().map(|i| (self.vocab.terms()[i].clone(), scores[i])).collect()
    }
}

/// +1 for each positive word, then -1 for each negative word.
fn signs(positive: &[&str], negative: &[&str]) -> impl Iterator<Item = f32> {
    std::iter::repeat_n(1.0, positive.len()).chain(std::iter::repeat_n(-1.0, negative.len()))
}

/// Dot product with sixteen independent accumulators, so the compiler vectorises it (two
/// SSE or AVX registers' worth, hiding the addition latency).
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..LANES {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `y += alpha * x`.
#[inline(always)]
pub(crate) fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Scales `v` to unit length (zero vectors are left as they are).
fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
