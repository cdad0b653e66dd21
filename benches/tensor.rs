//! malmoi-tensor benchmarks.
//!
//! * `matmul/*`: GFLOP/s (criterion's "elem/s" = FLOP/s, 2·m·n·k per
//!   product) of the shapes that matter — the LSTM gate product
//!   64×228·228×512 and GPT-sized 512×256·256×768 and 512×256·256×1024 —
//!   for the `gemm` crate on ndarray buffers (what `Tensor::matmul` uses),
//!   ndarray's built-in `dot` (matrixmultiply, single-threaded here) and the
//!   full `Tensor::matmul` op, each in a rayon pool of 1 and of 2 threads.
//!   Compare with `benches/reference/matmul_numpy.py` (OpenBLAS sgemm).
//! * `op_overhead/*`: graph bookkeeping on 2×2 tensors.
//! * `mlp_train_step`: forward, backward and SGD update of a two-layer MLP.
//! * `embedding_update/{dense,sparse}`: one training step of a 200,000 × 100
//!   embedding table (80 MB) looked up by a 64 × 30 batch, with RMSprop — a
//!   dense gradient and update of every row against a row-sparse one of the
//!   ≤ 1,920 rows the batch touched.
//! * `fma_peak/*`: the machine's fp32 peak — 12 independent chains of
//!   512-bit fused multiply-adds per thread (AVX-512 machines only).
//!
//! Run: `cargo bench --bench tensor` (filter with e.g. `-- matmul`).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use malmoi_tensor::ops::matmul::gemm;
use malmoi_tensor::{Tensor, no_grad};
use ndarray::{Array2, ArrayD, IxDyn};
use std::hint::black_box;
use std::time::Duration;

/// (m, k, n) of the products measured.
const SHAPES: [(usize, usize, usize); 3] = [(64, 228, 512), (512, 256, 768), (512, 256, 1024)];

/// Deterministic values in [-0.5, 0.5) without a random generator.
fn filled(rows: usize, cols: usize, salt: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| ((i * 131 + j * 71 + salt) % 97) as f32 / 97.0 - 0.5)
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool")
}

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul");
    group.sample_size(30).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    for (m, k, n) in SHAPES {
        let (a, b) = (filled(m, k, 1), filled(k, n, 2));
        let mut out = Array2::<f32>::zeros((m, n));
        let (ta, tb) = (Tensor::constant(a.clone().into_dyn()), Tensor::constant(b.clone().into_dyn()));
        group.throughput(Throughput::Elements((2 * m * n * k) as u64));
        let shape = format!("{m}x{k}x{n}");
        for threads in [1, 2] {
            let pool = pool(threads);
            group.bench_function(BenchmarkId::new(format!("gemm_crate/{threads}t"), &shape), |bench| {
                pool.install(|| bench.iter(|| gemm(a.view(), b.view(), &mut out.view_mut(), false, true)))
            });
            group.bench_function(BenchmarkId::new(format!("tensor_matmul/{threads}t"), &shape), |bench| {
                pool.install(|| bench.iter(|| no_grad(|| ta.matmul(&tb).expect("shapes"))))
            });
        }
        group.bench_function(BenchmarkId::new("ndarray_dot_matrixmultiply/1t", &shape), |bench| {
            bench.iter(|| ndarray::linalg::general_mat_mul(1.0, &a, &b, 0.0, &mut out))
        });
    }
    group.finish();
}

fn op_overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("op_overhead");
    let x = Tensor::parameter(ArrayD::from_elem(IxDyn(&[2, 2]), 0.5));
    let y = Tensor::constant(ArrayD::from_elem(IxDyn(&[2, 2]), 1.5));
    group.bench_function("add_2x2_recorded", |bench| bench.iter(|| black_box(x.add(&y).expect("shapes"))));
    group.bench_function("add_2x2_no_grad", |bench| bench.iter(|| no_grad(|| black_box(x.add(&y).expect("shapes")))));
    group.bench_function("ndarray_add_2x2", |bench| {
        let (a, b) = (x.to_array(), y.to_array());
        bench.iter(|| black_box(&a + &b))
    });
    group.bench_function("ten_ops_forward_backward_2x2", |bench| {
        bench.iter(|| {
            let mut h = x.clone();
            for _ in 0..5 {
                h = h.mul(&y).expect("shapes").tanh();
            }
            h.sum().backward().expect("scalar");
            x.zero_grad();
        })
    });
    group.finish();
}

