//! Optimisers and learning-rate schedules.
//!
//! An optimiser owns the named parameters of a model
//! ([`Module::named_parameters`](crate::nn::Module::named_parameters)) and
//! one state buffer per parameter and kind (momentum, moment estimates). After
//! `loss.backward()`, [`Optimizer::step`] updates every parameter that has a
//! gradient; [`Optimizer::zero_grad`] clears the gradients for the next batch.
//! [`Optimizer::state`] / [`Optimizer::load_state`] capture and restore
//! everything a resumed run needs, and [`OptimizerState`] saves it as a
//! safetensors file (buffers named `"{buffer}.{parameter}"`, e.g.
//! `"exp_avg.encoder.weight"`).
//!
//! **Row-sparse gradients** ([`RowGrad`], from
//! [`Tensor::gather_rows_sparse`] or an
//! [`Embedding`](crate::nn::Embedding) with sparse gradients) are applied
//! lazily: when a parameter's whole gradient is row-sparse, only the touched
//! rows of the parameter and of its state buffers change, by the optimiser's
//! usual rule (lazy Adam, like PyTorch's `SparseAdam`; the step count used
//! for bias correction is the parameter's, as there). Untouched rows get no
//! weight decay and no momentum. For plain SGD (no momentum, no weight
//! decay) this equals the dense update exactly; when a parameter also has a
//! dense gradient (a tied output layer) the two are summed and applied
//! densely.
//!
//! ```
//! use malmoi_tensor::nn::{Linear, Module};
//! use malmoi_tensor::optim::{Adam, Optimizer, Schedule};
//! use malmoi_tensor::Tensor;
//! use ndarray::array;
//! use malmoi_tensor::VarBuilder;
//!
//! let model = Linear::new(2, 1, true, VarBuilder::fresh(0))?;
//! let mut optimizer = Adam::new(model.named_parameters(), 0.05)?;
//! let schedule = Schedule::warmup_cosine(10, 200, 0.1)?;
//! let x = Tensor::constant(array![[1.0_f32, 2.0], [3.0, -1.0]].into_dyn());
//! let y = Tensor::constant(array![[1.0_f32], [-2.0]].into_dyn());
//! for step in 0..200 {
//!     optimizer.set_learning_rate(schedule.learning_rate(0.05, step));
//!     optimizer.zero_grad();
//!     let loss = model.forward(&x)?.mse_loss(&y)?;
//!     loss.backward()?;
//!     optimizer.step()?;
//! }
//! assert!(model.forward(&x)?.mse_loss(&y)?.item()? < 1e-3);
//! # Ok::<(), malmoi_tensor::Error>(())
//! ```

mod adam;
mod adamw;
mod rmsprop;
mod schedule;
mod sgd;

pub use adam::Adam;
pub use adamw::AdamW;
pub use rmsprop::RmsProp;
pub use schedule::Schedule;
pub use sgd::Sgd;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use ndarray::{ArrayD, Axis};

use crate::checkpoint;
use crate::error::{Error, Result};
use crate::row_grad::RowGrad;
use crate::tensor::Tensor;

/// A gradient-based optimiser (`Send`, so a training loop can run on any thread).
pub trait Optimizer: Send {
    /// Updates every parameter that has a gradient.
    ///
    /// # Errors
    /// [`Error::NonFinite`] if the learning rate is not finite.
    fn step(&mut self) -> Result<()>;

    /// Forgets the gradients of all parameters.
    fn zero_grad(&self);

    /// The current learning rate.
    fn learning_rate(&self) -> f32;

    /// Sets the learning rate (schedules call this before each step).
    fn set_learning_rate(&mut self, learning_rate: f32);

    /// Everything needed to resume: buffers, step counts and learning rate.
    fn state(&self) -> OptimizerState;

    /// Restores a state captured by [`Optimizer::state`] of the same kind of
    /// optimiser over parameters with the same names and shapes.
    ///
    /// # Errors
    /// [`Error::Invalid`] for another kind of optimiser; as
    /// [`Checkpoint::get_shaped`](checkpoint::Checkpoint::get_shaped) for
    /// missing or misshapen buffers.
    fn load_state(&mut self, state: &OptimizerState) -> Result<()>;
}

