//! Prompt/response token sequences, the right-padded batches every trainer feeds the GPT, and
//! the per-token log-probabilities of the responses.
//!
//! A row of a [`ResponseBatch`] is `prompt ++ response`, padded on the right. A causal model needs
//! no padding mask for right padding (no position sees a later one), so padding only has to be
//! kept out of the losses: `targets` carries [`IGNORE_INDEX`] and `mask` zero outside the
//! response.

use ndarray::{Array2, Array3, ArrayD, Axis, IxDyn};

use malmoi_tensor::Tensor;
use malmoi_tokenize::encoding::{PadOptions, Side, pad_sequences};
use malmoi_transformer::{Gpt, IGNORE_INDEX};

use crate::error::{Error, Result};

/// A prompt and the response that follows it, as token ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequence {
    /// The prompt (rendered through the template), at least one token.
    pub prompt: Vec<u32>,
    /// The response, at least one token (an end-of-text token counts).
    pub response: Vec<u32>,
}

impl Sequence {
    /// A sequence; both parts must be non-empty.
    ///
    /// # Errors
    /// [`Error::Input`] for an empty prompt or response.
    pub fn new(prompt: Vec<u32>, response: Vec<u32>) -> Result<Self> {
        if prompt.is_empty() || response.is_empty() {
            return Err(Error::Input(format!(
                "a sequence needs a prompt and a response, got {} and {} tokens",
                prompt.len(),
                response.len()
            )));
        }
        Ok(Self { prompt, response })
    }

    /// Prompt plus response tokens.
    pub fn len(&self) -> usize {
        self.prompt.len() + self.response.len()
    }

    /// Never true: both parts hold a token.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Sequences padded into one batch.
#[derive(Clone, Debug)]
pub struct ResponseBatch {
    /// Whole rows `(B, L)`, padded with `pad`; what a reward model reads.
    pub ids: Array2<u32>,
    /// Inputs `(B, L − 1)`: every token but the last.
    pub inputs: Array2<u32>,
    /// Next-token targets `(B, L − 1)`, [`IGNORE_INDEX`] outside the response.
    pub targets: Array2<u32>,
    /// 1 where `targets` is a response token, else 0, `(B, L − 1)`.
    pub mask: Array2<f32>,
    /// Column of each row's last real token in `ids`.
    pub last: Vec<usize>,
}

impl ResponseBatch {
    /// Pads `sequences` with `pad` into a batch for a model with a context of `block_size`.
    ///
    /// # Errors
    /// [`Error::Input`] for no sequences or one longer than `block_size`.
    pub fn new<'a>(sequences: impl IntoIterator<Item = &'a Sequence>, pad: u32, block_size: usize) -> Result<Self> {
        let sequences: Vec<&Sequence> = sequences.into_iter().collect();
        let Some(longest) = sequences.iter().map(|s| s.len()).max() else {
            return Err(Error::Input("an empty batch".into()));
        };
        if longest > block_size {
            return Err(Error::Input(format!("a sequence of {longest} tokens exceeds the context of {block_size}")));
        }
        let rows = sequences.len();
        let whole: Vec<Vec<u32>> = sequences.iter().map(|s| [s.prompt.as_slice(), &s.response].concat()).collect();
        let options = PadOptions { maxlen: Some(longest), padding: Side::Post, truncating: Side::Post };
        let padded = pad_sequences(&whole, options, pad);
        let ids = Array2::from_shape_vec(padded.shape(), padded.into_vec()).expect("rows × longest");
        let mut targets = Array2::from_elem((rows, longest - 1), IGNORE_INDEX);
        let mut mask = Array2::zeros((rows, longest - 1));
        for (b, sequence) in sequences.iter().enumerate() {
            for t in sequence.prompt.len()..sequence.len() {
                targets[[b, t - 1]] = ids[[b, t]];
                mask[[b, t - 1]] = 1.0;
            }
        }
        let inputs = ids.slice(ndarray::s![.., ..longest - 1]).to_owned();
        let last = sequences.iter().map(|s| s.len() - 1).collect();
        Ok(Self { ids, inputs, targets, mask, last })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.ids.nrows()
    }

