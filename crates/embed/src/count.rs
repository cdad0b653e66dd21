//! [`CountVectorizer`]: documents → term-count matrix (bag of words / n-grams), rayon-parallel.
//!
//! Documents are token lists (`&[Vec<String>]`, `&[Vec<&str>]`, …) or raw text split by an
//! analyzer closure `Fn(&str) -> Vec<String>` (for example malmoi-tokenize's Korean
//! analyzer's `morphs`). Counting splits the documents into chunks counted in parallel, each
//! with its own term table; the tables are merged, filtered by `min_df` / `max_df` /
//! `max_features`, sorted by term like scikit-learn's, and the rows are remapped in parallel.

use crate::error::{EmbedError, Result};
use crate::sparse::CsrMatrix;
use crate::vocab::Vocabulary;
use foldhash::{HashMap, HashMapExt};
use rayon::prelude::*;
use std::borrow::Cow;

/// A document-frequency bound, absolute or relative (scikit-learn's int vs. float `min_df`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DocFrequency {
    /// At least / at most this many documents.
    Count(usize),
    /// At least / at most this fraction of the documents, in `[0, 1]`.
    Fraction(f64),
}

impl DocFrequency {
    /// The bound as a document count for a corpus of `n_docs` documents.
    fn to_count(self, n_docs: usize) -> f64 {
        match self {
            DocFrequency::Count(c) => c as f64,
            DocFrequency::Fraction(f) => f * n_docs as f64,
        }
    }

    fn validate(self, name: &str) -> Result<()> {
        match self {
            DocFrequency::Fraction(f) if !(0.0..=1.0).contains(&f) => Err(
                EmbedError::InvalidParameter(format!("{name} fraction {f} is outside [0, 1]")),
            ),
            _ => Ok(()),
        }
    }
}

/// Options of [`CountVectorizer`]; the defaults are scikit-learn's.
#[derive(Debug, Clone, PartialEq)]
pub struct CountOptions {
    /// Smallest and largest n-gram length, inclusive (`(1, 1)`: unigrams only). N-grams are
    /// the tokens joined by one space, as in scikit-learn.
    pub ngram_range: (usize, usize),
    /// Drop terms found in fewer documents than this (default `Count(1)`).
    pub min_df: DocFrequency,
    /// Drop terms found in more documents than this (default `Fraction(1.0)`).
    pub max_df: DocFrequency,
    /// Keep only the `max_features` terms with the highest total count (ties: earlier term).
    pub max_features: Option<usize>,
    /// Record presence (1) instead of counts.
    pub binary: bool,
}

impl Default for CountOptions {
    fn default() -> Self {
        CountOptions {
            ngram_range: (1, 1),
            min_df: DocFrequency::Count(1),
            max_df: DocFrequency::Fraction(1.0),
            max_features: None,
            binary: false,
        }
    }
}

impl CountOptions {
    fn validate(&self) -> Result<()> {
        let (lo, hi) = self.ngram_range;
        if lo == 0 || lo > hi {
            return Err(EmbedError::InvalidParameter(format!(
                "ngram_range ({lo}, {hi}) must satisfy 1 <= min <= max"
            )));
        }
        self.min_df.validate("min_df")?;
        self.max_df.validate("max_df")
    }
}

/// Converts documents to a sparse matrix of term counts (scikit-learn's `CountVectorizer`).
///
/// Fitting on documents that yield no term at all, or whose terms are all removed by the
/// document-frequency limits, returns [`EmbedError::EmptyVocabulary`]; an empty document
/// among others is fine and gives an empty row. Unknown terms are ignored by `transform`.
///
/// ```
/// use malmoi_embed::CountVectorizer;
/// let docs = vec![vec!["배가", "부르다"], vec!["배가", "고프다", "배가"]];
/// let mut cv = CountVectorizer::new();
/// let x = cv.fit_transform(&docs).unwrap();
/// assert_eq!(cv.vocabulary().unwrap().terms(), ["고프다", "배가", "부르다"]);
/// assert_eq!(x.get(1, 1), 2.0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct CountVectorizer {
    options: CountOptions,
    vocabulary: Option<Vocabulary>,
}

/// Per-document counts with ids from one term table (local or fitted).
struct RowCounts {
    indptr: Vec<usize>,
    ids: Vec<u32>,
    counts: Vec<u32>,
}

