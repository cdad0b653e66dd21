//! GPT benchmarks, side by side with `benches/reference/gpt_torch.py` (the same shapes in
//! PyTorch with `transformers`' GPT2LMHeadModel).
//!
//! * `gpt_train_step/*`: forward + backward + AdamW of nanoGPT's character-level shape
//!   (n_layer 6, n_head 6, n_embd 384, block 256, vocab 65) on batches of 8 × 256 tokens.
//!   criterion's "elem/s" is tokens per second; the FLOPs per token are ≈ 6 N + 12 · n_layer ·
//!   n_embd · T (N = 10.7 M parameters without position embeddings).
//! * `gpt_generate/*`: greedy generation of 128 new tokens after a 16-token prompt, with the
//!   key/value cache (`cached`) and by recomputing the whole context each step (`recompute`);
//!   "elem/s" is generated tokens per second.
//!
//! Run: `cargo bench --bench gpt` (filter with e.g. `-- generate`).

use std::ops::ControlFlow;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use malmoi_tensor::nn::Module;
use malmoi_tensor::no_grad;
use malmoi_tensor::optim::{AdamW, Optimizer};
use malmoi_transformer::generation::GenerationConfig;
use malmoi_transformer::generation::logits::argmax;
use malmoi_transformer::{Gpt, GptConfig};
use ndarray::Array2;

const BATCH: usize = 8;
const BLOCK: usize = 256;
const NEW_TOKENS: usize = 128;

fn nanogpt_char() -> GptConfig {
    GptConfig {
        vocab_size: 65,
        block_size: BLOCK,
        n_layer: 6,
        n_head: 6,
        n_embd: 384,
        dropout: 0.0,
        ..GptConfig::default()
    }
}

fn ids(batch: usize, len: usize, salt: usize) -> Array2<u32> {
    Array2::from_shape_fn((batch, len), |(b, t)| ((b * 31 + t * 7 + salt) % 65) as u32)
}

fn train_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("gpt_train_step");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements((BATCH * BLOCK) as u64));
    let model = Gpt::new(nanogpt_char(), 0).unwrap();
    let mut optimizer = AdamW::new(model.named_parameters(), 3e-4).unwrap();
    let (x, y) = (ids(BATCH, BLOCK, 0), ids(BATCH, BLOCK, 1));
    group.bench_function(BenchmarkId::new("nanogpt_char", format!("{BATCH}x{BLOCK}")), |b| {
        b.iter(|| {
            optimizer.zero_grad();
            let (_, loss) = model.forward(&x, Some(&y)).unwrap();
            loss.unwrap().backward().unwrap();
            optimizer.step().unwrap();
        })
    });
    group.finish();
}

fn generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("gpt_generate");
    group.sample_size(10).measurement_time(Duration::from_secs(15)).throughput(Throughput::Elements(NEW_TOKENS as u64));
    let mut model = Gpt::new(nanogpt_char(), 0).unwrap();
    model.set_training(false);
    let prompt: Vec<u32> = (0..16).map(|t| (t * 7) % 65).collect();
    group.bench_function("cached", |b| {
        b.iter(|| {
            let config = GenerationConfig::greedy(NEW_TOKENS);
            model.generate_ids(&prompt, &config, |_| ControlFlow::Continue(())).unwrap()
        })
    });
    group.bench_function("recompute", |b| {
        b.iter(|| {
            let mut context = prompt.clone();
            for _ in 0..NEW_TOKENS {
                let row = Array2::from_shape_vec((1, context.len()), context.clone()).unwrap();
                let logits = no_grad(|| model.forward(&row, None).unwrap().0.to_array());
                let last = logits.index_axis(ndarray::Axis(1), context.len() - 1).iter().copied().collect::<Vec<f32>>();
                context.push(argmax(&last));
            }
            context
        })
    });
    group.finish();
}

criterion_group!(benches, train_step, generate);
criterion_main!(benches);
