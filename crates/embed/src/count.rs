//! [`CountVectorizer`]: documents → term-count matrix (bag of words / n-grams), rayon-parallel.
//!
//! Documents are token lists (`&[Vec<String>]`, `&[Vec<&str>]`, …) or raw text split by an
//! analyzer closure `Fn(&str) -> Vec<String>` (for example malmoi-tokenize's Korean
//! analyzer's `morphs`). Fitting runs in three parallel passes:
//!
//! 1. **encode** — chunks of documents give each token a unigram id against their own small
//!    tables, which are merged (one entry per distinct token) into first-seen order;
//! 2. **count** — unigrams are counted per chunk by id (no table at all); for longer n-grams
//!    the key space is split into one shard per thread by a hash of the key, and every shard
//!    reads all documents but counts only its own terms, so the (large) n-gram tables never
//!    overlap and are never merged;
//! 3. **gather** — the terms are filtered by `min_df` / `max_df` / `max_features` and sorted
//!    by text like scikit-learn's; each document's entries from every shard are mapped to the
//!    final columns and sorted.

use crate::error::{EmbedError, Result};
use crate::sparse::CsrMatrix;
use crate::vocab::Vocabulary;
use foldhash::{HashMap, HashMapExt};
use rayon::prelude::*;

/// A document-frequency bound, absolute or relative (scikit-learn's int vs. float `min_df`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DocFrequency {
    /// At least / at most this many documents.
    Count(usize),
    /// At least / at most this fraction of the documents, in `[0, 1]`.
    Fraction(f64),
}

impl std::fmt::Display for DocFrequency {
    /// A count as an integer (`2`), a fraction with its point (`1.0`, `0.5`), as scikit-learn
    /// tells them apart.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocFrequency::Count(c) => write!(f, "{c}"),
            DocFrequency::Fraction(x) => write!(f, "{x:?}"),
        }
    }
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
            DocFrequency::Fraction(f) if !(0.0..=1.0).contains(&f) => {
                Err(EmbedError::InvalidParameter(format!("{name} fraction {f} is outside [0, 1]")))
            }
            _ => Ok(()),
        }
    }
}

/// Options of [`CountVectorizer`]; the defaults are scikit-learn's.
#[derive(Debug, Clone, PartialEq)]
pub struct CountOptions {
    /// Smallest and largest n-gram length, inclusive (`(1, 1)`: unigrams only; at most
    /// [`MAX_NGRAM`]). N-grams are the tokens joined by one space, as in scikit-learn.
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
        if lo == 0 || lo > hi || hi > MAX_NGRAM {
            return Err(EmbedError::InvalidParameter(format!(
                "ngram_range ({lo}, {hi}) must satisfy 1 <= min <= max <= {MAX_NGRAM}"
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

/// Per-document counts with ids from one term table (a shard's or the fitted vocabulary's).
struct RowCounts {
    indptr: Vec<usize>,
    ids: Vec<u32>,
    counts: Vec<u32>,
}

/// A contiguous run of documents as unigram ids: all their tokens, and where each ends.
struct EncodedChunk {
    ids: Vec<u32>,
    ends: Vec<usize>,
}

/// The corpus's distinct tokens in first-seen order, and every document as their ids.
struct EncodedDocs<'a> {
    unigrams: Vec<&'a str>,
    chunks: Vec<EncodedChunk>,
}

/// The fitted vocabulary, and the column of every counted term (`u32::MAX` when pruned):
/// by unigram id (empty when unigrams are not counted) and, per shard, by shard-local id.
struct Columns {
    vocabulary: Vocabulary,
    unigrams: Vec<u32>,
    shards: Vec<Vec<u32>>,
}

/// The terms of one shard of the key space, counted over all documents: each shard-local
/// term's key and, per document, the (term, count) pairs of the shard's terms.
struct ShardCounts {
    keys: Vec<NgramKey>,
    rows: RowCounts,
}

/// Longest supported n-gram: n-grams are keyed by up to four packed 32-bit unigram ids, so
/// counting them hashes integers instead of joined strings.
pub const MAX_NGRAM: usize = 4;

/// An n-gram as `Σ (id_k + 1) << 32k` over its unigram ids (zero-free, so lengths differ).
type NgramKey = u128;

fn pack(ids: impl Iterator<Item = u32>) -> NgramKey {
    ids.enumerate().fold(0, |key, (k, id)| key | ((id as u128 + 1) << (32 * k)))
}

fn unpack(key: NgramKey) -> impl Iterator<Item = u32> {
    (0..MAX_NGRAM).map(move |k| (key >> (32 * k)) as u32).take_while(|&x| x != 0).map(|x| x - 1)
}

/// A borrowed token as a hash key, compared eight bytes at a time without a library call
/// (tokens are short, and comparing them dominated counting).
#[derive(Clone, Copy)]
struct TokenKey<'a>(&'a str);

impl std::hash::Hash for TokenKey<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialEq for TokenKey<'_> {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let (mut words_a, mut words_b) = (a.chunks_exact(8), b.chunks_exact(8));
        let word = |w: &[u8]| u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        if (&mut words_a).zip(&mut words_b).any(|(x, y)| word(x) != word(y)) {
            return false;
        }
        let (rest_a, rest_b) = (words_a.remainder(), words_b.remainder());
        (0..rest_a.len()).all(|k| rest_a[k] == rest_b[k])
    }
}

impl Eq for TokenKey<'_> {}

/// All counted terms side by side — the unigrams by id, then each shard's terms (global id =
/// offset + shard-local id): each term's key over the unigram strings, its document
/// frequency and its total count.
struct MergedTerms<'a> {
    unigrams: Vec<&'a str>,
    keys: Vec<NgramKey>,
    df: Vec<u32>,
    total: Vec<u64>,
}

