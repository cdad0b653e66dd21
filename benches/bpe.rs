//! Byte-level BPE on NSMC reviews: encoding throughput (tokens/s, 1 and 2 threads), decoding
//! (whole and streamed) and training time.
//!
//! `cargo bench --bench bpe`. The tokenizer is trained here exactly as
//! `cargo run --release --example bpe -- ../shared/data/nsmc/reviews_unlabeled.txt --lines 100000`
//! trains it (vocab 8000, min frequency 2), so `benches/reference/bpe_reference.py throughput`
//! on that example's tokenizer.json measures Python `tokenizers` on the same model and text.
//! Encoding and decoding run Hugging Face's `tokenizers` crate through `tokenizer::Tokenizer`
//! (docs/architecture.md compares it with the byte-level BPE malmoi had before).

mod common;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use malmoi::tokenize::bpe::BpeTrainer;
use malmoi::tokenize::tokenizer::Tokenizer;

/// Lines used to train the tokenizer (as the example with `--lines 100000`).
const TRAIN_LINES: usize = 100_000;
/// Lines encoded per iteration.
const ENCODE_LINES: usize = 20_000;

fn trainer() -> BpeTrainer {
    BpeTrainer::new().vocab_size(8000).min_frequency(2).special_tokens(["<pad>", "<unk>", "</s>", "<mask>"])
}

fn encode(c: &mut Criterion) {
    let lines = common::nsmc_lines(TRAIN_LINES);
    let tokenizer: Tokenizer = trainer().train(&lines).expect("training on NSMC");
    let batch = &lines[..ENCODE_LINES];
    let tokens: usize = tokenizer.encode_batch_ids(batch, true).expect("encoding NSMC").iter().map(Vec::len).sum();

    let mut group = c.benchmark_group("bpe_encode_nsmc_20k_lines");
    group.throughput(Throughput::Elements(tokens as u64));
    group.sample_size(20);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
        group.bench_function(BenchmarkId::new("encode_batch_ids", threads), |b| {
            b.iter(|| pool.install(|| tokenizer.encode_batch_ids(black_box(batch), true).expect("encode")))
        });
        group.bench_function(BenchmarkId::new("encode_batch", threads), |b| {
            b.iter(|| pool.install(|| tokenizer.encode_batch(black_box(batch), true).expect("encode")))
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let lines = common::nsmc_lines(TRAIN_LINES);
    let tokenizer: Tokenizer = trainer().train(&lines[..20_000]).expect("training on NSMC");
    let ids = tokenizer.encode_batch_ids(&lines[..ENCODE_LINES], true).expect("encoding NSMC");
    let tokens: usize = ids.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("bpe_decode_nsmc_20k_lines");
    group.throughput(Throughput::Elements(tokens as u64));
    group.sample_size(20);
    group.bench_function("decode", |b| {
        b.iter(|| ids.iter().map(|ids| tokenizer.decode(black_box(ids), false).expect("decode").len()).sum::<usize>())
    });
    group.bench_function("decode_stream", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for ids in &ids {
                let mut stream = tokenizer.decode_stream(false);
                for &id in ids {
                    bytes += stream.step(black_box(id)).expect("step").map_or(0, |s| s.len());
                }
                bytes += stream.finish().expect("finish").len();
            }
            bytes
        })
    });
    group.finish();
}

fn train(c: &mut Criterion) {
    let lines = common::nsmc_lines(TRAIN_LINES);
    let mut group = c.benchmark_group("bpe_train_nsmc");
    group.sample_size(10);
    let lines_20k = &lines[..20_000];
    group.throughput(Throughput::Bytes(lines_20k.iter().map(|l| l.len() as u64).sum()));
    group.bench_function("20k_lines_vocab_8000", |b| b.iter(|| trainer().train(black_box(lines_20k)).expect("train")));
    group.finish();
}

criterion_group!(benches, encode, decode, train);
criterion_main!(benches);
