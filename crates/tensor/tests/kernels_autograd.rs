//! The fused kernels as autograd operations, checked with the crate's
//! finite-difference gradient checker (every input, including initial states
//! and masks).

mod kernels_support;

use kernels_support::random;
use malmoi_tensor::kernels::{AttentionMask, RecurrentParams, gru, lstm, scaled_dot_product_attention};
use malmoi_tensor::{GradCheckOptions, GradCheckReport, Tensor, check_gradients};
use ndarray::{Array2, ArrayD};

const B: usize = 3;
const T: usize = 4;
const I: usize = 3;
const H: usize = 2;
const LENGTHS: [usize; 3] = [2, 4, 0];

/// Output sequence and final states as one `(B, T·H + S·H)` tensor.
fn flatten(output: &Tensor, states: &[&Tensor]) -> malmoi_tensor::Result<Tensor> {
    let mut parts = vec![output.reshape(&[B, T * H])?];
    parts.extend(states.iter().map(|&s| s.clone()));
    Tensor::cat(&parts, 1)
}

fn params(t: &[Tensor]) -> RecurrentParams<'_> {
    RecurrentParams { weight_ih: &t[1], weight_hh: &t[2], bias_ih: &t[3], bias_hh: &t[4] }
}

/// `x`, the four parameters of a layer with `gates` gates and `states` initial states, drawn
/// with consecutive seeds from `seed`.
fn recurrent_inputs(gates: usize, states: usize, seed: u64) -> Vec<ArrayD<f32>> {
    let params = [vec![gates * H, I], vec![gates * H, H], vec![gates * H], vec![gates * H]];
    let shapes = params.into_iter().chain(std::iter::repeat_n(vec![B, H], states));
    let mut inputs = vec![random(&[B, T, I], 1.0, seed)];
    inputs.extend(shapes.zip(seed + 1..).map(|(shape, seed)| random(&shape, 0.5, seed)));
    inputs
}

/// Checks the gradients of `f` at `inputs` with the default options.
fn check(inputs: &[ArrayD<f32>], f: impl Fn(&[Tensor]) -> malmoi_tensor::Result<Tensor>) -> GradCheckReport {
    check_gradients(f, inputs, GradCheckOptions::default()).unwrap()
}

#[test]
fn lstm_op_passes_gradcheck() {
    let inputs = recurrent_inputs(4, 2, 1);
    let report = check(&inputs, |t| {
        let (output, (h_n, c_n)) = lstm(&t[0], params(t), Some(&LENGTHS), Some((&t[5], &t[6])))?;
        flatten(&output, &[&h_n, &c_n])
    });
    assert_eq!(report.checked, inputs.iter().map(|a| a.len()).sum::<usize>());
}

#[test]
fn lstm_op_without_initial_state_passes_gradcheck() {
    check(&recurrent_inputs(4, 0, 11), |t| {
        let (output, (h_n, _)) = lstm(&t[0], params(t), None, None)?;
        flatten(&output, &[&h_n])
    });
}

#[test]
fn gru_op_passes_gradcheck() {
    check(&recurrent_inputs(3, 1, 21), |t| {
        let (output, h_n) = gru(&t[0], params(t), Some(&LENGTHS), Some(&t[5]))?;
        flatten(&output, &[&h_n])
    });
}

#[test]
fn attention_op_passes_gradcheck_with_masks() {
    let padding = Array2::from_shape_fn((2, 4), |(b, j)| b == 1 && j == 3);
    for causal in [false, true] {
        let mask = AttentionMask { key_padding: Some(padding.view()), causal };
        let inputs =
            vec![random(&[2, 2, 4, 3], 1.0, 31), random(&[2, 2, 4, 3], 1.0, 32), random(&[2, 2, 4, 5], 1.0, 33)];
        check(&inputs, |t| scaled_dot_product_attention(&t[0], &t[1], &t[2], &mask, Some(0.7)));
    }
}

#[test]
fn ops_record_nothing_under_no_grad() {
    let w = |shape: &[usize]| Tensor::parameter(random(shape, 0.5, 1));
    let t = [Tensor::constant(random(&[B, T, I], 1.0, 2)), w(&[4 * H, I]), w(&[4 * H, H]), w(&[4 * H]), w(&[4 * H])];
    let (output, _) = malmoi_tensor::no_grad(|| lstm(&t[0], params(&t), None, None)).unwrap();
    assert!(!output.requires_grad());
    let (output, _) = lstm(&t[0], params(&t), None, None).unwrap();
    assert!(output.requires_grad());
}
