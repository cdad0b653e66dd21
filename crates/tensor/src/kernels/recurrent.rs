//! What the LSTM and GRU kernels share: their parameters and gradients, the packed start of a
//! forward pass, the walk over packed steps, and recording a whole sequence as one autograd node.

use ndarray::{Array1, Array2, Array3, ArrayD, ArrayView, ArrayView1, ArrayView2, ArrayView3, Axis, Dimension, s};

use super::packing::Packing;
use super::{Result, expect_shape, fixed, gemm, invalid, matmul};
use crate::tensor::{Tensor, backward_fn};

/// The four parameters of a recurrent layer, in PyTorch's layout.
///
/// For a layer with `G` gates (4 for an LSTM, 3 for a GRU), input size `I`
/// and hidden size `H`: `weight_ih` is `(G·H, I)`, `weight_hh` is `(G·H, H)`,
/// and both biases are `(G·H,)`.
#[derive(Debug, Clone, Copy)]
pub struct RecurrentWeights<'a> {
    /// Input-to-hidden weights, `(G·H, I)`.
    pub weight_ih: ArrayView2<'a, f32>,
    /// Hidden-to-hidden weights, `(G·H, H)`.
    pub weight_hh: ArrayView2<'a, f32>,
    /// Input-to-hidden bias, `(G·H,)`.
    pub bias_ih: ArrayView1<'a, f32>,
    /// Hidden-to-hidden bias, `(G·H,)`.
    pub bias_hh: ArrayView1<'a, f32>,
}

/// The four parameter tensors of a recurrent layer, in PyTorch's layout
/// (shapes as in [`RecurrentWeights`]).
#[derive(Debug, Clone, Copy)]
pub struct RecurrentParams<'a> {
    /// Input-to-hidden weights, `(G·H, I)`.
    pub weight_ih: &'a Tensor,
    /// Hidden-to-hidden weights, `(G·H, H)`.
    pub weight_hh: &'a Tensor,
    /// Input-to-hidden bias, `(G·H,)`.
    pub bias_ih: &'a Tensor,
    /// Hidden-to-hidden bias, `(G·H,)`.
    pub bias_hh: &'a Tensor,
}

impl RecurrentParams<'_> {
    /// The four tensors in parent order.
    fn tensors(&self) -> [Tensor; 4] {
        [self.weight_ih.clone(), self.weight_hh.clone(), self.bias_ih.clone(), self.bias_hh.clone()]
    }
}

impl RecurrentWeights<'_> {
    /// Hidden size `H`, after checking that the four shapes agree for `gates`
    /// gates and input size `input_size`.
    fn hidden_size(&self, op: &'static str, gates: usize, input_size: usize) -> Result<usize> {
        let hidden = self.weight_hh.ncols();
        if hidden == 0 {
            return Err(invalid(op, "hidden size 0".to_string()));
        }
        let rows = gates * hidden;
        expect_shape(op, &[rows, hidden], self.weight_hh.shape())?;
        expect_shape(op, &[rows, input_size], self.weight_ih.shape())?;
        expect_shape(op, &[rows], self.bias_ih.shape())?;
        expect_shape(op, &[rows], self.bias_hh.shape())?;
        Ok(hidden)
    }
}

/// What a recurrent kernel computes: the LSTM's ([`LstmOutput`](super::LstmOutput)) carry
/// the final cell state in `c_n`, the GRU's ([`GruOutput`](super::GruOutput)) have none there.
#[derive(Debug, Clone)]
pub struct SequenceOutput<C> {
    /// Hidden state at every step, `(B, T, H)`; zero at padded steps.
    pub output: Array3<f32>,
    /// Hidden state after each sequence's last valid step, `(B, H)`.
    pub h_n: Array2<f32>,
    /// Cell state after each sequence's last valid step, `(B, H)`, for an LSTM; `()` for a GRU.
    pub c_n: C,
}

