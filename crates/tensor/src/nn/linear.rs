//! Fully connected layer.

use super::Module;
use super::init::Init;
use super::lora::{LoraAdapter, LoraError, LoraResult};
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
/// A layer may carry a [LoRA adapter](super::lora) ([`attach_lora`](Self::attach_lora)): its
/// output gains `scale · B·A·x`, its parameters `lora_A.weight` and `lora_B.weight` (PEFT's
/// names), and its own weight and bias are frozen while the adapter trains.
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
    /// Boxed: an adapter holds two `Linear`s of its own.
    lora: Option<Box<LoraAdapter>>,
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
        Self::from_tensors(Tensor::parameter(weight), bias.map(Tensor::parameter))
    }

    /// A layer over given tensors, shared rather than copied: an output layer tied to an
    /// embedding table, or a function of parameters under a gradient check.
    ///
    /// ```
    /// use malmoi_tensor::nn::{Embedding, Linear};
    /// use malmoi_tensor::VarBuilder;
    ///
    /// let table = Embedding::new(10, 4, None, VarBuilder::fresh(0))?;
    /// let tied = Linear::from_tensors(table.weight.clone(), None)?; // 4 → 10 logits
    /// assert_eq!((tied.in_features(), tied.out_features()), (4, 10));
    /// # Ok::<(), malmoi_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`from_weights`](Self::from_weights).
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>) -> Result<Self> {
        let shape = weight.shape();
        if shape.len() != 2 || shape.contains(&0) {
            return Err(Error::Invalid {
                op: "Linear",
                reason: format!("weight must be 2-D and non-empty, got {shape:?}"),
            });
        }
        if let Some(b) = &bias
            && b.shape() != [shape[0]]
        {
            return Err(Error::Shape { op: "Linear", expected: vec![shape[0]], got: b.shape() });
        }
        Ok(Linear { weight, bias, lora: None })
    }

    /// Number of input features.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Number of output features.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }

    /// True when the weight and bias take no gradient (see [`set_frozen`](Self::set_frozen)).
    pub fn is_frozen(&self) -> bool {
        !self.weight.requires_grad()
    }

    /// Freezes or thaws the weight and bias ([`Tensor::set_requires_grad`] on both, PyTorch's
    /// `requires_grad_(False)`): backward computes no gradient for a frozen layer's weight and
    /// bias while its input, and an adapter, still get theirs. [`attach_lora`](Self::attach_lora)
    /// freezes.
    pub fn set_frozen(&mut self, frozen: bool) {
        for tensor in std::iter::once(&self.weight).chain(&self.bias) {
            tensor.set_requires_grad(!frozen).expect("a layer's weight and bias are leaves");
        }
    }

    /// The LoRA adapter, if the layer carries one.
    pub fn lora(&self) -> Option<&LoraAdapter> {
        self.lora.as_deref()
    }

    /// Attaches a LoRA adapter and freezes the layer's weight and bias.
    ///
    /// # Errors
    /// [`LoraError::AlreadyAdapted`] if the layer carries one already; [`LoraError::Shape`] if
    /// the adapter was made for another width.
    pub fn attach_lora(&mut self, adapter: LoraAdapter) -> LoraResult<()> {
        if self.lora.is_some() {
            return Err(LoraError::AlreadyAdapted { module: adapter.module().to_string() });
        }
        let (r, module) = (adapter.rank(), adapter.module());
        if adapter.in_features() != self.in_features() {
            let (expected, got) = (vec![r, self.in_features()], adapter.lora_a().shape());
            return Err(LoraError::Shape { name: format!("{module}.lora_A.weight"), expected, got });
        }
        if adapter.out_features() != self.out_features() {
            let (expected, got) = (vec![self.out_features(), r], adapter.lora_b().shape());
            return Err(LoraError::Shape { name: format!("{module}.lora_B.weight"), expected, got });
        }
        self.set_frozen(true);
        self.lora = Some(Box::new(adapter));
        Ok(())
    }

    /// Removes the adapter without merging it (PEFT's `unload`) and thaws the layer: the layer
    /// as it was before [`attach_lora`](Self::attach_lora).
    pub fn detach_lora(&mut self) -> Option<LoraAdapter> {
        let adapter = self.lora.take()?;
        self.set_frozen(false);
        Some(*adapter)
    }

    /// Folds the adapter into the weight (`W += scale · B·A`, whether it is switched on or
    /// not), removes it and thaws the layer; `false` if there was none. The layer then computes
    /// what it computed with the adapter on, in one product.
    pub fn merge_lora(&mut self) -> bool {
        let Some(adapter) = self.detach_lora() else { return false };
        let delta = adapter.delta_weight();
        self.weight.update_data(|w| *w += &delta);
        true
    }

    /// Switches the adapter's update on or off (nothing without an adapter); off, the layer
    /// computes its base output exactly.
    pub fn set_lora_enabled(&self, enabled: bool) {
        if let Some(adapter) = &self.lora {
            adapter.set_enabled(enabled);
        }
    }

    /// Applies the layer to `x (…, in_features)`, giving `(…, out_features)`.
    ///
    /// One recorded operation: a single product over all leading axes
    /// against the weight read transposed in place, the bias added in the
    /// same pass. A switched-on adapter adds its update
    /// ([`LoraAdapter::forward`]).
    ///
    /// # Errors
    /// [`Error::Shape`] if the last axis of `x` is not `in_features`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = affine(x, &self.weight, self.bias.as_ref())?;
        match &self.lora {
            Some(adapter) if adapter.is_enabled() => y.add(&adapter.forward(x)?),
            _ => Ok(y),
        }
    }
}

