//! # malmoi-embed
//!
//! One-hot, count and TF-IDF vectorizers and word2vec.
