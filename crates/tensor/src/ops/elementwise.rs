//! Elementwise arithmetic with numpy broadcasting: `add`, `sub`, `mul`,
//! `div`, `minimum`, `maximum` between tensors, and scalar `add_scalar`,
//! `mul_scalar`, `neg`, `powf`, `clamp`.
//!
//! The backward of a broadcasting op sums the incoming gradient back to each
//! operand's shape ([`reduce_to_shape`]).

use ndarray::{ArrayD, IxDyn, Zip};

use super::{PARALLEL_MIN_ELEMENTS, broadcast_shapes, reduce_to_shape};
use crate::error::Result;
use crate::kernels::activation::exp as fast_exp;
use crate::tensor::{Tensor, backward_fn};

/// A broadcasting binary operation.
#[derive(Clone, Copy, Debug)]
enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Minimum,
    Maximum,
}

impl BinaryOp {
    fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Minimum => "minimum",
            BinaryOp::Maximum => "maximum",
        }
    }

    /// Share of the gradient that goes to operand `x` when the other is `y`
    /// (`minimum`/`maximum`): all of it when `x` is selected, half on ties
    /// (as PyTorch), none otherwise.
    fn selection_share(self, x: f32, y: f32) -> f32 {
        if x == y {
            0.5
        } else if (x < y) == matches!(self, BinaryOp::Minimum) {
            1.0
        } else {
            0.0
        }
    }

    /// The gradient of one operand of `minimum`/`maximum`, at full shape.
    fn selection_grad(self, grad: &ArrayD<f32>, x: &ArrayD<f32>, y: &ArrayD<f32>) -> ArrayD<f32> {
        let x = x.broadcast(grad.raw_dim()).expect("operands broadcast to the output");
        let y = y.broadcast(grad.raw_dim()).expect("operands broadcast to the output");
        let mut out = grad.clone();
        Zip::from(&mut out).and(&x).and(&y).for_each(|g, &x, &y| *g *= self.selection_share(x, y));
        out
    }

    /// The backward: the gradients of both operands, each summed back to its shape.
    fn grads(self, grad: &ArrayD<f32>, parents: &[Tensor]) -> Vec<Option<ArrayD<f32>>> {
        let (a, b) = (&parents[0], &parents[1]);
        let grad_a = a.requires_grad().then(|| {
            let full = match self {
                BinaryOp::Add | BinaryOp::Sub => grad.clone(),
                BinaryOp::Mul => grad * &*b.data(),
                BinaryOp::Div => grad / &*b.data(),
                BinaryOp::Minimum | BinaryOp::Maximum => self.selection_grad(grad, &a.data(), &b.data()),
            };
            reduce_to_shape(full, a.data().shape())
        });
        let grad_b = b.requires_grad().then(|| {
            let full = match self {
                BinaryOp::Add => grad.clone(),
                BinaryOp::Sub => -grad,
                BinaryOp::Mul => grad * &*a.data(),
                BinaryOp::Div => {
                    let b = b.data();
                    -(grad * &*a.data()) / &(&*b * &*b)
                }
                BinaryOp::Minimum | BinaryOp::Maximum => self.selection_grad(grad, &b.data(), &a.data()),
            };
            reduce_to_shape(full, b.data().shape())
        });
        vec![grad_a, grad_b]
    }
}

/// Defines one `Tensor` method per [`BinaryOp`], each taking the other operand.
macro_rules! binary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident;)*) => {
        impl Tensor {
            $(
                $(#[$doc])*
                pub fn $name(&self, other: &Tensor) -> Result<Tensor> {
                    self.binary(other, BinaryOp::$op)
                }
            )*
        }
    };
}

binary_methods! {
    /// `self + other`, broadcasting like numpy.
    add => Add;
    /// `self - other`, broadcasting like numpy.
    sub => Sub;
    /// Elementwise `self * other`, broadcasting like numpy.
    mul => Mul;
    /// Elementwise `self / other`, broadcasting like numpy.
    div => Div;
    /// Elementwise minimum, broadcasting (`torch.minimum`); on ties each
    /// operand gets half the gradient, as in PyTorch.
    minimum => Minimum;
    /// Elementwise maximum, broadcasting (`torch.maximum`); on ties each
    /// operand gets half the gradient, as in PyTorch.
    maximum => Maximum;
}

impl Tensor {
    fn binary(&self, other: &Tensor, op: BinaryOp) -> Result<Tensor> {
        let name = op.name();
        let value = {
            let (a, b) = (self.data(), other.data());
            let shape = broadcast_shapes(name, a.shape(), b.shape())?;
            match op {
                BinaryOp::Add => &*a + &*b,
                BinaryOp::Sub => &*a - &*b,
                BinaryOp::Mul => &*a * &*b,
                BinaryOp::Div => &*a / &*b,
                BinaryOp::Minimum | BinaryOp::Maximum => {
                    let (a, b) =
                        (a.broadcast(IxDyn(&shape)).expect("checked"), b.broadcast(IxDyn(&shape)).expect("checked"));
                    let pick_a = |x: f32, y: f32| x.is_nan() || op.selection_share(x, y) > 0.0;
                    Zip::from(&a).and(&b).map_collect(|&x, &y| if pick_a(x, y) { x } else { y })
                }
            }
        };
        let backward = backward_fn(name, move |grad, parents| op.grads(grad, parents));
        Ok(Tensor::from_op(value, vec![self.clone(), other.clone()], backward))
    }

