//! Whole-sequence GRU with PyTorch's formulation and length masking.
//!
//! For every valid step (gate order `r, z, n`, as in `torch.nn.GRU`):
//!
//! ```text
//! r = σ(W_ir x + b_ir + W_hr h + b_hr)
//! z = σ(W_iz x + b_iz + W_hz h + b_hz)
//! n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//! h' = (1 − z) ⊙ n + z ⊙ h
//! ```
//!
//! The reset gate multiplies `W_hn h + b_hn` (PyTorch and cuDNN), not `h`
//! before the product (the original paper, Keras' `reset_after=False`).
//! Layout and masking are those of the [LSTM kernel](super::lstm_forward).

use ndarray::{Array1, Array2, Array3, ArrayD, ArrayView2, ArrayView3, Axis};
use rayon::prelude::*;

use super::activation::{sigmoid, tanh};
use super::packing::Packing;
use super::{
    RecurrentParams, RecurrentWeights, Result, block, block_mut, expect_shape, gemm, join_sequence_and_states, matmul,
    packed_output_grad, rows_per_task, sorted_state_grad, split_sequence_and_states, split_sequence_grad, view,
    view_mut, with_recurrent_inputs,
};
use crate::tensor::{Backward, Tensor};

/// What [`gru_forward`] computes.
#[derive(Debug, Clone)]
pub struct GruOutput {
    /// Hidden state at every step, `(B, T, H)`; zero at padded steps.
    pub output: Array3<f32>,
    /// Hidden state after each sequence's last valid step, `(B, H)`.
    pub h_n: Array2<f32>,
}

/// What [`gru_backward`] needs from the forward pass (all in packed rows).
#[derive(Debug, Clone)]
pub struct GruCache {
    packing: Packing,
    /// Inputs of the valid steps, `(N, I)`.
    inputs: Array2<f32>,
    /// Activated gates `r, z, n`, `(N, 3H)`.
    gates: Array2<f32>,
    /// `W_hn h + b_hn` of every step, `(N, H)`.
    hidden_n: Array2<f32>,
    /// Hidden states, `(N, H)`.
    hidden: Array2<f32>,
    /// Initial hidden state in sorted order, `(B, H)`.
    h0: Array2<f32>,
}

/// Gradients of every input of [`gru_forward`].
#[derive(Debug, Clone)]
pub struct GruGrads {
    /// Gradient of the input sequence, `(B, T, I)`; zero at padded steps.
    pub input: Array3<f32>,
    /// Gradient of `weight_ih`, `(3H, I)`.
    pub weight_ih: Array2<f32>,
    /// Gradient of `weight_hh`, `(3H, H)`.
    pub weight_hh: Array2<f32>,
    /// Gradient of `bias_ih`, `(3H,)`.
    pub bias_ih: Array1<f32>,
    /// Gradient of `bias_hh`, `(3H,)`.
    pub bias_hh: Array1<f32>,
    /// Gradient of the initial hidden state, `(B, H)`.
    pub h0: Array2<f32>,
}