/// Gradients of every input of a recurrent kernel with `G` gates: the LSTM's
/// ([`LstmGrads`](super::LstmGrads)) carry the initial cell state's in `c0`, the GRU's
/// ([`GruGrads`](super::GruGrads)) have none there.
#[derive(Debug, Clone)]
pub struct SequenceGrads<C> {
    /// Gradient of the input sequence, `(B, T, I)`; zero at padded steps.
    pub input: Array3<f32>,
    /// Gradient of `weight_ih`, `(G·H, I)`.
    pub weight_ih: Array2<f32>,
    /// Gradient of `weight_hh`, `(G·H, H)`.
    pub weight_hh: Array2<f32>,
    /// Gradient of `bias_ih`, `(G·H,)`.
    pub bias_ih: Array1<f32>,
    /// Gradient of `bias_hh`, `(G·H,)`.
    pub bias_hh: Array1<f32>,
    /// Gradient of the initial hidden state, `(B, H)`.
    pub h0: Array2<f32>,
    /// Gradient of the initial cell state, `(B, H)`, for an LSTM; `()` for a GRU.
    pub c0: C,
}

impl<C> SequenceGrads<C> {
    /// The gradients of the input and the parameters, from the gradients of the input-side
    /// and hidden-side pre-activations `(N, G·H)` (the same array for an LSTM), and those of
    /// the initial states: `dh` in sorted order and the cell's `c0`.
    pub(super) fn new(
        sequence: &Sequence,
        weights: &RecurrentWeights,
        d_input_gates: &Array2<f32>,
        d_hidden_gates: &Array2<f32>,
        dh: &Array2<f32>,
        c0: C,
    ) -> Self {
        let packing = &sequence.packing;
        let h_prev = packing.previous_states(sequence.hidden.view(), sequence.h0.view());
        SequenceGrads {
            input: packing.unpack(matmul(d_input_gates.view(), weights.weight_ih).view()),
            weight_ih: matmul(d_input_gates.t(), sequence.inputs.view()),
            weight_hh: matmul(d_hidden_gates.t(), h_prev.view()),
            bias_ih: d_input_gates.sum_axis(Axis(0)),
            bias_hh: d_hidden_gates.sum_axis(Axis(0)),
            h0: packing.unsort_rows(dh.view()),
            c0,
        }
    }

    /// The gradients in parent order — input, the four parameters, `h0` — followed by the
    /// cell's, if `cell` gives one.
    pub(super) fn into_parent_order(self, cell: impl FnOnce(C) -> Option<Array2<f32>>) -> Vec<ArrayD<f32>> {
        let params = [self.weight_ih, self.weight_hh].into_iter().map(Array2::into_dyn);
        let biases = [self.bias_ih, self.bias_hh].into_iter().map(Array1::into_dyn);
        let states = [Some(self.h0), cell(self.c0)].into_iter().flatten().map(Array2::into_dyn);
        std::iter::once(self.input.into_dyn()).chain(params).chain(biases).chain(states).collect()
    }
}

/// What both kernels keep from the forward pass, in packed rows.
#[derive(Debug, Clone)]
pub(super) struct Sequence {
    pub(super) packing: Packing,
    /// Inputs of the valid steps, `(N, I)`.
    pub(super) inputs: Array2<f32>,
    /// The gates, `(N, G·H)`: the input projections, activated by the step loop.
    pub(super) gates: Array2<f32>,
    /// Hidden states, `(N, H)`, written by the step loop.
    pub(super) hidden: Array2<f32>,
    /// Initial hidden state in sorted order, `(B, H)`.
    pub(super) h0: Array2<f32>,
}

