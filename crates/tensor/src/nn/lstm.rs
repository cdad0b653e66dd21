//! The LSTM layer (long short-term memory): gates `i, f, g, o` over a cell state `c`,
//! `c' = f ⊙ c + i ⊙ g`, `h' = o ⊙ tanh(c')`, run by the fused kernel
//! [`kernels::lstm`](crate::kernels::lstm).

use super::recurrent::{CellKind, fixed_kind_layer};

fixed_kind_layer!(
    /// An LSTM stack — `torch.nn.LSTM` with `batch_first=True`: stacked, optionally
    /// bidirectional, masked by sequence length, parameters under PyTorch's names
    /// (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, `…_reverse`) and layout
    /// (gate blocks `i, f, g, o`), so `torch.nn.LSTM` weights load unchanged.
    ///
    /// Every final state carries the cell state `c` beside `h`.
    ///
    /// ```
    /// use malmoi_tensor::nn::{Lstm, Module, RecurrentConfig};
    /// use malmoi_tensor::{Tensor, VarBuilder};
    /// use ndarray::ArrayD;
    ///
    /// let vb = VarBuilder::fresh(0);
    /// // Keras' LSTM(16) over 8-wide word vectors
    /// let lstm = Lstm::new(8, 16, vb.pp("lstm"))?;
    /// let x = Tensor::constant(ArrayD::ones(&[2, 5, 8][..])); // 2 sequences of 5 steps
    /// let out = lstm.forward(&x, Some(&[5, 3]), None)?; // the second has 3 valid steps
    /// assert_eq!(out.output.shape(), vec![2, 5, 16]);
    /// assert_eq!(out.last_hidden(1)?.shape(), vec![2, 16]);
    /// assert!(out.states[0].c.is_some());
    /// assert_eq!(lstm.num_parameters(), 4 * 16 * (8 + 16 + 2));
    ///
    /// // two bidirectional layers
    /// let config = RecurrentConfig { num_layers: 2, bidirectional: true, ..Lstm::config(8, 16) };
    /// let stack = Lstm::from_config(config, vb.pp("stack"))?;
    /// assert_eq!(stack.predict(&x, None)?.last_hidden(2)?.shape(), vec![2, 32]);
    /// assert_eq!(stack.named_parameters()[4].0, "weight_ih_l0_reverse");
    /// # Ok::<(), malmoi_tensor::Error>(())
    /// ```
    Lstm,
    CellKind::Lstm,
    "LSTM"
);
