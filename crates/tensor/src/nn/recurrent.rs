//! The recurrent stack every recurrent layer shares: configuration, initialisation, stacking,
//! bidirectional reading and length masks, with PyTorch's parameter layout and names.
//!
//! [`Recurrent`] is `torch.nn.RNN` / `LSTM` / `GRU` with `batch_first=True`, the recurrence
//! chosen at run time by [`CellKind`] (what a saved model configuration stores). The layers a
//! lecture names — [`Rnn`](super::Rnn), [`Lstm`](super::Lstm), [`Gru`](super::Gru) — are thin
//! wrappers that fix the kind (modules `rnn`, `lstm`, `gru`); the plain cell's step is
//! `rnn_cell`, the LSTM and GRU steps are malmoi-tensor's fused kernels.
//!
//! Padded steps never influence anything: the fused LSTM and GRU kernels skip them, the plain
//! RNN carries its state through them, outputs at padded steps are zero and the final state of
//! every sequence is the one after its last valid step. The reverse direction of a
//! bidirectional layer reads each sequence's valid steps backwards, as PyTorch does with packed
//! sequences.

use ndarray::{ArrayD, IxDyn};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::init::{self, Init};
use super::rnn_cell::{named_weights, pytorch_weights, unroll};
use super::{Dropout, Module};
use crate::VarBuilder;
use crate::error::{Error, Result};
use crate::kernels::{RecurrentParams, gru, lstm};
use crate::tensor::{Tensor, no_grad};

/// Which recurrence a layer computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CellKind {
    /// The plain cell: `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`.
    Rnn,
    /// Long short-term memory, gates `i, f, g, o`.
    Lstm,
    /// Gated recurrent unit, gates `r, z, n`.
    Gru,
}

impl CellKind {
    /// Number of gate blocks stacked in the weight matrices.
    pub fn gates(self) -> usize {
        match self {
            CellKind::Rnn => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }
}

/// How fresh recurrent weights are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RecurrentInit {
    /// PyTorch's: every weight and bias uniform in `±1/√hidden`.
    #[default]
    PyTorch,
    /// Keras': Glorot-uniform input weights, orthogonal recurrent weights, zero biases with the
    /// LSTM forget-gate bias at 1.
    Keras,
}

/// The shape of a [`Recurrent`] stack (the arguments of `torch.nn.LSTM`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecurrentConfig {
    /// The recurrence.
    pub kind: CellKind,
    /// Features per input step.
    pub input_size: usize,
    /// Features of the hidden state, per direction.
    pub hidden_size: usize,
    /// Layers stacked on top of each other.
    pub num_layers: usize,
    /// Run a second, reversed direction and concatenate its outputs.
    pub bidirectional: bool,
    /// Dropout applied to the outputs of every layer but the last, during training.
    pub dropout: f32,
    /// How fresh weights are drawn.
    pub initialization: RecurrentInit,
}

impl RecurrentConfig {
    /// One unidirectional layer of `kind` with PyTorch's initialisation and no dropout.
    pub fn new(kind: CellKind, input_size: usize, hidden_size: usize) -> Self {
        Self {
            kind,
            input_size,
            hidden_size,
            num_layers: 1,
            bidirectional: false,
            dropout: 0.0,
            initialization: RecurrentInit::PyTorch,
        }
    }

    /// Number of directions (1 or 2).
    pub fn directions(&self) -> usize {
        if self.bidirectional { 2 } else { 1 }
    }

    /// Features of every output step: `directions × hidden_size`.
    pub fn output_size(&self) -> usize {
        self.directions() * self.hidden_size
    }
}

/// The state a recurrent layer carries between steps: `h` of shape `(batch, hidden)`, and for
/// an LSTM the cell `c` of the same shape.
#[derive(Debug, Clone)]
pub struct RecurrentState {
    /// The hidden state.
    pub h: Tensor,
    /// The LSTM cell state (`None` for RNN and GRU).
    pub c: Option<Tensor>,
}

/// What a [`Recurrent`] stack returns.
#[derive(Debug, Clone)]
pub struct RecurrentOutput {
    /// Top-layer outputs of every step, `(batch, time, directions × hidden)`; zero at padded steps.
    pub output: Tensor,
    /// Final states, one per layer and direction, ordered `layer 0 forward, layer 0 reverse,
    /// layer 1 forward, …` as PyTorch orders `h_n`.
    pub states: Vec<RecurrentState>,
}

