//! Whole-sequence LSTM with PyTorch's gate layout and length masking.
//!
//! For every valid step (gate order `i, f, g, o`, as in `torch.nn.LSTM`):
//!
//! ```text
//! a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh          (4H pre-activations)
//! i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
//! c_t = f ⊙ c_{t-1} + i ⊙ g          h_t = o ⊙ tanh(c_t)
//! ```
//!
//! The input projection of all steps is one `(N, I)·(I, 4H)` product over
//! the `N` valid (sequence, step) pairs; each step then adds one
//! `(n_t, H)·(H, 4H)` product over the `n_t` sequences still running.
//! Padded steps cost nothing: their outputs are zero and the state is
//! carried unchanged, so the final state is the one after the last valid step.

use ndarray::{Array1, Array2, Array3, ArrayD, ArrayView2, ArrayView3, Axis};
use rayon::prelude::*;

use super::activation::{sigmoid, tanh};
use super::packing::Packing;
use super::{
    RecurrentParams, RecurrentWeights, Result, block, block_mut, gemm, join_sequence_and_states, matmul, rows_per_task,
    split_sequence_and_states, split_sequence_grad, view, view_mut, with_recurrent_inputs,
};
use crate::tensor::{Backward, Tensor};

/// What [`lstm_forward`] computes.
#[derive(Debug, Clone)]
pub struct LstmOutput {
    /// Hidden state at every step, `(B, T, H)`; zero at padded steps.
    pub output: Array3<f32>,
    /// Hidden state after each sequence's last valid step, `(B, H)`.
    pub h_n: Array2<f32>,
    /// Cell state after each sequence's last valid step, `(B, H)`.
    pub c_n: Array2<f32>,
}

/// What [`lstm_backward`] needs from the forward pass (all in packed rows).
#[derive(Debug, Clone)]
pub struct LstmCache {
    packing: Packing,
    /// Inputs of the valid steps, `(N, I)`.
    inputs: Array2<f32>,
    /// Activated gates `i, f, g, o`, `(N, 4H)`.
    gates: Array2<f32>,
    /// Cell states, `(N, H)`.
    cells: Array2<f32>,
    /// Hidden states, `(N, H)`.
    hidden: Array2<f32>,
    /// Initial hidden and cell states in sorted order, `(B, H)` each.
    h0: Array2<f32>,
    c0: Array2<f32>,
}

/// Gradients of every input of [`lstm_forward`].
#[derive(Debug, Clone)]
pub struct LstmGrads {
    /// Gradient of the input sequence, `(B, T, I)`; zero at padded steps.
    pub input: Array3<f32>,
    /// Gradient of `weight_ih`, `(4H, I)`.
    pub weight_ih: Array2<f32>,
    /// Gradient of `weight_hh`, `(4H, H)`.
    pub weight_hh: Array2<f32>,
    /// Gradient of `bias_ih`, `(4H,)`.
    pub bias_ih: Array1<f32>,
    /// Gradient of `bias_hh`, `(4H,)` (equal to `bias_ih`'s).
    pub bias_hh: Array1<f32>,
    /// Gradient of the initial hidden state, `(B, H)`.
    pub h0: Array2<f32>,
    /// Gradient of the initial cell state, `(B, H)`.
    pub c0: Array2<f32>,
}