impl Sequence {
    /// Starts a forward pass of `op`, with `gates` gate blocks, over `x (B, T, I)`: checks the
    /// shapes, packs the valid steps and projects all of them at once (`inputs · W_ihᵀ + bias`),
    /// and sorts the initial hidden state `h0` (zeros when `None`).
    pub(super) fn start(
        op: &'static str,
        gates: usize,
        x: ArrayView3<f32>,
        weights: &RecurrentWeights,
        lengths: Option<&[usize]>,
        bias: ArrayView1<f32>,
        h0: Option<ArrayView2<f32>>,
    ) -> Result<Self> {
        let (batch, time, input_size) = x.dim();
        let h = weights.hidden_size(op, gates, input_size)?;
        let packing = Packing::new(batch, time, lengths)?;
        let h0 = arranged_or_zeros(op, h0, &[batch, h], (batch, h), |h0| packing.sort_rows(h0))?;
        let inputs = packing.pack(x);
        let mut projected = Array2::zeros((packing.rows(), gates * h));
        projected.assign(&bias);
        gemm(inputs.view(), weights.weight_ih.t(), &mut projected.view_mut(), true, true);
        let hidden = Array2::zeros((packing.rows(), h));
        Ok(Sequence { packing, inputs, gates: projected, hidden, h0 })
    }

    /// Hidden size `H`.
    pub(super) fn hidden_size(&self) -> usize {
        self.h0.ncols()
    }

    /// A state `(B, H)` — an initial cell state, or the gradient of a final state — in sorted
    /// order (zeros when absent).
    pub(super) fn sorted_state(&self, op: &'static str, state: Option<ArrayView2<f32>>) -> Result<Array2<f32>> {
        let (batch, h) = (self.packing.batch(), self.hidden_size());
        arranged_or_zeros(op, state, &[batch, h], (batch, h), |s| self.packing.sort_rows(s))
    }

    /// The gradient of the output sequence `(B, T, H)` in packed rows (zeros when absent).
    pub(super) fn packed_output_grad(
        &self,
        op: &'static str,
        d_output: Option<ArrayView3<f32>>,
    ) -> Result<Array2<f32>> {
        let (packing, h) = (&self.packing, self.hidden_size());
        arranged_or_zeros(op, d_output, &[packing.batch(), packing.time(), h], (packing.rows(), h), |d| packing.pack(d))
    }

    /// The hidden state at every step and after each sequence's last valid step, with the
    /// final cell state `c_n`.
    pub(super) fn outputs<C>(&self, c_n: C) -> SequenceOutput<C> {
        let (packing, hidden) = (&self.packing, self.hidden.view());
        SequenceOutput { output: packing.unpack(hidden), h_n: packing.final_state(hidden, self.h0.view()), c_n }
    }
}

/// How many of a step's `n` sequences one parallel task takes: the step is
/// split evenly over the rayon threads, but never into products of fewer
/// than 16 rows, whose scheduling would cost more than they save.
pub(super) fn rows_per_task(n: usize) -> usize {
    n.div_ceil(rayon::current_num_threads()).max(16)
}

/// `value` after checking that its shape is `expected`, rearranged by `arrange`; zeros of
/// shape `zeros` when absent.
fn arranged_or_zeros<D: Dimension>(
    op: &'static str,
    value: Option<ArrayView<f32, D>>,
    expected: &[usize],
    zeros: (usize, usize),
    arrange: impl FnOnce(ArrayView<f32, D>) -> Array2<f32>,
) -> Result<Array2<f32>> {
    match value {
        None => Ok(Array2::zeros(zeros)),
        Some(value) => {
            expect_shape(op, expected, value.shape())?;
            Ok(arrange(value))
        }
    }
}