impl RecurrentOutput {
    /// The top layer's final hidden states, directions concatenated: `(batch, directions × hidden)`.
    /// This is what Keras' `LSTM(return_sequences=False)` returns.
    ///
    /// # Errors
    /// [`Error::Invalid`] if `directions` is 0 or more than there are states.
    pub fn last_hidden(&self, directions: usize) -> Result<Tensor> {
        if directions == 0 || directions > self.states.len() {
            return Err(Error::Invalid {
                op: "Recurrent",
                reason: format!("last_hidden of {directions} directions from {} states", self.states.len()),
            });
        }
        let top = &self.states[self.states.len() - directions..];
        let hs: Vec<Tensor> = top.iter().map(|s| s.h.clone()).collect();
        Ok(if hs.len() == 1 { hs[0].clone() } else { Tensor::cat(&hs, 1)? })
    }
}

/// One direction of one layer: the four parameters in PyTorch's layout.
#[derive(Debug, Clone)]
struct Direction {
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor,
    bias_hh: Tensor,
}

impl Direction {
    /// The direction's tensors under `vb`, named PyTorch's way with `suffix` (`_l0`,
    /// `_l0_reverse`), fresh ones drawn by the configured initialisation.
    fn new(config: &RecurrentConfig, input: usize, vb: &VarBuilder, suffix: &str) -> Result<Self> {
        let (kind, hidden) = (config.kind, config.hidden_size);
        let rows = kind.gates() * hidden;
        let [weight_ih, weight_hh, bias_ih, bias_hh] = match config.initialization {
            RecurrentInit::PyTorch => pytorch_weights(vb, rows, input, hidden, suffix)?,
            RecurrentInit::Keras => {
                let name = |name: &str| format!("{name}{suffix}");
                let weight_ih =
                    vb.get_or_init(&[rows, input], &name("weight_ih"), Init::XavierUniform { gain: 1.0 })?;
                let weight_hh = vb.get_or_else(&[rows, hidden], &name("weight_hh"), |rng| {
                    keras_recurrent_kernel(kind.gates(), hidden, rng)
                })?;
                let bias_ih = vb.get_or_else(&[rows], &name("bias_ih"), |_| {
                    let mut bias = init::zeros(&[rows]);
                    if kind == CellKind::Lstm {
                        bias.slice_mut(ndarray::s![hidden..2 * hidden]).fill(1.0);
                    }
                    Ok(bias)
                })?;
                [weight_ih, weight_hh, bias_ih, vb.get_or_init(&[rows], &name("bias_hh"), Init::Zeros)?]
            }
        };
        Ok(Self {
            weight_ih: Tensor::parameter(weight_ih),
            weight_hh: Tensor::parameter(weight_hh),
            bias_ih: Tensor::parameter(bias_ih),
            bias_hh: Tensor::parameter(bias_hh),
        })
    }

    fn params(&self) -> RecurrentParams<'_> {
        let Direction { weight_ih, weight_hh, bias_ih, bias_hh } = self;
        RecurrentParams { weight_ih, weight_hh, bias_ih, bias_hh }
    }

    /// Runs this direction forwards over `input`: the plain cell unrolled, or the fused LSTM
    /// and GRU kernels.
    fn run(&self, kind: CellKind, input: SequenceInput) -> Result<(Tensor, RecurrentState)> {
        let SequenceInput { x, lengths, initial } = input;
        match kind {
            CellKind::Rnn => {
                let (output, h) = unroll(self.params(), x, lengths, initial.map(|s| &s.h))?;
                Ok((output, RecurrentState { h, c: None }))
            }
            CellKind::Lstm => {
                let initial = match initial {
                    Some(RecurrentState { h, c: Some(c) }) => Some((h, c)),
                    Some(RecurrentState { c: None, .. }) => {
                        let reason = "an LSTM's initial state needs a cell state".into();
                        return Err(Error::Invalid { op: "LSTM", reason });
                    }
                    None => None,
                };
                let (output, (h, c)) = lstm(x, self.params(), Some(lengths), initial)?;
                Ok((output, RecurrentState { h, c: Some(c) }))
            }
            CellKind::Gru => {
                let (output, h) = gru(x, self.params(), Some(lengths), initial.map(|s| &s.h))?;
                Ok((output, RecurrentState { h, c: None }))
            }
        }
    }
}

/// What one direction of one layer runs over: the batch-first sequence `x` `(B, T, I)`, the
/// number of valid steps of each sequence and the initial state (zeros when `None`).
#[derive(Clone, Copy)]
struct SequenceInput<'a> {
    x: &'a Tensor,
    lengths: &'a [usize],
    initial: Option<&'a RecurrentState>,
}

