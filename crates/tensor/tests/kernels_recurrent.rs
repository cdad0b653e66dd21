//! LSTM and GRU kernels: masking semantics and gradients against central
//! finite differences of the plain ndarray kernels.

mod kernels_support;

use kernels_support::{assert_close, numeric_grad, random};
use malmoi_tensor::kernels::{RecurrentWeights, gru_backward, gru_forward, lstm_backward, lstm_forward};
use ndarray::{Array1, Array2, Array3, ArrayD, Ix1, Ix2, Ix3, s};

/// Owned weights of a recurrent layer with `gates` gates.
struct Weights {
    weight_ih: Array2<f32>,
    weight_hh: Array2<f32>,
    bias_ih: Array1<f32>,
    bias_hh: Array1<f32>,
}

impl Weights {
    fn random(gates: usize, input: usize, hidden: usize, seed: u64) -> Self {
        let scale = 0.5;
        Weights {
            weight_ih: random(&[gates * hidden, input], scale, seed).into_dimensionality().unwrap(),
            weight_hh: random(&[gates * hidden, hidden], scale, seed + 1).into_dimensionality().unwrap(),
            bias_ih: random(&[gates * hidden], scale, seed + 2).into_dimensionality().unwrap(),
            bias_hh: random(&[gates * hidden], scale, seed + 3).into_dimensionality().unwrap(),
        }
    }

    fn view(&self) -> RecurrentWeights<'_> {
        RecurrentWeights {
            weight_ih: self.weight_ih.view(),
            weight_hh: self.weight_hh.view(),
            bias_ih: self.bias_ih.view(),
            bias_hh: self.bias_hh.view(),
        }
    }

    fn as_list(&self) -> Vec<ArrayD<f32>> {
        vec![
            self.weight_ih.clone().into_dyn(),
            self.weight_hh.clone().into_dyn(),
            self.bias_ih.clone().into_dyn(),
            self.bias_hh.clone().into_dyn(),
        ]
    }

    fn from_list(list: &[ArrayD<f32>]) -> Self {
        Weights {
            weight_ih: list[0].clone().into_dimensionality::<Ix2>().unwrap(),
            weight_hh: list[1].clone().into_dimensionality::<Ix2>().unwrap(),
            bias_ih: list[2].clone().into_dimensionality::<Ix1>().unwrap(),
            bias_hh: list[3].clone().into_dimensionality::<Ix1>().unwrap(),
        }
    }
}

const B: usize = 3;
const T: usize = 4;
const I: usize = 3;
const H: usize = 2;
const LENGTHS: [usize; 3] = [2, 4, 0];

/// Inputs of the checked function, in order: x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh.
fn lstm_inputs(seed: u64) -> Vec<ArrayD<f32>> {
    let mut inputs =
        vec![random(&[B, T, I], 1.0, seed), random(&[B, H], 0.5, seed + 1), random(&[B, H], 0.5, seed + 2)];
    inputs.extend(Weights::random(4, I, H, seed + 3).as_list());
    inputs
}

/// Scalar loss `Σ r1·output + Σ r2·h_n + Σ r3·c_n` of the LSTM.
fn lstm_loss(inputs: &[ArrayD<f32>], probes: &[ArrayD<f32>]) -> f32 {
    let x = inputs[0].view().into_dimensionality::<Ix3>().unwrap();
    let h0 = inputs[1].view().into_dimensionality::<Ix2>().unwrap();
    let c0 = inputs[2].view().into_dimensionality::<Ix2>().unwrap();
    let w = Weights::from_list(&inputs[3..]);
    let (out, _) = lstm_forward(x, &w.view(), Some(&LENGTHS), Some((h0, c0))).unwrap();
    (&out.output.into_dyn() * &probes[0]).sum()
        + (&out.h_n.into_dyn() * &probes[1]).sum()
        + (&out.c_n.into_dyn() * &probes[2]).sum()
}

#[test]
fn lstm_gradients_match_finite_differences() {
    let inputs = lstm_inputs(10);
    let probes = vec![random(&[B, T, H], 1.0, 20), random(&[B, H], 1.0, 21), random(&[B, H], 1.0, 22)];
    let x = inputs[0].view().into_dimensionality::<Ix3>().unwrap();
    let h0 = inputs[1].view().into_dimensionality::<Ix2>().unwrap();
    let c0 = inputs[2].view().into_dimensionality::<Ix2>().unwrap();
    let w = Weights::from_list(&inputs[3..]);
    let (_, cache) = lstm_forward(x, &w.view(), Some(&LENGTHS), Some((h0, c0))).unwrap();
    let grads = lstm_backward(
        &cache,
        &w.view(),
        Some(probes[0].view().into_dimensionality().unwrap()),
        Some(probes[1].view().into_dimensionality().unwrap()),
        Some(probes[2].view().into_dimensionality().unwrap()),
    )
    .unwrap();
    let analytic = [
        grads.input.into_dyn(),
        grads.h0.into_dyn(),
        grads.c0.into_dyn(),
        grads.weight_ih.into_dyn(),
        grads.weight_hh.into_dyn(),
        grads.bias_ih.into_dyn(),
        grads.bias_hh.into_dyn(),
    ];
    for (index, analytic) in analytic.iter().enumerate() {
        let numeric = numeric_grad(|inputs| lstm_loss(inputs, &probes), &inputs, index);
        assert_close(analytic, &numeric, 2e-3, &format!("lstm input {index}"));
    }
}

