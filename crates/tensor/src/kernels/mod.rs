//! Fused kernels: whole-sequence LSTM and GRU, and scaled dot-product
//! attention, each with a hand-written backward pass.
//!
//! A graph of small autograd ops would record thousands of nodes for one
//! recurrent layer over one batch; these kernels run the whole thing as a
//! few large matrix products plus tight elementwise loops, and keep exactly
//! what the backward pass needs.
//!
//! Every kernel comes in two layers:
//!
//! * plain ndarray functions (`lstm_forward` / `lstm_backward`, …): forward
//!   returns the outputs and a cache, backward takes the cache and the output
//!   gradients and returns every input gradient;
//! * autograd operations on [`Tensor`](crate::tensor::Tensor)s
//!   ([`lstm`], [`gru`], [`scaled_dot_product_attention`]) built on them.
//!
//! Recurrent kernels follow PyTorch's parameter layout (`weight_ih`,
//! `weight_hh`, `bias_ih`, `bias_hh`; gate order `i, f, g, o` for the LSTM and
//! `r, z, n` for the GRU), so PyTorch weights load unchanged.

/// Defines a function whose body is compiled three times — for AVX-512,
/// for AVX2 and for the baseline target — and picks the widest the CPU
/// supports at run time, so the elementwise cell loops run on full-width
/// SIMD registers without a `target-cpu` build flag.
macro_rules! multiversion {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn portable($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512($($arg: $ty),*) {
                    portable($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) {
                    portable($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports AVX-512F.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2.
                    return unsafe { avx2($($arg),*) };
                }
            }
            portable($($arg),*)
        }
    };
}

mod activation;
mod attention;
mod gru;
mod lstm;
mod packing;

pub use attention::{
    AttentionCache, AttentionGrads, AttentionMask, attention_backward, attention_forward, scaled_dot_product_attention,
};
pub use gru::{GruCache, GruGrads, GruOutput, gru, gru_backward, gru_forward};
pub use lstm::{LstmCache, LstmGrads, LstmOutput, lstm, lstm_backward, lstm_forward};

use std::ops::Range;

use ndarray::{
    Array2, Array3, ArrayD, ArrayView, ArrayView1, ArrayView2, ArrayView3, ArrayViewMut2, Axis, Dimension, s,
};

use crate::tensor::Tensor;
use packing::Packing;

pub(crate) use crate::error::{Error, Result};
use crate::ops::matmul::gemm;

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

/// A dynamic-rank array as a view of fixed rank `D`.
fn fixed<'a, D: Dimension>(op: &'static str, a: &'a ArrayD<f32>) -> Result<ArrayView<'a, f32, D>> {
    a.view()
        .into_dimensionality::<D>()
        .map_err(|_| invalid(op, format!("expected a {}-D tensor, got shape {:?}", D::NDIM.unwrap_or(0), a.shape())))
}

/// `(B, T + S, H)`: the output sequence followed by `S` final states, the
/// value of the single graph node a recurrent operation records.
fn join_sequence_and_states(output: &Array3<f32>, states: &[&Array2<f32>]) -> ArrayD<f32> {
    let (batch, time, hidden) = output.dim();
    let mut joined = Array3::zeros((batch, time + states.len(), hidden));
    joined.slice_mut(s![.., ..time, ..]).assign(output);
    for (k, state) in states.iter().enumerate() {
        joined.slice_mut(s![.., time + k, ..]).assign(*state);
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

/// An [`Error::Invalid`] raised by kernel `op`.
fn invalid(op: &'static str, reason: String) -> Error {
    Error::Invalid { op, reason }
}

/// `a · b` as a new array.
fn matmul(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    gemm(a, b, &mut c.view_mut(), false, true);
    c
}

/// Checks that `got` is `expected`.
fn expect_shape(op: &'static str, expected: &[usize], got: &[usize]) -> Result<()> {
    if expected == got { Ok(()) } else { Err(Error::Shape { op, expected: expected.to_vec(), got: got.to_vec() }) }
}

/// How many of a step's `n` sequences one parallel task takes: the step is
/// split evenly over the rayon threads, but never into products of fewer
/// than 16 rows, whose scheduling would cost more than they save.
fn rows_per_task(n: usize) -> usize {
    n.div_ceil(rayon::current_num_threads()).max(16)
}

/// Rows `rows` of a row-major buffer this module allocated, as one slice.
fn block(a: &Array2<f32>, rows: Range<usize>) -> &[f32] {
    let cols = a.ncols();
    &a.as_slice().expect("kernel buffers are row-major")[rows.start * cols..rows.end * cols]
}

/// Rows `rows` of a row-major buffer this module allocated, as one mutable slice.
fn block_mut(a: &mut Array2<f32>, rows: Range<usize>) -> &mut [f32] {
    let cols = a.ncols();
    &mut a.as_slice_mut().expect("kernel buffers are row-major")[rows.start * cols..rows.end * cols]
}

/// A row-major slice as a matrix with `cols` columns.
fn view(data: &[f32], cols: usize) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((data.len() / cols, cols), data).expect("whole rows")
}

/// A mutable row-major slice as a matrix with `cols` columns.
fn view_mut(data: &mut [f32], cols: usize) -> ArrayViewMut2<'_, f32> {
    ArrayViewMut2::from_shape((data.len() / cols, cols), data).expect("whole rows")
}

/// The gradient of a recurrent layer's output sequence `(B, T, H)` in packed
/// rows (zeros when absent).
fn packed_output_grad(
    op: &'static str,
    packing: &Packing,
    d_output: Option<ArrayView3<f32>>,
    hidden: usize,
) -> Result<Array2<f32>> {
    match d_output {
        None => Ok(Array2::zeros((packing.rows(), hidden))),
        Some(d) => {
            expect_shape(op, &[packing.batch(), packing.time(), hidden], d.shape())?;
            Ok(packing.pack(d))
        }
    }
}

/// The gradient of a final state `(B, H)` in sorted order (zeros when absent).
fn sorted_state_grad(
    op: &'static str,
    packing: &Packing,
    d_state: Option<ArrayView2<f32>>,
    hidden: usize,
) -> Result<Array2<f32>> {
    match d_state {
        None => Ok(Array2::zeros((packing.batch(), hidden))),
        Some(d) => {
            expect_shape(op, &[packing.batch(), hidden], d.shape())?;
            Ok(packing.sort_rows(d))
        }
    }
}