/// Runs a GRU over a batch-first sequence `x` of shape `(B, T, I)`.
///
/// `lengths[b]` (≤ T) is the number of valid steps of sequence `b`; `None`
/// means all `T`. `h0` is the initial state `(B, H)`; `None` means zeros.
///
/// # Errors
/// [`Error::Shape`](crate::error::Error::Shape) if the weights, input or
/// initial state disagree in shape;
/// [`Error::Invalid`](crate::error::Error::Invalid) if `lengths` has the
/// wrong count or exceeds `T`.
pub fn gru_forward(
    x: ArrayView3<f32>,
    weights: &RecurrentWeights,
    lengths: Option<&[usize]>,
    h0: Option<ArrayView2<f32>>,
) -> Result<(GruOutput, GruCache)> {
    let (batch, time, input_size) = x.dim();
    let h = weights.hidden_size("gru", 3, input_size)?;
    let packing = Packing::new(batch, time, lengths)?;
    let h0 = match h0 {
        None => Array2::zeros((batch, h)),
        Some(h0) => {
            expect_shape("gru", &[batch, h], h0.shape())?;
            packing.sort_rows(h0)
        }
    };

    let inputs = packing.pack(x);
    let rows = packing.rows();
    let mut gates = Array2::zeros((rows, 3 * h));
    gates.assign(&weights.bias_ih);
    gemm(inputs.view(), weights.weight_ih.t(), &mut gates.view_mut(), true, true);

    let mut hidden_n = Array2::zeros((rows, h));
    let mut hidden = Array2::zeros((rows, h));
    let mut hidden_gates = Array2::zeros((batch, 3 * h));
    let bias_hh = weights.bias_hh.to_vec();
    for t in 0..packing.steps() {
        let step = packing.step_rows(t);
        let n = step.len();
        let (done, now) = block_mut(&mut hidden, 0..step.end).split_at_mut(step.start * h);
        let h_prev = match packing.previous_rows(t) {
            None => block(&h0, 0..n),
            Some(prev) => &done[prev.start * h..prev.end * h],
        };
        // each task: W_hh h + b_hh for its rows, then their cells
        let rows = rows_per_task(n);
        block_mut(&mut gates, step.clone())
            .par_chunks_mut(rows * 3 * h)
            .zip(block_mut(&mut hidden_gates, 0..n).par_chunks_mut(rows * 3 * h))
            .zip(block_mut(&mut hidden_n, step).par_chunks_mut(rows * h))
            .zip(h_prev.par_chunks(rows * h))
            .zip(now.par_chunks_mut(rows * h))
            .for_each(|((((g, hg), hn), h_prev), h_out)| {
                hg.chunks_mut(3 * h).for_each(|row| row.copy_from_slice(&bias_hh));
                gemm(view(h_prev, h), weights.weight_hh.t(), &mut view_mut(hg, 3 * h), true, false);
                let rows = g
                    .chunks_mut(3 * h)
                    .zip(hg.chunks(3 * h))
                    .zip(hn.chunks_mut(h))
                    .zip(h_prev.chunks(h))
                    .zip(h_out.chunks_mut(h));
                rows.for_each(|((((g, hg), hn), h_prev), h_out)| cell_forward(g, hg, hn, h_prev, h_out));
            });
    }

    let output =
        GruOutput { output: packing.unpack(hidden.view()), h_n: packing.final_state(hidden.view(), h0.view()) };
    Ok((output, GruCache { packing, inputs, gates, hidden_n, hidden, h0 }))
}

multiversion! {
    /// One GRU cell on one sequence: `gates` holds the input projections and
    /// becomes the activated `r, z, n`; `hidden_gates` holds `W_hh h + b_hh`.
    fn cell_forward(gates: &mut [f32], hidden_gates: &[f32], hidden_n: &mut [f32], h_prev: &[f32], h_out: &mut [f32]) {
        let h = h_out.len();
        let (r, rest) = gates.split_at_mut(h);
        let (z, n) = rest.split_at_mut(h);
        // equal lengths, stated so the loop compiles without bounds checks
        let (n, hidden_gates, hidden_n, h_prev) = (&mut n[..h], &hidden_gates[..3 * h], &mut hidden_n[..h], &h_prev[..h]);
        for j in 0..h {
            r[j] = sigmoid(r[j] + hidden_gates[j]);
            z[j] = sigmoid(z[j] + hidden_gates[h + j]);
            hidden_n[j] = hidden_gates[2 * h + j];
            n[j] = tanh(n[j] + r[j] * hidden_n[j]);
            h_out[j] = (1.0 - z[j]) * n[j] + z[j] * h_prev[j];
        }
    }
}