impl<'a> MergedTerms<'a> {
    /// The unigrams (when counted: `unigram_rows` holds one row set per chunk, by unigram id),
    /// then the shards' terms in shard order, with their document frequencies and totals.
    fn new(unigrams: Vec<&'a str>, unigram_rows: &[RowCounts], shards: &[ShardCounts]) -> Self {
        let n_unigrams = if unigram_rows.is_empty() { 0 } else { unigrams.len() };
        let (unigram_df, unigram_total) = unigram_rows
            .par_iter()
            .map(|rows| rows.term_stats(n_unigrams))
            .reduce(|| (vec![0; n_unigrams], vec![0; n_unigrams]), add_stats);
        let stats: Vec<(Vec<u32>, Vec<u64>)> =
            shards.par_iter().map(|shard| shard.rows.term_stats(shard.keys.len())).collect();
        let unigram_keys = (0..n_unigrams as u32).map(|u| pack(std::iter::once(u)));
        MergedTerms {
            unigrams,
            keys: unigram_keys.chain(shards.iter().flat_map(|shard| shard.keys.iter().copied())).collect(),
            df: unigram_df.into_iter().chain(stats.iter().flat_map(|(df, _)| df.iter().copied())).collect(),
            total: unigram_total.into_iter().chain(stats.iter().flat_map(|(_, total)| total.iter().copied())).collect(),
        }
    }

    /// The term's text: its unigrams joined by one space.
    fn name(&self, term: u32) -> String {
        let mut name = String::new();
        for (k, u) in unpack(self.keys[term as usize]).enumerate() {
            if k > 0 {
                name.push(' ');
            }
            name.push_str(self.unigrams[u as usize]);
        }
        name
    }
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

    derived_vectorizer_methods!();

    /// Learns the vocabulary and returns the document-term count matrix.
    pub fn fit_transform<D, S>(&mut self, docs: &[D]) -> Result<CsrMatrix>
    where
        D: AsRef<[S]> + Sync,
        S: AsRef<str> + Sync,
    {
        self.options.validate()?;
        let ngram = self.options.ngram_range;
        let encoded = encode_docs(docs);
        let unigram_rows: Vec<RowCounts> =
            if ngram.0 == 1 { encoded.chunks.par_iter().map(count_unigrams).collect() } else { Vec::new() };
        let n_shards = if ngram.1 >= 2 { rayon::current_num_threads() } else { 0 };
        let longer = (ngram.0.max(2), ngram.1);
        let shards: Vec<ShardCounts> =
            (0..n_shards).into_par_iter().map(|shard| count_shard(&encoded, longer, shard, n_shards)).collect();
        let columns = self.select_terms(encoded.unigrams, &unigram_rows, &shards, docs.len())?;
        let mut first_doc = 0;
        let doc_ranges: Vec<std::ops::Range<usize>> = encoded
            .chunks
            .iter()
            .map(|chunk| {
                first_doc += chunk.ends.len();
                first_doc - chunk.ends.len()..first_doc
            })
            .collect();
        let rows: Vec<RowCounts> = doc_ranges
            .into_par_iter()
            .enumerate()
            .map(|(chunk, docs)| {
                let unigrams = unigram_rows.get(chunk).map(|rows| (rows, columns.unigrams.as_slice()));
                gather_rows(unigrams, &shards, &columns.shards, docs)
            })
            .collect();
        let vocabulary = columns.vocabulary;
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
            .map(|chunk| count_rows(chunk, ngram, |gram| vocabulary.index(gram).map(|i| i as u32)))
            .collect();
        Ok(concat_rows(rows, vocabulary.len(), self.options.binary))
    }