/// PyTorch's name suffix of direction `d` of `layer`: `_l0`, `_l0_reverse`.
fn direction_suffix(layer: usize, d: usize) -> String {
    if d == 0 { format!("_l{layer}") } else { format!("_l{layer}_reverse") }
}

/// Keras' recurrent kernel: an orthogonal `(hidden, hidden)` block per gate, stacked.
fn keras_recurrent_kernel(gates: usize, hidden: usize, rng: &mut impl Rng) -> Result<ArrayD<f32>> {
    let blocks: Vec<ArrayD<f32>> =
        (0..gates).map(|_| init::orthogonal(&[hidden, hidden], 1.0, rng)).collect::<Result<_>>()?;
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    Ok(ndarray::concatenate(ndarray::Axis(0), &views).expect("equal blocks"))
}

/// Reverses the first `lengths[b]` steps of every sequence of `x` `(B, T, F)`, leaving padding
/// where it is. Applying it twice gives `x` back.
fn reverse_valid_steps(x: &Tensor, lengths: &[usize]) -> Result<Tensor> {
    let shape = x.shape();
    let (batch, time, features) = (shape[0], shape[1], shape[2]);
    let indices: Vec<usize> = (0..batch)
        .flat_map(|b| {
            let len = lengths[b];
            (0..time).map(move |t| b * time + if t < len { len - 1 - t } else { t })
        })
        .collect();
    let indices = ArrayD::from_shape_vec(IxDyn(&[batch, time]), indices).expect("batch × time");
    x.reshape(&[batch * time, features])?.gather_rows(&indices)
}

/// A stack of recurrent layers — `torch.nn.RNN` / `LSTM` / `GRU` with `batch_first=True`, the
/// recurrence chosen by [`RecurrentConfig::kind`]. [`Lstm`](super::Lstm), [`Gru`](super::Gru)
/// and [`Rnn`](super::Rnn) are the same stack with the kind fixed.
///
/// ```
/// use malmoi_tensor::nn::{CellKind, Recurrent, RecurrentConfig};
/// use malmoi_tensor::{Tensor, VarBuilder};
/// use ndarray::ArrayD;
///
/// let config = RecurrentConfig { num_layers: 2, ..RecurrentConfig::new(CellKind::Gru, 8, 16) };
/// let gru = Recurrent::new(config, VarBuilder::fresh(0))?;
/// let x = Tensor::constant(ArrayD::ones(&[2, 5, 8][..]));
/// let out = gru.forward(&x, Some(&[5, 3]), None)?;
/// assert_eq!(out.output.shape(), vec![2, 5, 16]);
/// assert_eq!(out.states.len(), 2);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct Recurrent {
    config: RecurrentConfig,
    layers: Vec<Vec<Direction>>,
    dropout: Dropout,
}

