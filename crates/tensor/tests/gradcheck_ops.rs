//! A finite-difference gradient check for every differentiable operation,
//! including numpy broadcasting edge cases.

use malmoi_tensor::{GradCheckOptions, Result, Tensor, check_gradients};
use ndarray::{ArrayD, IxDyn, array};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Uniform values in `[low, high)` with a fixed seed.
fn uniform(shape: &[usize], low: f32, high: f32, seed: u64) -> ArrayD<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random_range(low..high))
}

fn randn(shape: &[usize], seed: u64) -> ArrayD<f32> {
    uniform(shape, -1.0, 1.0, seed)
}

/// Values away from zero (for kinks at 0): magnitude in [0.2, 1), random sign.
fn away_from_zero(shape: &[usize], seed: u64) -> ArrayD<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        let magnitude = rng.random_range(0.2..1.0);
        if rng.random::<bool>() { magnitude } else { -magnitude }
    })
}

fn check(f: impl Fn(&[Tensor]) -> Result<Tensor>, inputs: &[ArrayD<f32>]) {
    let report = check_gradients(f, inputs, GradCheckOptions::default()).unwrap();
    assert!(report.checked > 0);
}

/// Checks `add`, `sub`, `mul` and `div` of the two `inputs`.
fn check_arithmetic(inputs: &[ArrayD<f32>; 2]) {
    check(|t| t[0].add(&t[1]), inputs);
    check(|t| t[0].sub(&t[1]), inputs);
    check(|t| t[0].mul(&t[1]), inputs);
    check(|t| t[0].div(&t[1]), inputs);
}

#[test]
fn binary_ops_same_shape() {
    check_arithmetic(&[randn(&[3, 4], 1), uniform(&[3, 4], 0.5, 2.0, 2)]);
}

#[test]
fn binary_ops_broadcast_scalar_vs_matrix() {
    let scalar = ArrayD::from_elem(IxDyn(&[]), 1.3_f32);
    let matrix = uniform(&[3, 4], 0.5, 2.0, 3);
    check_arithmetic(&[scalar.clone(), matrix.clone()]);
    check_arithmetic(&[matrix, scalar]);
}

#[test]
fn binary_ops_broadcast_column_and_row() {
    check_arithmetic(&[randn(&[3, 1], 4), uniform(&[1, 4], 0.5, 2.0, 5)]);
}

#[test]
fn binary_ops_broadcast_rank_mismatch() {
    let inputs = [randn(&[2, 3, 4], 6), uniform(&[4], 0.5, 2.0, 7)];
    check(|t| t[0].add(&t[1]), &inputs);
    check(|t| t[0].mul(&t[1]), &inputs);
    check(|t| t[0].div(&t[1]), &inputs);
    let inputs = [randn(&[3, 1], 8), uniform(&[2, 1, 4], 0.5, 2.0, 9)];
    check(|t| t[0].sub(&t[1]), &inputs);
    check(|t| t[0].div(&t[1]), &inputs);
}

#[test]
fn scalar_arithmetic() {
    let x = [uniform(&[2, 3], 0.5, 2.0, 10)];
    check(|t| Ok(t[0].add_scalar(3.0)), &x);
    check(|t| Ok(t[0].mul_scalar(-2.5)), &x);
    check(|t| Ok(t[0].neg()), &x);
    check(|t| Ok(t[0].powf(3.0)), &x);
    check(|t| Ok(t[0].powf(-0.5)), &x);
}

#[test]
fn activations() {
    let x = [randn(&[3, 5], 11)];
    check(|t| Ok(t[0].exp()), &x);
    check(|t| Ok(t[0].tanh()), &x);
    check(|t| Ok(t[0].sigmoid()), &x);
    check(|t| Ok(t[0].gelu()), &x);
    check(|t| Ok(t[0].gelu_tanh()), &x);
    check(|t| Ok(t[0].silu()), &x);
    check(|t| Ok(t[0].relu()), &[away_from_zero(&[3, 5], 12)]);
    let positive = [uniform(&[3, 5], 0.3, 3.0, 13)];
    check(|t| Ok(t[0].log()), &positive);
    check(|t| Ok(t[0].sqrt()), &positive);
}

