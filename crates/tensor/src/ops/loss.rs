//! Losses, each fused into one op with mean reduction: `cross_entropy` over
//! logits (with an ignore index), `binary_cross_entropy_with_logits` and
//! `mse_loss`.

use ndarray::{Array1, Array2, ArrayD, ArrayView1, IxDyn, Zip};

use super::PARALLEL_MIN_ELEMENTS;
use super::elementwise::sigmoid;
use super::softmax::softmax_lane;
use crate::error::{Error, Result};
use crate::tensor::{Tensor, backward_fn, grad_needed};

/// The gradient of `cross_entropy` for the logits: `(softmax − one_hot) · scale` on counted
/// rows, from the softmax `probs` `(rows, classes)` whose ignored rows are zero.
fn cross_entropy_grad(
    mut probs: Array2<f32>,
    targets: &[usize],
    ignore_index: Option<usize>,
    scale: f32,
) -> Array2<f32> {
    let parallel = probs.len() >= PARALLEL_MIN_ELEMENTS;
    zip_for_each!(parallel, Zip::from(probs.rows_mut()).and(ArrayView1::from(targets)), |mut row, &target| {
        if Some(target) != ignore_index {
            row[target] -= 1.0;
            row.mapv_inplace(|v| v * scale);
        }
    });
    probs
}

impl Tensor {
    /// Mean cross-entropy between logits `(..., classes)` and class ids with
    /// the logits' leading shape (`F.cross_entropy`). Rows whose target
    /// equals `ignore_index` (padding) contribute nothing and are not
    /// counted; if every row is ignored the loss is 0.
    ///
    /// ```
    /// use malmoi_tensor::Tensor;
    /// use ndarray::array;
    /// let logits = Tensor::parameter(array![[2.0_f32, 0.0], [0.0, 0.0]].into_dyn());
    /// let targets = array![0_usize, 1].into_dyn();
    /// let loss = logits.cross_entropy(&targets, Some(1))?;   // second row ignored
    /// assert!((loss.item()? - (1.0 + (-2.0_f32).exp()).ln()).abs() < 1e-6);
    /// # Ok::<(), malmoi_tensor::Error>(())
    /// ```
    pub fn cross_entropy(&self, targets: &ArrayD<usize>, ignore_index: Option<usize>) -> Result<Tensor> {
        let data = self.data();
        let Some((&classes, leading)) = data.shape().split_last() else {
            return Err(Error::Invalid { op: "cross_entropy", reason: "logits must have a class axis".into() });
        };
        if targets.shape() != leading {
            return Err(Error::Shape {
                op: "cross_entropy",
                expected: leading.to_vec(),
                got: targets.shape().to_vec(),
            });
        }
        let targets: Vec<usize> = targets.iter().copied().collect();
        let is_counted = |t: usize| Some(t) != ignore_index;
        if let Some(&bad) = targets.iter().find(|&&t| is_counted(t) && t >= classes) {
            return Err(Error::IndexOutOfRange { op: "cross_entropy", index: bad, size: classes });
        }
        // One exponential pass per row: the lane becomes softmax(x) (kept for
        // backward), and the loss is log Σ e^(x − max) + max − x[target].
        let mut probs = data.to_shape((targets.len(), classes)).expect("rows × classes").to_owned();
        drop(data);
        let mut row_losses = Array1::<f64>::zeros(targets.len());
        let parallel = probs.len() >= PARALLEL_MIN_ELEMENTS;
        let rows = Zip::from(probs.rows_mut()).and(ArrayView1::from(&targets)).and(&mut row_losses);
        zip_for_each!(parallel, rows, |mut row, &target, loss| {
            if is_counted(target) {
                let target_logit = row[target];
                let (max, total) = softmax_lane(row.view_mut(), false);
                *loss = (total.ln() + max - target_logit) as f64;
            } else {
                row.fill(0.0);
            }
        });
        let count = targets.iter().filter(|&&t| is_counted(t)).count();
        let loss = if count == 0 { 0.0 } else { (row_losses.sum() / count as f64) as f32 };
        let probs = if grad_needed(&[self]) { probs } else { Array2::zeros((0, 0)) };
        let backward = backward_fn("cross_entropy", move |grad, parents| {
            let scale = grad.iter().next().copied().unwrap_or(0.0) / count.max(1) as f32;
            let out = cross_entropy_grad(probs.clone(), &targets, ignore_index, scale);
            vec![Some(out.into_shape_with_order(IxDyn(&parents[0].shape())).expect("same size"))]
        });
        Ok(Tensor::from_op(ArrayD::from_elem(IxDyn(&[]), loss), vec![self.clone()], backward))
    }

    /// Mean binary cross-entropy between logits and targets in `[0, 1]` of
    /// the same shape (`F.binary_cross_entropy_with_logits`), computed as
    /// `max(x, 0) − x·t + log(1 + e^−|x|)`, which never overflows.
    pub fn binary_cross_entropy_with_logits(&self, targets: &Tensor) -> Result<Tensor> {
        self.mean_loss(targets, "binary_cross_entropy_with_logits", |x, t| {
            let loss = x.max(0.0) - x * t + (-x.abs()).exp().ln_1p();
            (loss, sigmoid(x) - t, -x)
        })
    }

    /// Mean squared error between tensors of the same shape (`F.mse_loss`).
    pub fn mse_loss(&self, targets: &Tensor) -> Result<Tensor> {
        self.mean_loss(targets, "mse_loss", |x, t| {
            let diff = x - t;
            (diff * diff, 2.0 * diff, -2.0 * diff)
        })
    }

    /// Shared body of the elementwise mean losses: `per_element(x, t)`
    /// returns the loss and its derivatives with respect to `x` and `t`.
    fn mean_loss(
        &self,
        targets: &Tensor,
        name: &'static str,
        per_element: impl Fn(f32, f32) -> (f32, f32, f32),
    ) -> Result<Tensor> {
        let (x, t) = (self.data(), targets.data());
        if x.shape() != t.shape() {
            return Err(Error::Shape { op: name, expected: x.shape().to_vec(), got: t.shape().to_vec() });
        }
        let n = x.len().max(1) as f32;
        let mut d_input = ArrayD::zeros(x.raw_dim());
        let mut d_target = ArrayD::zeros(x.raw_dim());
        let mut total = 0.0_f64;
        Zip::from(&mut d_input).and(&mut d_target).and(&*x).and(&*t).for_each(|di, dt, &x, &t| {
            let (loss, dx, dtt) = per_element(x, t);
            total += loss as f64;
            *di = dx / n;
            *dt = dtt / n;
        });
        drop((x, t));
        let loss = ArrayD::from_elem(IxDyn(&[]), (total / n as f64) as f32);
        // the saved per-element derivatives times the output gradient
        let backward = backward_fn(name, move |grad, parents| {
            let g = grad.iter().next().copied().unwrap_or(0.0);
            vec![
                parents[0].requires_grad().then(|| d_input.mapv(|d| d * g)),
                parents[1].requires_grad().then(|| d_target.mapv(|d| d * g)),
            ]
        });
        Ok(Tensor::from_op(loss, vec![self.clone(), targets.clone()], backward))
    }
}