impl Recurrent {
    /// The stack's tensors under `vb` with PyTorch's names (`weight_ih_l0`, …,
    /// `bias_hh_l1_reverse`), fresh ones drawn by [`RecurrentConfig::initialization`]. The
    /// dropout between layers is seeded by [`VarBuilder::seed`].
    ///
    /// # Errors
    /// [`Error::Invalid`] for a zero input size, hidden size or layer count, or a dropout
    /// probability outside `[0, 1)`; a tensor `vb` lacks or holds in another shape.
    pub fn new(config: RecurrentConfig, vb: VarBuilder) -> Result<Self> {
        if config.input_size == 0 || config.hidden_size == 0 || config.num_layers == 0 {
            return Err(Error::Invalid { op: "Recurrent", reason: format!("empty recurrent layer: {config:?}") });
        }
        // every shape below (gates × hidden × max(input, hidden), directions × hidden) fits
        let widest = config.input_size.max(config.hidden_size);
        if widest.checked_mul(4).and_then(|w| w.checked_mul(config.hidden_size)).is_none() {
            return Err(Error::Invalid { op: "Recurrent", reason: format!("sizes overflow: {config:?}") });
        }
        let layers = (0..config.num_layers)
            .map(|layer| {
                let input = if layer == 0 { config.input_size } else { config.output_size() };
                (0..config.directions())
                    .map(|d| Direction::new(&config, input, &vb, &direction_suffix(layer, d)))
                    .collect()
            })
            .collect::<Result<_>>()?;
        let dropout = Dropout::new(config.dropout, vb.seed())?;
        Ok(Self { config, layers, dropout })
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &RecurrentConfig {
        &self.config
    }

    /// Restarts the generator of the dropout between layers from `seed` ([`Dropout::reseed`]).
    pub fn reseed(&self, seed: u64) {
        self.dropout.reseed(seed);
    }

    /// Runs the stack over `x` `(batch, time, input_size)`.
    ///
    /// `lengths[b]` is the number of valid steps of sequence `b` (all `time` when `None`);
    /// `initial` gives one state per layer and direction, in the order of
    /// [`RecurrentOutput::states`] (zeros when `None`).
    /// The dropout between layers acts only in training mode.
    ///
    /// # Errors
    /// [`Error::Invalid`] if `x` is not `(batch, time, input_size)`, the lengths do not fit
    /// the batch, the number of initial states is wrong or an LSTM's initial state lacks its
    /// cell; [`Error::Shape`] if an initial state has the wrong shape.
    pub fn forward(
        &self,
        x: &Tensor,
        lengths: Option<&[usize]>,
        initial: Option<&[RecurrentState]>,
    ) -> Result<RecurrentOutput> {
        self.run(x, lengths, initial, true)
    }

    /// Runs the stack in inference: no gradients recorded and no dropout, whatever the mode.
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    pub fn predict(&self, x: &Tensor, lengths: Option<&[usize]>) -> Result<RecurrentOutput> {
        no_grad(|| self.run(x, lengths, None, false))
    }

    /// The stack over `x`; the dropout between layers applies when `dropout` is true and the
    /// layer is in training mode.
    fn run(
        &self,
        x: &Tensor,
        lengths: Option<&[usize]>,
        initial: Option<&[RecurrentState]>,
        dropout: bool,
    ) -> Result<RecurrentOutput> {
        self.check_inputs(x, lengths, initial)?;
        let full;
        let lengths = match lengths {
            Some(lengths) => lengths,
            None => {
                full = vec![x.shape()[1]; x.shape()[0]];
                &full
            }
        };
        let mut input = x.clone();
        let mut states = Vec::with_capacity(self.layers.len() * self.config.directions());
        for (layer, directions) in self.layers.iter().enumerate() {
            if layer > 0 && dropout {
                input = self.dropout.forward(&input)?;
            }
            let initial = initial.map(|states| &states[layer * directions.len()..(layer + 1) * directions.len()]);
            let (output, layer_states) = self.run_layer(directions, &input, lengths, initial)?;
            input = output;
            states.extend(layer_states);
        }
        Ok(RecurrentOutput { output: input, states })
    }

    /// One layer, both directions if it has two: outputs concatenated along the features and
    /// the final state of each direction.
    fn run_layer(
        &self,
        directions: &[Direction],
        input: &Tensor,
        lengths: &[usize],
        initial: Option<&[RecurrentState]>,
    ) -> Result<(Tensor, Vec<RecurrentState>)> {
        let kind = self.config.kind;
        let mut outputs = Vec::with_capacity(directions.len());
        let mut states = Vec::with_capacity(directions.len());
        for (d, direction) in directions.iter().enumerate() {
            let initial = initial.map(|states| &states[d]);
            let (output, state) = if d == 0 {
                direction.run(kind, SequenceInput { x: input, lengths, initial })?
            } else {
                let reversed = reverse_valid_steps(input, lengths)?;
                let (output, state) = direction.run(kind, SequenceInput { x: &reversed, lengths, initial })?;
                (reverse_valid_steps(&output, lengths)?, state)
            };
            outputs.push(output);
            states.push(state);
        }
        let output = if outputs.len() == 1 { outputs.pop().expect("one output") } else { Tensor::cat(&outputs, 2)? };
        Ok((output, states))
    }

    fn check_inputs(&self, x: &Tensor, lengths: Option<&[usize]>, initial: Option<&[RecurrentState]>) -> Result<()> {
        let invalid = |reason: String| Err(Error::Invalid { op: "Recurrent", reason });
        let shape = x.shape();
        if shape.len() != 3 || shape[2] != self.config.input_size {
            return invalid(format!("input must be (batch, time, {}), got {shape:?}", self.config.input_size));
        }
        if let Some(lengths) = lengths.filter(|l| l.len() != shape[0] || l.iter().any(|&len| len > shape[1])) {
            return invalid(format!(
                "lengths {lengths:?} do not fit a batch of {} sequences of {} steps",
                shape[0], shape[1]
            ));
        }
        let expected = self.layers.len() * self.config.directions();
        if let Some(initial) = initial.filter(|states| states.len() != expected) {
            return invalid(format!("expected {expected} initial states, got {}", initial.len()));
        }
        let state_shape = vec![shape[0], self.config.hidden_size];
        let states = initial.unwrap_or_default().iter().flat_map(|s| std::iter::once(&s.h).chain(&s.c));
        match states.map(Tensor::shape).find(|got| *got != state_shape) {
            Some(got) => Err(Error::Shape { op: "Recurrent", expected: state_shape, got }),
            None => Ok(()),
        }
    }
}

impl Module for Recurrent {
    /// PyTorch's names: `weight_ih_l0`, `bias_hh_l1_reverse`, ….
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(layer, directions)| {
                directions.iter().enumerate().flat_map(move |(d, direction)| {
                    let suffix = direction_suffix(layer, d);
                    named_weights(direction.params(), |name| format!("{name}{suffix}"))
                })
            })
            .collect()
    }

    fn set_training(&mut self, training: bool) {
        self.dropout.set_training(training);
    }
}