/// One chunk of documents counted against its own term table.
struct ChunkCounts<'a> {
    terms: Vec<Cow<'a, str>>,
    rows: RowCounts,
}

impl CountVectorizer {
    /// A vectorizer with scikit-learn's default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// A vectorizer with the given options.
    pub fn with_options(options: CountOptions) -> Self {
        CountVectorizer { options, vocabulary: None }
    }

    /// The options.
    pub fn options(&self) -> &CountOptions {
        &self.options
    }

    /// The fitted vocabulary (terms sorted), or `None` before fitting.
    pub fn vocabulary(&self) -> Option<&Vocabulary> {
        self.vocabulary.as_ref()
    }

    /// The fitted terms in column order (scikit-learn's `get_feature_names_out`).
    pub fn feature_names(&self) -> Result<&[String]> {
        Ok(self.vocabulary.as_ref().ok_or(EmbedError::NotFitted)?.terms())
    }

    /// Learns the vocabulary from tokenized documents.
    pub fn fit<D, S>(&mut self, docs: &[D]) -> Result<&mut Self>
    where
        D: AsRef<[S]> + Sync,
        S: AsRef<str> + Sync,
    {
        self.fit_transform(docs)?;
        Ok(self)
    }

    /// Learns the vocabulary and returns the document-term count matrix.
    pub fn fit_transform<D, S>(&mut self, docs: &[D]) -> Result<CsrMatrix>
    where
        D: AsRef<[S]> + Sync,
        S: AsRef<str> + Sync,
    {
        self.options.validate()?;
        let ngram = self.options.ngram_range;
        let chunks: Vec<ChunkCounts<'_>> =
            doc_chunks(docs).map(|chunk| count_chunk(chunk, ngram)).collect();
        let (vocabulary, local_to_final) = self.select_terms(&chunks, docs.len())?;
        let rows: Vec<RowCounts> = chunks
            .into_par_iter()
            .zip(local_to_final.into_par_iter())
            .map(|(chunk, map)| remap_rows(chunk.rows, &map))
            .collect();
        let matrix = concat_rows(rows, vocabulary.len(), self.options.binary);
        self.vocabulary = Some(vocabulary);
        Ok(matrix)
    }

    /// Counts the fitted vocabulary's terms in `docs`; unknown terms are ignored.
    pub fn transform<D, S>(&self, docs: &[D]) -> Result<CsrMatrix>
    where
        D: AsRef<[S]> + Sync,
        S: AsRef<str> + Sync,
    {
        let vocabulary = self.vocabulary.as_ref().ok_or(EmbedError::NotFitted)?;
        let ngram = self.options.ngram_range;
        let rows: Vec<RowCounts> = doc_chunks(docs)
            .map(|chunk| {
                let mut rows = count_rows(chunk, ngram, |gram, _| {
                    vocabulary.index(gram).map(|i| i as u32)
                });
                sort_rows(&mut rows);
                rows
            })
            .collect();
        Ok(concat_rows(rows, vocabulary.len(), self.options.binary))
    }

    /// [`fit_transform`](Self::fit_transform) on raw texts split by `analyzer` (in parallel).
    pub fn fit_transform_texts<T, A>(&mut self, texts: &[T], analyzer: A) -> Result<CsrMatrix>
    where
        T: AsRef<str> + Sync,
        A: Fn(&str) -> Vec<String> + Sync,
    {
        self.fit_transform(&analyze(texts, analyzer))
    }

    /// [`transform`](Self::transform) on raw texts split by `analyzer` (in parallel).
    pub fn transform_texts<T, A>(&self, texts: &[T], analyzer: A) -> Result<CsrMatrix>
    where
        T: AsRef<str> + Sync,
        A: Fn(&str) -> Vec<String> + Sync,
    {
        self.transform(&analyze(texts, analyzer))
    }