    /// Puts the unigrams' and the shards' terms side by side, applies the df limits and
    /// `max_features`, and returns the sorted vocabulary with each counted term's column.
    fn select_terms(
        &self,
        unigrams: Vec<&str>,
        unigram_rows: &[RowCounts],
        shards: &[ShardCounts],
        n_docs: usize,
    ) -> Result<Columns> {
        let merged = MergedTerms::new(unigrams, unigram_rows, shards);
        if merged.keys.is_empty() {
            return Err(EmbedError::EmptyVocabulary("the documents contain no terms".to_string()));
        }
        let kept = self.filter_by_frequency(&merged, n_docs)?;
        let mut global_to_final = vec![u32::MAX; merged.keys.len()];
        for (column, (_, g)) in kept.iter().enumerate() {
            global_to_final[*g as usize] = column as u32;
        }
        let vocabulary = Vocabulary::from_terms(kept.into_iter().map(|(name, _)| name));
        let mut offset = if unigram_rows.is_empty() { 0 } else { merged.unigrams.len() };
        let shards = shards
            .iter()
            .map(|shard| {
                offset += shard.keys.len();
                global_to_final[offset - shard.keys.len()..offset].to_vec()
            })
            .collect();
        global_to_final.truncate(if unigram_rows.is_empty() { 0 } else { merged.unigrams.len() });
        Ok(Columns { vocabulary, unigrams: global_to_final, shards })
    }

    /// `min_df` and `max_df` as document counts of a corpus of `n_docs` documents. A corpus too
    /// small for `min_df` is reported as such (no term can pass, whatever `max_df` says); limits
    /// that contradict each other on this corpus name both and the document counts they mean.
    fn document_bounds(&self, n_docs: usize) -> Result<(f64, f64)> {
        let (min_df, max_df) = (self.options.min_df, self.options.max_df);
        let (min, max) = (min_df.to_count(n_docs), max_df.to_count(n_docs));
        let documents = if n_docs == 1 { "document" } else { "documents" };
        if min > n_docs as f64 {
            return Err(EmbedError::EmptyVocabulary(format!(
                "the corpus has {n_docs} {documents}, too few for min_df = {min_df} \
                 (a term must be in at least {min} documents)"
            )));
        }
        if max < min {
            return Err(EmbedError::InvalidParameter(format!(
                "max_df = {max_df} allows at most {max} of the {n_docs} {documents}, \
                 fewer than min_df = {min_df} requires ({min})"
            )));
        }
        Ok((min, max))
    }

