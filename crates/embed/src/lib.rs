//! # malmoi-embed
//!
//! The lecture's word-representation chapter as a library: one-hot vectors
//! ([`OneHotEncoder`]), bag-of-words counts ([`CountVectorizer`]), TF-IDF
//! ([`TfidfVectorizer`], [`TfidfTransformer`]) with sparse CSR output ([`CsrMatrix`]), dense
//! word vectors with similarity queries ([`KeyedVectors`]) and word2vec training
//! ([`Word2Vec`]) that reads and writes the word2vec text and binary formats.
//!
//! Documents are token lists, or raw text with an analyzer closure `Fn(&str) -> Vec<String>`
//! (malmoi-tokenize's Korean analyzer plugs in as one).
//!
//! ```
//! use malmoi_embed::TfidfVectorizer;
//! let docs = vec![vec!["좋은", "영화"], vec!["나쁜", "영화"]];
//! let mut tfidf = TfidfVectorizer::default();
//! let x = tfidf.fit_transform(&docs).unwrap();
//! assert_eq!(x.shape(), (2, 3));
//! ```

#[macro_use]
mod vectorizer;

pub mod count;
pub mod error;
pub mod evaluation;
pub mod keyed_vectors;
pub mod onehot;
pub mod sparse;
pub mod tfidf;
pub mod vocab;
pub mod word2vec;
pub mod word2vec_format;

pub use count::{CountOptions, CountVectorizer, DocFrequency};
pub use error::{EmbedError, Result};
pub use evaluation::{AnalogyScore, PairScore};
pub use keyed_vectors::KeyedVectors;
pub use onehot::OneHotEncoder;
pub use sparse::CsrMatrix;
pub use tfidf::{IdfWeight, Norm, TfWeight, TfidfOptions, TfidfTransformer, TfidfVectorizer};
pub use vocab::Vocabulary;
pub use word2vec::{Architecture, Corpus, TrainingReport, Word2Vec, Word2VecConfig};
