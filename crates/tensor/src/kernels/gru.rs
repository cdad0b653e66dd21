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

use ndarray::{Array2, ArrayView2, ArrayView3};
use rayon::prelude::*;

use super::activation::{sigmoid, tanh};
use super::packing::{block, block_mut};
use super::recurrent::{Sequence, SequenceGrads, SequenceOutput, record, rows_per_task};
use super::{RecurrentParams, RecurrentWeights, Result, gemm, view, view_mut};
use crate::tensor::Tensor;

/// What [`gru_forward`] computes; there is no cell state (`c_n` is `()`).
pub type GruOutput = SequenceOutput<()>;

/// What [`gru_backward`] needs from the forward pass (all in packed rows).
#[derive(Debug, Clone)]
pub struct GruCache {
    /// Inputs, activated gates `r, z, n` `(N, 3H)`, hidden states and `h0`.
    sequence: Sequence,
    /// `W_hn h + b_hn` of every step, `(N, H)`.
    hidden_n: Array2<f32>,
}

/// Gradients of every input of [`gru_forward`]: `G = 3` gates, and no cell state (`c0` is `()`).
pub type GruGrads = SequenceGrads<()>;

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
    let mut sequence = Sequence::start("gru", 3, x, weights, lengths, weights.bias_ih, h0)?;
    let (packing, h) = (&sequence.packing, sequence.hidden_size());
    let mut hidden_n = Array2::zeros(sequence.hidden.raw_dim());
    let mut hidden_gates = Array2::zeros((packing.batch(), 3 * h));
    let bias_hh = weights.bias_hh.to_vec();
    for t in 0..packing.steps() {
        let step = packing.step_rows(t);
        let n = step.len();
        let (h_prev, now) = packing.step_states(t, &mut sequence.hidden, &sequence.h0);
        // each task: W_hh h + b_hh for its rows, then their cells
        let rows = rows_per_task(n);
        block_mut(&mut sequence.gates, step.clone())
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

    Ok((sequence.outputs(()), GruCache { sequence, hidden_n }))
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
    let GruCache { sequence, hidden_n } = cache;
    let (packing, h) = (&sequence.packing, sequence.hidden_size());
    let d_out = sequence.packed_output_grad("gru", d_output)?;
    let mut dh = sequence.sorted_state("gru", d_h_n)?;

    // gradients of the input-side and hidden-side pre-activations; they
    // differ only in the n block, where the hidden side is scaled by r
    let mut d_input_gates = Array2::zeros(sequence.gates.raw_dim());
    let mut d_hidden_gates = Array2::zeros(sequence.gates.raw_dim());
    for t in (0..packing.steps()).rev() {
        let step = packing.step_rows(t);
        let (n, h_prev) = (step.len(), packing.states_before(t, &sequence.hidden, &sequence.h0));
        // each task: its rows' cells, then dh_{t-1} = z ⊙ dh (left in dh by
        // the cells) + d_hidden_gates · W_hh for them
        let rows = rows_per_task(n);
        block_mut(&mut d_input_gates, step.clone())
            .par_chunks_mut(rows * 3 * h)
            .zip(block_mut(&mut d_hidden_gates, step.clone()).par_chunks_mut(rows * 3 * h))
            .zip(block(&sequence.gates, step.clone()).par_chunks(rows * 3 * h))
            .zip(block(hidden_n, step.clone()).par_chunks(rows * h))
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
    Ok(GruGrads::new(sequence, weights, &d_input_gates, &d_hidden_gates, &dh, ()))
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
    let (output, mut states) = record(
        "gru",
        x,
        params,
        h0.into_iter().cloned().collect(),
        |x, weights, states| {
            let (out, cache) = gru_forward(x, &weights, lengths, states.first().map(|h0| h0.view()))?;
            Ok((out.output, vec![out.h_n], cache))
        },
        |cache, weights, d_output, d_states| {
            let grads = gru_backward(cache, &weights, Some(d_output), Some(d_states[0]))?;
            Ok(grads.into_parent_order(|()| None))
        },
    )?;
    Ok((output, states.remove(0)))
}
