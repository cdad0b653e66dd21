//! Fully connected layer.

use super::Module;
use super::init::Init;
use crate::VarBuilder;
use crate::error::{Error, Result};
use crate::ops::matmul::gemm;
use crate::tensor::{Tensor, backward_fn};
use ndarray::{Array2, ArrayD, ArrayView2, Axis, CowArray, Ix1, Ix2, IxDyn};

/// `y = x Wᵀ + b` over the last axis (`torch.nn.Linear`, Keras' `Dense`
/// without activation).
///
/// `weight` is `(out_features, in_features)` as in PyTorch, so PyTorch
/// checkpoints load unchanged; parameters are named `weight` and `bias`.
///
/// ```
/// use malmoi_tensor::nn::Linear;
/// use malmoi_tensor::{Tensor, VarBuilder};
/// use ndarray::ArrayD;
///
/// let layer = Linear::new(4, 3, true, VarBuilder::fresh(0))?;
/// let x = Tensor::constant(ArrayD::ones(&[2, 5, 4][..]));
/// assert_eq!(layer.forward(&x)?.shape(), vec![2, 5, 3]);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Linear {
    /// `(out_features, in_features)`.
    pub weight: Tensor,
    /// `(out_features,)`, if the layer has a bias.
    pub bias: Option<Tensor>,
}

impl Linear {
    /// The layer `weight` `(out, in)` and, if `bias`, `bias` `(out,)` under `vb`, freshly drawn
    /// with PyTorch's default initialisation (weight and bias uniform in `±1/√in_features`).
    ///
    /// # Errors
    /// [`Error::Invalid`] if `in_features` or `out_features` is zero; a tensor `vb` lacks or
    /// holds in another shape.
    pub fn new(in_features: usize, out_features: usize, bias: bool, vb: VarBuilder) -> Result<Self> {
        let bound = 1.0 / (in_features.max(1) as f32).sqrt();
        let bias = bias.then(|| Init::symmetric_uniform(bound));
        Self::with_init(in_features, out_features, Init::pytorch_linear(), bias, vb)
    }

    /// As [`new`](Self::new), fresh tensors drawn by `weight` and `bias` (no bias when `None`).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_init(
        in_features: usize,
        out_features: usize,
        weight: Init,
        bias: Option<Init>,
        vb: VarBuilder,
    ) -> Result<Self> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::Invalid {
                op: "Linear", reason: format!("empty layer {in_features} → {out_features}")
            });
        }
        let weight = vb.get_or_init(&[out_features, in_features], "weight", weight)?;
        let bias = bias.map(|init| vb.get_or_init(&[out_features], "bias", init)).transpose()?;
        Self::from_weights(weight, bias)
    }

    /// A layer with the given weight `(out, in)` and optional bias `(out,)`.
    ///
    /// # Errors
    /// [`Error::Shape`] if the shapes do not fit together.
    pub fn from_weights(weight: ArrayD<f32>, bias: Option<ArrayD<f32>>) -> Result<Self> {
        if weight.ndim() != 2 || weight.is_empty() {
            return Err(Error::Invalid {
                op: "Linear",
                reason: format!("weight must be 2-D and non-empty, got {:?}", weight.shape()),
            });
        }
        if let Some(b) = &bias
            && b.shape() != [weight.shape()[0]]
        {
            return Err(Error::Shape { op: "Linear", expected: vec![weight.shape()[0]], got: b.shape().to_vec() });
        }
        Ok(Linear { weight: Tensor::parameter(weight), bias: bias.map(Tensor::parameter) })
    }

    /// Number of input features.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Number of output features.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }

    /// Applies the layer to `x (…, in_features)`, giving `(…, out_features)`.
    ///
    /// One recorded operation: a single product over all leading axes
    /// against the weight read transposed in place, the bias added in the
    /// same pass.
    ///
    /// # Errors
    /// [`Error::Shape`] if the last axis of `x` is not `in_features`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (out_features, in_features) = (self.out_features(), self.in_features());
        let value = {
            let x = x.data();
            if x.shape().last() != Some(&in_features) {
                return Err(Error::Shape { op: "Linear", expected: vec![in_features], got: x.shape().to_vec() });
            }
            let mut y = Array2::zeros((x.len() / in_features, out_features));
            if let Some(bias) = &self.bias {
                y.assign(&bias.data().view().into_dimensionality::<Ix1>().expect("1-D bias"));
            }
            let weight = self.weight.data();
            gemm(as_rows(&x, in_features).view(), matrix(&weight).t(), &mut y.view_mut(), self.bias.is_some(), true);
            let mut shape = x.shape().to_vec();
            *shape.last_mut().expect("checked above") = out_features;
            y.into_shape_with_order(IxDyn(&shape)).expect("same element count")
        };
        let mut parents = vec![x.clone(), self.weight.clone()];
        parents.extend(self.bias.clone());
        Ok(Tensor::from_op(value, parents, backward_fn("linear", linear_backward)))
    }
}

/// `a` as a matrix of rows of `width` elements (copied only if not row-major).
fn as_rows(a: &ArrayD<f32>, width: usize) -> CowArray<'_, f32, Ix2> {
    a.to_shape((a.len() / width, width)).expect("whole rows")
}

/// A 2-D parameter's values as a matrix view.
fn matrix(a: &ArrayD<f32>) -> ArrayView2<'_, f32> {
    a.view().into_dimensionality::<Ix2>().expect("2-D weight")
}

/// Backward of [`Linear::forward`] with parents `[x, weight, bias?]`:
/// `dx = dy·W`, `dW = dyᵀ·x`, `db = Σ dy` over all leading axes.
fn linear_backward(grad: &ArrayD<f32>, parents: &[Tensor]) -> Vec<Option<ArrayD<f32>>> {
    let (x, weight) = (parents[0].data(), parents[1].data());
    let (out_features, in_features) = (weight.shape()[0], weight.shape()[1]);
    let dy = as_rows(grad, out_features);
    let d_input = parents[0].requires_grad().then(|| {
        let mut dx = Array2::zeros((dy.nrows(), in_features));
        gemm(dy.view(), matrix(&weight), &mut dx.view_mut(), false, true);
        dx.into_shape_with_order(x.raw_dim()).expect("input shape")
    });
    let d_weight = parents[1].requires_grad().then(|| {
        let mut dw = Array2::zeros((out_features, in_features));
        gemm(dy.t(), as_rows(&x, in_features).view(), &mut dw.view_mut(), false, true);
        dw.into_dyn()
    });
    let mut grads = vec![d_input, d_weight];
    if let Some(bias) = parents.get(2) {
        grads.push(bias.requires_grad().then(|| dy.sum_axis(Axis(0)).into_dyn()));
    }
    grads
}

impl Module for Linear {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut params = vec![("weight".to_string(), self.weight.clone())];
        params.extend(self.bias.iter().map(|b| ("bias".to_string(), b.clone())));
        params
    }
}