/// `x Wᵀ + b` over the last axis of `x` as one recorded operation; backward computes the
/// gradient of each parent that requires one (none for a frozen weight and bias).
fn affine(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let value = {
        let (x, weight) = (x.data(), weight.data());
        let (out_features, in_features) = (weight.shape()[0], weight.shape()[1]);
        if x.shape().last() != Some(&in_features) {
            return Err(Error::Shape { op: "Linear", expected: vec![in_features], got: x.shape().to_vec() });
        }
        let mut y = Array2::zeros((x.len() / in_features, out_features));
        if let Some(bias) = bias {
            y.assign(&bias.data().view().into_dimensionality::<Ix1>().expect("1-D bias"));
        }
        gemm(as_rows(&x, in_features).view(), matrix(&weight).t(), &mut y.view_mut(), bias.is_some(), true);
        let mut shape = x.shape().to_vec();
        *shape.last_mut().expect("checked above") = out_features;
        y.into_shape_with_order(IxDyn(&shape)).expect("same element count")
    };
    let mut parents = vec![x.clone(), weight.clone()];
    parents.extend(bias.cloned());
    Ok(Tensor::from_op(value, parents, backward_fn("linear", linear_backward)))
}

/// `a` as a matrix of rows of `width` elements (copied only if not row-major).
fn as_rows(a: &ArrayD<f32>, width: usize) -> CowArray<'_, f32, Ix2> {
    a.to_shape((a.len() / width, width)).expect("whole rows")
}

/// A 2-D parameter's values as a matrix view.
fn matrix(a: &ArrayD<f32>) -> ArrayView2<'_, f32> {
    a.view().into_dimensionality::<Ix2>().expect("2-D weight")
}

/// `dx = dy·W` in the shape of `x`.
fn input_grad(grad: &ArrayD<f32>, x: &Tensor, weight: &ArrayD<f32>) -> ArrayD<f32> {
    let (out_features, in_features) = (weight.shape()[0], weight.shape()[1]);
    let dy = as_rows(grad, out_features);
    let mut dx = Array2::zeros((dy.nrows(), in_features));
    gemm(dy.view(), matrix(weight), &mut dx.view_mut(), false, true);
    dx.into_shape_with_order(x.data().raw_dim()).expect("input shape")
}

/// Backward of [`affine`] with parents `[x, weight, bias?]`:
/// `dx = dy·W`, `dW = dyᵀ·x`, `db = Σ dy` over all leading axes.
fn linear_backward(grad: &ArrayD<f32>, parents: &[Tensor]) -> Vec<Option<ArrayD<f32>>> {
    let weight = parents[1].data();
    let (out_features, in_features) = (weight.shape()[0], weight.shape()[1]);
    let dy = as_rows(grad, out_features);
    let d_input = parents[0].requires_grad().then(|| input_grad(grad, &parents[0], &weight));
    let d_weight = parents[1].requires_grad().then(|| {
        let x = parents[0].data();
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
    /// `weight`, `bias` and, with an adapter, `lora_A.weight` and `lora_B.weight`.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut params = vec![("weight".to_string(), self.weight.clone())];
        params.extend(self.bias.iter().map(|b| ("bias".to_string(), b.clone())));
        params.extend(self.lora.iter().flat_map(|adapter| adapter.named_parameters()));
        params
    }

    /// The adapter's dropout follows the mode.
    fn set_training(&mut self, training: bool) {
        if let Some(adapter) = &mut self.lora {
            adapter.set_training(training);
        }
    }
}