    /// The response's columns in `targets` of row `b`.
    pub fn response_columns(&self, b: usize) -> std::ops::Range<usize> {
        let row = self.mask.row(b);
        let start = row.iter().position(|&m| m > 0.0).unwrap_or(0);
        let end = row.iter().rposition(|&m| m > 0.0).map_or(start, |i| i + 1);
        start..end
    }

    /// The mask as a constant tensor.
    pub fn mask_tensor(&self) -> Tensor {
        Tensor::constant(self.mask.clone().into_dyn())
    }
}

/// What one forward pass of a policy gives.
#[derive(Debug)]
pub struct PolicyOutput {
    /// `log π(target | prefix)` per position `(B, L − 1)` (0 where there is no target).
    pub logprobs: Tensor,
    /// The final hidden states `(B, L − 1, C)`, which a value head reads.
    pub hidden: Tensor,
    /// The logits divided by the temperature `(B, L − 1, vocab)`.
    pub logits: Tensor,
}

/// Runs `model` over a batch's inputs: per-token log-probabilities of the targets under
/// `softmax(logits / temperature)`, with gradients when the model's parameters need them. The
/// temperature is the one the answers were sampled at, so the log-probabilities are those of the
/// distribution that drew them (TRL's PPO and GRPO trainers divide the logits alike); 1 for
/// greedy or untempered answers and for DPO. The target ids become the `gather` indices here.
///
/// # Errors
/// The model's errors.
pub fn policy_forward(model: &Gpt, batch: &ResponseBatch, temperature: f32) -> Result<PolicyOutput> {
    let hidden = model.hidden_states(&batch.inputs)?;
    let logits = model.lm_head.forward(&hidden)?;
    let logits = if temperature == 1.0 { logits } else { logits.mul_scalar(1.0 / temperature) };
    let (rows, columns) = batch.targets.dim();
    let chosen = ArrayD::from_shape_fn(IxDyn(&[rows, columns, 1]), |i| {
        let target = batch.targets[[i[0], i[1]]];
        if target == IGNORE_INDEX { 0 } else { target as usize }
    });
    let logprobs = logits.log_softmax(-1)?.gather(-1, &chosen)?.reshape(&[rows, columns])?.mul(&batch.mask_tensor())?;
    Ok(PolicyOutput { logprobs, hidden, logits })
}

/// Each row's summed response log-probability `log π(response | prompt)`, `(B)`.
///
/// # Errors
/// The model's errors.
pub fn sequence_logprobs(model: &Gpt, batch: &ResponseBatch) -> Result<Tensor> {
    Ok(policy_forward(model, batch, 1.0)?.logprobs.sum_axes(&[1], false)?)
}