    /// Limits every element to `[min, max]` (`torch.clamp`); the gradient
    /// passes where the input lies inside the range (bounds included).
    pub fn clamp(&self, min: f32, max: f32) -> Result<Tensor> {
        if min.is_nan() || max.is_nan() || min > max {
            return Err(crate::error::Error::Invalid {
                op: "clamp",
                reason: format!("need min <= max, got {min} and {max}"),
            });
        }
        Ok(self.map_unary(UnaryOp::Clamp(min, max)))
    }

    /// `self + value`.
    pub fn add_scalar(&self, value: f32) -> Tensor {
        self.map_unary(UnaryOp::AddScalar(value))
    }

    /// `self * value`.
    pub fn mul_scalar(&self, value: f32) -> Tensor {
        self.map_unary(UnaryOp::MulScalar(value))
    }

    /// `-self`.
    pub fn neg(&self) -> Tensor {
        self.map_unary(UnaryOp::MulScalar(-1.0))
    }

    /// `self ^ exponent`, elementwise (PyTorch's `pow` with a float exponent).
    pub fn powf(&self, exponent: f32) -> Tensor {
        self.map_unary(UnaryOp::Pow(exponent))
    }

    /// Applies an elementwise function; the backward multiplies by its
    /// derivative, computed from the input or (when cheaper) the saved output.
    pub(crate) fn map_unary(&self, op: UnaryOp) -> Tensor {
        let output = op.map(&self.data());
        let saved_output = (op.derivative_from_output() && crate::tensor::grad_needed(&[self])).then(|| output.clone());
        let backward =
            backward_fn(op.name(), move |grad, parents| vec![Some(op.grad(grad, saved_output.as_ref(), parents))]);
        Tensor::from_op(output, vec![self.clone()], backward)
    }
}

/// `f` of every element of `x` into a fresh array (never zero-filled first), on the current
/// rayon pool for large arrays. Generic over `f`, so each caller's loop is compiled for its own
/// function and vectorises where `f` does.
fn map_elements(x: &ArrayD<f32>, f: impl Fn(f32) -> f32 + Sync + Send) -> ArrayD<f32> {
    let zip = Zip::from(x);
    if x.len() >= PARALLEL_MIN_ELEMENTS { zip.par_map_collect(|&v| f(v)) } else { zip.map_collect(|&v| f(v)) }
}

/// `g · f(v)` elementwise into a fresh array, as [`map_elements`].
fn scale_elements(g: &ArrayD<f32>, v: &ArrayD<f32>, f: impl Fn(f32) -> f32 + Sync + Send) -> ArrayD<f32> {
    let zip = Zip::from(g).and(v);
    if g.len() >= PARALLEL_MIN_ELEMENTS {
        zip.par_map_collect(|&g, &v| g * f(v))
    } else {
        zip.map_collect(|&g, &v| g * f(v))
    }
}

/// An elementwise function `f(x)` with a known derivative.
#[derive(Clone, Copy, Debug)]
pub(crate) enum UnaryOp {
    AddScalar(f32),
    MulScalar(f32),
    Pow(f32),
    Clamp(f32, f32),
    Exp,
    Log,
    Sqrt,
    Tanh,
    Sigmoid,
    Relu,
    /// Exact GELU, `x·Φ(x)` (PyTorch's default `approximate='none'`).
    Gelu,
    /// GELU's tanh approximation (`approximate='tanh'`, GPT-2).
    GeluTanh,
    /// SiLU (swish), `x·σ(x)` (Llama's MLP gate).
    Silu,
}

const SQRT_2_OVER_PI: f32 = 0.797_884_6;

/// `tanh(x) = 1 − 2 / (1 + e^{2x})`, for GELU's tanh approximation. glibc's `tanhf` goes through
/// `expm1f` and took 30 % of a GPT training step (`perf record`, docs/performance.md), and
/// glibc's `expf` is a call no loop vectorises (GELU still took 14 %); the kernels' branch-free
/// `exp` compiles to SIMD code. The absolute error stays below 2.4e-7 (twice f32's spacing at
/// 1), which is all GELU sees: it uses `1 + tanh`, never tanh's relative precision near 0.
/// Saturates to ±1 (the exp is clamped to `[e^−87.3, e^88]`).
#[inline(always)]
fn tanh_via_exp(x: f32) -> f32 {
    1.0 - 2.0 / (1.0 + fast_exp(2.0 * x))
}

/// GPT-2's GELU, `0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))`.
#[inline(always)]
fn gelu_tanh(x: f32) -> f32 {
    0.5 * x * (1.0 + tanh_via_exp(SQRT_2_OVER_PI * (x + GELU_TANH_COEFF * x * x * x)))
}

