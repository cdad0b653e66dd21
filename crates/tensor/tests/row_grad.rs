//! Row-sparse embedding gradients: a finite-difference check, sparse against
//! dense updates (SGD identical; lazy Adam's documented semantics), clipping,
//! and a table that also gets a dense gradient.

use malmoi_tensor::nn::{Embedding, Module};
use malmoi_tensor::optim::{Adam, Optimizer, Sgd};
use malmoi_tensor::{GradCheckOptions, RowGrad, Tensor, VarBuilder, check_gradients, clip_grad_norm};
use ndarray::{ArrayD, Axis, IxDyn, array};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn uniform(shape: &[usize], seed: u64) -> ArrayD<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random_range(-1.0..1.0))
}

/// A non-linear loss of the looked-up vectors: `Σ tanh(v · w)²`.
fn loss(vectors: &Tensor, w: &Tensor) -> Tensor {
    let y = vectors.mul(w).unwrap().tanh();
    y.mul(&y).unwrap().sum()
}

#[test]
fn sparse_lookup_passes_the_gradient_check() {
    let ids = array![[0_usize, 2, 2], [3, 0, 1]].into_dyn();
    let w = Tensor::constant(uniform(&[3], 5));
    let report = check_gradients(
        |t| Ok(loss(&t[0].gather_rows_sparse(&ids)?, &w)),
        &[uniform(&[5, 3], 6)],
        GradCheckOptions::default(),
    )
    .unwrap();
    assert_eq!(report.checked, 15);
}

#[test]
fn sparse_gradient_stores_only_the_rows_read() {
    let table = Tensor::parameter(uniform(&[1000, 4], 1));
    table.gather_rows_sparse(&array![5_usize, 900, 5].into_dyn()).unwrap().sum().backward().unwrap();
    table.with_grad_parts(|dense, rows| {
        assert!(dense.is_none());
        let rows = rows.unwrap();
        assert_eq!(rows.rows(), &[5, 900, 5]);
        assert_eq!(rows.coalesce().rows(), &[5, 900]);
        assert_eq!(rows.coalesce().values().row(0).to_vec(), vec![2.0; 4]);
    });
    // the dense view of the same gradient
    let dense = table.grad().unwrap();
    assert_eq!(dense.sum(), 12.0);
    assert_eq!(dense[[900, 3]], 1.0);
}

#[test]
fn a_computed_table_gets_a_dense_gradient() {
    let base = Tensor::parameter(uniform(&[6, 2], 2));
    let table = base.mul_scalar(2.0);
    table.gather_rows_sparse(&array![1_usize, 1].into_dyn()).unwrap().sum().backward().unwrap();
    base.with_grad_parts(|dense, rows| {
        assert!(rows.is_none());
        assert_eq!(dense.unwrap()[[1, 0]], 4.0);
    });
}

/// Two identical tables, one with sparse gradients, trained side by side by
/// `make`; returns both final weights.
fn train_pair(make: impl Fn(Vec<(String, Tensor)>) -> Box<dyn Optimizer>, batches: &[ArrayD<u32>]) -> [ArrayD<f32>; 2] {
    let dense = Embedding::new(50, 6, Some(0), VarBuilder::fresh(3)).unwrap();
    let sparse = Embedding::from_weights(dense.weight.to_array(), Some(0)).unwrap().with_sparse_grad(true);
    let w = Tensor::constant(uniform(&[6], 4));
    [dense, sparse].map(|table| {
        let mut optimizer = make(table.named_parameters());
        for ids in batches {
            optimizer.zero_grad();
            loss(&table.forward(ids).unwrap(), &w).backward().unwrap();
            optimizer.step().unwrap();
        }
        table.weight.to_array()
    })
}

fn random_batches(count: usize, vocab: u32) -> Vec<ArrayD<u32>> {
    let mut rng = StdRng::seed_from_u64(9);
    (0..count).map(|_| ArrayD::from_shape_simple_fn(IxDyn(&[4, 5]), || rng.random_range(0..vocab))).collect()
}

#[test]
fn sparse_and_dense_sgd_give_the_same_weights() {
    let batches = random_batches(20, 50);
    let [dense, sparse] = train_pair(|p| Box::new(Sgd::new(p, 0.3).unwrap()), &batches);
    assert_eq!(dense, sparse);
    // the padding row stayed zero in both
    assert!(sparse.index_axis(Axis(0), 0).iter().all(|&v| v == 0.0));
}

