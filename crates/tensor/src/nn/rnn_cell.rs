//! The lecture's recurrent cell: `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`, one step
//! ([`RnnCell`], `torch.nn.RNNCell`), and the same step unrolled over a batch of sequences,
//! which the plain [`Rnn`](super::Rnn) layer runs.
//!
//! It has no fused kernel: it is the teaching model, built from small recorded operations so
//! its graph is the textbook one.

use ndarray::{Array2, ArrayD};

use super::Module;
use super::init::Init;
use crate::VarBuilder;
use crate::error::{Error, Result};
use crate::kernels::RecurrentParams;
use crate::tensor::Tensor;

/// The lecture's recurrent cell, one step: `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)` —
/// `torch.nn.RNNCell` (tanh, with biases), its parameters under PyTorch's names and layout
/// (`weight_ih (hidden, input)`, `weight_hh (hidden, hidden)`, `bias_ih`, `bias_hh (hidden,)`),
/// so `torch.nn.RNNCell` weights load unchanged.
///
/// ```
/// use malmoi_tensor::nn::{Module, RnnCell};
/// use malmoi_tensor::{Tensor, VarBuilder};
/// use ndarray::ArrayD;
///
/// let cell = RnnCell::new(4, 3, VarBuilder::fresh(0))?;
/// let mut h = None;
/// for _ in 0..5 {
///     let x = Tensor::constant(ArrayD::ones(&[2, 4][..])); // a batch of 2 steps
///     h = Some(cell.forward(&x, h.as_ref())?);
/// }
/// assert_eq!(h.unwrap().shape(), vec![2, 3]);
/// assert_eq!(cell.num_parameters(), 3 * 4 + 3 * 3 + 3 + 3);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RnnCell {
    /// Input-to-hidden weights, `(hidden, input)`.
    pub weight_ih: Tensor,
    /// Hidden-to-hidden weights, `(hidden, hidden)`.
    pub weight_hh: Tensor,
    /// Input-to-hidden bias, `(hidden,)`.
    pub bias_ih: Tensor,
    /// Hidden-to-hidden bias, `(hidden,)`.
    pub bias_hh: Tensor,
}

impl RnnCell {
    /// The cell's four tensors under `vb`, fresh ones with PyTorch's initialisation: every
    /// weight and bias uniform in `±1/√hidden`.
    ///
    /// # Errors
    /// [`Error::Invalid`] if either size is zero; a tensor `vb` lacks or holds in another shape.
    pub fn new(input_size: usize, hidden_size: usize, vb: VarBuilder) -> Result<Self> {
        if input_size == 0 || hidden_size == 0 {
            return Err(Error::Invalid { op: "RNNCell", reason: format!("empty cell {input_size} → {hidden_size}") });
        }
        let [weight_ih, weight_hh, bias_ih, bias_hh] = pytorch_weights(&vb, hidden_size, input_size, hidden_size, "")?;
        Self::from_weights(weight_ih, weight_hh, bias_ih, bias_hh)
    }

    /// A cell with the given weights, shaped as the fields document.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty or non-matrix weight, [`Error::Shape`] for shapes that
    /// do not fit together.
    pub fn from_weights(
        weight_ih: ArrayD<f32>,
        weight_hh: ArrayD<f32>,
        bias_ih: ArrayD<f32>,
        bias_hh: ArrayD<f32>,
    ) -> Result<Self> {
        let cell = RnnCell {
            weight_ih: Tensor::parameter(weight_ih),
            weight_hh: Tensor::parameter(weight_hh),
            bias_ih: Tensor::parameter(bias_ih),
            bias_hh: Tensor::parameter(bias_hh),
        };
        cell.sizes()?;
        Ok(cell)
    }

    /// Features of an input step.
    pub fn input_size(&self) -> usize {
        self.weight_ih.shape().get(1).copied().unwrap_or(0)
    }

    /// Features of the hidden state.
    pub fn hidden_size(&self) -> usize {
        self.weight_hh.shape().first().copied().unwrap_or(0)
    }

    /// One step: the next hidden state `(batch, hidden)` from the inputs `x` `(batch, input)`
    /// and the hidden state `h` `(batch, hidden)` (zeros when `None`).
    ///
    /// # Errors
    /// [`Error::Shape`] if `x` or `h` (or the cell's own weights) do not have those shapes.
    pub fn forward(&self, x: &Tensor, h: Option<&Tensor>) -> Result<Tensor> {
        let (input, hidden) = self.sizes()?;
        let batch = x.shape().first().copied().unwrap_or(0);
        if x.shape() != [batch, input] {
            return Err(Error::Shape { op: "RNNCell", expected: vec![batch, input], got: x.shape() });
        }
        let zeros;
        let h = match h {
            Some(h) if h.shape() != [batch, hidden] => {
                return Err(Error::Shape { op: "RNNCell", expected: vec![batch, hidden], got: h.shape() });
            }
            Some(h) => h,
            None => {
                zeros = Tensor::zeros(&[batch, hidden]);
                &zeros
            }
        };
        tanh_step(&input_projection(self.params(), x)?, h, &self.weight_hh.transpose(0, 1)?)
    }