/// Defines a recurrent layer type that is a [`Recurrent`] stack of one fixed [`CellKind`]:
/// `new`, `config`, `from_config`, `forward`, `predict`, [`Module`], and conversion into the
/// shared stack. The invoking module writes the type's documentation.
macro_rules! fixed_kind_layer {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $torch:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name($crate::nn::Recurrent);

        impl $name {
            #[doc = concat!(
                "One unidirectional layer with PyTorch's initialisation and no dropout: `torch.nn.",
                $torch,
                "(input_size, hidden_size, batch_first=True)`.\n\n",
                "# Errors\n[`Error::Invalid`](crate::Error::Invalid) if either size is zero."
            )]
            pub fn new(input_size: usize, hidden_size: usize, vb: $crate::VarBuilder) -> $crate::Result<Self> {
                Self::from_config(Self::config(input_size, hidden_size), vb)
            }

            /// The configuration of one unidirectional layer of this kind, to adjust (layers,
            /// direction, dropout, initialisation) before [`from_config`](Self::from_config).
            pub fn config(input_size: usize, hidden_size: usize) -> $crate::nn::RecurrentConfig {
                $crate::nn::RecurrentConfig::new($kind, input_size, hidden_size)
            }

            /// The stack shaped by `config`, its tensors under `vb`.
            ///
            /// # Errors
            /// [`Error::Invalid`](crate::Error::Invalid) if `config.kind` is another
            /// recurrence, or as [`Recurrent::new`](crate::nn::Recurrent::new).
            pub fn from_config(config: $crate::nn::RecurrentConfig, vb: $crate::VarBuilder) -> $crate::Result<Self> {
                if config.kind != $kind {
                    return Err($crate::Error::Invalid {
                        op: $torch,
                        reason: format!("a configuration of kind {:?}", config.kind),
                    });
                }
                Ok(Self($crate::nn::Recurrent::new(config, vb)?))
            }

            /// Runs the layer over `x` `(batch, time, input_size)`; see
            /// [`Recurrent::forward`](crate::nn::Recurrent::forward).
            ///
            /// # Errors
            /// As [`Recurrent::forward`](crate::nn::Recurrent::forward).
            pub fn forward(
                &self,
                x: &$crate::Tensor,
                lengths: Option<&[usize]>,
                initial: Option<&[$crate::nn::RecurrentState]>,
            ) -> $crate::Result<$crate::nn::RecurrentOutput> {
                self.0.forward(x, lengths, initial)
            }

            /// Runs the layer in inference: no gradients, no dropout; see
            /// [`Recurrent::predict`](crate::nn::Recurrent::predict).
            ///
            /// # Errors
            /// As [`Recurrent::forward`](crate::nn::Recurrent::forward).
            pub fn predict(
                &self,
                x: &$crate::Tensor,
                lengths: Option<&[usize]>,
            ) -> $crate::Result<$crate::nn::RecurrentOutput> {
                self.0.predict(x, lengths)
            }

            /// The shared stack it is (its configuration, for one).
            pub fn as_recurrent(&self) -> &$crate::nn::Recurrent {
                &self.0
            }
        }

        impl From<$name> for $crate::nn::Recurrent {
            fn from(layer: $name) -> $crate::nn::Recurrent {
                layer.0
            }
        }

        impl $crate::nn::Module for $name {
            /// PyTorch's names: `weight_ih_l0`, `bias_hh_l1_reverse`, ….
            fn named_parameters(&self) -> Vec<(String, $crate::Tensor)> {
                self.0.named_parameters()
            }

            fn set_training(&mut self, training: bool) {
                self.0.set_training(training);
            }
        }
    };
}

pub(super) use fixed_kind_layer;