    /// The kept terms (text and global id), sorted by text.
    fn filter_by_frequency(&self, merged: &MergedTerms<'_>, n_docs: usize) -> Result<Vec<(String, u32)>> {
        let (min, max) = self.document_bounds(n_docs)?;
        let mut kept: Vec<(String, u32)> = (0..merged.keys.len() as u32)
            .into_par_iter()
            .filter(|&g| (min..=max).contains(&(merged.df[g as usize] as f64)))
            .map(|g| (merged.name(g), g))
            .collect();
        kept.par_sort_unstable();
        if let Some(limit) = self.options.max_features
            && limit < kept.len()
        {
            kept.sort_by_key(|(_, g)| std::cmp::Reverse(merged.total[*g as usize]));
            kept.truncate(limit);
            kept.sort_unstable();
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

/// Splits `docs` into one contiguous chunk per thread, as a parallel iterator: each chunk
/// has its own term table, and merging costs (chunks × distinct terms per chunk).
fn doc_chunks<D: Sync>(docs: &[D]) -> impl IndexedParallelIterator<Item = &[D]> {
    let pieces = rayon::current_num_threads();
    let size = docs.len().div_ceil(pieces).max(256);
    docs.par_chunks(size)
}

/// Gives every token a unigram id (in first-seen order, whatever the number of threads):
/// each chunk of documents is encoded against its own table in parallel, then the tables are
/// merged (they are small: one entry per distinct token) and the ids remapped.
fn encode_docs<'a, D, S>(docs: &'a [D]) -> EncodedDocs<'a>
where
    D: AsRef<[S]> + Sync,
    S: AsRef<str> + Sync + 'a,
{
    let local: Vec<(Vec<&'a str>, EncodedChunk)> = doc_chunks(docs).map(encode_chunk).collect();
    let mut global_ids: HashMap<TokenKey<'a>, u32> = HashMap::new();
    let mut unigrams: Vec<&'a str> = Vec::new();
    let maps: Vec<Vec<u32>> = local
        .iter()
        .map(|(tokens, _)| {
            let map = tokens.iter().map(|&token| {
                let next = unigrams.len() as u32;
                *global_ids.entry(TokenKey(token)).or_insert_with(|| {
                    unigrams.push(token);
                    next
                })
            });
            map.collect()
        })
        .collect();
    let chunks = local
        .into_par_iter()
        .zip(maps)
        .map(|((_, mut chunk), map)| {
            chunk.ids.iter_mut().for_each(|id| *id = map[*id as usize]);
            chunk
        })
        .collect();
    EncodedDocs { unigrams, chunks }
}

/// Encodes a chunk's documents with a fresh local table: its distinct tokens and the ids.
fn encode_chunk<'a, D, S>(docs: &'a [D]) -> (Vec<&'a str>, EncodedChunk)
where
    D: AsRef<[S]>,
    S: AsRef<str> + 'a,
{
    let mut ids: HashMap<TokenKey<'a>, u32> = HashMap::with_capacity(1 << 14);
    let mut tokens: Vec<&'a str> = Vec::new();
    let mut chunk = EncodedChunk { ids: Vec::new(), ends: Vec::with_capacity(docs.len()) };
    for doc in docs {
        for token in doc.as_ref() {
            let token: &'a str = token.as_ref();
            let next = tokens.len() as u32;
            chunk.ids.push(*ids.entry(TokenKey(token)).or_insert_with(|| {
                tokens.push(token);
                next
            }));
        }
        chunk.ends.push(chunk.ids.len());
    }
    (tokens, chunk)
}

/// Which of `n_shards` shards counts the term `key` (a multiplicative hash of the key).
fn shard_of(key: NgramKey, n_shards: usize) -> usize {
    let h = (key as u64 ^ (key >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((h as u128 * n_shards as u128) >> 64) as usize
}

/// Counts a chunk's unigrams: the term of a unigram is its id, so no table is needed.
fn count_unigrams(chunk: &EncodedChunk) -> RowCounts {
    let mut rows = RowCounts::new();
    let (mut doc_terms, mut slot) = (Vec::new(), Vec::new());
    let mut start = 0;
    for &end in &chunk.ends {
        doc_terms.extend_from_slice(&chunk.ids[start..end]);
        start = end;
        rows.push_document(&mut doc_terms, &mut slot);
    }
    rows
}

/// Counts, over all documents, the n-grams (n >= 2) that fall in `shard`: every shard reads
/// the whole corpus but hashes only its own share of the terms into its table, so the
/// shards' tables never overlap and need no merging.
fn count_shard(encoded: &EncodedDocs<'_>, (lo, hi): (usize, usize), shard: usize, n_shards: usize) -> ShardCounts {
    let mut ngram_terms: HashMap<NgramKey, u32> = HashMap::new();
    let mut keys: Vec<NgramKey> = Vec::new();
    let mut rows = RowCounts::new();
    let (mut doc_terms, mut slot) = (Vec::new(), Vec::new());
    for chunk in &encoded.chunks {
        let mut start = 0;
        for &end in &chunk.ends {
            let doc = &chunk.ids[start..end];
            start = end;
            for n in lo..=hi.min(doc.len()) {
                for window in doc.windows(n) {
                    let key = pack(window.iter().copied());
                    if shard_of(key, n_shards) != shard {
                        continue;
                    }
                    let next = keys.len() as u32;
                    doc_terms.push(*ngram_terms.entry(key).or_insert_with(|| {
                        keys.push(key);
                        next
                    }));
                }
            }
            rows.push_document(&mut doc_terms, &mut slot);
        }
    }
    ShardCounts { keys, rows }
}

/// Counts each document's n-grams (joined by spaces) with columns from `column_of`; rows
/// come out sorted by column.
fn count_rows<D, S>(docs: &[D], (lo, hi): (usize, usize), column_of: impl Fn(&str) -> Option<u32>) -> RowCounts
where
    D: AsRef<[S]>,
    S: AsRef<str>,
{
    let mut rows = RowCounts::new();
    let (mut doc_ids, mut slot) = (Vec::new(), Vec::new());
    let mut gram = String::new();
    for doc in docs {
        let tokens = doc.as_ref();
        for n in lo..=hi.min(tokens.len()) {
            for window in tokens.windows(n) {
                gram.clear();
                for (k, token) in window.iter().enumerate() {
                    if k > 0 {
                        gram.push(' ');
                    }
                    gram.push_str(token.as_ref());
                }
                doc_ids.extend(column_of(&gram));
            }
        }
        rows.push_document(&mut doc_ids, &mut slot);
    }
    sort_rows(&mut rows);
    rows
}

impl RowCounts {
    fn new() -> Self {
        RowCounts { indptr: vec![0], ids: Vec::new(), counts: Vec::new() }
    }

    /// Appends a document given the ids of its terms (one per occurrence, any order), in
    /// first-occurrence order. `slot` is all zeros between calls (a scratch id → position
    /// table that replaces sorting). Empties `terms`.
    fn push_document(&mut self, terms: &mut Vec<u32>, slot: &mut Vec<u32>) {
        let start = self.ids.len();
        for &id in terms.iter() {
            let id = id as usize;
            if id >= slot.len() {
                slot.resize(id + 1, 0);
            }
            match slot[id] {
                0 => {
                    self.ids.push(id as u32);
                    self.counts.push(1);
                    slot[id] = (self.ids.len() - start) as u32;
                }
                position => self.counts[start + position as usize - 1] += 1,
            }
        }
        for &id in &self.ids[start..] {
            slot[id as usize] = 0;
        }
        self.indptr.push(self.ids.len());
        terms.clear();
    }

    /// Appends row `row` of `rows` to the row being built, ids mapped through `map` and
    /// entries mapped to `u32::MAX` dropped.
    fn push_mapped(&mut self, rows: &RowCounts, row: usize, map: &[u32]) {
        let entries = rows.indptr[row]..rows.indptr[row + 1];
        for (&id, &count) in rows.ids[entries.clone()].iter().zip(&rows.counts[entries]) {
            let column = map[id as usize];
            if column != u32::MAX {
                self.ids.push(column);
                self.counts.push(count);
            }
        }
    }

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

/// The rows of the documents `docs` (one chunk): the chunk's unigram entries (rows by
/// position in the chunk) and each shard's entries (rows by document), mapped to final
/// columns with pruned terms dropped, side by side, then sorted by column.
fn gather_rows(
    unigrams: Option<(&RowCounts, &[u32])>,
    shards: &[ShardCounts],
    shard_to_final: &[Vec<u32>],
    docs: std::ops::Range<usize>,
) -> RowCounts {
    let mut out = RowCounts::new();
    for (position, doc) in docs.enumerate() {
        if let Some((rows, map)) = unigrams {
            out.push_mapped(rows, position, map);
        }
        for (shard, map) in shards.iter().zip(shard_to_final) {
            out.push_mapped(&shard.rows, doc, map);
        }
        out.indptr.push(out.ids.len());
    }
    sort_rows(&mut out);
    out
}

/// Adds two (document frequency, total count) tables term by term.
fn add_stats((mut df, mut total): (Vec<u32>, Vec<u64>), (df2, total2): (Vec<u32>, Vec<u64>)) -> (Vec<u32>, Vec<u64>) {
    df.iter_mut().zip(df2).for_each(|(a, b)| *a += b);
    total.iter_mut().zip(total2).for_each(|(a, b)| *a += b);
    (df, total)
}

/// Sorts every row's entries by column (as packed `id << 32 | count` words).
fn sort_rows(rows: &mut RowCounts) {
    let mut packed: Vec<u64> = Vec::new();
    for w in rows.indptr.windows(2) {
        let (ids, counts) = (&mut rows.ids[w[0]..w[1]], &mut rows.counts[w[0]..w[1]]);
        if ids.is_sorted() {
            continue;
        }
        packed.clear();
        packed.extend(ids.iter().zip(counts.iter()).map(|(&i, &c)| (i as u64) << 32 | c as u64));
        packed.sort_unstable();
        for (k, p) in packed.iter().enumerate() {
            ids[k] = (p >> 32) as u32;
            counts[k] = *p as u32;
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