#[test]
fn lstm_skips_padding_and_ends_at_last_valid_step() {
    let inputs = lstm_inputs(30);
    let x = inputs[0].view().into_dimensionality::<Ix3>().unwrap();
    let h0 = inputs[1].view().into_dimensionality::<Ix2>().unwrap();
    let c0 = inputs[2].view().into_dimensionality::<Ix2>().unwrap();
    let w = Weights::from_list(&inputs[3..]);
    let (batched, _) = lstm_forward(x, &w.view(), Some(&LENGTHS), Some((h0, c0))).unwrap();
    for (b, &len) in LENGTHS.iter().enumerate() {
        // the same sequence alone, cut to its length, with no mask
        let alone = x.slice(s![b..b + 1, ..len, ..]);
        let init = (h0.slice(s![b..b + 1, ..]), c0.slice(s![b..b + 1, ..]));
        let (single, _) = lstm_forward(alone, &w.view(), None, Some(init)).unwrap();
        assert_close(
            &batched.output.slice(s![b, ..len, ..]).to_owned().into_dyn(),
            &single.output.slice(s![0, .., ..]).to_owned().into_dyn(),
            1e-6,
            "outputs",
        );
        assert!(batched.output.slice(s![b, len.., ..]).iter().all(|&v| v == 0.0), "padded outputs are zero");
        assert_close(&batched.h_n.row(b).to_owned().into_dyn(), &single.h_n.row(0).to_owned().into_dyn(), 1e-6, "h_n");
        assert_close(&batched.c_n.row(b).to_owned().into_dyn(), &single.c_n.row(0).to_owned().into_dyn(), 1e-6, "c_n");
    }
    // an empty sequence keeps its initial state
    assert_eq!(batched.h_n.row(2), h0.row(2));
}

#[test]
fn lstm_rejects_bad_shapes() {
    let w = Weights::random(4, I, H, 1);
    let x = Array3::<f32>::zeros((B, T, I + 1));
    assert!(lstm_forward(x.view(), &w.view(), None, None).is_err());
    let x = Array3::<f32>::zeros((B, T, I));
    assert!(lstm_forward(x.view(), &w.view(), Some(&[1, 2]), None).is_err());
    assert!(lstm_forward(x.view(), &w.view(), Some(&[1, 2, T + 1]), None).is_err());
    let wrong_gates = Weights::random(3, I, H, 1);
    assert!(lstm_forward(x.view(), &wrong_gates.view(), None, None).is_err());
}

/// Inputs of the checked function, in order: x, h0, weight_ih, weight_hh, bias_ih, bias_hh.
fn gru_inputs(seed: u64) -> Vec<ArrayD<f32>> {
    let mut inputs = vec![random(&[B, T, I], 1.0, seed), random(&[B, H], 0.5, seed + 1)];
    inputs.extend(Weights::random(3, I, H, seed + 3).as_list());
    inputs
}

/// Scalar loss `Σ r1·output + Σ r2·h_n` of the GRU.
fn gru_loss(inputs: &[ArrayD<f32>], probes: &[ArrayD<f32>]) -> f32 {
    let x = inputs[0].view().into_dimensionality::<Ix3>().unwrap();
    let h0 = inputs[1].view().into_dimensionality::<Ix2>().unwrap();
    let w = Weights::from_list(&inputs[2..]);
    let (out, _) = gru_forward(x, &w.view(), Some(&LENGTHS), Some(h0)).unwrap();
    (&out.output.into_dyn() * &probes[0]).sum() + (&out.h_n.into_dyn() * &probes[1]).sum()
}

#[test]
fn gru_gradients_match_finite_differences() {
    let inputs = gru_inputs(40);
    let probes = vec![random(&[B, T, H], 1.0, 50), random(&[B, H], 1.0, 51)];
    let x = inputs[0].view().into_dimensionality::<Ix3>().unwrap();
    let h0 = inputs[1].view().into_dimensionality::<Ix2>().unwrap();
    let w = Weights::from_list(&inputs[2..]);
    let (_, cache) = gru_forward(x, &w.view(), Some(&LENGTHS), Some(h0)).unwrap();
    let grads = gru_backward(
        &cache,
        &w.view(),
        Some(probes[0].view().into_dimensionality().unwrap()),
        Some(probes[1].view().into_dimensionality().unwrap()),
    )
    .unwrap();
    let analytic = [
        grads.input.into_dyn(),
        grads.h0.into_dyn(),
        grads.weight_ih.into_dyn(),
        grads.weight_hh.into_dyn(),
        grads.bias_ih.into_dyn(),
        grads.bias_hh.into_dyn(),
    ];
    for (index, analytic) in analytic.iter().enumerate() {
        let numeric = numeric_grad(|inputs| gru_loss(inputs, &probes), &inputs, index);
        assert_close(analytic, &numeric, 2e-3, &format!("gru input {index}"));
    }
}