    /// Merges the chunk term tables, applies the df limits and `max_features`, and returns
    /// the sorted vocabulary and, per chunk, local id → column (`u32::MAX` when dropped).
    fn select_terms(
        &self,
        chunks: &[ChunkCounts<'_>],
        n_docs: usize,
    ) -> Result<(Vocabulary, Vec<Vec<u32>>)> {
        let mut global: HashMap<&str, u32> = HashMap::new();
        let mut terms: Vec<&str> = Vec::new();
        let mut df: Vec<u32> = Vec::new();
        let mut total: Vec<u64> = Vec::new();
        let mut local_to_global = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            let (chunk_df, chunk_total) = chunk.rows.term_stats(chunk.terms.len());
            let map: Vec<u32> = chunk
                .terms
                .iter()
                .enumerate()
                .map(|(local, term)| {
                    let g = *global.entry(term.as_ref()).or_insert_with(|| {
                        terms.push(term.as_ref());
                        df.push(0);
                        total.push(0);
                        terms.len() as u32 - 1
                    });
                    df[g as usize] += chunk_df[local];
                    total[g as usize] += chunk_total[local];
                    g
                })
                .collect();
            local_to_global.push(map);
        }
        if terms.is_empty() {
            return Err(EmbedError::EmptyVocabulary(
                "the documents contain no terms".to_string(),
            ));
        }
        let kept = self.filter_by_frequency(&terms, &df, &total, n_docs)?;
        let mut global_to_final = vec![u32::MAX; terms.len()];
        for (column, &g) in kept.iter().enumerate() {
            global_to_final[g as usize] = column as u32;
        }
        let vocabulary = Vocabulary::from_terms(kept.iter().map(|&g| terms[g as usize]));
        let local_to_final = local_to_global
            .into_iter()
            .map(|map| map.into_iter().map(|g| global_to_final[g as usize]).collect())
            .collect();
        Ok((vocabulary, local_to_final))
    }

    /// Global ids of the kept terms, sorted by term.
    fn filter_by_frequency(
        &self,
        terms: &[&str],
        df: &[u32],
        total: &[u64],
        n_docs: usize,
    ) -> Result<Vec<u32>> {
        let min = self.options.min_df.to_count(n_docs);
        let max = self.options.max_df.to_count(n_docs);
        if max < min {
            return Err(EmbedError::InvalidParameter(
                "max_df corresponds to fewer documents than min_df".to_string(),
            ));
        }
        let mut kept: Vec<u32> = (0..terms.len() as u32)
            .filter(|&g| (min..=max).contains(&(df[g as usize] as f64)))
            .collect();
        kept.par_sort_unstable_by_key(|&g| terms[g as usize]);
        if let Some(limit) = self.options.max_features {
            if limit < kept.len() {
                kept.sort_by_key(|&g| std::cmp::Reverse(total[g as usize]));
                kept.truncate(limit);
                kept.sort_unstable_by_key(|&g| terms[g as usize]);
            }
        }
        if kept.is_empty() {
            return Err(EmbedError::EmptyVocabulary(
                "no terms remain after min_df / max_df / max_features pruning".to_string(),
            ));
        }
        Ok(kept)
    }
}

/// Tokenizes `texts` with `analyzer`, in parallel.
pub(crate) fn analyze<T, A>(texts: &[T], analyzer: A) -> Vec<Vec<String>>
where
    T: AsRef<str> + Sync,
    A: Fn(&str) -> Vec<String> + Sync,
{
    texts.par_iter().map(|t| analyzer(t.as_ref())).collect()
}

/// Splits `docs` into contiguous chunks (a few per thread) as a parallel iterator.
fn doc_chunks<D: Sync>(docs: &[D]) -> impl IndexedParallelIterator<Item = &[D]> {
    let pieces = 4 * rayon::current_num_threads();
    let size = docs.len().div_ceil(pieces).max(256);
    docs.par_chunks(size)
}

/// Counts the chunk's n-grams against a fresh local term table.
fn count_chunk<'a, D, S>(docs: &'a [D], ngram: (usize, usize)) -> ChunkCounts<'a>
where
    D: AsRef<[S]>,
    S: AsRef<str> + 'a,
{
    let mut table: HashMap<Cow<'a, str>, u32> = HashMap::new();
    let rows = count_rows(docs, ngram, |gram, borrowed| {
        if let Some(&id) = table.get(gram) {
            return Some(id);
        }
        let id = table.len() as u32;
        let key = borrowed.map_or_else(|| Cow::Owned(gram.to_owned()), Cow::Borrowed);
        table.insert(key, id);
        Some(id)
    });
    let mut terms = vec![Cow::Borrowed(""); table.len()];
    for (term, id) in table {
        terms[id as usize] = term;
    }
    ChunkCounts { terms, rows }
}

