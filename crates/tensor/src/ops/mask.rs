//! `masked_fill`: replace the elements where a boolean mask is true.

use ndarray::{ArrayD, IxDyn, Zip};

use crate::error::{Error, Result};
use crate::tensor::{Tensor, backward_fn};

/// `values` with the elements where `mask` is true replaced by `fill`.
fn filled(values: &ArrayD<f32>, mask: &ArrayD<bool>, fill: f32) -> ArrayD<f32> {
    let mut out = values.clone();
    Zip::from(&mut out).and(mask).for_each(|x, &m| {
        if m {
            *x = fill;
        }
    });
    out
}

impl Tensor {
    /// `value` where `mask` is true, `self` elsewhere (`Tensor.masked_fill`).
    /// The mask broadcasts to `self`'s shape like numpy; a causal or padding
    /// mask filled with `f32::NEG_INFINITY` before a softmax is the usual use.
    pub fn masked_fill(&self, mask: &ArrayD<bool>, value: f32) -> Result<Tensor> {
        let data = self.data();
        let mask = mask
            .broadcast(IxDyn(data.shape()))
            .ok_or_else(|| Error::Shape {
                op: "masked_fill",
                expected: data.shape().to_vec(),
                got: mask.shape().to_vec(),
            })?
            .to_owned();
        let out = filled(&data, &mask, value);
        drop(data);
        // filled positions get no gradient
        let backward = backward_fn("masked_fill", move |grad, _| vec![Some(filled(grad, &mask, 0.0))]);
        Ok(Tensor::from_op(out, vec![self.clone()], backward))
    }
}