/// Runs an LSTM over a batch-first sequence `x` of shape `(B, T, I)`.
///
/// `lengths[b]` (≤ T) is the number of valid steps of sequence `b`; `None`
/// means all `T`. `initial` is `(h0, c0)`, each `(B, H)`; `None` means zeros.
///
/// # Errors
/// [`Error::Shape`] if the weights, input or initial state disagree in shape;
/// [`Error::Invalid`] if `lengths` has the wrong count or exceeds `T`.
pub fn lstm_forward(
    x: ArrayView3<f32>,
    weights: &RecurrentWeights,
    lengths: Option<&[usize]>,
    initial: Option<(ArrayView2<f32>, ArrayView2<f32>)>,
) -> Result<(LstmOutput, LstmCache)> {
    let (batch, time, input_size) = x.dim();
    let h = weights.hidden_size("lstm", 4, input_size)?;
    let packing = Packing::new(batch, time, lengths)?;
    let (h0, c0) = match initial {
        None => (Array2::zeros((batch, h)), Array2::zeros((batch, h))),
        Some((h0, c0)) => {
            super::expect_shape("lstm", &[batch, h], h0.shape())?;
            super::expect_shape("lstm", &[batch, h], c0.shape())?;
            (packing.sort_rows(h0), packing.sort_rows(c0))
        }
    };

    let inputs = packing.pack(x);
    let rows = packing.rows();
    let mut gates = Array2::zeros((rows, 4 * h));
    gates.assign(&(&weights.bias_ih + &weights.bias_hh));
    gemm(inputs.view(), weights.weight_ih.t(), &mut gates.view_mut(), true, true);

    let mut cells = Array2::zeros((rows, h));
    let mut hidden = Array2::zeros((rows, h));
    for t in 0..packing.steps() {
        let step = packing.step_rows(t);
        let n = step.len();
        let (done_h, now_h) = block_mut(&mut hidden, 0..step.end).split_at_mut(step.start * h);
        let (done_c, now_c) = block_mut(&mut cells, 0..step.end).split_at_mut(step.start * h);
        let (h_prev, c_prev) = match packing.previous_rows(t) {
            None => (block(&h0, 0..n), block(&c0, 0..n)),
            Some(prev) => (&done_h[prev.start * h..prev.end * h], &done_c[prev.start * h..prev.end * h]),
        };
        // each task: its rows' recurrent product, then their cells
        let rows = rows_per_task(n);
        block_mut(&mut gates, step)
            .par_chunks_mut(rows * 4 * h)
            .zip(h_prev.par_chunks(rows * h))
            .zip(c_prev.par_chunks(rows * h))
            .zip(now_c.par_chunks_mut(rows * h))
            .zip(now_h.par_chunks_mut(rows * h))
            .for_each(|((((g, h_prev), c_prev), c), h_out)| {
                gemm(view(h_prev, h), weights.weight_hh.t(), &mut view_mut(g, 4 * h), true, false);
                let rows = g.chunks_mut(4 * h).zip(c_prev.chunks(h)).zip(c.chunks_mut(h)).zip(h_out.chunks_mut(h));
                rows.for_each(|(((g, c_prev), c), h_out)| cell_forward(g, c_prev, c, h_out));
            });
    }

    let output = LstmOutput {
        output: packing.unpack(hidden.view()),
        h_n: packing.final_state(hidden.view(), h0.view()),
        c_n: packing.final_state(cells.view(), c0.view()),
    };
    let cache = LstmCache { packing, inputs, gates, cells, hidden, h0, c0 };
    Ok((output, cache))
}

multiversion! {
    /// One LSTM cell on one sequence: activates the pre-activations in `gates`
    /// in place and writes the new cell and hidden state.
    fn cell_forward(gates: &mut [f32], c_prev: &[f32], c: &mut [f32], h_out: &mut [f32]) {
        let h = c.len();
        let (i, rest) = gates.split_at_mut(h);
        let (f, rest) = rest.split_at_mut(h);
        let (g, o) = rest.split_at_mut(h);
        // equal lengths, stated so the loop compiles without bounds checks
        let (o, c_prev, h_out) = (&mut o[..h], &c_prev[..h], &mut h_out[..h]);
        for j in 0..h {
            i[j] = sigmoid(i[j]);
            f[j] = sigmoid(f[j]);
            g[j] = tanh(g[j]);
            o[j] = sigmoid(o[j]);
            c[j] = f[j] * c_prev[j] + i[j] * g[j];
            h_out[j] = o[j] * tanh(c[j]);
        }
    }
}

