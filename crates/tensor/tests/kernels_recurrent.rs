//! LSTM and GRU kernels: masking semantics and gradients against central
//! finite differences of the plain ndarray kernels.

mod kernels_support;

use kernels_support::{assert_close, numeric_grad, random};
use malmoi_tensor::Result;
use malmoi_tensor::kernels::{RecurrentWeights, SequenceGrads, gru_backward, gru_forward, lstm_backward, lstm_forward};
use ndarray::{Array1, Array2, Array3, ArrayD, ArrayView2, ArrayView3, Ix1, Ix2, Ix3, s};

/// Owned weights of a recurrent layer with `gates` gates.
struct Weights {
    weight_ih: Array2<f32>,
    weight_hh: Array2<f32>,
    bias_ih: Array1<f32>,
    bias_hh: Array1<f32>,
}

impl Weights {
    fn random(gates: usize, input: usize, hidden: usize, seed: u64) -> Self {
        let list: Vec<_> =
            [vec![gates * hidden, input], vec![gates * hidden, hidden], vec![gates * hidden], vec![gates * hidden]]
                .iter()
                .zip(seed..)
                .map(|(shape, seed)| random(shape, 0.5, seed))
                .collect();
        Self::from_list(&list)
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

/// The output sequence and the final states of a kernel.
type Run = (Array3<f32>, Vec<Array2<f32>>);

/// A kernel's forward pass over `x`, the weights, the lengths and the initial states.
type ForwardFn = fn(ArrayView3<f32>, &RecurrentWeights, Option<&[usize]>, &[ArrayView2<f32>]) -> Result<Run>;

/// Gradients from `x`, the weights, the initial states and the probes (see [`Kernel::backward`]).
type GradientsFn = fn(ArrayView3<f32>, &RecurrentWeights, &[ArrayView2<f32>], &[ArrayView2<f32>]) -> Vec<ArrayD<f32>>;

/// One of the two kernels, driven through the same interface: `states` initial and final states
/// (`h`, and `c` for the LSTM).
struct Kernel {
    name: &'static str,
    gates: usize,
    states: usize,
    /// The kernel's forward pass; no initial states means zeros.
    forward: ForwardFn,
    /// Gradients of `x`, the initial states and the four weights (in that order) of the loss
    /// `Σ probes[0]·output + Σ probes[1 + k]·state k`, with `LENGTHS`.
    backward: GradientsFn,
}

const LSTM: Kernel = Kernel {
    name: "lstm",
    gates: 4,
    states: 2,
    forward: |x, w, lengths, states| {
        let initial = (!states.is_empty()).then(|| (states[0], states[1]));
        let (out, _) = lstm_forward(x, w, lengths, initial)?;
        Ok((out.output, vec![out.h_n, out.c_n]))
    },
    backward: |x, w, states, probes| {
        let (_, cache) = lstm_forward(x, w, Some(&LENGTHS), Some((states[0], states[1]))).unwrap();
        let output = probes[0].into_shape_with_order((B, T, H)).unwrap();
        let grads = lstm_backward(&cache, w, Some(output), Some(probes[1]), Some(probes[2])).unwrap();
        in_input_order(grads, |c0| Some(c0.into_dyn()))
    },
};

const GRU: Kernel = Kernel {
    name: "gru",
    gates: 3,
    states: 1,
    forward: |x, w, lengths, states| {
        let (out, _) = gru_forward(x, w, lengths, states.first().copied())?;
        Ok((out.output, vec![out.h_n]))
    },
    backward: |x, w, states, probes| {
        let (_, cache) = gru_forward(x, w, Some(&LENGTHS), Some(states[0])).unwrap();
        let output = probes[0].into_shape_with_order((B, T, H)).unwrap();
        in_input_order(gru_backward(&cache, w, Some(output), Some(probes[1])).unwrap(), |()| None)
    },
};

/// The gradients in the order of [`Kernel::inputs`]: input, initial states, weights.
fn in_input_order<C>(grads: SequenceGrads<C>, c0: impl FnOnce(C) -> Option<ArrayD<f32>>) -> Vec<ArrayD<f32>> {
    let mut list = vec![grads.input.into_dyn(), grads.h0.into_dyn()];
    list.extend(c0(grads.c0));
    list.extend([grads.weight_ih.into_dyn(), grads.weight_hh.into_dyn()]);
    list.extend([grads.bias_ih.into_dyn(), grads.bias_hh.into_dyn()]);
    list
}

impl Kernel {
    /// Inputs of the checked function, in order: x, the initial states, weight_ih, weight_hh,
    /// bias_ih, bias_hh.
    fn inputs(&self, seed: u64) -> Vec<ArrayD<f32>> {
        let mut inputs = vec![random(&[B, T, I], 1.0, seed)];
        inputs.extend((seed + 1..).take(self.states).map(|seed| random(&[B, H], 0.5, seed)));
        inputs.extend(Weights::random(self.gates, I, H, seed + 3).as_list());
        inputs
    }

    /// Runs the forward pass on [`inputs`](Self::inputs) with `LENGTHS`.
    fn run(&self, inputs: &[ArrayD<f32>]) -> Run {
        let (x, states, w) = self.split(inputs);
        (self.forward)(x, &w.view(), Some(&LENGTHS), &states).unwrap()
    }

    /// `x`, the initial states and the weights of [`inputs`](Self::inputs).
    fn split<'a>(&self, inputs: &'a [ArrayD<f32>]) -> (ArrayView3<'a, f32>, Vec<ArrayView2<'a, f32>>, Weights) {
        let x = inputs[0].view().into_dimensionality::<Ix3>().unwrap();
        let states = inputs[1..=self.states].iter().map(|s| s.view().into_dimensionality().unwrap()).collect();
        (x, states, Weights::from_list(&inputs[1 + self.states..]))
    }
}

#[test]
fn gradients_match_finite_differences() {
    for (kernel, seed) in [(LSTM, 10), (GRU, 40)] {
        let inputs = kernel.inputs(seed);
        let mut probes = vec![random(&[B, T * H], 1.0, seed + 10)];
        probes.extend((seed + 11..).take(kernel.states).map(|seed| random(&[B, H], 1.0, seed)));
        // Σ probe·value over the output sequence and the final states
        let loss = |inputs: &[ArrayD<f32>]| {
            let (output, states) = kernel.run(inputs);
            let output = output.into_shape_with_order((B, T * H)).unwrap();
            std::iter::once(output).chain(states).zip(&probes).map(|(v, p)| (&v.into_dyn() * p).sum()).sum::<f32>()
        };
        let (x, states, w) = kernel.split(&inputs);
        let probe_views: Vec<ArrayView2<f32>> =
            probes.iter().map(|p| p.view().into_dimensionality().unwrap()).collect();
        let analytic = (kernel.backward)(x, &w.view(), &states, &probe_views);
        for (index, analytic) in analytic.iter().enumerate() {
            let numeric = numeric_grad(loss, &inputs, index);
            assert_close(analytic, &numeric, 2e-3, &format!("{} input {index}", kernel.name));
        }
    }
}

#[test]
fn kernels_skip_padding_and_end_at_the_last_valid_step() {
    for (kernel, seed) in [(LSTM, 30), (GRU, 60)] {
        let inputs = kernel.inputs(seed);
        let (x, initial, w) = kernel.split(&inputs);
        let (output, states) = (kernel.forward)(x, &w.view(), Some(&LENGTHS), &initial).unwrap();
        for (b, &len) in LENGTHS.iter().enumerate() {
            // the same sequence alone, cut to its length, with no mask
            let alone = x.slice(s![b..b + 1, ..len, ..]);
            let init: Vec<_> = initial.iter().map(|s| s.slice(s![b..b + 1, ..])).collect();
            let (single_output, single_states) = (kernel.forward)(alone, &w.view(), None, &init).unwrap();
            assert_close(
                &output.slice(s![b, ..len, ..]).to_owned().into_dyn(),
                &single_output.slice(s![0, .., ..]).to_owned().into_dyn(),
                1e-6,
                "outputs",
            );
            assert!(output.slice(s![b, len.., ..]).iter().all(|&v| v == 0.0), "padded outputs are zero");
            for (k, (state, single)) in states.iter().zip(&single_states).enumerate() {
                let (state, single) = (state.row(b).to_owned().into_dyn(), single.row(0).to_owned().into_dyn());
                assert_close(&state, &single, 1e-6, &format!("{} final state {k}", kernel.name));
            }
        }
        // an empty sequence keeps its initial state
        assert_eq!(states[0].row(2), initial[0].row(2));
    }
}

#[test]
fn kernels_reject_bad_shapes() {
    for (kernel, other) in [(LSTM, GRU), (GRU, LSTM)] {
        let w = Weights::random(kernel.gates, I, H, 1);
        let run = |x: &Array3<f32>, w: &Weights, lengths: Option<&[usize]>, states: &[ArrayView2<f32>]| {
            (kernel.forward)(x.view(), &w.view(), lengths, states)
        };
        let x = Array3::<f32>::zeros((B, T, I));
        assert!(run(&Array3::zeros((B, T, I + 1)), &w, None, &[]).is_err(), "{}: input width", kernel.name);
        assert!(run(&x, &w, Some(&[1, 2]), &[]).is_err(), "{}: lengths for another batch", kernel.name);
        assert!(run(&x, &w, Some(&[1, 2, T + 1]), &[]).is_err(), "{}: length beyond T", kernel.name);
        let wrong_gates = Weights::random(other.gates, I, H, 1);
        assert!(run(&x, &wrong_gates, None, &[]).is_err(), "{}: {} weights", kernel.name, other.name);
        let wrong_state = Array2::<f32>::zeros((B, H + 1));
        let states = vec![wrong_state.view(); kernel.states];
        assert!(run(&x, &w, None, &states).is_err(), "{}: initial state shape", kernel.name);
    }
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
