//! n-gram LM throughput (criterion) on an in-memory synthetic corpus (500,000 Zipf-distributed
//! tokens over 20,000 types, sentences of 5–30 tokens): building a 3-gram modified
//! Kneser-Ney model (counting, adjusted counts, discounts, interpolation), scoring sentences
//! (tokens per second) and `next_words` over the whole vocabulary.
//!
//! The full-size run (3-gram over the 617k training reviews' morphemes) is `examples/lm.rs`;
//! its figures and the reference tool's are in docs/performance.md.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use malmoi::lm::{NgramBuilder, Smoothing};

fn ngram(c: &mut Criterion) {
    let sentences = common::zipf_sentences(11, 20_000, 500_000);
    let tokens: usize = sentences.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("ngram");
    group.sample_size(10).throughput(Throughput::Elements(tokens as u64));
    group.bench_function("fit_3gram_kneser_ney", |b| b.iter(|| NgramBuilder::new(3).fit(&sentences).unwrap()));
    let stupid = NgramBuilder::new(3).smoothing(Smoothing::StupidBackoff { alpha: 0.4 });
    group.bench_function("fit_3gram_stupid_backoff", |b| b.iter(|| stupid.fit(&sentences).unwrap()));
    let model = NgramBuilder::new(3).fit(&sentences).unwrap();
    let held_out = &sentences[..2_000];
    let held_tokens: usize = held_out.iter().map(|s| s.len() + 1).sum();
    group.throughput(Throughput::Elements(held_tokens as u64));
    group.bench_function("score_tokens", |b| {
        b.iter(|| held_out.iter().map(|s| model.score_tokens(s).log10_prob).sum::<f64>())
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("next_tokens_top10", |b| b.iter(|| model.next_tokens(&held_out[0][..3], 10)));
    group.finish();
}

criterion_group!(benches, ngram);
criterion_main!(benches);
