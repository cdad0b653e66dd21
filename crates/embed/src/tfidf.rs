//! TF-IDF: [`TfidfTransformer`] (counts → weights) and [`TfidfVectorizer`] (documents →
//! weights), with the lecture's TF and IDF variants and scikit-learn's defaults.
//!
//! `tf-idf(t, d) = tf(t, d) · idf(t)`, then each row is optionally normalised. With the
//! default options the values equal scikit-learn's `TfidfVectorizer` (smooth IDF, l2 norm).

use crate::count::{CountOptions, CountVectorizer};
use crate::error::{EmbedError, Result};
use crate::sparse::CsrMatrix;
use crate::vocab::Vocabulary;
use rayon::prelude::*;

/// How the term frequency of a term in a document is weighted (the lecture's TF variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TfWeight {
    /// The raw count `f(t, d)` (scikit-learn).
    #[default]
    Raw,
    /// 1 if the term occurs, else 0 (불린 빈도).
    Boolean,
    /// `ln(1 + f(t, d))`, damping frequent terms (로그 스케일 빈도).
    Log,
    /// `0.5 + 0.5 · f(t, d) / max_t' f(t', d)`, adjusting for document length (증가 빈도).
    Augmented,
}

/// How the inverse document frequency of a term is computed (`N` documents, `df` of them
/// containing the term).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum IdfWeight {
    /// scikit-learn's default `ln((1 + N) / (1 + df)) + 1`.
    #[default]
    Smooth,
    /// scikit-learn's `smooth_idf=False`: `ln(N / df) + 1`.
    Plain,
    /// The lecture's `log_base(N / (df + 1))`; zero when `df = N - 1`, negative when
    /// `df = N`. The lecture's tables use base 10.
    Lecture {
        /// Logarithm base (10 in the lecture, `e` for natural log).
        base: f64,
    },
    /// No IDF: every term weighs 1 (plain, possibly normalised, TF).
    None,
}

/// Row normalisation applied after weighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Norm {
    /// Divide each row by its Euclidean norm (scikit-learn's default).
    #[default]
    L2,
    /// Divide each row by the sum of absolute values.
    L1,
    /// Leave rows as they are.
    None,
}

/// Options of the TF-IDF weighting; the defaults are scikit-learn's.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TfidfOptions {
    /// Term-frequency weighting.
    pub tf: TfWeight,
    /// Replace each count `f` by `1 + ln(f)` before the TF weighting (scikit-learn's
    /// `sublinear_tf`).
    pub sublinear_tf: bool,
    /// Inverse-document-frequency weighting.
    pub idf: IdfWeight,
    /// Row normalisation.
    pub norm: Norm,
}

/// Turns a count matrix into TF-IDF weights (scikit-learn's `TfidfTransformer`).
///
/// ```
/// use malmoi_embed::{CountVectorizer, TfidfTransformer};
/// let docs = vec![vec!["a", "b"], vec!["a"]];
/// let counts = CountVectorizer::new().fit_transform(&docs).unwrap();
/// let mut tfidf = TfidfTransformer::default();
/// let x = tfidf.fit_transform(&counts).unwrap();
/// // "a" is in both documents: idf = ln(3/3) + 1 = 1; row 1 is l2-normalised.
/// assert!((tfidf.idf().unwrap()[0] - 1.0).abs() < 1e-12);
/// assert!((x.get(1, 0) - 1.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Default)]
pub struct TfidfTransformer {
    options: TfidfOptions,
    idf: Option<Vec<f64>>,
    df: Option<Vec<u32>>,
}

impl TfidfTransformer {
    /// A transformer with the given options.
    pub fn new(options: TfidfOptions) -> Self {
        TfidfTransformer { options, idf: None, df: None }
    }

    /// The options.
    pub fn options(&self) -> &TfidfOptions {
        &self.options
    }

    /// Learned IDF per column, or `None` before fitting.
    pub fn idf(&self) -> Option<&[f64]> {
        self.idf.as_deref()
    }

    /// Learned document frequency per column, or `None` before fitting.
    pub fn document_frequency(&self) -> Option<&[u32]> {
        self.df.as_deref()
    }

    /// Learns document frequencies and IDF from a count matrix.
    pub fn fit(&mut self, counts: &CsrMatrix) -> Result<&mut Self> {
        if let IdfWeight::Lecture { base } = self.options.idf
            && !(base > 0.0 && base != 1.0)
        {
            return Err(EmbedError::InvalidParameter(format!("log base {base}")));
        }
        let (n_docs, n_cols) = counts.shape();
        let mut df = vec![0u32; n_cols];
        for &c in counts.indices() {
            df[c as usize] += 1;
        }
        let n = n_docs as f64;
        let idf = df
            .iter()
            .map(|&d| {
                let d = d as f64;
                match self.options.idf {
                    IdfWeight::Smooth => ((1.0 + n) / (1.0 + d)).ln() + 1.0,
                    IdfWeight::Plain => (n / d).ln() + 1.0,
                    IdfWeight::Lecture { base } => (n / (d + 1.0)).log(base),
                    IdfWeight::None => 1.0,
                }
            })
            .collect();
        self.idf = Some(idf);
        self.df = Some(df);
        Ok(self)
    }

