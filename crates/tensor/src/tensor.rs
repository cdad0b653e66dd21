//! The [`Tensor`] type and reverse-mode automatic differentiation.
//!
//! A tensor is a cheap, clonable handle (an [`Arc`]) to a node holding an
//! `ndarray` `f32` array, an optional gradient and — when it was computed
//! from other tensors while gradient recording was on — the edge back to its
//! parents together with a [`Backward`] rule. [`Tensor::backward`] walks the
//! recorded graph in reverse topological order (iteratively, so graphs of any
//! depth are fine) and accumulates gradients into the leaf parameters.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};

use ndarray::{ArrayD, IxDyn};

use crate::error::{Error, Result};
use crate::row_grad::RowGrad;

/// The backward rule of one recorded operation.
///
/// Given the gradient of the loss with respect to the operation's output,
/// return one entry per parent: `Some(gradient)` with exactly the parent's
/// shape, or `None` when the parent needs no gradient (check
/// [`Tensor::requires_grad`] to skip work). Parents are passed in the order
/// they were given to [`Tensor::from_op`]; their current values are available
/// through [`Tensor::data`].
pub trait Backward: Send + Sync {
    /// Short operation name for error messages and debugging (e.g. `"matmul"`).
    fn name(&self) -> &'static str;
    /// Gradients with respect to each parent.
    fn backward(&self, grad_output: &ArrayD<f32>, parents: &[Tensor]) -> Vec<Option<ArrayD<f32>>>;
}

/// A [`Backward`] rule made of the operation's name and a closure over what its forward pass
/// saved: the form the built-in operations record.
pub(crate) fn backward_fn<F>(name: &'static str, rule: F) -> impl Backward + 'static
where
    F: Fn(&ArrayD<f32>, &[Tensor]) -> Vec<Option<ArrayD<f32>>> + Send + Sync + 'static,
{
    FnBackward { name, rule }
}

/// The rule [`backward_fn`] builds.
struct FnBackward<F> {
    name: &'static str,
    rule: F,
}

impl<F> Backward for FnBackward<F>
where
    F: Fn(&ArrayD<f32>, &[Tensor]) -> Vec<Option<ArrayD<f32>>> + Send + Sync,
{
    fn name(&self) -> &'static str {
        self.name
    }

    fn backward(&self, grad_output: &ArrayD<f32>, parents: &[Tensor]) -> Vec<Option<ArrayD<f32>>> {
        (self.rule)(grad_output, parents)
    }
}

/// The recorded edge of a tensor computed by an operation.
struct Origin {
    parents: Vec<Tensor>,
    backward: Box<dyn Backward>,
}

/// Shared state behind a [`Tensor`] handle.
struct Node {
    data: RwLock<ArrayD<f32>>,
    grad: Mutex<Option<ArrayD<f32>>>,
    /// The row-sparse part of a leaf's gradient (from sparse lookups).
    row_grad: Mutex<Option<RowGrad>>,
    /// Fixed for results of operations; a leaf's may be switched ([`Tensor::set_requires_grad`]).
    requires_grad: AtomicBool,
    origin: Option<Origin>,
}

impl Drop for Node {
    /// Unlinks the graph iteratively: dropping the last handle to the end of
    /// a long chain (an RNN unrolled over many steps) must not recurse once
    /// per node and overflow the stack.
    fn drop(&mut self) {
        let Some(origin) = self.origin.take() else { return };
        let mut pending = origin.parents;
        while let Some(tensor) = pending.pop() {
            if let Ok(mut node) = Arc::try_unwrap(tensor.0)
                && let Some(origin) = node.origin.take()
            {
                pending.extend(origin.parents);
            }
        }
    }
}

/// An `f32` n-dimensional array that records how it was computed.
///
/// Cloning a `Tensor` clones the handle, not the array: both clones see the
/// same data and the same gradient. Tensors are `Send + Sync`; the array sits
/// behind a read-write lock and the gradient behind a mutex.
///
/// # Example
///
/// ```
/// use malmoi_tensor::Tensor;
/// use ndarray::array;
///
/// // y = sum(w · x), so dy/dw = x.
/// let w = Tensor::parameter(array![[1.0_f32, 2.0], [3.0, 4.0]].into_dyn());
/// let x = Tensor::constant(array![[0.5_f32], [-1.0]].into_dyn());
/// let y = w.matmul(&x)?.sum();
/// y.backward()?;
/// assert_eq!(y.item()?, (0.5 - 2.0) + (1.5 - 4.0));
/// assert_eq!(w.grad().unwrap(), array![[0.5_f32, -1.0], [0.5, -1.0]].into_dyn());
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Clone)]
pub struct Tensor(Arc<Node>);

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether operations on this thread currently record the graph.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Runs `f` in inference mode: operations inside record no graph, so their
/// results are constants and no intermediate values are kept for backward.
///
/// The mode is per thread (like PyTorch's `torch.no_grad()`) and is restored
/// when `f` returns or panics.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GRAD_ENABLED.with(|g| g.replace(false)));
    f()
}