/// An optimiser's resumable state.
#[derive(Debug, Clone)]
pub struct OptimizerState {
    /// Which optimiser wrote it (`"sgd"`, `"rmsprop"`, `"adam"`, `"adamw"`).
    pub kind: String,
    /// The learning rate at the time.
    pub learning_rate: f32,
    /// Number of updates applied to each parameter, by parameter name.
    pub steps: BTreeMap<String, u64>,
    /// Buffers named `"{buffer}.{parameter}"`.
    pub buffers: BTreeMap<String, ArrayD<f32>>,
}

impl OptimizerState {
    /// Writes the state to a safetensors file (atomically); the kind,
    /// learning rate and step counts go into the metadata.
    ///
    /// # Errors
    /// As [`checkpoint::save`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let metadata = BTreeMap::from([
            ("optimizer".to_string(), self.kind.clone()),
            ("learning_rate".to_string(), self.learning_rate.to_string()),
            ("steps".to_string(), serde_json::to_string(&self.steps)?),
        ]);
        checkpoint::save(path, self.buffers.iter().map(|(name, a)| (name.as_str(), a)), &metadata)
    }

    /// Reads a state written by [`OptimizerState::save`].
    ///
    /// # Errors
    /// As [`checkpoint::load`], plus [`Error::Checkpoint`] when the metadata
    /// is missing or malformed.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = checkpoint::load(path)?;
        let field = |key: &str| {
            file.metadata()
                .get(key)
                .ok_or_else(|| Error::Checkpoint(format!("{}: no {key:?} in the optimiser metadata", path.display())))
        };
        let learning_rate = field("learning_rate")?
            .parse()
            .map_err(|e| Error::Checkpoint(format!("{}: learning_rate: {e}", path.display())))?;
        let mut buffers = BTreeMap::new();
        for name in file.names() {
            buffers.insert(name.to_string(), file.get(name)?.clone());
        }
        Ok(OptimizerState {
            kind: field("optimizer")?.clone(),
            learning_rate,
            steps: serde_json::from_str(field("steps")?)?,
            buffers,
        })
    }
}

/// Parameters that share hyperparameters, as PyTorch's parameter groups: a
/// group may set its own weight decay (biases and norms usually take none).
///
/// ```
/// use malmoi_tensor::nn::{Linear, Module};
/// use malmoi_tensor::optim::{AdamW, ParamGroup};
/// use malmoi_tensor::VarBuilder;
///
/// let layer = Linear::new(4, 2, true, VarBuilder::fresh(0))?;
/// // nanoGPT's split: decay on matrices, none on vectors; one optimiser, one state file
/// let groups = ParamGroup::decay_matrices(layer.named_parameters(), 0.1);
/// assert_eq!(groups[0].weight_decay, Some(0.1));
/// assert_eq!(groups[1].weight_decay, Some(0.0));
/// let adamw = AdamW::groups(groups, 1e-3)?;
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ParamGroup {
    /// The group's named parameters.
    pub params: Vec<(String, Tensor)>,
    /// The group's weight decay; `None` takes the optimiser's.
    pub weight_decay: Option<f32>,
}

impl ParamGroup {
    /// A group with the optimiser's hyperparameters.
    pub fn new(params: Vec<(String, Tensor)>) -> Self {
        ParamGroup { params, weight_decay: None }
    }

    /// Sets the group's weight decay.
    pub fn with_weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = Some(weight_decay);
        self
    }

    /// nanoGPT's (and Hugging Face's) split: `weight_decay` on the parameters of two or more
    /// dimensions (weight matrices, embeddings), none on biases and norms.
    pub fn decay_matrices(params: Vec<(String, Tensor)>, weight_decay: f32) -> Vec<ParamGroup> {
        let (matrices, vectors): (Vec<_>, Vec<_>) = params.into_iter().partition(|(_, p)| p.ndim() >= 2);
        vec![ParamGroup::new(matrices).with_weight_decay(weight_decay), ParamGroup::new(vectors).with_weight_decay(0.0)]
    }
}

