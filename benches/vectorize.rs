//! Count and TF-IDF vectorizer throughput (criterion).
//!
//! By default on a synthetic corpus shaped like NSMC's training set (150,000 documents of
//! ~17 Zipf-distributed tokens over 50,000 types). Set `MALMOI_TOKENS=PATH` to a file with one
//! pre-tokenized document per line (space-separated) to measure real data, e.g. NSMC's
//! training reviews as written by `examples/tokenize_corpus.rs`; benches/reference/sklearn_tfidf.py
//! times scikit-learn on the same file.
//!
//! ```text
//! MALMOI_TOKENS=/tmp/nsmc_train_tokens.txt cargo bench --bench vectorize
//! ```

mod common;

use common::Zipf;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use malmoi::embed::{CountOptions, CountVectorizer, DocFrequency, TfidfVectorizer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;

/// Documents from `MALMOI_TOKENS`, or the synthetic stand-in.
fn documents() -> (String, Vec<Vec<String>>) {
    if let Ok(path) = std::env::var("MALMOI_TOKENS") {
        let text = std::fs::read_to_string(&path).expect("MALMOI_TOKENS names a readable file");
        let docs = text.lines().map(|l| l.split_whitespace().map(String::from).collect()).collect();
        return (path, docs);
    }
    let mut rng = StdRng::seed_from_u64(1);
    let zipf = Zipf::new(50_000);
    let docs = (0..150_000)
        .map(|_| {
            let len = rng.random_range(1..34);
            (0..len).map(|_| zipf.word(&mut rng)).collect()
        })
        .collect();
    ("synthetic".to_string(), docs)
}

fn vectorize(c: &mut Criterion) {
    let (source, docs) = documents();
    let tokens: usize = docs.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group(format!("vectorize/{source}"));
    group.sample_size(10).throughput(Throughput::Elements(tokens as u64));
    group.bench_function("count_unigrams", |b| {
        b.iter(|| CountVectorizer::new().fit_transform(black_box(&docs)).unwrap())
    });
    group.bench_function("tfidf_unigrams", |b| {
        b.iter(|| TfidfVectorizer::default().fit_transform(black_box(&docs)).unwrap())
    });
    let bigrams = CountOptions { ngram_range: (1, 2), min_df: DocFrequency::Count(2), ..Default::default() };
    group.bench_function("tfidf_uni_bigrams_min_df_2", |b| {
        b.iter(|| TfidfVectorizer::new(bigrams.clone(), Default::default()).fit_transform(black_box(&docs)).unwrap())
    });
    let mut fitted = TfidfVectorizer::default();
    fitted.fit(&docs).unwrap();
    group.bench_function("tfidf_transform_unigrams", |b| b.iter(|| fitted.transform(black_box(&docs)).unwrap()));
    group.finish();
}

criterion_group!(benches, vectorize);
criterion_main!(benches);