    /// `(input, hidden)` after checking that the four parameters fit together.
    fn sizes(&self) -> Result<(usize, usize)> {
        let (ih, hh) = (self.weight_ih.shape(), self.weight_hh.shape());
        if ih.len() != 2 || ih.contains(&0) {
            return Err(Error::Invalid { op: "RNNCell", reason: format!("weight_ih must be a matrix, got {ih:?}") });
        }
        let (hidden, input) = (ih[0], ih[1]);
        let expected =
            [(hh, vec![hidden, hidden]), (self.bias_ih.shape(), vec![hidden]), (self.bias_hh.shape(), vec![hidden])];
        match expected.into_iter().find(|(got, expected)| got != expected) {
            Some((got, expected)) => Err(Error::Shape { op: "RNNCell", expected, got }),
            None => Ok((input, hidden)),
        }
    }

    fn params(&self) -> RecurrentParams<'_> {
        let RnnCell { weight_ih, weight_hh, bias_ih, bias_hh } = self;
        RecurrentParams { weight_ih, weight_hh, bias_ih, bias_hh }
    }
}

impl Module for RnnCell {
    /// PyTorch's names: `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        named_weights(self.params(), str::to_string)
    }
}

/// `x W_ihᵀ + b_ih + b_hh` for rows `x` `(n, input)`: the part of a step that does not depend
/// on the hidden state.
fn input_projection(params: RecurrentParams, x: &Tensor) -> Result<Tensor> {
    x.matmul(&params.weight_ih.transpose(0, 1)?)?.add(params.bias_ih)?.add(params.bias_hh)
}

/// The cell's step from the projected input: `tanh(projected + h W_hhᵀ)`.
fn tanh_step(projected: &Tensor, h: &Tensor, weight_hh_t: &Tensor) -> Result<Tensor> {
    Ok(projected.add(&h.matmul(weight_hh_t)?)?.tanh())
}

/// The cell unrolled over `x` `(B, T, I)` whose rows have `lengths` valid steps, from
/// `initial` `(B, H)` (zeros when `None`): the outputs `(B, T, H)` and the final `h`.
///
/// The input projection of every step is one product; each step then adds the recurrent
/// product and takes tanh. A padded step keeps the state and outputs zero.
pub(super) fn unroll(
    params: RecurrentParams,
    x: &Tensor,
    lengths: &[usize],
    initial: Option<&Tensor>,
) -> Result<(Tensor, Tensor)> {
    let shape = x.shape();
    let (batch, time, input) = (shape[0], shape[1], shape[2]);
    let hidden = params.weight_hh.shape()[1];
    let projected = input_projection(params, &x.reshape(&[batch * time, input])?)?.reshape(&[batch, time, hidden])?;
    let weight_hh_t = params.weight_hh.transpose(0, 1)?;
    let mut h = initial.map_or_else(|| Tensor::zeros(&[batch, hidden]), Tensor::clone);
    let mut outputs = Vec::with_capacity(time);
    for step in 0..time {
        let pre = projected.narrow(1, step, 1)?.reshape(&[batch, hidden])?;
        let candidate = tanh_step(&pre, &h, &weight_hh_t)?;
        if lengths.iter().all(|&len| step < len) {
            h = candidate.clone();
            outputs.push(candidate);
        } else {
            let valid = step_mask(lengths, step);
            let kept = candidate.mul(&valid)?;
            h = kept.add(&h.mul(&valid.neg().add_scalar(1.0))?)?;
            outputs.push(kept);
        }
    }
    Ok((Tensor::stack(&outputs, 1)?, h))
}

/// `(batch, 1)` with 1 where `step` is inside the sequence and 0 where it is padding.
fn step_mask(lengths: &[usize], step: usize) -> Tensor {
    let values: Vec<f32> = lengths.iter().map(|&len| f32::from(u8::from(step < len))).collect();
    Tensor::constant(Array2::from_shape_vec((lengths.len(), 1), values).expect("batch × 1").into_dyn())
}

/// The four parameters under PyTorch's names (`weight_ih`, `weight_hh`, `bias_ih`,
/// `bias_hh`), each name passed through `rename`.
/// The four tensors of one recurrent direction with `rows` gate rows, named PyTorch's way
/// with `suffix` (`weight_ih{suffix}`, …), fresh ones uniform in `±1/√hidden` (PyTorch's rule),
/// drawn in the order `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`.
pub(super) fn pytorch_weights(
    vb: &VarBuilder,
    rows: usize,
    input: usize,
    hidden: usize,
    suffix: &str,
) -> Result<[ArrayD<f32>; 4]> {
    let init = Init::symmetric_uniform(1.0 / (hidden as f32).sqrt());
    let get = |name: &str, shape: &[usize]| vb.get_or_init(shape, &format!("{name}{suffix}"), init);
    Ok([
        get("weight_ih", &[rows, input])?,
        get("weight_hh", &[rows, hidden])?,
        get("bias_ih", &[rows])?,
        get("bias_hh", &[rows])?,
    ])
}

pub(super) fn named_weights(params: RecurrentParams, rename: impl Fn(&str) -> String) -> Vec<(String, Tensor)> {
    let RecurrentParams { weight_ih, weight_hh, bias_ih, bias_hh } = params;
    [("weight_ih", weight_ih), ("weight_hh", weight_hh), ("bias_ih", bias_ih), ("bias_hh", bias_hh)]
        .into_iter()
        .map(|(name, tensor)| (rename(name), tensor.clone()))
        .collect()
}