/// The parameters an optimiser updates, with their state buffers and step
/// counts — the bookkeeping every optimiser shares.
#[derive(Debug)]
struct ParamSlots {
    kind: &'static str,
    params: Vec<(String, Tensor)>,
    /// Each parameter's group weight decay (`None`: the optimiser's).
    weight_decay: Vec<Option<f32>>,
    buffer_names: &'static [&'static str],
    /// `buffers[param][kind]`, zeros until the parameter's first update.
    buffers: Vec<Vec<ArrayD<f32>>>,
    steps: Vec<u64>,
}

impl ParamSlots {
    fn new(kind: &'static str, params: Vec<(String, Tensor)>, buffer_names: &'static [&'static str]) -> Result<Self> {
        Self::grouped(kind, vec![ParamGroup::new(params)], buffer_names)
    }

    fn grouped(kind: &'static str, groups: Vec<ParamGroup>, buffer_names: &'static [&'static str]) -> Result<Self> {
        for decay in groups.iter().filter_map(|g| g.weight_decay) {
            check_range(kind, "group weight_decay", decay, 0.0..)?;
        }
        let weight_decay = groups.iter().flat_map(|g| g.params.iter().map(|_| g.weight_decay)).collect();
        let params: Vec<(String, Tensor)> = groups.into_iter().flat_map(|g| g.params).collect();
        let mut seen = HashSet::new();
        if let Some((name, _)) = params.iter().find(|(name, _)| !seen.insert(name.as_str())) {
            return Err(Error::Invalid { op: kind, reason: format!("parameter name {name:?} appears twice") });
        }
        let buffers = params
            .iter()
            .map(|(_, p)| buffer_names.iter().map(|_| ArrayD::zeros(p.data().raw_dim())).collect())
            .collect();
        let steps = vec![0; params.len()];
        Ok(ParamSlots { kind, params, weight_decay, buffer_names, buffers, steps })
    }

    /// Calls `update(parameter, gradient, buffers, step, group weight decay)` for
    /// every parameter with a gradient, `step` counting this update (1 on the first).
    fn update(
        &mut self,
        learning_rate: f32,
        mut update: impl FnMut(&mut ArrayD<f32>, &ArrayD<f32>, &mut [ArrayD<f32>], u64, Option<f32>),
    ) -> Result<()> {
        if !learning_rate.is_finite() {
            return Err(Error::NonFinite { what: format!("{} learning rate", self.kind) });
        }
        let slots = self.params.iter().zip(&self.weight_decay).zip(&mut self.buffers).zip(&mut self.steps);
        for ((((_, param), &decay), buffers), step) in slots {
            let mut update = |value: &mut ArrayD<f32>, grad: &ArrayD<f32>, buffers: &mut [ArrayD<f32>], step| {
                update(value, grad, buffers, step, decay)
            };
            let rows = param.with_grad_parts(|dense, rows| match (dense, rows) {
                (None, Some(rows)) => Some(rows.coalesce()),
                _ => None,
            });
            match rows {
                Some(rows) => {
                    *step += 1;
                    param.update_data(|value| update_rows(value, &rows, buffers, *step, &mut update));
                }
                None => param.with_grad(|grad| {
                    if let Some(grad) = grad {
                        *step += 1;
                        param.update_data(|value| update(value, grad, buffers, *step));
                    }
                }),
            }
        }
        Ok(())
    }

    fn zero_grad(&self) {
        self.params.iter().for_each(|(_, p)| p.zero_grad());
    }

    fn state(&self, learning_rate: f32) -> OptimizerState {
        let mut state = OptimizerState {
            kind: self.kind.to_string(),
            learning_rate,
            steps: BTreeMap::new(),
            buffers: BTreeMap::new(),
        };
        for (((name, _), buffers), &step) in self.params.iter().zip(&self.buffers).zip(&self.steps) {
            state.steps.insert(name.clone(), step);
            for (buffer_name, buffer) in self.buffer_names.iter().zip(buffers) {
                state.buffers.insert(format!("{buffer_name}.{name}"), buffer.clone());
            }
        }
        state
    }

    /// Restores buffers and steps; returns the saved learning rate.
    fn load_state(&mut self, state: &OptimizerState) -> Result<f32> {
        if state.kind != self.kind {
            return Err(Error::Invalid {
                op: self.kind,
                reason: format!("cannot load the state of a {:?} optimiser", state.kind),
            });
        }
        let mut restored = Vec::with_capacity(self.params.len());
        for (name, param) in &self.params {
            let step = *state.steps.get(name).ok_or_else(|| Error::MissingTensor { name: format!("steps.{name}") })?;
            let mut buffers = Vec::with_capacity(self.buffer_names.len());
            for buffer_name in self.buffer_names {
                let key = format!("{buffer_name}.{name}");
                let buffer = state.buffers.get(&key).ok_or_else(|| Error::MissingTensor { name: key.clone() })?;
                if buffer.shape() != param.data().shape() {
                    return Err(Error::CheckpointShape {
                        name: key,
                        expected: param.shape(),
                        got: buffer.shape().to_vec(),
                    });
                }
                buffers.push(buffer.clone());
            }
            restored.push((step, buffers));
        }
        for ((step, buffers), (slot_step, slot_buffers)) in
            restored.into_iter().zip(self.steps.iter_mut().zip(&mut self.buffers))
        {
            *slot_step = step;
            *slot_buffers = buffers;
        }
        Ok(state.learning_rate)
    }
}

/// The lazy update of a parameter whose whole gradient is row-sparse: the
/// touched rows of the parameter and of its buffers are gathered, updated by
/// the optimiser's own rule, and written back; every other row, and its
/// optimiser state, stays as it is (PyTorch's `SparseAdam` semantics).
fn update_rows(
    value: &mut ArrayD<f32>,
    rows: &RowGrad,
    buffers: &mut [ArrayD<f32>],
    step: u64,
    update: &mut impl FnMut(&mut ArrayD<f32>, &ArrayD<f32>, &mut [ArrayD<f32>], u64),
) {
    let index = rows.rows();
    let mut touched = value.select(Axis(0), index);
    let mut states: Vec<ArrayD<f32>> = buffers.iter().map(|b| b.select(Axis(0), index)).collect();
    update(&mut touched, &rows.values().to_owned().into_dyn(), &mut states, step);
    scatter_rows(value, index, &touched);
    for (buffer, state) in buffers.iter_mut().zip(&states) {
        scatter_rows(buffer, index, state);
    }
}

/// Writes `source.row(i)` into row `index[i]` of `target`.
fn scatter_rows(target: &mut ArrayD<f32>, index: &[usize], source: &ArrayD<f32>) {
    for (&row, values) in index.iter().zip(source.outer_iter()) {
        target.index_axis_mut(Axis(0), row).assign(&values);
    }
}

/// Checks that a hyperparameter lies in `range`, naming it otherwise.
fn check_range(op: &'static str, name: &str, value: f32, range: impl std::ops::RangeBounds<f32>) -> Result<()> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(Error::Invalid { op, reason: format!("{name} = {value} is out of range") })
    }
}

/// Implements [`Optimizer`]'s bookkeeping methods for a struct with `slots`
/// and `learning_rate` fields and an `update` method.
macro_rules! optimizer_bookkeeping {
    () => {
        fn step(&mut self) -> crate::error::Result<()> {
            self.update()
        }

        fn zero_grad(&self) {
            self.slots.zero_grad();
        }

        fn learning_rate(&self) -> f32 {
            self.learning_rate
        }

        fn set_learning_rate(&mut self, learning_rate: f32) {
            self.learning_rate = learning_rate;
        }

        fn state(&self) -> crate::optim::OptimizerState {
            self.slots.state(self.learning_rate)
        }

        fn load_state(&mut self, state: &crate::optim::OptimizerState) -> crate::error::Result<()> {
            self.learning_rate = self.slots.load_state(state)?;
            Ok(())
        }
    };
}
pub(crate) use optimizer_bookkeeping;