/// Records a recurrent kernel `op` over `x`, `params` and the `initial` states as one graph
/// node — the output sequence `(B, T, H)` followed along time by the final states `(B, H)` —
/// and splits that node again into the output sequence and the final states.
///
/// `forward` runs the kernel on the values of `[x, params…, initial…]` and returns the output
/// sequence, the final states and its cache; `backward` turns the cache and the gradients of
/// the output sequence and the final states into the gradients of those parents, in order
/// (it may give more initial-state gradients than there are initial states).
pub(super) fn record<C, F, B>(
    op: &'static str,
    x: &Tensor,
    params: RecurrentParams,
    initial: Vec<Tensor>,
    forward: F,
    backward: B,
) -> Result<(Tensor, Vec<Tensor>)>
where
    C: Send + Sync + 'static,
    F: FnOnce(ArrayView3<f32>, RecurrentWeights, &[ArrayView2<f32>]) -> Result<(Array3<f32>, Vec<Array2<f32>>, C)>,
    B: Fn(&C, RecurrentWeights, ArrayView3<f32>, &[ArrayView2<f32>]) -> Result<Vec<ArrayD<f32>>>
        + Send
        + Sync
        + 'static,
{
    let mut parents = vec![x.clone()];
    parents.extend(params.tensors());
    parents.extend(initial);
    let (output, states, cache) = with_recurrent_inputs(op, &parents, forward)?;
    let time = output.dim().1;
    let joined = join_sequence_and_states(&output, &states);
    let rule = backward_fn(op, move |grad, parents| {
        let (d_output, d_states) = split_sequence_grad(grad, time);
        let grads = with_recurrent_inputs(op, parents, |_, weights, _| backward(&cache, weights, d_output, &d_states))
            .expect("shapes were checked by the forward pass");
        grads.into_iter().take(parents.len()).map(Some).collect()
    });
    let node = Tensor::from_op(joined, parents, rule);
    split_sequence_and_states(&node, time, states.len())
}

/// Runs `f` on the values of a recurrent operation's parents
/// `[x, weight_ih, weight_hh, bias_ih, bias_hh, initial states…]`.
fn with_recurrent_inputs<R>(
    op: &'static str,
    parents: &[Tensor],
    f: impl FnOnce(ArrayView3<f32>, RecurrentWeights, &[ArrayView2<f32>]) -> Result<R>,
) -> Result<R> {
    let guards: Vec<_> = parents.iter().map(Tensor::data).collect();
    let weights = RecurrentWeights {
        weight_ih: fixed(op, &guards[1])?,
        weight_hh: fixed(op, &guards[2])?,
        bias_ih: fixed(op, &guards[3])?,
        bias_hh: fixed(op, &guards[4])?,
    };
    let states = guards[5..].iter().map(|g| fixed(op, g)).collect::<Result<Vec<_>>>()?;
    f(fixed(op, &guards[0])?, weights, &states)
}

/// `(B, T + S, H)`: the output sequence followed by `S` final states, the
/// value of the single graph node a recurrent operation records.
fn join_sequence_and_states(output: &Array3<f32>, states: &[Array2<f32>]) -> ArrayD<f32> {
    let (batch, time, hidden) = output.dim();
    let mut joined = Array3::zeros((batch, time + states.len(), hidden));
    joined.slice_mut(s![.., ..time, ..]).assign(output);
    for (k, state) in states.iter().enumerate() {
        joined.slice_mut(s![.., time + k, ..]).assign(state);
    }
    joined.into_dyn()
}

/// Splits a [`join_sequence_and_states`] node into the output sequence
/// `(B, T, H)` and `states` final states `(B, H)`, as graph operations.
fn split_sequence_and_states(joined: &Tensor, time: usize, states: usize) -> Result<(Tensor, Vec<Tensor>)> {
    let shape = joined.shape();
    let output = joined.narrow(1, 0, time)?;
    let states = (0..states)
        .map(|k| joined.narrow(1, time + k, 1)?.reshape(&[shape[0], shape[2]]))
        .collect::<Result<Vec<_>>>()?;
    Ok((output, states))
}

/// The gradient of a [`join_sequence_and_states`] node as the output
/// sequence's gradient and the final states' gradients.
fn split_sequence_grad(grad: &ArrayD<f32>, time: usize) -> (ArrayView3<'_, f32>, Vec<ArrayView2<'_, f32>>) {
    let grad: ArrayView3<f32> = grad.view().into_dimensionality().expect("recurrent gradients are 3-D");
    let states = (time..grad.dim().1).map(|t| grad.index_axis_move(Axis(1), t)).collect();
    (grad.slice_move(s![.., ..time, ..]), states)
}