/// True when an operation over `parents` will be recorded: grad mode is on
/// and at least one parent requires grad. Operations use it to skip saving
/// values that only their backward pass needs.
pub fn grad_needed(parents: &[&Tensor]) -> bool {
    is_grad_enabled() && parents.iter().any(|p| p.requires_grad())
}

impl Tensor {
    fn leaf(data: ArrayD<f32>, requires_grad: bool) -> Tensor {
        Tensor(Arc::new(Node {
            data: RwLock::new(data),
            grad: Mutex::new(None),
            row_grad: Mutex::new(None),
            requires_grad: AtomicBool::new(requires_grad),
            origin: None,
        }))
    }

    /// A leaf that never receives a gradient (inputs, targets, masks).
    pub fn constant(data: ArrayD<f32>) -> Tensor {
        Tensor::leaf(data, false)
    }

    /// A leaf that accumulates a gradient in [`Tensor::backward`] (weights).
    pub fn parameter(data: ArrayD<f32>) -> Tensor {
        Tensor::leaf(data, true)
    }

    /// A constant scalar (shape `[]`).
    pub fn scalar(value: f32) -> Tensor {
        Tensor::constant(ArrayD::from_elem(IxDyn(&[]), value))
    }

    /// A constant from a flat row-major vector and a shape.
    pub fn from_vec(shape: &[usize], values: Vec<f32>) -> Result<Tensor> {
        let len = values.len();
        ArrayD::from_shape_vec(IxDyn(shape), values).map(Tensor::constant).map_err(|_| Error::Shape {
            op: "from_vec",
            expected: shape.to_vec(),
            got: vec![len],
        })
    }

