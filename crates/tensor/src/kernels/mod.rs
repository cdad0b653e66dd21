//! Fused kernels: whole-sequence LSTM and GRU, and scaled dot-product
//! attention, each with a hand-written backward pass.
//!
//! A graph of small autograd ops would record thousands of nodes for one
//! recurrent layer over one batch; these kernels run the whole thing as a
//! few large matrix products plus tight elementwise loops, and keep exactly
//! what the backward pass needs.
//!
//! Every kernel comes in two layers:
//!
//! * plain ndarray functions (`lstm_forward` / `lstm_backward`, …): forward
//!   returns the outputs and a cache, backward takes the cache and the output
//!   gradients and returns every input gradient;
//! * autograd operations on [`Tensor`](crate::tensor::Tensor)s
//!   ([`lstm`], [`gru`], [`scaled_dot_product_attention`]) built on them.
//!
//! Recurrent kernels follow PyTorch's parameter layout (`weight_ih`,
//! `weight_hh`, `bias_ih`, `bias_hh`; gate order `i, f, g, o` for the LSTM and
//! `r, z, n` for the GRU), so PyTorch weights load unchanged.

/// Defines a function whose body is compiled three times — for AVX-512,
/// for AVX2 and for the baseline target — and picks the widest the CPU
/// supports at run time, so the elementwise cell loops run on full-width
/// SIMD registers without a `target-cpu` build flag.
macro_rules! multiversion {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn portable($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512($($arg: $ty),*) {
                    portable($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) {
                    portable($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports AVX-512F.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2.
                    return unsafe { avx2($($arg),*) };
                }
            }
            portable($($arg),*)
        }
    };
}

pub(crate) mod activation;
mod attention;
mod gru;
mod lstm;
mod packing;
mod recurrent;

pub use attention::{
    AttentionCache, AttentionGrads, AttentionMask, QkvAttentionCache, attention_backward, attention_forward,
    qkv_attention, qkv_attention_backward, qkv_attention_forward, scaled_dot_product_attention, split_qkv,
};
pub use gru::{GruCache, GruGrads, GruOutput, gru, gru_backward, gru_forward};
pub use lstm::{LstmCache, LstmGrads, LstmOutput, lstm, lstm_backward, lstm_forward};
pub use recurrent::{RecurrentParams, RecurrentWeights, SequenceGrads, SequenceOutput};

use ndarray::{Array2, ArrayD, ArrayView, ArrayView2, ArrayViewMut2, Dimension};

pub(crate) use crate::error::{Error, Result};
use crate::ops::matmul::gemm;

/// A dynamic-rank array as a view of fixed rank `D`.
fn fixed<'a, D: Dimension>(op: &'static str, a: &'a ArrayD<f32>) -> Result<ArrayView<'a, f32, D>> {
    a.view()
        .into_dimensionality::<D>()
        .map_err(|_| invalid(op, format!("expected a {}-D tensor, got shape {:?}", D::NDIM.unwrap_or(0), a.shape())))
}

/// An [`Error::Invalid`] raised by kernel `op`.
fn invalid(op: &'static str, reason: String) -> Error {
    Error::Invalid { op, reason }
}

/// `a · b` as a new array.
fn matmul(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    gemm(a, b, &mut c.view_mut(), false, true);
    c
}

/// Checks that `got` is `expected`.
fn expect_shape(op: &'static str, expected: &[usize], got: &[usize]) -> Result<()> {
    if expected == got { Ok(()) } else { Err(Error::Shape { op, expected: expected.to_vec(), got: got.to_vec() }) }
}

/// A row-major slice as a matrix with `cols` columns.
fn view(data: &[f32], cols: usize) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((data.len() / cols, cols), data).expect("whole rows")
}

/// A mutable row-major slice as a matrix with `cols` columns.
fn view_mut(data: &mut [f32], cols: usize) -> ArrayViewMut2<'_, f32> {
    ArrayViewMut2::from_shape((data.len() / cols, cols), data).expect("whole rows")
}