/// The derivative of [`gelu_tanh`].
#[inline(always)]
fn gelu_tanh_derivative(x: f32) -> f32 {
    let t = tanh_via_exp(SQRT_2_OVER_PI * (x + GELU_TANH_COEFF * x * x * x));
    let d_inner = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_COEFF * x * x);
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner
}
const GELU_TANH_COEFF: f32 = 0.044_715;

impl UnaryOp {
    fn name(self) -> &'static str {
        match self {
            UnaryOp::AddScalar(_) => "add_scalar",
            UnaryOp::MulScalar(_) => "mul_scalar",
            UnaryOp::Pow(_) => "powf",
            UnaryOp::Clamp(..) => "clamp",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Relu => "relu",
            UnaryOp::Gelu => "gelu",
            UnaryOp::GeluTanh => "gelu_tanh",
            UnaryOp::Silu => "silu",
        }
    }

    /// `f` of every element of `x`; GELU's tanh form (GPT-2's MLP) runs in its own
    /// vectorised loop, the others through [`apply`](Self::apply).
    fn map(self, x: &ArrayD<f32>) -> ArrayD<f32> {
        match self {
            UnaryOp::GeluTanh => map_elements(x, gelu_tanh),
            op => map_elements(x, move |v| op.apply(v)),
        }
    }

    pub(crate) fn apply(self, x: f32) -> f32 {
        match self {
            UnaryOp::AddScalar(c) => x + c,
            UnaryOp::MulScalar(c) => x * c,
            UnaryOp::Pow(p) => x.powf(p),
            UnaryOp::Clamp(lo, hi) => x.clamp(lo, hi),
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Sigmoid => sigmoid(x),
            UnaryOp::Relu => x.max(0.0),
            UnaryOp::Gelu => 0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2)),
            UnaryOp::GeluTanh => gelu_tanh(x),
            UnaryOp::Silu => x / (1.0 + (-x).exp()),
        }
    }

    /// True when the derivative is cheapest as a function of the output.
    fn derivative_from_output(self) -> bool {
        matches!(self, UnaryOp::Exp | UnaryOp::Sqrt | UnaryOp::Tanh | UnaryOp::Sigmoid)
    }

    /// The backward: `grad` times the derivative, from the saved output when the forward pass
    /// kept it ([`derivative_from_output`](Self::derivative_from_output)), else from the input.
    fn grad(self, grad: &ArrayD<f32>, saved_output: Option<&ArrayD<f32>>, parents: &[Tensor]) -> ArrayD<f32> {
        match (saved_output, self) {
            (Some(output), op) => scale_elements(grad, output, move |y| op.derivative(y)),
            (None, UnaryOp::GeluTanh) => scale_elements(grad, &parents[0].data(), gelu_tanh_derivative),
            (None, op) => scale_elements(grad, &parents[0].data(), move |x| op.derivative(x)),
        }
    }

    /// `f'`, given the output `y` for ops that [`derivative_from_output`]
    /// and the input `x` for the others.
    fn derivative(self, v: f32) -> f32 {
        match self {
            UnaryOp::AddScalar(_) => 1.0,
            UnaryOp::MulScalar(c) => c,
            UnaryOp::Pow(p) => p * v.powf(p - 1.0),
            UnaryOp::Clamp(lo, hi) => {
                if (lo..=hi).contains(&v) {
                    1.0
                } else {
                    0.0
                }
            }
            UnaryOp::Exp => v,
            UnaryOp::Log => 1.0 / v,
            UnaryOp::Sqrt => 0.5 / v,
            UnaryOp::Tanh => 1.0 - v * v,
            UnaryOp::Sigmoid => v * (1.0 - v),
            UnaryOp::Relu => {
                if v > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            UnaryOp::Gelu => {
                let cdf = 0.5 * (1.0 + libm::erff(v * std::f32::consts::FRAC_1_SQRT_2));
                let pdf =
                    (-0.5 * v * v).exp() * (0.5 * std::f32::consts::FRAC_2_SQRT_PI * std::f32::consts::FRAC_1_SQRT_2);
                cdf + v * pdf
            }
            UnaryOp::GeluTanh => gelu_tanh_derivative(v),
            UnaryOp::Silu => {
                let sigmoid = 1.0 / (1.0 + (-v).exp());
                sigmoid * (1.0 + v * (1.0 - sigmoid))
            }
        }
    }
}

/// Numerically safe logistic function.
pub(crate) fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::tanh_via_exp;

    #[test]
    fn tanh_via_exp_stays_within_f32_spacing_of_tanh() {
        let worst = (-2_000_000..=2_000_000)
            .map(|i| i as f32 * 1e-5)
            .chain([-100.0, -45.0, 45.0, 100.0, f32::MAX, f32::MIN])
            .map(|x| (tanh_via_exp(x) - x.tanh()).abs())
            .fold(0.0, f32::max);
        assert!(worst <= 2.4e-7, "worst absolute error {worst}");
        assert_eq!(tanh_via_exp(f32::INFINITY), 1.0);
        assert_eq!(tanh_via_exp(f32::NEG_INFINITY), -1.0);
        assert!(tanh_via_exp(f32::NAN).is_nan());
    }
}