/// The entropy (nats) of each position's next-token distribution, `(B, L − 1)`.
pub fn entropy(logits: &Array3<f32>) -> Array2<f32> {
    logits.map_axis(Axis(2), |row| {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let z: f64 = row.iter().map(|&x| ((x - max) as f64).exp()).sum();
        let log_z = z.ln();
        -row.iter()
            .map(|&x| {
                let log_p = (x - max) as f64 - log_z;
                log_p.exp() * log_p
            })
            .sum::<f64>() as f32
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use malmoi_transformer::GptConfig;

    fn sequences() -> Vec<Sequence> {
        vec![Sequence::new(vec![1, 2, 3], vec![4, 5]).unwrap(), Sequence::new(vec![6], vec![7]).unwrap()]
    }

    #[test]
    fn padding_keeps_prompts_and_pads_out_of_the_targets() {
        let batch = ResponseBatch::new(&sequences(), 0, 8).unwrap();
        assert_eq!(batch.ids, ndarray::array![[1, 2, 3, 4, 5], [6, 7, 0, 0, 0]]);
        assert_eq!(batch.inputs, ndarray::array![[1, 2, 3, 4], [6, 7, 0, 0]]);
        let i = IGNORE_INDEX;
        assert_eq!(batch.targets, ndarray::array![[i, i, 4, 5], [7, i, i, i]]);
        assert_eq!(batch.mask, ndarray::array![[0.0, 0.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0]]);
        assert_eq!(batch.last, vec![4, 1]);
        assert_eq!(batch.response_columns(0), 2..4);
        assert_eq!(batch.response_columns(1), 0..1);
    }

    #[test]
    fn bad_batches_are_refused() {
        assert!(Sequence::new(vec![], vec![1]).is_err());
        assert!(Sequence::new(vec![1], vec![]).is_err());
        assert!(ResponseBatch::new(&[], 0, 8).is_err());
        assert!(ResponseBatch::new(&sequences(), 0, 4).is_err());
    }

    /// A one-layer GPT over 11 ids, in inference mode.
    fn tiny_model() -> Gpt {
        let config =
            GptConfig { vocab_size: 11, block_size: 8, n_layer: 1, n_head: 2, n_embd: 8, ..GptConfig::default() };
        let mut model = Gpt::new(config, 3).unwrap();
        malmoi_tensor::nn::Module::set_training(&mut model, false);
        model
    }

    /// The summed log-probability of a response is the log of the product of the model's
    /// next-token probabilities, and does not depend on the other rows.
    #[test]
    fn sequence_logprobs_are_the_model_probabilities() {
        let model = tiny_model();
        let batch = ResponseBatch::new(&sequences(), 0, 8).unwrap();
        let together = sequence_logprobs(&model, &batch).unwrap().to_array();
        let (logits, _) = model.forward(&ndarray::array![[1, 2, 3, 4]], None).unwrap();
        let logits = logits.to_array();
        let log_p = |t: usize, id: usize| {
            let row = logits.slice(ndarray::s![0, t, ..]);
            let z: f32 = row.iter().map(|x| x.exp()).sum();
            row[id] - z.ln()
        };
        approx::assert_abs_diff_eq!(together[0], log_p(2, 4) + log_p(3, 5), epsilon = 1e-5);
        let alone =
            sequence_logprobs(&model, &ResponseBatch::new(&sequences()[1..], 0, 8).unwrap()).unwrap().to_array();
        approx::assert_abs_diff_eq!(together[1], alone[0], epsilon = 1e-5);
    }

    /// At temperature τ the log-probabilities are those of `softmax(logits / τ)`, the
    /// distribution answers sampled at τ were drawn from.
    #[test]
    fn policy_forward_takes_the_sampling_temperature() {
        let model = tiny_model();
        model.wte.weight.update_data(|w| *w *= 50.0); // logits far from uniform
        let batch = ResponseBatch::new(&sequences()[..1], 0, 8).unwrap();
        let (logits, _) = model.forward(&ndarray::array![[1, 2, 3, 4]], None).unwrap();
        let logits = logits.to_array();
        let log_p = |t: usize, id: usize, tau: f32| {
            let row = logits.slice(ndarray::s![0, t, ..]).mapv(|x| x / tau);
            let z: f32 = row.iter().map(|x| x.exp()).sum();
            row[id] - z.ln()
        };
        for tau in [0.7, 1.0, 1.5] {
            let logprobs = policy_forward(&model, &batch, tau).unwrap().logprobs.to_array();
            approx::assert_abs_diff_eq!(logprobs[[0, 2]], log_p(2, 4, tau), epsilon = 1e-4);
            approx::assert_abs_diff_eq!(logprobs[[0, 3]], log_p(3, 5, tau), epsilon = 1e-4);
        }
        let (cold, hot) = (policy_forward(&model, &batch, 0.7).unwrap(), policy_forward(&model, &batch, 1.5).unwrap());
        assert_ne!(cold.logprobs.to_array(), hot.logprobs.to_array());
    }

    #[test]
    fn entropy_of_uniform_logits_is_log_vocab() {
        let logits = Array3::zeros((1, 2, 8));
        for h in entropy(&logits) {
            approx::assert_abs_diff_eq!(h, 8f32.ln(), epsilon = 1e-6);
        }
    }
}