    /// Weights a count matrix with the learned IDF (rows in parallel).
    pub fn transform(&self, counts: &CsrMatrix) -> Result<CsrMatrix> {
        let idf = self.idf.as_ref().ok_or(EmbedError::NotFitted)?;
        if counts.shape().1 != idf.len() {
            return Err(EmbedError::DimensionMismatch { expected: idf.len(), actual: counts.shape().1 });
        }
        let mut out = counts.clone();
        let options = self.options;
        out.rows_mut().into_par_iter().for_each(|(cols, values)| {
            weigh_row(&options, idf, cols, values);
        });
        Ok(out)
    }

    /// [`fit`](Self::fit) then [`transform`](Self::transform).
    pub fn fit_transform(&mut self, counts: &CsrMatrix) -> Result<CsrMatrix> {
        self.fit(counts)?;
        self.transform(counts)
    }
}

/// Applies TF weighting, IDF and normalisation to one row in place.
fn weigh_row(options: &TfidfOptions, idf: &[f64], cols: &[u32], values: &mut [f64]) {
    if options.sublinear_tf {
        values.iter_mut().for_each(|v| *v = 1.0 + v.ln());
    }
    let max_tf = values.iter().copied().fold(0.0, f64::max);
    for (v, &c) in values.iter_mut().zip(cols) {
        let tf = match options.tf {
            TfWeight::Raw => *v,
            TfWeight::Boolean => 1.0,
            TfWeight::Log => v.ln_1p(),
            TfWeight::Augmented => 0.5 + 0.5 * *v / max_tf,
        };
        *v = tf * idf[c as usize];
    }
    let norm = match options.norm {
        Norm::L2 => values.iter().map(|v| v * v).sum::<f64>().sqrt(),
        Norm::L1 => values.iter().map(|v| v.abs()).sum(),
        Norm::None => return,
    };
    if norm > 0.0 {
        values.iter_mut().for_each(|v| *v /= norm);
    }
}

/// Documents → TF-IDF matrix: a [`CountVectorizer`] followed by a [`TfidfTransformer`]
/// (scikit-learn's `TfidfVectorizer`). Errors and empty documents behave as in
/// [`CountVectorizer`].
///
/// ```
/// use malmoi_embed::{IdfWeight, Norm, TfidfOptions, TfidfVectorizer};
/// let texts = ["배가 부르다", "배의 가격이 비싸다", "진짜 사과가 진짜 좋다", "아침엔 사과가 좋다"];
/// let options = TfidfOptions {
///     idf: IdfWeight::Lecture { base: 10.0 },
///     norm: Norm::None,
///     ..Default::default()
/// };
/// let mut v = TfidfVectorizer::new(Default::default(), options);
/// let x = v
///     .fit_transform_texts(&texts, |t| t.split_whitespace().map(String::from).collect())
///     .unwrap();
/// let col = v.vocabulary().unwrap().index("진짜").unwrap();
/// assert!((x.get(2, col) - 0.60).abs() < 0.005);
/// ```
#[derive(Debug, Clone, Default)]
pub struct TfidfVectorizer {
    counter: CountVectorizer,
    transformer: TfidfTransformer,
}

impl TfidfVectorizer {
    /// A vectorizer with the given counting and weighting options.
    pub fn new(count: CountOptions, tfidf: TfidfOptions) -> Self {
        TfidfVectorizer { counter: CountVectorizer::with_options(count), transformer: TfidfTransformer::new(tfidf) }
    }

    /// The fitted vocabulary, or `None` before fitting.
    pub fn vocabulary(&self) -> Option<&Vocabulary> {
        self.counter.vocabulary()
    }

    /// The fitted terms in column order.
    pub fn feature_names(&self) -> Result<&[String]> {
        self.counter.feature_names()
    }

    /// Learned IDF per column, or `None` before fitting.
    pub fn idf(&self) -> Option<&[f64]> {
        self.transformer.idf()
    }

    /// Learned document frequency per column, or `None` before fitting.
    pub fn document_frequency(&self) -> Option<&[u32]> {
        self.transformer.document_frequency()
    }

    derived_vectorizer_methods!();

    /// Learns vocabulary and IDF and returns the TF-IDF matrix.
    pub fn fit_transform<D, S>(&mut self, docs: &[D]) -> Result<CsrMatrix>
    where
        D: AsRef<[S]> + Sync,
        S: AsRef<str> + Sync,
    {
        let mut counts = self.counter.fit_transform(docs)?;
        self.transformer.fit(&counts)?;
        let idf = self.transformer.idf().unwrap_or_default();
        let options = *self.transformer.options();
        counts.rows_mut().into_par_iter().for_each(|(cols, values)| {
            weigh_row(&options, idf, cols, values);
        });
        Ok(counts)
    }

    /// TF-IDF matrix of new tokenized documents with the fitted vocabulary and IDF.
    pub fn transform<D, S>(&self, docs: &[D]) -> Result<CsrMatrix>
    where
        D: AsRef<[S]> + Sync,
        S: AsRef<str> + Sync,
    {
        self.transformer.transform(&self.counter.transform(docs)?)
    }
}