#[test]
fn gru_skips_padding_and_ends_at_last_valid_step() {
    let inputs = gru_inputs(60);
    let x = inputs[0].view().into_dimensionality::<Ix3>().unwrap();
    let h0 = inputs[1].view().into_dimensionality::<Ix2>().unwrap();
    let w = Weights::from_list(&inputs[2..]);
    let (batched, _) = gru_forward(x, &w.view(), Some(&LENGTHS), Some(h0)).unwrap();
    for (b, &len) in LENGTHS.iter().enumerate() {
        let alone = x.slice(s![b..b + 1, ..len, ..]);
        let (single, _) = gru_forward(alone, &w.view(), None, Some(h0.slice(s![b..b + 1, ..]))).unwrap();
        assert_close(
            &batched.output.slice(s![b, ..len, ..]).to_owned().into_dyn(),
            &single.output.slice(s![0, .., ..]).to_owned().into_dyn(),
            1e-6,
            "outputs",
        );
        assert!(batched.output.slice(s![b, len.., ..]).iter().all(|&v| v == 0.0), "padded outputs are zero");
        assert_close(&batched.h_n.row(b).to_owned().into_dyn(), &single.h_n.row(0).to_owned().into_dyn(), 1e-6, "h_n");
    }
    assert_eq!(batched.h_n.row(2), h0.row(2));
}

#[test]
fn gru_rejects_bad_shapes() {
    let w = Weights::random(3, I, H, 1);
    let x = Array3::<f32>::zeros((B, T, I));
    let wrong_h0 = Array2::<f32>::zeros((B, H + 1));
    assert!(gru_forward(x.view(), &w.view(), None, Some(wrong_h0.view())).is_err());
    let lstm_weights = Weights::random(4, I, H, 1);
    assert!(gru_forward(x.view(), &lstm_weights.view(), None, None).is_err());
}

/// Every output and gradient of both kernels on a batch of 40 (lengths
/// 1..=6), run in a pool of `threads` threads.
fn run_both_kernels(threads: usize) -> Vec<ArrayD<f32>> {
    let (batch, time, input, hidden) = (40, 6, 3, 5);
    let lengths: Vec<usize> = (0..batch).map(|b| 1 + (b * 7) % time).collect();
    let x = random(&[batch, time, input], 1.0, 70).into_dimensionality::<Ix3>().unwrap();
    let probe = random(&[batch, time, hidden], 1.0, 71).into_dimensionality::<Ix3>().unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let lstm_weights = Weights::random(4, input, hidden, 72);
        let (lstm_out, cache) = lstm_forward(x.view(), &lstm_weights.view(), Some(&lengths), None).unwrap();
        let lstm_grads = lstm_backward(&cache, &lstm_weights.view(), Some(probe.view()), None, None).unwrap();
        let gru_weights = Weights::random(3, input, hidden, 73);
        let (gru_out, cache) = gru_forward(x.view(), &gru_weights.view(), Some(&lengths), None).unwrap();
        let gru_grads = gru_backward(&cache, &gru_weights.view(), Some(probe.view()), None).unwrap();
        vec![
            lstm_out.output.into_dyn(),
            lstm_out.c_n.into_dyn(),
            lstm_grads.input.into_dyn(),
            lstm_grads.weight_hh.into_dyn(),
            gru_out.output.into_dyn(),
            gru_grads.input.into_dyn(),
            gru_grads.weight_hh.into_dyn(),
            gru_grads.bias_hh.into_dyn(),
        ]
    })
}

#[test]
fn steps_split_over_threads_give_the_single_thread_results() {
    let single = run_both_kernels(1);
    let split = run_both_kernels(3); // 40 rows → tasks of 16, 16 and 8
    for (k, (a, b)) in split.iter().zip(&single).enumerate() {
        assert_close(a, b, 1e-6, &format!("result {k}"));
    }
}

#[test]
fn empty_batches_and_sequences_are_handled() {
    let w = Weights::random(4, I, H, 80);
    let probe = |b: usize, t: usize| Array3::<f32>::ones((b, t, H));
    for (batch, time, lengths) in [(0, T, None), (B, 0, None), (B, T, Some(vec![0, 0, 0]))] {
        let x = Array3::<f32>::ones((batch, time, I));
        let (out, cache) = lstm_forward(x.view(), &w.view(), lengths.as_deref(), None).unwrap();
        assert_eq!(out.output.dim(), (batch, time, H));
        assert!(out.h_n.iter().chain(out.output.iter()).all(|&v| v == 0.0));
        let grads = lstm_backward(&cache, &w.view(), Some(probe(batch, time).view()), None, None).unwrap();
        assert!(grads.weight_hh.iter().all(|&v| v == 0.0));
        assert_eq!(grads.input.dim(), (batch, time, I));
    }
}