/// Back-propagates through [`lstm_forward`].
///
/// `d_output` is the gradient of the full output sequence `(B, T, H)` (its
/// padded steps are ignored), `d_h_n` and `d_c_n` those of the final states
/// `(B, H)`; `None` stands for zeros.
///
/// # Errors
/// [`Error::Shape`] if a gradient's shape differs from its output's.
pub fn lstm_backward(
    cache: &LstmCache,
    weights: &RecurrentWeights,
    d_output: Option<ArrayView3<f32>>,
    d_h_n: Option<ArrayView2<f32>>,
    d_c_n: Option<ArrayView2<f32>>,
) -> Result<LstmGrads> {
    let packing = &cache.packing;
    let h = cache.h0.ncols();
    let d_out = super::packed_output_grad("lstm", packing, d_output, h)?;
    let mut dh = super::sorted_state_grad("lstm", packing, d_h_n, h)?;
    let mut dc = super::sorted_state_grad("lstm", packing, d_c_n, h)?;

    let mut d_gates = Array2::zeros(cache.gates.raw_dim());
    for t in (0..packing.steps()).rev() {
        let step = packing.step_rows(t);
        let n = step.len();
        let c_prev = match packing.previous_rows(t) {
            None => block(&cache.c0, 0..n),
            Some(prev) => block(&cache.cells, prev),
        };
        // each task: its rows' cells, then dh_{t-1} = da · W_hh for them
        let rows = rows_per_task(n);
        block_mut(&mut d_gates, step.clone())
            .par_chunks_mut(rows * 4 * h)
            .zip(block(&cache.gates, step.clone()).par_chunks(rows * 4 * h))
            .zip(block(&cache.cells, step.clone()).par_chunks(rows * h))
            .zip(c_prev.par_chunks(rows * h))
            .zip(block(&d_out, step).par_chunks(rows * h))
            .zip(block_mut(&mut dh, 0..n).par_chunks_mut(rows * h))
            .zip(block_mut(&mut dc, 0..n).par_chunks_mut(rows * h))
            .for_each(|((((((da, gates), c), c_prev), d_out), dh), dc)| {
                let rows = (da.chunks_mut(4 * h).zip(gates.chunks(4 * h)).zip(c.chunks(h)).zip(c_prev.chunks(h)))
                    .zip(d_out.chunks(h).zip(dh.chunks(h)).zip(dc.chunks_mut(h)));
                rows.for_each(|((((da, gates), c), c_prev), ((d_out, dh), dc))| {
                    cell_backward(da, gates, c, c_prev, d_out, dh, dc)
                });
                gemm(view(da, 4 * h), weights.weight_hh, &mut view_mut(dh, h), false, false);
            });
    }

    let h_prev = packing.previous_states(cache.hidden.view(), cache.h0.view());
    let bias = d_gates.sum_axis(Axis(0));
    Ok(LstmGrads {
        input: packing.unpack(matmul(d_gates.view(), weights.weight_ih).view()),
        weight_ih: matmul(d_gates.t(), cache.inputs.view()),
        weight_hh: matmul(d_gates.t(), h_prev.view()),
        bias_ih: bias.clone(),
        bias_hh: bias,
        h0: packing.unsort_rows(dh.view()),
        c0: packing.unsort_rows(dc.view()),
    })
}

multiversion! {
    /// One LSTM cell backwards on one sequence: from the step's output gradient
    /// `d_out`, the gradient `dh` flowing from the next step and the cell
    /// gradient `dc`, writes the pre-activation gradients `da` and replaces `dc`
    /// by the gradient of the previous cell state.
    fn cell_backward(da: &mut [f32], gates: &[f32], c: &[f32], c_prev: &[f32], d_out: &[f32], dh: &[f32], dc: &mut [f32]) {
        let h = c.len();
        let (gates, da) = (&gates[..4 * h], &mut da[..4 * h]);
        let (c_prev, d_out, dh, dc) = (&c_prev[..h], &d_out[..h], &dh[..h], &mut dc[..h]);
        for j in 0..h {
            let (i, f, g, o) = (gates[j], gates[h + j], gates[2 * h + j], gates[3 * h + j]);
            let tanh_c = tanh(c[j]);
            let dh_j = dh[j] + d_out[j];
            let dc_j = dc[j] + dh_j * o * (1.0 - tanh_c * tanh_c);
            da[j] = dc_j * g * i * (1.0 - i);
            da[h + j] = dc_j * c_prev[j] * f * (1.0 - f);
            da[2 * h + j] = dc_j * i * (1.0 - g * g);
            da[3 * h + j] = dh_j * tanh_c * o * (1.0 - o);
            dc[j] = dc_j * f;
        }
    }
}

