//! The plain recurrent network of the lecture as a layer: [`RnnCell`](super::RnnCell)'s step
//! `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)` unrolled over whole sequences (`torch.nn.RNN`).

use super::recurrent::{CellKind, fixed_kind_layer};

fixed_kind_layer!(
    /// A plain (tanh) RNN stack — `torch.nn.RNN` with `batch_first=True`: [`RnnCell`](super::RnnCell)'s step
    /// unrolled over every sequence, stacked, optionally bidirectional, masked by sequence
    /// length, with PyTorch's parameter names (`weight_ih_l0`, …, `…_reverse`).
    ///
    /// ```
    /// use malmoi_tensor::nn::Rnn;
    /// use malmoi_tensor::Tensor;
    /// use ndarray::ArrayD;
    /// use malmoi_tensor::VarBuilder;
    ///
    /// let rnn = Rnn::new(4, 3, VarBuilder::fresh(0))?;
    /// let out = rnn.predict(&Tensor::constant(ArrayD::ones(&[2, 5, 4][..])), Some(&[5, 2]))?;
    /// assert_eq!(out.output.shape(), vec![2, 5, 3]);
    /// assert!(out.output.data().iter().all(|h| h.abs() < 1.0)); // tanh
    /// # Ok::<(), malmoi_tensor::Error>(())
    /// ```
    Rnn,
    CellKind::Rnn,
    "RNN"
);
