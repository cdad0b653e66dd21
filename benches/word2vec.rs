//! word2vec training throughput (criterion): one epoch over an in-memory synthetic corpus
//! (200,000 Zipf-distributed tokens, 5,000 types, sentences of 5–30 tokens), CBOW and
//! skip-gram with negative sampling, 1 and 2 threads, gensim's hyper-parameters otherwise.
//! Throughput is in raw words per second.
//!
//! The side-by-side comparison with gensim on NSMC uses `examples/word2vec.rs` and
//! benches/reference/gensim_w2v.py (see docs/performance.md).

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use malmoi::embed::{Architecture, Corpus, Word2Vec, Word2VecConfig};

fn train(c: &mut Criterion) {
    let sentences = common::zipf_sentences(5, 5_000, 200_000);
    let corpus = Corpus::Sentences(&sentences);
    let words: usize = sentences.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("word2vec");
    group.sample_size(10).throughput(Throughput::Elements(words as u64));
    for architecture in [Architecture::Cbow, Architecture::SkipGram] {
        for workers in [1, 2] {
            let config = Word2VecConfig { architecture, epochs: 1, workers, progress: false, ..Default::default() };
            let mut model = Word2Vec::new(config).unwrap();
            model.build_vocab(&corpus).unwrap();
            group.bench_function(format!("{architecture:?}/{workers}_threads"), |b| {
                b.iter(|| model.train(&corpus).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, train);
criterion_main!(benches);