/// Batch 64, 228 inputs → 512 tanh hidden units → 1000 classes, cross-entropy,
/// plain SGD: the shape of the Bengio-style language model's step.
fn mlp_train_step(c: &mut Criterion) {
    let (batch, inputs, hidden, classes) = (64, 228, 512, 1000);
    let x = Tensor::constant(filled(batch, inputs, 3).into_dyn());
    let targets: ArrayD<usize> = ArrayD::from_shape_fn(IxDyn(&[batch]), |i| (i[0] * 37) % classes);
    let w1 = Tensor::parameter(filled(inputs, hidden, 4).into_dyn().mapv(|v| v * 0.1));
    let b1 = Tensor::parameter(ArrayD::zeros(IxDyn(&[hidden])));
    let w2 = Tensor::parameter(filled(hidden, classes, 5).into_dyn().mapv(|v| v * 0.1));
    let b2 = Tensor::parameter(ArrayD::zeros(IxDyn(&[classes])));
    let params = [w1.clone(), b1.clone(), w2.clone(), b2.clone()];
    let step = || {
        let h = x.matmul(&w1).and_then(|h| h.add(&b1)).expect("shapes").tanh();
        let logits = h.matmul(&w2).and_then(|l| l.add(&b2)).expect("shapes");
        let loss = logits.cross_entropy(&targets, None).expect("targets");
        loss.backward().expect("scalar");
        for p in &params {
            let grad = p.grad().expect("every parameter is used");
            p.update_data(|w| w.scaled_add(-0.01, &grad));
            p.zero_grad();
        }
    };
    let mut group = c.benchmark_group("mlp_train_step");
    group
        .sample_size(30)
        .throughput(Throughput::Elements((3 * 2 * batch * (inputs * hidden + hidden * classes)) as u64));
    for threads in [1, 2] {
        let pool = pool(threads);
        group.bench_function(format!("64x228x512x1000/{threads}t"), |bench| pool.install(|| bench.iter(step)));
    }
    group.finish();
}

fn embedding_update(c: &mut Criterion) {
    use malmoi_tensor::VarBuilder;
    use malmoi_tensor::nn::{Embedding, Module};
    use malmoi_tensor::optim::{Optimizer, RmsProp};
    let (rows, dim, batch, steps) = (200_000, 100, 64, 30);
    let ids: ArrayD<u32> =
        ArrayD::from_shape_fn(IxDyn(&[batch, steps]), |i| ((i[0] * 7919 + i[1] * 104_729) % rows) as u32);
    let mut group = c.benchmark_group("embedding_update");
    group.sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    for sparse in [false, true] {
        let table = Embedding::new(rows, dim, None, VarBuilder::fresh(1)).expect("table").with_sparse_grad(sparse);
        let mut optimizer = RmsProp::new(table.named_parameters()).expect("optimizer");
        let name = if sparse { "sparse" } else { "dense" };
        group.bench_function(format!("{rows}x{dim}/{name}"), |bench| {
            bench.iter(|| {
                table.forward(&ids).expect("ids in range").sum().backward().expect("scalar");
                optimizer.step().expect("finite");
                optimizer.zero_grad();
            })
        });
    }
    group.finish();
}

/// Iterations of 12 independent 16-lane FMA chains: 12·16·2 FLOP each,
/// each chain in one 512-bit register. AVX-512 intrinsics are stable since
/// Rust 1.89, which the `gemm` crate's `x86-v4` kernels need as well.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::incompatible_msrv)]
fn fma_chains(iterations: u64) -> f32 {
    use std::arch::x86_64::{_mm512_fmadd_ps, _mm512_reduce_add_ps, _mm512_set1_ps};
    let mut acc = [_mm512_set1_ps(0.0); 12];
    let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    for _ in 0..iterations {
        for r in acc.iter_mut() {
            *r = _mm512_fmadd_ps(*r, a, b);
        }
    }
    acc.iter().map(|&r| _mm512_reduce_add_ps(r)).sum()
}

#[cfg(target_arch = "x86_64")]
fn fma_peak(c: &mut Criterion) {
    if !std::arch::is_x86_feature_detected!("avx512f") {
        return;
    }
    const ITERATIONS: u64 = 1_000_000;
    let run = || {
        // SAFETY: the avx512f target feature was detected above.
        black_box(unsafe { fma_chains(black_box(ITERATIONS)) })
    };
    let mut group = c.benchmark_group("fma_peak");
    group.sample_size(20);
    for threads in [1_usize, 2] {
        group.throughput(Throughput::Elements(threads as u64 * ITERATIONS * 12 * 16 * 2));
        let pool = pool(threads);
        group.bench_function(format!("avx512/{threads}t"), |bench| {
            bench.iter(|| pool.broadcast(|_| run()));
        });
    }
    group.finish();
}

#[cfg(not(target_arch = "x86_64"))]
fn fma_peak(_: &mut Criterion) {}

criterion_group!(benches, matmul, op_overhead, mlp_train_step, embedding_update, fma_peak);
criterion_main!(benches);
