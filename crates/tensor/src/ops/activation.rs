//! Elementwise nonlinearities: `exp`, `log`, `sqrt`, `tanh`, `sigmoid`,
//! `relu`, `gelu` (exact, PyTorch's default) and `gelu_tanh` (the tanh
//! approximation GPT-2 uses, PyTorch's `approximate='tanh'`).
//!
//! `powf` lives with the other scalar arithmetic in
//! [`elementwise`](super::elementwise).

use super::elementwise::UnaryOp;
use crate::tensor::Tensor;

/// Defines one `Tensor` method per elementwise function [`UnaryOp`].
macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident;)*) => {
        impl Tensor {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Tensor {
                    self.map_unary(UnaryOp::$op)
                }
            )*
        }
    };
}

unary_methods! {
    /// `e^x`, elementwise.
    exp => Exp;
    /// Natural logarithm, elementwise.
    log => Log;
    /// Square root, elementwise.
    sqrt => Sqrt;
    /// Hyperbolic tangent, elementwise.
    tanh => Tanh;
    /// Logistic function `1 / (1 + e^-x)`, elementwise (computed without overflow).
    sigmoid => Sigmoid;
    /// `max(x, 0)`, elementwise; the derivative at 0 is taken as 0.
    relu => Relu;
    /// Exact GELU `x·Φ(x)` with the Gaussian CDF via `erf`: matches PyTorch's
    /// default `nn.GELU()` / `F.gelu(x)` (`approximate='none'`, used by BERT).
    gelu => Gelu;
    /// GELU's tanh approximation `0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))`:
    /// PyTorch's `F.gelu(x, approximate='tanh')`, as in GPT-2.
    gelu_tanh => GeluTanh;
    /// SiLU (swish) `x·σ(x)`: PyTorch's `F.silu`, the gate of Llama's MLP.
    silu => Silu;
}
