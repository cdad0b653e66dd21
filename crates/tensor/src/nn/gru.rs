//! The GRU layer (gated recurrent unit): reset and update gates `r, z` and a candidate `n`,
//! `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`, run by the
//! fused kernel [`kernels::gru`](crate::kernels::gru).

use super::recurrent::{CellKind, fixed_kind_layer};

fixed_kind_layer!(
    /// A GRU stack — `torch.nn.GRU` with `batch_first=True`: stacked, optionally
    /// bidirectional, masked by sequence length, parameters under PyTorch's names
    /// (`weight_ih_l0`, …, `…_reverse`) and layout (gate blocks `r, z, n`), so `torch.nn.GRU`
    /// weights load unchanged. Its states have no cell (`c` is `None`).
    ///
    /// ```
    /// use malmoi_tensor::nn::Gru;
    /// use malmoi_tensor::Tensor;
    /// use ndarray::ArrayD;
    /// use malmoi_tensor::VarBuilder;
    ///
    /// let gru = Gru::new(4, 6, VarBuilder::fresh(0))?;
    /// let out = gru.predict(&Tensor::constant(ArrayD::ones(&[3, 7, 4][..])), None)?;
    /// assert_eq!(out.output.shape(), vec![3, 7, 6]);
    /// assert!(out.states[0].c.is_none());
    /// # Ok::<(), malmoi_tensor::Error>(())
    /// ```
    Gru,
    CellKind::Gru,
    "GRU"
);