/// Counts each document's n-grams, with ids given by `id_of(gram, borrowed)`; `borrowed` is
/// the gram itself when it is a single token borrowed from the document. Ids within a row
/// come out sorted by id.
fn count_rows<'a, D, S>(
    docs: &'a [D],
    (lo, hi): (usize, usize),
    mut id_of: impl FnMut(&str, Option<&'a str>) -> Option<u32>,
) -> RowCounts
where
    D: AsRef<[S]>,
    S: AsRef<str> + 'a,
{
    let mut rows = RowCounts { indptr: vec![0], ids: Vec::new(), counts: Vec::new() };
    let mut doc_ids: Vec<u32> = Vec::new();
    let mut gram = String::new();
    for doc in docs {
        let tokens = doc.as_ref();
        doc_ids.clear();
        for n in lo..=hi.min(tokens.len()) {
            for window in tokens.windows(n) {
                let id = if n == 1 {
                    let token = window[0].as_ref();
                    id_of(token, Some(token))
                } else {
                    gram.clear();
                    for (k, token) in window.iter().enumerate() {
                        if k > 0 {
                            gram.push(' ');
                        }
                        gram.push_str(token.as_ref());
                    }
                    id_of(&gram, None)
                };
                doc_ids.extend(id);
            }
        }
        doc_ids.sort_unstable();
        for run in doc_ids.chunk_by(|a, b| a == b) {
            rows.ids.push(run[0]);
            rows.counts.push(run.len() as u32);
        }
        rows.indptr.push(rows.ids.len());
    }
    rows
}

impl RowCounts {
    /// Document frequency and total count of each of `n_terms` ids.
    fn term_stats(&self, n_terms: usize) -> (Vec<u32>, Vec<u64>) {
        let mut df = vec![0u32; n_terms];
        let mut total = vec![0u64; n_terms];
        for (&id, &count) in self.ids.iter().zip(&self.counts) {
            df[id as usize] += 1;
            total[id as usize] += count as u64;
        }
        (df, total)
    }
}

/// Replaces local ids by final columns, drops pruned terms and re-sorts each row.
fn remap_rows(rows: RowCounts, map: &[u32]) -> RowCounts {
    let mut out = RowCounts {
        indptr: Vec::with_capacity(rows.indptr.len()),
        ids: Vec::with_capacity(rows.ids.len()),
        counts: Vec::with_capacity(rows.counts.len()),
    };
    out.indptr.push(0);
    for w in rows.indptr.windows(2) {
        for k in w[0]..w[1] {
            let column = map[rows.ids[k] as usize];
            if column != u32::MAX {
                out.ids.push(column);
                out.counts.push(rows.counts[k]);
            }
        }
        out.indptr.push(out.ids.len());
    }
    sort_rows(&mut out);
    out
}

/// Sorts every row's entries by column.
fn sort_rows(rows: &mut RowCounts) {
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for w in rows.indptr.windows(2) {
        let (ids, counts) = (&mut rows.ids[w[0]..w[1]], &mut rows.counts[w[0]..w[1]]);
        if ids.is_sorted() {
            continue;
        }
        pairs.clear();
        pairs.extend(ids.iter().copied().zip(counts.iter().copied()));
        pairs.sort_unstable();
        for (k, (id, count)) in pairs.iter().enumerate() {
            ids[k] = *id;
            counts[k] = *count;
        }
    }
}

/// Stacks chunk rows into one CSR matrix with `n_cols` columns.
fn concat_rows(chunks: Vec<RowCounts>, n_cols: usize, binary: bool) -> CsrMatrix {
    let nnz: usize = chunks.iter().map(|c| c.ids.len()).sum();
    let n_rows: usize = chunks.iter().map(|c| c.indptr.len() - 1).sum();
    let mut indptr = Vec::with_capacity(n_rows + 1);
    let mut indices = Vec::with_capacity(nnz);
    let mut data = Vec::with_capacity(nnz);
    indptr.push(0);
    for chunk in chunks {
        let offset = indices.len();
        indptr.extend(chunk.indptr[1..].iter().map(|&p| p + offset));
        indices.extend_from_slice(&chunk.ids);
        data.extend(chunk.counts.iter().map(|&c| if binary { 1.0 } else { c as f64 }));
    }
    CsrMatrix::from_parts_unchecked(n_rows, n_cols, indptr, indices, data)
}