#[test]
fn matmul_2d() {
    check(|t| t[0].matmul(&t[1]), &[randn(&[3, 4], 14), randn(&[4, 5], 15)]);
}

#[test]
fn matmul_batched_and_broadcast() {
    // Same batch, batch vs matrix, and broadcast batch axes.
    check(|t| t[0].matmul(&t[1]), &[randn(&[2, 3, 4], 16), randn(&[2, 4, 2], 17)]);
    check(|t| t[0].matmul(&t[1]), &[randn(&[2, 3, 4], 18), randn(&[4, 2], 19)]);
    check(|t| t[0].matmul(&t[1]), &[randn(&[3, 4], 20), randn(&[2, 4, 2], 21)]);
    check(|t| t[0].matmul(&t[1]), &[randn(&[2, 1, 3, 4], 22), randn(&[3, 4, 2], 23)]);
}

#[test]
fn matmul_of_transposed_operands() {
    check(|t| t[0].transpose(0, 1)?.matmul(&t[1].transpose(-1, -2)?), &[randn(&[4, 3], 24), randn(&[5, 4], 25)]);
}

#[test]
fn reductions() {
    let x = [randn(&[2, 3, 4], 26)];
    check(|t| Ok(t[0].sum()), &x);
    check(|t| Ok(t[0].mean()), &x);
    check(|t| t[0].sum_axes(&[1], false), &x);
    check(|t| t[0].sum_axes(&[0, 2], true), &x);
    check(|t| t[0].mean_axes(&[-1], false), &x);
    check(|t| t[0].mean_axes(&[0, 1], true), &x);
    check(|t| t[0].max_axis(1, false), &x);
    check(|t| t[0].max_axis(-1, true), &x);
}

#[test]
fn shape_ops() {
    let x = [randn(&[2, 3, 4], 27)];
    check(|t| t[0].reshape(&[6, 4]), &x);
    check(|t| t[0].unsqueeze(1), &x);
    check(|t| t[0].transpose(0, 2), &x);
    check(|t| t[0].permute(&[1, 2, 0]), &x);
    check(|t| t[0].narrow(2, 1, 2), &x);
    check(|t| t[0].narrow(0, 1, 1), &x);
}

#[test]
fn cat_and_stack() {
    check(|t| Tensor::cat(&[t[0].clone(), t[1].clone()], 1), &[randn(&[2, 3], 28), randn(&[2, 2], 29)]);
    check(|t| Tensor::cat(&[t[0].clone(), t[1].clone(), t[0].clone()], 0), &[randn(&[2, 3], 30), randn(&[1, 3], 31)]);
    check(|t| Tensor::stack(&[t[0].clone(), t[1].clone()], 0), &[randn(&[2, 3], 32), randn(&[2, 3], 33)]);
    check(|t| Tensor::stack(&[t[0].clone(), t[1].clone()], -1), &[randn(&[2, 3], 34), randn(&[2, 3], 35)]);
}

#[test]
fn gather_rows_scatter_adds_repeated_rows() {
    let indices = array![[0_usize, 2, 2], [3, 0, 1]].into_dyn();
    check(|t| t[0].gather_rows(&indices), &[randn(&[4, 3], 36)]);
}

#[test]
fn softmax_and_log_softmax() {
    let x = [randn(&[3, 4], 37).mapv(|v| v * 3.0)];
    check(|t| t[0].softmax(-1), &x);
    check(|t| t[0].softmax(0), &x);
    check(|t| t[0].log_softmax(-1), &x);
    check(|t| t[0].log_softmax(0), &x);
}

#[test]
fn layer_norm_with_and_without_affine() {
    let x = randn(&[2, 3, 5], 38).mapv(|v| v * 2.0 + 0.5);
    let (w, b) = (uniform(&[5], 0.5, 1.5, 39), randn(&[5], 40));
    check(|t| t[0].layer_norm(None, None, 1e-5), std::slice::from_ref(&x));
    check(|t| t[0].layer_norm(Some(&t[1]), Some(&t[2]), 1e-5), &[x.clone(), w.clone(), b.clone()]);
    check(|t| t[0].layer_norm(Some(&t[1]), None, 1e-5), &[x.clone(), w]);
    check(|t| t[0].layer_norm(None, Some(&t[1]), 1e-5), &[x, b]);
}