/// An LSTM over `x (B, T, I)` as one autograd operation: returns the output
/// sequence `(B, T, H)` and the final states `(h_n, c_n)`, each `(B, H)`,
/// like `torch.nn.LSTM(batch_first=True)` on a packed sequence.
///
/// See [`lstm_forward`] for `lengths` and `initial`; gradients flow to `x`,
/// the four parameters and the initial states.
///
/// ```
/// use malmoi_tensor::Tensor;
/// use malmoi_tensor::kernels::{RecurrentParams, lstm};
/// use ndarray::ArrayD;
///
/// let (batch, time, input, hidden) = (2, 3, 4, 5);
/// let param = |shape: &[usize]| Tensor::parameter(ArrayD::from_elem(shape, 0.1));
/// let (w_ih, w_hh, b_ih, b_hh) = (param(&[4 * hidden, input]), param(&[4 * hidden, hidden]), param(&[4 * hidden]), param(&[4 * hidden]));
/// let params = RecurrentParams { weight_ih: &w_ih, weight_hh: &w_hh, bias_ih: &b_ih, bias_hh: &b_hh };
/// let x = Tensor::constant(ArrayD::ones(&[batch, time, input][..]));
/// let (output, (h_n, _c_n)) = lstm(&x, params, Some(&[3, 1]), None)?;
/// assert_eq!(output.shape(), vec![batch, time, hidden]);
/// assert_eq!(output.data()[[1, 2, 0]], 0.0); // padded step
/// h_n.sum().backward()?;
/// assert!(w_hh.grad().is_some());
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
///
/// # Errors
/// As [`lstm_forward`], plus [`Error::Invalid`](crate::error::Error::Invalid)
/// when a tensor has the wrong number of dimensions.
pub fn lstm(
    x: &Tensor,
    params: RecurrentParams,
    lengths: Option<&[usize]>,
    initial: Option<(&Tensor, &Tensor)>,
) -> Result<(Tensor, (Tensor, Tensor))> {
    let mut parents = vec![x.clone()];
    parents.extend(params.tensors());
    if let Some((h0, c0)) = initial {
        parents.extend([h0.clone(), c0.clone()]);
    }
    let (out, cache) = with_recurrent_inputs("lstm", &parents, |x, weights, states| {
        let initial = match states {
            [h0, c0] => Some((h0.view(), c0.view())),
            _ => None,
        };
        lstm_forward(x, &weights, lengths, initial)
    })?;
    let time = out.output.dim().1;
    let joined = join_sequence_and_states(&out.output, &[&out.h_n, &out.c_n]);
    let node = Tensor::from_op(joined, parents, LstmBackward { cache, time });
    let (output, states) = split_sequence_and_states(&node, time, 2)?;
    let [h_n, c_n]: [Tensor; 2] = states.try_into().expect("two states");
    Ok((output, (h_n, c_n)))
}

/// Backward of [`lstm`]: the gradient of the joined `(B, T + 2, H)` node.
struct LstmBackward {
    cache: LstmCache,
    time: usize,
}

impl Backward for LstmBackward {
    fn name(&self) -> &'static str {
        "lstm"
    }

    fn backward(&self, grad: &ArrayD<f32>, parents: &[Tensor]) -> Vec<Option<ArrayD<f32>>> {
        let (d_output, d_states) = split_sequence_grad(grad, self.time);
        let grads = with_recurrent_inputs("lstm", parents, |_, weights, _| {
            lstm_backward(&self.cache, &weights, Some(d_output), Some(d_states[0]), Some(d_states[1]))
        })
        .expect("shapes were checked by the forward pass");
        let mut out = vec![
            Some(grads.input.into_dyn()),
            Some(grads.weight_ih.into_dyn()),
            Some(grads.weight_hh.into_dyn()),
            Some(grads.bias_ih.into_dyn()),
            Some(grads.bias_hh.into_dyn()),
        ];
        if parents.len() == 7 {
            out.extend([Some(grads.h0.into_dyn()), Some(grads.c0.into_dyn())]);
        }
        out
    }
}
