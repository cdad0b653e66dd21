//! Typed errors for every fallible operation in the crate.
//!
//! Library code never panics on bad input: shape mismatches, bad axes,
//! out-of-range indices, non-finite losses and broken checkpoint files all
//! come back as an [`Error`].

/// Everything that can go wrong in `malmoi-tensor`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operation received operands whose shapes do not fit together.
    #[error("{op}: shape mismatch: expected {expected:?}, got {got:?}")]
    Shape {
        /// The operation that refused the shapes (e.g. `"matmul"`).
        op: &'static str,
        /// The shape the operation needed (or the other operand's shape).
        expected: Vec<usize>,
        /// The shape it was given.
        got: Vec<usize>,
    },
    /// An argument is out of its valid range (axis, probability, length…).
    #[error("{op}: invalid argument: {reason}")]
    Invalid {
        /// The operation that refused the argument.
        op: &'static str,
        /// What is wrong, in words.
        reason: String,
    },
    /// An index (token id, class id) is not smaller than the dimension it indexes.
    #[error("{op}: index {index} out of range for size {size}")]
    IndexOutOfRange {
        /// The operation that refused the index.
        op: &'static str,
        /// The offending index.
        index: usize,
        /// The size of the indexed dimension.
        size: usize,
    },
    /// A scalar (one-element tensor) was required, e.g. for `backward()` or `item()`.
    #[error("expected a scalar (one element), got shape {shape:?}")]
    NotScalar {
        /// The shape that was given.
        shape: Vec<usize>,
    },
    /// `backward()` was called on a tensor that does not depend on any parameter.
    #[error("backward: the tensor does not require grad (no parameter in its graph, or built under no_grad)")]
    NoGrad,
    /// A loss, norm or gradient came out NaN or infinite.
    #[error("non-finite value in {what}")]
    NonFinite {
        /// Which quantity was not finite (e.g. `"loss"`, `"gradient norm"`).
        what: String,
    },
    /// Analytic and finite-difference gradients disagree (see [`crate::gradcheck`]).
    #[error(
        "gradient check failed for input {input} element {index}: analytic {analytic:.6e} vs numeric {numeric:.6e}"
    )]
    GradientMismatch {
        /// Which input of the checked function.
        input: usize,
        /// Flat (row-major) element index inside that input.
        index: usize,
        /// Gradient from `backward()`.
        analytic: f64,
        /// Gradient from central differences.
        numeric: f64,
    },
    /// A file could not be read or written.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A checkpoint does not contain a tensor that was asked for.
    #[error("checkpoint: missing tensor {name:?}")]
    MissingTensor {
        /// The tensor's name.
        name: String,
    },
    /// A checkpoint tensor has a different shape than the parameter it should fill.
    #[error("checkpoint: tensor {name:?} has shape {got:?}, expected {expected:?}")]
    CheckpointShape {
        /// The tensor's name.
        name: String,
        /// The parameter's shape.
        expected: Vec<usize>,
        /// The stored shape.
        got: Vec<usize>,
    },
    /// A checkpoint tensor is stored in a dtype this crate cannot load.
    #[error("checkpoint: tensor {name:?} has dtype {dtype}, expected F32")]
    WrongDtype {
        /// The tensor's name.
        name: String,
        /// The stored dtype, as text.
        dtype: String,
    },
    /// A checkpoint file is truncated, corrupt or otherwise unreadable.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// JSON (de)serialisation failed (optimiser state, configs).
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// [`Error::NonFinite`] for the quantity `what`: the one error every crate gives for a NaN
    /// or infinite value outside a training step (inside one, the training engine adds the step).
    pub fn non_finite(what: impl Into<String>) -> Self {
        Error::NonFinite { what: what.into() }
    }
}