#[test]
fn dropout_with_fixed_seed() {
    // The same seed gives the same mask in every forward pass of the check.
    check(|t| t[0].dropout(0.3, &mut StdRng::seed_from_u64(41)), &[randn(&[4, 5], 42)]);
}

#[test]
fn masked_fill_blocks_gradient() {
    let mask = array![[true, false, false, true]].into_dyn();
    check(|t| t[0].masked_fill(&mask, -1e4)?.softmax(-1), &[randn(&[3, 4], 43)]);
}

#[test]
fn cross_entropy_with_ignore_index() {
    let targets = array![[1_usize, 0, 3], [2, 3, 3]].into_dyn();
    check(|t| t[0].cross_entropy(&targets, None), &[randn(&[2, 3, 4], 44)]);
    check(|t| t[0].cross_entropy(&targets, Some(3)), &[randn(&[2, 3, 4], 45)]);
}

#[test]
fn binary_cross_entropy_and_mse() {
    let inputs = [randn(&[3, 4], 46).mapv(|v| v * 3.0), uniform(&[3, 4], 0.0, 1.0, 47)];
    check(|t| t[0].binary_cross_entropy_with_logits(&t[1]), &inputs);
    check(|t| t[0].mse_loss(&t[1]), &inputs);
}

#[test]
fn composite_graph_with_shared_subexpressions() {
    // x is used three times; gradients from all paths must add up.
    let inputs = [randn(&[2, 3], 48), randn(&[3, 3], 49), randn(&[3], 50)];
    check(
        |t| {
            let h = t[0].matmul(&t[1])?.add(&t[2])?.tanh();
            let y = h.mul(&t[0])?.add(&h.sigmoid())?;
            Ok(y.sum_axes(&[0], false)?.mul(&t[2])?.sum())
        },
        &inputs,
    );
}

#[test]
fn checker_rejects_a_wrong_backward() {
    use malmoi_tensor::Backward;
    /// `2x` forward with a deliberately wrong `3` in backward.
    struct Wrong;
    impl Backward for Wrong {
        fn name(&self) -> &'static str {
            "wrong"
        }
        fn backward(&self, grad: &ArrayD<f32>, _: &[Tensor]) -> Vec<Option<ArrayD<f32>>> {
            vec![Some(grad * 3.0)]
        }
    }
    let result = check_gradients(
        |t| Ok(Tensor::from_op(&*t[0].data() * 2.0, vec![t[0].clone()], Wrong)),
        &[randn(&[2, 2], 51)],
        GradCheckOptions::default(),
    );
    assert!(matches!(result, Err(malmoi_tensor::Error::GradientMismatch { .. })));
}

#[test]
fn minimum_maximum_and_clamp() {
    // Inputs kept apart (no ties within eps) so the functions are smooth there.
    let a = away_from_zero(&[3, 4], 52);
    let b = ArrayD::zeros(IxDyn(&[4]));
    check(|t| t[0].minimum(&t[1]), &[a.clone(), b.clone()]);
    check(|t| t[0].maximum(&t[1]), &[a.clone(), b.clone()]);
    check(|t| t[1].maximum(&t[0]), &[a.clone(), b]);
    check(|t| t[0].clamp(-0.5, 0.5), &[a.mapv(|v| if (v.abs() - 0.5).abs() < 0.05 { v * 1.3 } else { v })]);
}

#[test]
fn gather_along_an_axis() {
    let indices = array![[2_usize, 0], [1, 1], [3, 2]].into_dyn();
    check(|t| t[0].gather(1, &indices), &[randn(&[3, 4], 53)]);
    let along_rows = array![[0_usize, 2, 1, 0]].into_dyn();
    check(|t| t[0].gather(0, &along_rows), &[randn(&[3, 4], 54)]);
    check(|t| t[0].log_softmax(-1)?.gather(-1, &indices), &[randn(&[3, 4], 55)]);
}

#[test]
fn checker_handles_outputs_independent_of_an_input() {
    // The second input is unused (zero gradient); a constant output is fine too.
    check(|t| Ok(t[0].exp()), &[randn(&[2], 56), randn(&[3], 57)]);
    check(|_| Ok(Tensor::scalar(1.0)), &[randn(&[2], 58)]);
}
