//! Elementwise nonlinearities: `exp`, `log`, `sqrt`, `tanh`, `sigmoid`,
//! `relu`, `gelu` (exact, PyTorch's default) and `gelu_tanh` (the tanh
//! approximation GPT-2 uses, PyTorch's `approximate='tanh'`).
//!
//! `powf` lives with the other scalar arithmetic in
//! [`elementwise`](super::elementwise).

use super::elementwise::UnaryOp;
use crate::tensor::Tensor;

impl Tensor {
    /// `e^x`, elementwise.
    pub fn exp(&self) -> Tensor {
        self.map_unary(UnaryOp::Exp)
    }

    /// Natural logarithm, elementwise.
    pub fn log(&self) -> Tensor {
        self.map_unary(UnaryOp::Log)
    }

    /// Square root, elementwise.
    pub fn sqrt(&self) -> Tensor {
        self.map_unary(UnaryOp::Sqrt)
    }

    /// Hyperbolic tangent, elementwise.
    pub fn tanh(&self) -> Tensor {
        self.map_unary(UnaryOp::Tanh)
    }

    /// Logistic function `1 / (1 + e^-x)`, elementwise (computed without overflow).
    pub fn sigmoid(&self) -> Tensor {
        self.map_unary(UnaryOp::Sigmoid)
    }

    /// `max(x, 0)`, elementwise; the derivative at 0 is taken as 0.
    pub fn relu(&self) -> Tensor {
        self.map_unary(UnaryOp::Relu)
    }

    /// Exact GELU `x·Φ(x)` with the Gaussian CDF via `erf`: matches PyTorch's
    /// default `nn.GELU()` / `F.gelu(x)` (`approximate='none'`, used by BERT).
    pub fn gelu(&self) -> Tensor {
        self.map_unary(UnaryOp::Gelu)
    }

    /// GELU's tanh approximation `0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))`:
    /// PyTorch's `F.gelu(x, approximate='tanh')`, as in GPT-2.
    pub fn gelu_tanh(&self) -> Tensor {
        self.map_unary(UnaryOp::GeluTanh)
    }

    /// SiLU (swish) `x·σ(x)`: PyTorch's `F.silu`, the gate of Llama's MLP.
    pub fn silu(&self) -> Tensor {
        self.map_unary(UnaryOp::Silu)
    }
}
