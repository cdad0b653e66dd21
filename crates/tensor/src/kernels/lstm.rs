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

use ndarray::{Array2, ArrayView2, ArrayView3};
use rayon::prelude::*;

use super::activation::{sigmoid, tanh};
use super::packing::{block, block_mut};
use super::recurrent::{Sequence, SequenceGrads, SequenceOutput, record, rows_per_task};
use super::{RecurrentParams, RecurrentWeights, Result, gemm, view, view_mut};
use crate::tensor::Tensor;

/// What [`lstm_forward`] computes: `c_n` is the cell state after each sequence's last valid
/// step, `(B, H)`.
pub type LstmOutput = SequenceOutput<Array2<f32>>;

/// What [`lstm_backward`] needs from the forward pass (all in packed rows).
#[derive(Debug, Clone)]
pub struct LstmCache {
    /// Inputs, activated gates `i, f, g, o` `(N, 4H)`, hidden states and `h0`.
    sequence: Sequence,
    /// Cell states, `(N, H)`.
    cells: Array2<f32>,
    /// Initial cell state in sorted order, `(B, H)`.
    c0: Array2<f32>,
}

/// Gradients of every input of [`lstm_forward`]: `G = 4` gates, and `c0` holds the gradient
/// of the initial cell state. The two bias gradients are equal.
pub type LstmGrads = SequenceGrads<Array2<f32>>;

/// Runs an LSTM over a batch-first sequence `x` of shape `(B, T, I)`.
///
/// `lengths[b]` (≤ T) is the number of valid steps of sequence `b`; `None`
/// means all `T`. `initial` is `(h0, c0)`, each `(B, H)`; `None` means zeros.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) if the weights, input or initial state disagree in shape;
/// [`Error::Invalid`](crate::Error::Invalid) if `lengths` has the wrong count or exceeds `T`.
pub fn lstm_forward(
    x: ArrayView3<f32>,
    weights: &RecurrentWeights,
    lengths: Option<&[usize]>,
    initial: Option<(ArrayView2<f32>, ArrayView2<f32>)>,
) -> Result<(LstmOutput, LstmCache)> {
    let (h0, c0) = initial.unzip();
    let bias = &weights.bias_ih + &weights.bias_hh;
    let mut sequence = Sequence::start("lstm", 4, x, weights, lengths, bias.view(), h0)?;
    let (packing, h) = (&sequence.packing, sequence.hidden_size());
    let c0 = sequence.sorted_state("lstm", c0)?;
    let mut cells = Array2::zeros(sequence.hidden.raw_dim());
    for t in 0..packing.steps() {
        let step = packing.step_rows(t);
        let (h_prev, now_h) = packing.step_states(t, &mut sequence.hidden, &sequence.h0);
        let (c_prev, now_c) = packing.step_states(t, &mut cells, &c0);
        // each task: its rows' recurrent product, then their cells
        let rows = rows_per_task(step.len());
        block_mut(&mut sequence.gates, step)
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

    let output = sequence.outputs(sequence.packing.final_state(cells.view(), c0.view()));
    Ok((output, LstmCache { sequence, cells, c0 }))
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
/// [`Error::Shape`](crate::Error::Shape) if a gradient's shape differs from its output's.
pub fn lstm_backward(
    cache: &LstmCache,
    weights: &RecurrentWeights,
    d_output: Option<ArrayView3<f32>>,
    d_h_n: Option<ArrayView2<f32>>,
    d_c_n: Option<ArrayView2<f32>>,
) -> Result<LstmGrads> {
    let LstmCache { sequence, cells, c0 } = cache;
    let (packing, h) = (&sequence.packing, sequence.hidden_size());
    let d_out = sequence.packed_output_grad("lstm", d_output)?;
    let (mut dh, mut dc) = (sequence.sorted_state("lstm", d_h_n)?, sequence.sorted_state("lstm", d_c_n)?);
    let mut d_gates = Array2::zeros(sequence.gates.raw_dim());
    for t in (0..packing.steps()).rev() {
        let step = packing.step_rows(t);
        let (n, c_prev) = (step.len(), packing.states_before(t, cells, c0));
        // each task: its rows' cells, then dh_{t-1} = da · W_hh for them
        let rows = rows_per_task(n);
        block_mut(&mut d_gates, step.clone())
            .par_chunks_mut(rows * 4 * h)
            .zip(block(&sequence.gates, step.clone()).par_chunks(rows * 4 * h))
            .zip(block(cells, step.clone()).par_chunks(rows * h))
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
    Ok(LstmGrads::new(sequence, weights, &d_gates, &d_gates, &dh, packing.unsort_rows(dc.view())))
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
    let initial = initial.map_or_else(Vec::new, |(h0, c0)| vec![h0.clone(), c0.clone()]);
    let (output, states) = record(
        "lstm",
        x,
        params,
        initial,
        |x, weights, states| {
            let initial = match states {
                [h0, c0] => Some((h0.view(), c0.view())),
                _ => None,
            };
            let (out, cache) = lstm_forward(x, &weights, lengths, initial)?;
            Ok((out.output, vec![out.h_n, out.c_n], cache))
        },
        |cache, weights, d_output, d_states| {
            let grads = lstm_backward(cache, &weights, Some(d_output), Some(d_states[0]), Some(d_states[1]))?;
            Ok(grads.into_parent_order(Some))
        },
    )?;
    let [h_n, c_n]: [Tensor; 2] = states.try_into().expect("two states");
    Ok((output, (h_n, c_n)))
}
