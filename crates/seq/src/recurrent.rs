//! Recurrent layers: simple RNN (tanh), LSTM and GRU — stacked, optionally bidirectional,
//! batch-first and masked by sequence length, with PyTorch's parameter layout and names.
//!
//! Padded steps never influence anything: the fused LSTM and GRU kernels of malmoi-tensor skip
//! them, the simple RNN carries its state through them, outputs at padded steps are zero and
//! the final state of every sequence is the one after its last valid step. The reverse
//! direction of a bidirectional layer reads each sequence's valid steps backwards, as PyTorch
//! does with packed sequences.

use malmoi_tensor::kernels::{RecurrentParams, gru, lstm};
use malmoi_tensor::nn::init;
use malmoi_tensor::nn::{Dropout, Module};
use malmoi_tensor::{Tensor, no_grad};
use ndarray::{Array2, ArrayD, IxDyn};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which recurrence a layer computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CellKind {
    /// `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`.
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

/// How fresh weights are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Initialization {
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
    pub initialization: Initialization,
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
            initialization: Initialization::PyTorch,
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
pub struct State {
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
    pub states: Vec<State>,
}

impl RecurrentOutput {
    /// The top layer's final hidden states, directions concatenated: `(batch, directions × hidden)`.
    /// This is what Keras' `LSTM(return_sequences=False)` returns.
    pub fn last_hidden(&self, directions: usize) -> Result<Tensor> {
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
    fn new(config: &RecurrentConfig, input: usize, rng: &mut impl Rng) -> Result<Self> {
        let (kind, hidden) = (config.kind, config.hidden_size);
        let rows = kind.gates() * hidden;
        let (weight_ih, weight_hh, bias_ih, bias_hh) = match config.initialization {
            Initialization::PyTorch => {
                let bound = 1.0 / (hidden as f32).sqrt();
                let mut draw = |shape: &[usize]| init::uniform(shape, -bound, bound, rng);
                (draw(&[rows, input])?, draw(&[rows, hidden])?, draw(&[rows])?, draw(&[rows])?)
            }
            Initialization::Keras => {
                let weight_ih = init::xavier_uniform(&[rows, input], 1.0, rng)?;
                let weight_hh = keras_recurrent_kernel(kind.gates(), hidden, rng)?;
                let mut bias_ih = init::zeros(&[rows]);
                if kind == CellKind::Lstm {
                    bias_ih.slice_mut(ndarray::s![hidden..2 * hidden]).fill(1.0);
                }
                (weight_ih, weight_hh, bias_ih, init::zeros(&[rows]))
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
        RecurrentParams {
            weight_ih: &self.weight_ih,
            weight_hh: &self.weight_hh,
            bias_ih: &self.bias_ih,
            bias_hh: &self.bias_hh,
        }
    }

    fn named_parameters(&self, suffix: &str) -> Vec<(String, Tensor)> {
        [
            ("weight_ih", &self.weight_ih),
            ("weight_hh", &self.weight_hh),
            ("bias_ih", &self.bias_ih),
            ("bias_hh", &self.bias_hh),
        ]
        .into_iter()
        .map(|(name, tensor)| (format!("{name}_{suffix}"), tensor.clone()))
        .collect()
    }

    /// Runs this direction forwards over `x` `(B, T, I)`.
    fn run(
        &self,
        kind: CellKind,
        x: &Tensor,
        lengths: Option<&[usize]>,
        initial: Option<&State>,
    ) -> Result<(Tensor, State)> {
        match kind {
            CellKind::Lstm => {
                let initial = match initial {
                    Some(State { h, c: Some(c) }) => Some((h, c)),
                    Some(State { c: None, .. }) => {
                        return Err(Error::InvalidArgument("an LSTM's initial state needs a cell state".into()));
                    }
                    None => None,
                };
                let (output, (h, c)) = lstm(x, self.params(), lengths, initial)?;
                Ok((output, State { h, c: Some(c) }))
            }
            CellKind::Gru => {
                let (output, h) = gru(x, self.params(), lengths, initial.map(|s| &s.h))?;
                Ok((output, State { h, c: None }))
            }
            CellKind::Rnn => self.run_simple(x, lengths, initial.map(|s| &s.h)),
        }
    }

    /// The tanh RNN as a graph of small operations (it has no fused kernel: it is the
    /// lecture's teaching model, not a workhorse).
    fn run_simple(&self, x: &Tensor, lengths: Option<&[usize]>, h0: Option<&Tensor>) -> Result<(Tensor, State)> {
        let shape = x.shape();
        let (batch, time, input) = (shape[0], shape[1], shape[2]);
        let hidden = self.weight_hh.shape()[1];
        let projected = x
            .reshape(&[batch * time, input])?
            .matmul(&self.weight_ih.transpose(0, 1)?)?
            .add(&self.bias_ih)?
            .add(&self.bias_hh)?
            .reshape(&[batch, time, hidden])?;
        let recurrent = self.weight_hh.transpose(0, 1)?;
        let mut h = h0.cloned().unwrap_or_else(|| Tensor::zeros(&[batch, hidden]));
        let mut outputs = Vec::with_capacity(time);
        for step in 0..time {
            let pre = projected.narrow(1, step, 1)?.reshape(&[batch, hidden])?;
            let candidate = pre.add(&h.matmul(&recurrent)?)?.tanh();
            let (next, out) = match lengths {
                None => (candidate.clone(), candidate),
                Some(lengths) => {
                    let valid = step_mask(lengths, step);
                    let kept = candidate.mul(&valid)?;
                    (kept.add(&h.mul(&valid.neg().add_scalar(1.0))?)?, kept)
                }
            };
            h = next;
            outputs.push(out);
        }
        Ok((Tensor::stack(&outputs, 1)?, State { h, c: None }))
    }
}

/// `(batch, 1)` with 1 where `step` is inside the sequence and 0 where it is padding.
fn step_mask(lengths: &[usize], step: usize) -> Tensor {
    let values: Vec<f32> = lengths.iter().map(|&len| f32::from(u8::from(step < len))).collect();
    Tensor::constant(Array2::from_shape_vec((lengths.len(), 1), values).expect("batch × 1").into_dyn())
}

/// Keras' recurrent kernel: an orthogonal `(hidden, hidden)` block per gate, stacked.
fn keras_recurrent_kernel(gates: usize, hidden: usize, rng: &mut impl Rng) -> Result<ArrayD<f32>> {
    let blocks: Vec<ArrayD<f32>> =
        (0..gates).map(|_| init::orthogonal(&[hidden, hidden], 1.0, rng)).collect::<std::result::Result<_, _>>()?;
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
    Ok(x.reshape(&[batch * time, features])?.gather_rows(&indices)?)
}

/// A stack of recurrent layers — `torch.nn.RNN` / `LSTM` / `GRU` with `batch_first=True`.
///
/// ```
/// use malmoi_seq::recurrent::{CellKind, Recurrent, RecurrentConfig};
/// use malmoi_tensor::Tensor;
/// use ndarray::ArrayD;
/// use rand::{SeedableRng, rngs::StdRng};
///
/// let config = RecurrentConfig { bidirectional: true, ..RecurrentConfig::new(CellKind::Lstm, 8, 16) };
/// let lstm = Recurrent::new(config, &mut StdRng::seed_from_u64(0))?;
/// let x = Tensor::constant(ArrayD::ones(&[2, 5, 8][..]));
/// let out = lstm.forward(&x, Some(&[5, 3]), None)?;
/// assert_eq!(out.output.shape(), vec![2, 5, 32]);
/// assert_eq!(out.last_hidden(2)?.shape(), vec![2, 32]);
/// # Ok::<(), malmoi_seq::Error>(())
/// ```
#[derive(Debug)]
pub struct Recurrent {
    config: RecurrentConfig,
    layers: Vec<Vec<Direction>>,
    dropout: Dropout,
}

impl Recurrent {
    /// A freshly initialised stack. The dropout between layers is seeded from `rng`.
    pub fn new(config: RecurrentConfig, rng: &mut impl Rng) -> Result<Self> {
        if config.input_size == 0 || config.hidden_size == 0 || config.num_layers == 0 {
            return Err(Error::InvalidArgument(format!("empty recurrent layer: {config:?}")));
        }
        let layers = (0..config.num_layers)
            .map(|layer| {
                let input = if layer == 0 { config.input_size } else { config.output_size() };
                (0..config.directions()).map(|_| Direction::new(&config, input, rng)).collect()
            })
            .collect::<Result<_>>()?;
        let dropout = Dropout::new(config.dropout, rng.random())?;
        Ok(Self { config, layers, dropout })
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &RecurrentConfig {
        &self.config
    }

    /// Runs the stack over `x` `(batch, time, input_size)`.
    ///
    /// `lengths[b]` is the number of valid steps of sequence `b` (all `time` when `None`);
    /// `initial` gives one state per layer and direction, in the order of
    /// [`RecurrentOutput::states`] (zeros when `None`).
    /// The dropout between layers acts only in training mode.
    pub fn forward(&self, x: &Tensor, lengths: Option<&[usize]>, initial: Option<&[State]>) -> Result<RecurrentOutput> {
        self.run(x, lengths, initial, true)
    }

    /// The stack over `x`; the dropout between layers applies when `dropout` is true and the
    /// layer is in training mode.
    fn run(&self, x: &Tensor, lengths: Option<&[usize]>, initial: Option<&[State]>, dropout: bool) -> Result<RecurrentOutput> {
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
            let mut outputs = Vec::with_capacity(directions.len());
            for (d, direction) in directions.iter().enumerate() {
                let initial = initial.map(|states| &states[layer * directions.len() + d]);
                let (output, state) = if d == 0 {
                    direction.run(self.config.kind, &input, Some(lengths), initial)?
                } else {
                    let reversed = reverse_valid_steps(&input, lengths)?;
                    let (output, state) = direction.run(self.config.kind, &reversed, Some(lengths), initial)?;
                    (reverse_valid_steps(&output, lengths)?, state)
                };
                outputs.push(output);
                states.push(state);
            }
            input = if outputs.len() == 1 { outputs.pop().expect("one output") } else { Tensor::cat(&outputs, 2)? };
        }
        Ok(RecurrentOutput { output: input, states })
    }

    fn check_inputs(&self, x: &Tensor, lengths: Option<&[usize]>, initial: Option<&[State]>) -> Result<()> {
        let shape = x.shape();
        if shape.len() != 3 || shape[2] != self.config.input_size {
            return Err(Error::InvalidArgument(format!(
                "recurrent input must be (batch, time, {}), got {shape:?}",
                self.config.input_size
            )));
        }
        if let Some(lengths) = lengths.filter(|l| l.len() != shape[0] || l.iter().any(|&len| len > shape[1])) {
            return Err(Error::InvalidArgument(format!(
                "lengths {lengths:?} do not fit a batch of {} sequences of {} steps",
                shape[0], shape[1]
            )));
        }
        let expected = self.layers.len() * self.config.directions();
        if let Some(initial) = initial.filter(|states| states.len() != expected) {
            return Err(Error::InvalidArgument(format!("expected {expected} initial states, got {}", initial.len())));
        }
        Ok(())
    }

    /// Runs the stack in inference: no gradients recorded and no dropout, whatever the mode.
    pub fn predict(&self, x: &Tensor, lengths: Option<&[usize]>) -> Result<RecurrentOutput> {
        no_grad(|| self.run(x, lengths, None, false))
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
                    let suffix = if d == 0 { format!("l{layer}") } else { format!("l{layer}_reverse") };
                    direction.named_parameters(&suffix)
                })
            })
            .collect()
    }

    fn set_training(&mut self, training: bool) {
        self.dropout.set_training(training);
    }
}