#[test]
fn lazy_adam_equals_dense_adam_when_every_row_is_touched_every_step() {
    // all 50 rows appear in every batch
    let batches: Vec<ArrayD<u32>> =
        (0..10).map(|s| ArrayD::from_shape_fn(IxDyn(&[5, 10]), |i| ((i[0] * 10 + i[1] + s) % 50) as u32)).collect();
    let [dense, sparse] = train_pair(|p| Box::new(Adam::new(p, 0.05).unwrap()), &batches);
    let gap = (&dense - &sparse).mapv(f32::abs).fold(0.0_f32, |a, &b| a.max(b));
    assert!(gap < 1e-6, "largest difference {gap}");
}

#[test]
fn lazy_adam_leaves_untouched_rows_and_their_moments_alone() {
    let table = Embedding::from_weights(uniform(&[10, 3], 7), None).unwrap().with_sparse_grad(true);
    let mut adam = Adam::new(table.named_parameters(), 0.1).unwrap();
    let w = Tensor::constant(uniform(&[3], 8));
    let step = |adam: &mut Adam, ids: ArrayD<u32>| {
        adam.zero_grad();
        loss(&table.forward(&ids).unwrap(), &w).backward().unwrap();
        adam.step().unwrap();
    };
    step(&mut adam, array![1_u32].into_dyn());
    let after_first = table.weight.to_array();
    step(&mut adam, array![2_u32].into_dyn());
    let after_second = table.weight.to_array();
    // row 1 has momentum, but it was not looked up in step 2: unchanged (dense Adam would move it)
    assert_eq!(after_first.index_axis(Axis(0), 1), after_second.index_axis(Axis(0), 1));
    assert_ne!(after_first.index_axis(Axis(0), 2), after_second.index_axis(Axis(0), 2));
    let state = adam.state();
    assert_eq!(state.steps["weight"], 2);
    let m = &state.buffers["exp_avg.weight"];
    assert!(m.index_axis(Axis(0), 1).iter().all(|&v| v != 0.0));
    assert!(m.index_axis(Axis(0), 5).iter().all(|&v| v == 0.0));
}

#[test]
fn a_table_with_sparse_and_dense_gradients_is_updated_densely() {
    // tied weights: a sparse lookup plus a dense use of the same table
    let init = uniform(&[8, 3], 10);
    let ids = array![[1_usize, 4, 4]].into_dyn();
    let run = |sparse: bool| {
        let table = Tensor::parameter(init.clone());
        let mut sgd = Sgd::new(vec![("t".into(), table.clone())], 0.5).unwrap().with_momentum(0.9, 0.0, false).unwrap();
        for _ in 0..3 {
            sgd.zero_grad();
            let looked_up = if sparse { table.gather_rows_sparse(&ids) } else { table.gather_rows(&ids) }.unwrap();
            let tied = table.mul(&table).unwrap().sum().mul_scalar(0.1);
            looked_up.tanh().sum().add(&tied).unwrap().backward().unwrap();
            sgd.step().unwrap();
        }
        table.to_array()
    };
    // the same sums in another order: equal up to rounding
    let (sparse, dense) = (run(true), run(false));
    assert!(sparse.iter().zip(&dense).all(|(a, b)| (a - b).abs() < 1e-6), "{sparse} != {dense}");
}

#[test]
fn clipping_sees_and_keeps_row_sparse_gradients() {
    let ids = array![0_usize, 3, 3].into_dyn();
    let grads = [true, false].map(|sparse| {
        let table = Tensor::parameter(uniform(&[5, 2], 11));
        let looked_up = if sparse { table.gather_rows_sparse(&ids) } else { table.gather_rows(&ids) }.unwrap();
        looked_up.mul_scalar(3.0).sum().backward().unwrap();
        let norm = clip_grad_norm(std::slice::from_ref(&table), 1.0).unwrap();
        table.with_grad_parts(|dense, rows| assert_eq!(dense.is_none(), sparse && rows.is_some()));
        (norm, table.grad().unwrap())
    });
    // rows 0 (once) and 3 (twice): √(2·9 + 2·36) = √90
    assert!((grads[0].0 - 90f32.sqrt()).abs() < 1e-5);
    assert_eq!(grads[0].0, grads[1].0);
    let gap = (&grads[0].1 - &grads[1].1).mapv(f32::abs).sum();
    assert!(gap < 1e-6);
}

#[test]
fn row_grad_densifies_and_coalesces() {
    let mut g = RowGrad::new(2);
    g.push(&[2, 0], array![[1.0_f32, 2.0], [3.0, 4.0]].view());
    g.push(&[2], array![[0.5_f32, 0.5]].view());
    let dense = g.to_dense(3);
    assert_eq!(dense, array![[3.0_f32, 4.0], [0.0, 0.0], [1.5, 2.5]].into_dyn());
    assert_eq!(g.coalesce().to_dense(3), dense);
    assert!((g.squared_norm() - (9.0 + 16.0 + 2.25 + 6.25)).abs() < 1e-9);
}
