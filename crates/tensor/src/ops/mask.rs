//! `masked_fill`: replace the elements where a boolean mask is true.

use ndarray::{ArrayD, IxDyn, Zip};

use crate::error::{Error, Result};
use crate::tensor::{Backward, Tensor};

/// Backward of `masked_fill`: filled positions get no gradient.
struct MaskedFillBackward {
    /// The mask, broadcast to the input's shape.
    mask: ArrayD<bool>,
}

impl Backward for MaskedFillBackward {
    fn name(&self) -> &'static str {
        "masked_fill"
    }

    fn backward(&self, grad: &ArrayD<f32>, _parents: &[Tensor]) -> Vec<Option<ArrayD<f32>>> {
        let mut out = grad.clone();
        Zip::from(&mut out).and(&self.mask).for_each(|g, &m| {
            if m {
                *g = 0.0;
            }
        });
        vec![Some(out)]
    }
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
        let mut out = data.to_owned();
        drop(data);
        Zip::from(&mut out).and(&mask).for_each(|x, &m| {
            if m {
                *x = value;
            }
        });
        Ok(Tensor::from_op(out, vec![self.clone()], MaskedFillBackward { mask }))
    }
}
