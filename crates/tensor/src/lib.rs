//! # malmoi-tensor
//!
//! ndarray `f32` tensors with reverse-mode autograd, fused recurrent and
//! attention kernels, layers, optimisers and safetensors checkpoints.
//!
//! The core is [`Tensor`]: a cheap handle to an array that records the
//! operations that made it, so [`Tensor::backward`] can fill the gradients of
//! the parameters a loss depends on. Operations are methods on `Tensor`
//! (see [`ops`]), named after PyTorch's; [`no_grad`] turns recording off;
//! [`gradcheck::check_gradients`] verifies any differentiable function
//! against finite differences.

pub mod checkpoint;
pub mod error;
pub mod gradcheck;
pub mod kernels;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod row_grad;
pub mod tensor;
pub mod var_builder;

pub use error::{Error, Result};
pub use gradcheck::{GradCheckOptions, GradCheckReport, check_gradients};
pub use ops::clip::clip_grad_norm;
pub use row_grad::RowGrad;
pub use tensor::{Backward, Tensor, grad_needed, is_grad_enabled, no_grad};
pub use var_builder::VarBuilder;

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
