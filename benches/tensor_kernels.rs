//! Fused-kernel benchmarks of malmoi-tensor, in rayon pools of 1 and 2 threads.
//!
//! * `lstm/*`: forward + backward of the autograd `lstm` op for the lecture's
//!   sentiment shapes — batch 64, 30 steps, input 100, hidden 128 — with every
//!   sequence full (`full`), and with lengths 1–22 (mean 11.5, like NSMC
//!   reviews padded to 30) where padded steps are skipped (`masked`);
//!   `forward_only` runs without recording (inference). criterion's "elem/s"
//!   is FLOP/s of the matrix products (2·m·n·k each; full batch: 1.34 GFLOP
//!   forward + backward).
//! * `gru/*`: the same shapes with a GRU.
//! * `attention/*`: scaled dot-product attention forward + backward with a
//!   causal mask, batch 8 × 4 heads × 128 positions × 64 dimensions.
//! * `optimizer_step/*`: one RMSprop / Adam update of the NSMC model's
//!   embedding table (19 407 × 100 parameters, dense gradient); "elem/s" is
//!   parameters per second.
//!
//! Run: `cargo bench --bench tensor_kernels` (filter with e.g. `-- lstm`).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use malmoi_tensor::kernels::{AttentionMask, RecurrentParams, gru, lstm, scaled_dot_product_attention};
use malmoi_tensor::optim::{Adam, Optimizer, RmsProp};
use malmoi_tensor::{Tensor, no_grad};
use ndarray::{ArrayD, IxDyn};
use std::time::Duration;

const BATCH: usize = 64;
const TIME: usize = 30;
const INPUT: usize = 100;
const HIDDEN: usize = 128;

/// Deterministic values in [-0.1, 0.1) without a random generator.
fn filled(shape: &[usize], salt: usize) -> ArrayD<f32> {
    let mut k = salt;
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        k += 1;
        ((k * 7919) % 199) as f32 / 995.0 - 0.1
    })
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool")
}

/// The four parameters of a recurrent layer with `gates` gates.
fn recurrent_params(gates: usize) -> [Tensor; 4] {
    [
        Tensor::parameter(filled(&[gates * HIDDEN, INPUT], 1)),
        Tensor::parameter(filled(&[gates * HIDDEN, HIDDEN], 2)),
        Tensor::parameter(filled(&[gates * HIDDEN], 3)),
        Tensor::parameter(filled(&[gates * HIDDEN], 4)),
    ]
}

fn as_params(t: &[Tensor; 4]) -> RecurrentParams<'_> {
    RecurrentParams { weight_ih: &t[0], weight_hh: &t[1], bias_ih: &t[2], bias_hh: &t[3] }
}

/// Lengths 1..=22 spread over the batch (mean 11.5 of 30 steps).
fn masked_lengths() -> Vec<usize> {
    (0..BATCH).map(|b| 1 + (b * 13) % 22).collect()
}

/// FLOPs of the matrix products of a forward + backward pass over `steps`
/// valid (sequence, step) pairs with `gates` gates: forward input and
/// recurrent products, backward input, weight and recurrent products.
fn recurrent_flops(gates: usize, steps: usize) -> u64 {
    let input = 2 * steps * INPUT * gates * HIDDEN;
    let recurrent = 2 * steps * HIDDEN * gates * HIDDEN;
    (3 * (input + recurrent)) as u64
}

fn recurrent(c: &mut Criterion) {
    let x = Tensor::parameter(filled(&[BATCH, TIME, INPUT], 5));
    let masked = masked_lengths();
    for (name, gates) in [("lstm", 4), ("gru", 3)] {
        let params = recurrent_params(gates);
        let run = |lengths: Option<&[usize]>| match gates {
            4 => lstm(&x, as_params(&params), lengths, None).expect("shapes").0,
            _ => gru(&x, as_params(&params), lengths, None).expect("shapes").0,
        };
        let mut group = c.benchmark_group(name);
        group.sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
        for threads in [1, 2] {
            let pool = pool(threads);
            for (case, lengths) in [("full", None), ("masked", Some(masked.as_slice()))] {
                let steps = lengths.map_or(BATCH * TIME, |l| l.iter().sum());
                group.throughput(Throughput::Elements(recurrent_flops(gates, steps)));
                group.bench_function(
                    BenchmarkId::new(format!("forward_backward/{case}"), format!("{threads}t")),
                    |bench| {
                        pool.install(|| {
                            bench.iter(|| {
                                let output = run(lengths);
                                output.backward_with(ArrayD::ones(output.data().raw_dim())).expect("backward");
                            })
                        })
                    },
                );
            }
            group.throughput(Throughput::Elements(recurrent_flops(gates, BATCH * TIME) / 3));
            group.bench_function(BenchmarkId::new("forward_only/full", format!("{threads}t")), |bench| {
                pool.install(|| bench.iter(|| no_grad(|| run(None))))
            });
        }
        group.finish();
    }
}

fn attention(c: &mut Criterion) {
    let (batch, heads, time, dim) = (8, 4, 128, 64);
    let shape = [batch, heads, time, dim];
    let (q, k, v) = (
        Tensor::parameter(filled(&shape, 6)),
        Tensor::parameter(filled(&shape, 7)),
        Tensor::parameter(filled(&shape, 8)),
    );
    let mask = AttentionMask { key_padding: None, causal: true };
    let mut group = c.benchmark_group("attention");
    group.sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    // forward QKᵀ and PV, backward dV, dP, dQ, dK: six (T×T×D) products per head
    group.throughput(Throughput::Elements((6 * 2 * batch * heads * time * time * dim) as u64));
    for threads in [1, 2] {
        let pool = pool(threads);
        group.bench_function(BenchmarkId::new("causal_forward_backward", format!("{threads}t")), |bench| {
            pool.install(|| {
                bench.iter(|| {
                    let out = scaled_dot_product_attention(&q, &k, &v, &mask, None).expect("shapes");
                    out.backward_with(ArrayD::ones(out.data().raw_dim())).expect("backward");
                })
            })
        });
    }
    group.finish();
}

fn optimizer_step(c: &mut Criterion) {
    let shape = [19_407, 100];
    let table = Tensor::parameter(filled(&shape, 9));
    table.sum().backward().expect("scalar");
    let named = || vec![("embedding.weight".to_string(), table.clone())];
    let mut optimizers: Vec<(&str, Box<dyn Optimizer>)> = vec![
        ("rmsprop", Box::new(RmsProp::new(named()).expect("optimizer"))),
        ("adam", Box::new(Adam::new(named(), 1e-3).expect("optimizer"))),
    ];
    let mut group = c.benchmark_group("optimizer_step");
    group.sample_size(30).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements((shape[0] * shape[1]) as u64));
    for threads in [1, 2] {
        let pool = pool(threads);
        for (name, optimizer) in &mut optimizers {
            group.bench_function(BenchmarkId::new(*name, format!("{threads}t")), |bench| {
                pool.install(|| bench.iter(|| optimizer.step().expect("finite learning rate")))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, recurrent, attention, optimizer_step);
criterion_main!(benches);
