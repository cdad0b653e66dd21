//! # malmoi-tensor
//!
//! ndarray `f32` tensors with reverse-mode autograd, fused recurrent and
//! attention kernels, layers, optimisers and safetensors checkpoints.

pub mod checkpoint;
pub mod error;
pub mod gradcheck;
pub mod kernels;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod tensor;