/// Back-propagates through [`gru_forward`].
///
/// `d_output` is the gradient of the full output sequence `(B, T, H)` (its
/// padded steps are ignored) and `d_h_n` that of the final state `(B, H)`;
/// `None` stands for zeros.
///
/// # Errors
/// [`Error::Shape`](crate::error::Error::Shape) if a gradient's shape differs
/// from its output's.
pub fn gru_backward(
    cache: &GruCache,
    weights: &RecurrentWeights,
    d_output: Option<ArrayView3<f32>>,
    d_h_n: Option<ArrayView2<f32>>,
) -> Result<GruGrads> {
    let packing = &cache.packing;
    let h = cache.h0.ncols();
    let d_out = packed_output_grad("gru", packing, d_output, h)?;
    let mut dh = sorted_state_grad("gru", packing, d_h_n, h)?;

    // gradients of the input-side and hidden-side pre-activations; they
    // differ only in the n block, where the hidden side is scaled by r
    let mut d_input_gates = Array2::zeros(cache.gates.raw_dim());
    let mut d_hidden_gates = Array2::zeros(cache.gates.raw_dim());
    for t in (0..packing.steps()).rev() {
        let step = packing.step_rows(t);
        let n = step.len();
        let h_prev = match packing.previous_rows(t) {
            None => block(&cache.h0, 0..n),
            Some(prev) => block(&cache.hidden, prev),
        };
        // each task: its rows' cells, then dh_{t-1} = z ⊙ dh (left in dh by
        // the cells) + d_hidden_gates · W_hh for them
        let rows = rows_per_task(n);
        block_mut(&mut d_input_gates, step.clone())
            .par_chunks_mut(rows * 3 * h)
            .zip(block_mut(&mut d_hidden_gates, step.clone()).par_chunks_mut(rows * 3 * h))
            .zip(block(&cache.gates, step.clone()).par_chunks(rows * 3 * h))
            .zip(block(&cache.hidden_n, step.clone()).par_chunks(rows * h))
            .zip(h_prev.par_chunks(rows * h))
            .zip(block(&d_out, step).par_chunks(rows * h))
            .zip(block_mut(&mut dh, 0..n).par_chunks_mut(rows * h))
            .for_each(|((((((dx, dhg), gates), hn), h_prev), d_out), dh)| {
                let rows = (dx.chunks_mut(3 * h).zip(dhg.chunks_mut(3 * h)).zip(gates.chunks(3 * h)))
                    .zip(hn.chunks(h).zip(h_prev.chunks(h)).zip(d_out.chunks(h)).zip(dh.chunks_mut(h)));
                rows.for_each(|(((dx, dhg), gates), (((hn, h_prev), d_out), dh))| {
                    cell_backward(dx, dhg, gates, hn, h_prev, d_out, dh)
                });
                gemm(view(dhg, 3 * h), weights.weight_hh, &mut view_mut(dh, h), true, false);
            });
    }

    let h_prev = packing.previous_states(cache.hidden.view(), cache.h0.view());
    Ok(GruGrads {
        input: packing.unpack(matmul(d_input_gates.view(), weights.weight_ih).view()),
        weight_ih: matmul(d_input_gates.t(), cache.inputs.view()),
        weight_hh: matmul(d_hidden_gates.t(), h_prev.view()),
        bias_ih: d_input_gates.sum_axis(Axis(0)),
        bias_hh: d_hidden_gates.sum_axis(Axis(0)),
        h0: packing.unsort_rows(dh.view()),
    })
}

multiversion! {
    /// One GRU cell backwards on one sequence: writes the input-side and
    /// hidden-side pre-activation gradients and replaces `dh` (the gradient
    /// arriving from the next step) by the part of the previous state's gradient
    /// that bypasses `W_hh`.
    fn cell_backward(
        d_input_gates: &mut [f32],
        d_hidden_gates: &mut [f32],
        gates: &[f32],
        hidden_n: &[f32],
        h_prev: &[f32],
        d_out: &[f32],
        dh: &mut [f32],
    ) {
        let h = dh.len();
        let (d_input_gates, d_hidden_gates, gates) = (&mut d_input_gates[..3 * h], &mut d_hidden_gates[..3 * h], &gates[..3 * h]);
        let (hidden_n, h_prev, d_out) = (&hidden_n[..h], &h_prev[..h], &d_out[..h]);
        for j in 0..h {
            let (r, z, n) = (gates[j], gates[h + j], gates[2 * h + j]);
            let dh_j = dh[j] + d_out[j];
            let da_n = dh_j * (1.0 - z) * (1.0 - n * n);
            let da_z = dh_j * (h_prev[j] - n) * z * (1.0 - z);
            let da_r = da_n * hidden_n[j] * r * (1.0 - r);
            d_input_gates[j] = da_r;
            d_input_gates[h + j] = da_z;
            d_input_gates[2 * h + j] = da_n;
            d_hidden_gates[j] = da_r;
            d_hidden_gates[h + j] = da_z;
            d_hidden_gates[2 * h + j] = da_n * r;
            dh[j] = dh_j * z;
        }
    }
}

