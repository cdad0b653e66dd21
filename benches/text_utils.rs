//! Text utilities on NSMC reviews: Hangul cleaning, jamo decomposition and composition,
//! `FreqDist` counting, Keras-style `KerasTokenizer` fitting / encoding / padding, and word-cloud
//! layout.
//!
//! `cargo bench --bench text_utils` (reads `../shared/data/nsmc/reviews_unlabeled.txt`).
//! Throughput is in input bytes (cleaning, jamo), tokens (`FreqDist`, Keras) or words placed
//! (word cloud); docs/hardening.md records a run.

mod common;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use malmoi::tokenize::encoding::{KerasTokenizer, PadOptions, pad_sequences};
use malmoi::tokenize::text::{HangulCleaner, clean_hangul, compose, decompose};
use malmoi::tokenize::{FreqDist, WordCloud};

/// Reviews used per iteration.
const LINES: usize = 20_000;

fn bytes(lines: &[String]) -> u64 {
    lines.iter().map(|l| l.len() as u64).sum()
}

/// Whitespace tokens of the cleaned reviews, one list per review.
fn tokens(lines: &[String]) -> Vec<Vec<String>> {
    lines.iter().map(|l| clean_hangul(l).split_whitespace().map(str::to_owned).collect()).collect()
}

fn cleaning(c: &mut Criterion) {
    let lines = common::nsmc_lines(LINES);
    let mut group = c.benchmark_group("clean_nsmc_20k_lines");
    group.throughput(Throughput::Bytes(bytes(&lines)));
    group.bench_function("clean_hangul", |b| {
        b.iter(|| lines.iter().map(|l| clean_hangul(black_box(l)).len()).sum::<usize>())
    });
    let cleaner = HangulCleaner::new().keep_digits(true).keep_latin(true).collapse_spaces(true);
    group.bench_function("cleaner_digits_latin_collapse", |b| {
        b.iter(|| lines.iter().map(|l| cleaner.clean(black_box(l)).len()).sum::<usize>())
    });
    group.finish();
}

fn jamo(c: &mut Criterion) {
    let lines = common::nsmc_lines(LINES);
    let decomposed: Vec<String> = lines.iter().map(|l| decompose(l)).collect();
    let mut group = c.benchmark_group("jamo_nsmc_20k_lines");
    group.throughput(Throughput::Bytes(bytes(&lines)));
    group
        .bench_function("decompose", |b| b.iter(|| lines.iter().map(|l| decompose(black_box(l)).len()).sum::<usize>()));
    group.bench_function("compose", |b| {
        b.iter(|| decomposed.iter().map(|l| compose(black_box(l)).len()).sum::<usize>())
    });
    group.finish();
}

fn freq_dist(c: &mut Criterion) {
    let docs = tokens(&common::nsmc_lines(LINES));
    let count: usize = docs.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("freqdist_nsmc_20k_lines");
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("add", |b| {
        b.iter(|| {
            let mut fd = FreqDist::new();
            for token in docs.iter().flatten() {
                fd.add(black_box(token));
            }
            fd.unique()
        })
    });
    let mut fd = FreqDist::new();
    docs.iter().flatten().for_each(|t| fd.add(t));
    group.bench_function("most_common_100", |b| b.iter(|| black_box(&fd).most_common(100).len()));
    group.finish();
}

fn keras(c: &mut Criterion) {
    let docs = tokens(&common::nsmc_lines(LINES));
    let count: usize = docs.iter().map(Vec::len).sum();
    let mut fitted = KerasTokenizer::new().with_oov_token("<OOV>");
    fitted.fit_on_texts(&docs);
    let sequences = fitted.texts_to_sequences(&docs);
    let mut group = c.benchmark_group("keras_tokenizer_nsmc_20k_lines");
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("fit_on_texts", |b| {
        b.iter(|| {
            let mut tokenizer = KerasTokenizer::new().with_oov_token("<OOV>");
            tokenizer.fit_on_texts(black_box(&docs));
            tokenizer.len()
        })
    });
    group.bench_function("texts_to_sequences", |b| b.iter(|| fitted.texts_to_sequences(black_box(&docs)).len()));
    group.bench_function("pad_sequences_maxlen_30", |b| {
        let options = PadOptions { maxlen: Some(30), ..PadOptions::default() };
        b.iter(|| pad_sequences(black_box(&sequences), options, 0u32).shape())
    });
    group.finish();
}

fn word_cloud(c: &mut Criterion) {
    let mut fd = FreqDist::new();
    tokens(&common::nsmc_lines(LINES)).iter().flatten().for_each(|t| fd.add(t));
    let mut group = c.benchmark_group("wordcloud_nsmc_20k_lines");
    group.sample_size(10);
    for max_words in [50, 200] {
        let cloud = WordCloud::new().with_max_words(max_words).with_seed(0);
        group.throughput(Throughput::Elements(max_words as u64));
        group.bench_function(format!("generate_{max_words}_words_800x400"), |b| {
            b.iter(|| cloud.generate(black_box(&fd)).expect("layout").words().len())
        });
        let layout = cloud.generate(&fd).expect("layout");
        group.bench_function(format!("to_svg_{max_words}_words"), |b| b.iter(|| black_box(&layout).to_svg().len()));
    }
    group.finish();
}

criterion_group!(benches, cleaning, jamo, freq_dist, keras, word_cloud);
criterion_main!(benches);