    /// A constant filled with zeros.
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// A constant filled with ones.
    pub fn ones(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 1.0)
    }

    /// A constant with every element equal to `value`.
    pub fn full(shape: &[usize], value: f32) -> Tensor {
        Tensor::constant(ArrayD::from_elem(IxDyn(shape), value))
    }

    /// The result of an operation over `parents`.
    ///
    /// The edge to the parents (and `backward`) is recorded only when grad
    /// mode is on and some parent requires grad; otherwise the result is a
    /// constant and the parents are not kept alive.
    pub fn from_op(data: ArrayD<f32>, parents: Vec<Tensor>, backward: impl Backward + 'static) -> Tensor {
        let requires_grad = is_grad_enabled() && parents.iter().any(Tensor::requires_grad);
        let origin = requires_grad.then(|| Origin { parents, backward: Box::new(backward) });
        Tensor(Arc::new(Node {
            data: RwLock::new(data),
            grad: Mutex::new(None),
            row_grad: Mutex::new(None),
            requires_grad: AtomicBool::new(requires_grad),
            origin,
        }))
    }

    /// The shape, as a vector of dimension sizes.
    pub fn shape(&self) -> Vec<usize> {
        self.data().shape().to_vec()
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.data().ndim()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data().len()
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Read access to the values. Hold the guard briefly: writers
    /// ([`Tensor::set_data`], [`Tensor::update_data`]) wait for it.
    pub fn data(&self) -> RwLockReadGuard<'_, ArrayD<f32>> {
        self.0.data.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the values.
    pub fn to_array(&self) -> ArrayD<f32> {
        self.data().clone()
    }

    /// Replaces the values; the new array must have the same shape.
    pub fn set_data(&self, data: ArrayD<f32>) -> Result<()> {
        let mut guard = self.0.data.write().unwrap_or_else(PoisonError::into_inner);
        if guard.shape() != data.shape() {
            return Err(Error::Shape { op: "set_data", expected: guard.shape().to_vec(), got: data.shape().to_vec() });
        }
        *guard = data;
        Ok(())
    }

    /// Updates the values in place (optimiser steps). The closure must keep
    /// the shape; it must not replace the array with one of another shape.
    pub fn update_data<R>(&self, f: impl FnOnce(&mut ArrayD<f32>) -> R) -> R {
        let mut guard = self.0.data.write().unwrap_or_else(PoisonError::into_inner);
        let shape = guard.shape().to_vec();
        let result = f(&mut guard);
        debug_assert_eq!(guard.shape(), shape.as_slice(), "update_data changed the shape");
        result
    }

    fn grad_lock(&self) -> MutexGuard<'_, Option<ArrayD<f32>>> {
        self.0.grad.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn row_grad_lock(&self) -> MutexGuard<'_, Option<RowGrad>> {
        self.0.row_grad.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The dense gradient, with any row-sparse part merged into it first.
    fn merged_grad_lock(&self) -> MutexGuard<'_, Option<ArrayD<f32>>> {
        let mut dense = self.grad_lock();
        if let Some(rows) = self.row_grad_lock().take() {
            rows.add_to(dense.get_or_insert_with(|| ArrayD::zeros(self.data().raw_dim())));
        }
        dense
    }

    /// A copy of the accumulated gradient (only leaf parameters get one),
    /// row-sparse parts included.
    pub fn grad(&self) -> Option<ArrayD<f32>> {
        self.merged_grad_lock().clone()
    }

    /// Calls `f` with the accumulated gradient without copying it. A
    /// row-sparse part is merged into the dense gradient first, so this
    /// gives up its sparsity; [`Tensor::with_grad_parts`] keeps it.
    pub fn with_grad<R>(&self, f: impl FnOnce(Option<&ArrayD<f32>>) -> R) -> R {
        f(self.merged_grad_lock().as_ref())
    }

    /// Calls `f` with the dense and the row-sparse part of the accumulated
    /// gradient, as stored (the gradient is their sum).
    pub fn with_grad_parts<R>(&self, f: impl FnOnce(Option<&ArrayD<f32>>, Option<&RowGrad>) -> R) -> R {
        let dense = self.grad_lock();
        let rows = self.row_grad_lock();
        f(dense.as_ref(), rows.as_ref())
    }

    /// Updates the accumulated gradient in place, if there is one, merging
    /// a row-sparse part into it first (see [`Tensor::with_grad`]).
    pub fn update_grad(&self, f: impl FnOnce(&mut ArrayD<f32>)) {
        if let Some(grad) = self.merged_grad_lock().as_mut() {
            f(grad);
        }
    }

    /// Updates both parts of the gradient in place, keeping their layout
    /// (clipping): `f` gets the dense part, then `g` the row-sparse part.
    pub fn update_grad_parts(&self, f: impl FnOnce(&mut ArrayD<f32>), g: impl FnOnce(&mut RowGrad)) {
        if let Some(grad) = self.grad_lock().as_mut() {
            f(grad);
        }
        if let Some(rows) = self.row_grad_lock().as_mut() {
            g(rows);
        }
    }

    /// Adds a row-sparse gradient (`values.row(i)` for table row
    /// `rows[i]`) to a 2-D leaf parameter. Returns `false`, storing
    /// nothing, when `self` is not a leaf that requires grad; the caller
    /// then passes the gradient on densely.
    pub(crate) fn accumulate_row_grad(&self, rows: &[usize], values: ndarray::ArrayView2<'_, f32>) -> bool {
        if self.0.origin.is_some() || !self.requires_grad() {
            return false;
        }
        self.row_grad_lock().get_or_insert_with(|| RowGrad::new(values.ncols())).push(rows, values);
        true
    }

    /// Forgets the accumulated gradient (call before each training step).
    pub fn zero_grad(&self) {
        *self.grad_lock() = None;
        *self.row_grad_lock() = None;
    }

    /// True for parameters and for results of recorded operations on them.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Freezes (`false`) or thaws (`true`) a leaf — PyTorch's `requires_grad_`: operations
    /// recorded afterwards treat a frozen parameter as a constant, so backward computes no
    /// gradient for it (a LoRA base, say). Results of operations keep theirs.
    ///
    /// # Errors
    /// [`Error::Invalid`] for the result of a recorded operation.
    pub fn set_requires_grad(&self, requires_grad: bool) -> Result<()> {
        if self.0.origin.is_some() {
            return Err(Error::Invalid {
                op: "set_requires_grad",
                reason: "only a leaf can be frozen or thawed".into(),
            });
        }
        self.0.requires_grad.store(requires_grad, Ordering::Relaxed);
        Ok(())
    }

    /// Name of the operation that produced this tensor, if it was recorded.
    pub fn op_name(&self) -> Option<&'static str> {
        self.0.origin.as_ref().map(|o| o.backward.name())
    }

    /// A constant holding a copy of the values, cut off from the graph.
    pub fn detach(&self) -> Tensor {
        Tensor::constant(self.to_array())
    }

    /// The value of a one-element tensor.
    pub fn item(&self) -> Result<f32> {
        let data = self.data();
        match data.len() {
            1 => Ok(*data.iter().next().expect("one element")),
            _ => Err(Error::NotScalar { shape: data.shape().to_vec() }),
        }
    }

    /// Backpropagates from this one-element tensor (a loss): every parameter
    /// it depends on gets `d self / d parameter` added to its gradient.
    pub fn backward(&self) -> Result<()> {
        let shape = self.shape();
        if shape.iter().product::<usize>() != 1 {
            return Err(Error::NotScalar { shape });
        }
        self.backward_with(ArrayD::ones(IxDyn(&shape)))
    }

    /// Backpropagates a given output gradient (a vector-Jacobian product):
    /// parameters get `Σ grad_output · d self / d parameter` added.
    pub fn backward_with(&self, grad_output: ArrayD<f32>) -> Result<()> {
        if grad_output.shape() != self.data().shape() {
            return Err(Error::Shape { op: "backward", expected: self.shape(), got: grad_output.shape().to_vec() });
        }
        if !self.requires_grad() {
            return Err(Error::NoGrad);
        }
        if self.0.origin.is_none() {
            accumulate_leaf(self, grad_output);
            return Ok(());
        }
        let mut pending: HashMap<*const Node, ArrayD<f32>> = HashMap::new();
        pending.insert(Arc::as_ptr(&self.0), grad_output);
        for tensor in self.recorded_nodes_in_reverse_order() {
            let Some(grad) = pending.remove(&Arc::as_ptr(&tensor.0)) else { continue };
            let origin = tensor.0.origin.as_ref().expect("recorded node");
            let parent_grads = origin.backward.backward(&grad, &origin.parents);
            drop(grad);
            if parent_grads.len() != origin.parents.len() {
                return Err(Error::Invalid {
                    op: origin.backward.name(),
                    reason: format!(
                        "backward returned {} gradients for {} parents",
                        parent_grads.len(),
                        origin.parents.len()
                    ),
                });
            }
            for (parent, parent_grad) in origin.parents.iter().zip(parent_grads) {
                let Some(parent_grad) = parent_grad else { continue };
                if !parent.requires_grad() {
                    continue;
                }
                if parent_grad.shape() != parent.data().shape() {
                    return Err(Error::Shape {
                        op: origin.backward.name(),
                        expected: parent.shape(),
                        got: parent_grad.shape().to_vec(),
                    });
                }
                if parent.0.origin.is_none() {
                    accumulate_leaf(parent, parent_grad);
                } else {
                    match pending.entry(Arc::as_ptr(&parent.0)) {
                        std::collections::hash_map::Entry::Occupied(mut e) => *e.get_mut() += &parent_grad,
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(parent_grad);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The recorded (non-leaf, grad-requiring) nodes reachable from `self`,
    /// each after every node that consumes it: an iterative depth-first
    /// post-order, reversed.
    fn recorded_nodes_in_reverse_order(&self) -> Vec<&Tensor> {
        let mut order = Vec::new();
        let mut visited: HashSet<*const Node> = HashSet::new();
        let mut stack: Vec<(&Tensor, bool)> = vec![(self, false)];
        while let Some((tensor, children_done)) = stack.pop() {
            if children_done {
                order.push(tensor);
                continue;
            }
            if !visited.insert(Arc::as_ptr(&tensor.0)) {
                continue;
            }
            stack.push((tensor, true));
            let origin = tensor.0.origin.as_ref().expect("only recorded nodes are pushed");
            for parent in &origin.parents {
                if parent.0.origin.is_some() && !visited.contains(&Arc::as_ptr(&parent.0)) {
                    stack.push((parent, false));
                }
            }
        }
        order.reverse();
        order
    }
}

/// Adds `grad` into a leaf parameter's accumulated gradient, in place.
fn accumulate_leaf(leaf: &Tensor, grad: ArrayD<f32>) {
    let mut slot = leaf.grad_lock();
    match slot.as_mut() {
        Some(existing) => *existing += &grad,
        None => *slot = Some(grad),
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tensor")
            .field("shape", &self.shape())
            .field("requires_grad", &self.requires_grad())
            .field("op", &self.op_name())
            .field("data", &*self.data())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Tensor>();
    }
}