/// A GRU over `x (B, T, I)` as one autograd operation: returns the output
/// sequence `(B, T, H)` and the final state `h_n (B, H)`, like
/// `torch.nn.GRU(batch_first=True)` on a packed sequence.
///
/// See [`gru_forward`] for `lengths` and `h0`; gradients flow to `x`, the
/// four parameters and `h0`.
///
/// ```
/// use malmoi_tensor::Tensor;
/// use malmoi_tensor::kernels::{RecurrentParams, gru};
/// use ndarray::ArrayD;
///
/// let (input, hidden) = (3, 4);
/// let param = |shape: &[usize]| Tensor::parameter(ArrayD::from_elem(shape, 0.2));
/// let (w_ih, w_hh, b_ih, b_hh) = (param(&[3 * hidden, input]), param(&[3 * hidden, hidden]), param(&[3 * hidden]), param(&[3 * hidden]));
/// let params = RecurrentParams { weight_ih: &w_ih, weight_hh: &w_hh, bias_ih: &b_ih, bias_hh: &b_hh };
/// let x = Tensor::constant(ArrayD::ones(&[2, 5, input][..]));
/// let (output, h_n) = gru(&x, params, Some(&[5, 2]), None)?;
/// // the second sequence stops after 2 steps: its final state is its output at step 1
/// assert_eq!(h_n.data()[[1, 0]], output.data()[[1, 1, 0]]);
/// h_n.sum().backward()?;
/// assert!(w_ih.grad().is_some());
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
///
/// # Errors
/// As [`gru_forward`], plus [`Error::Invalid`](crate::error::Error::Invalid)
/// when a tensor has the wrong number of dimensions.
pub fn gru(
    x: &Tensor,
    params: RecurrentParams,
    lengths: Option<&[usize]>,
    h0: Option<&Tensor>,
) -> Result<(Tensor, Tensor)> {
    let mut parents = vec![x.clone()];
    parents.extend(params.tensors());
    parents.extend(h0.cloned());
    let (out, cache) = with_recurrent_inputs("gru", &parents, |x, weights, states| {
        gru_forward(x, &weights, lengths, states.first().map(|h0| h0.view()))
    })?;
    let time = out.output.dim().1;
    let joined = join_sequence_and_states(&out.output, &[&out.h_n]);
    let node = Tensor::from_op(joined, parents, GruBackward { cache, time });
    let (output, mut states) = split_sequence_and_states(&node, time, 1)?;
    Ok((output, states.remove(0)))
}

/// Backward of [`gru`]: the gradient of the joined `(B, T + 1, H)` node.
struct GruBackward {
    cache: GruCache,
    time: usize,
}

impl Backward for GruBackward {
    fn name(&self) -> &'static str {
        "gru"
    }

    fn backward(&self, grad: &ArrayD<f32>, parents: &[Tensor]) -> Vec<Option<ArrayD<f32>>> {
        let (d_output, d_states) = split_sequence_grad(grad, self.time);
        let grads = with_recurrent_inputs("gru", parents, |_, weights, _| {
            gru_backward(&self.cache, &weights, Some(d_output), Some(d_states[0]))
        })
        .expect("shapes were checked by the forward pass");
        let mut out = vec![
            Some(grads.input.into_dyn()),
            Some(grads.weight_ih.into_dyn()),
            Some(grads.weight_hh.into_dyn()),
            Some(grads.bias_ih.into_dyn()),
            Some(grads.bias_hh.into_dyn()),
        ];
        if parents.len() == 6 {
            out.push(Some(grads.h0.into_dyn()));
        }
        out
    }
}
