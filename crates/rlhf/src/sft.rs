//! Supervised fine-tuning: a causal-LM loss on the response tokens only.
//!
//! Prompt tokens are inputs, never targets ([`IGNORE_INDEX`](malmoi_transformer::IGNORE_INDEX)
//! in the batch), so the model learns to answer, not to repeat questions; the loss is the mean
//! cross-entropy over every response token of the batch, as TRL's `SFTTrainer` with a
//! completion-only collator computes it. Batches hold sequences of similar length
//! ([`fit`](crate::fit::fit) buckets them), so little compute goes to padding.

use std::collections::BTreeMap;

use malmoi_tensor::nn::Module;
use malmoi_tensor::{Tensor, no_grad};
use malmoi_transformer::Gpt;

use crate::batch::{ResponseBatch, Sequence};
use crate::encode::Encoder;
use crate::error::Result;
use crate::fit::Objective;

/// Prompt/completion pairs as token sequences.
#[derive(Debug, Clone, Default)]
pub struct EncodedPairs {
    /// One sequence per pair.
    pub sequences: Vec<Sequence>,
    /// How many completions were cut to fit the context.
    pub truncated: usize,
}

/// Encodes `(prompt, completion)` pairs.
///
/// # Errors
/// [`Encoder::pair`]'s errors (empty prompts or completions, prompts longer than the context),
/// naming the pair's index.
pub fn encode_pairs<'t>(
    encoder: &Encoder,
    pairs: impl IntoIterator<Item = (&'t str, &'t str)>,
) -> Result<EncodedPairs> {
    let mut encoded = EncodedPairs::default();
    for (i, (prompt, completion)) in pairs.into_iter().enumerate() {
        let pair = encoder.pair(prompt, completion).map_err(|e| crate::Error::Input(format!("pair {i}: {e}")))?;
        encoded.truncated += usize::from(pair.truncated);
        encoded.sequences.push(pair.sequence);
    }
    Ok(encoded)
}

/// SFT of a GPT: the [`Objective`] that [`fit`](crate::fit::fit) trains.
#[derive(Debug)]
pub struct Sft<'a> {
    model: &'a mut Gpt,
    pad: u32,
}

impl<'a> Sft<'a> {
    /// Fine-tunes `model`; batches are padded with `pad` (which never enters the loss).
    pub fn new(model: &'a mut Gpt, pad: u32) -> Self {
        Self { model, pad }
    }

    /// Mean cross-entropy over the response tokens of `sequences` and their count.
    fn response_loss(&self, sequences: &[&Sequence]) -> Result<(Tensor, usize)> {
        let batch = ResponseBatch::new(sequences.iter().copied(), self.pad, self.model.config().block_size)?;
        let (_, loss) = self.model.forward(&batch.inputs, Some(&batch.targets))?;
        let tokens = batch.mask.iter().filter(|&&m| m > 0.0).count();
        Ok((loss.expect("targets given"), tokens))
    }
}

impl Objective for Sft<'_> {
    type Example = Sequence;

    fn model(&mut self) -> &mut dyn Module {
        &mut *self.model
    }

    fn transformer(&mut self) -> Option<&mut Gpt> {
        Some(&mut *self.model)
    }

    fn reseed(&self, seed: u64) {
        self.model.reseed(seed);
    }

    fn length(&self, example: &Sequence) -> usize {
        example.len()
    }

    fn loss(&self, batch: &[&Sequence]) -> Result<Tensor> {
        Ok(self.response_loss(batch)?.0)
    }

    /// `loss`: mean cross-entropy per held-out response token (nats); `perplexity`: its exp.
    fn evaluate(&self, examples: &[Sequence]) -> Result<BTreeMap<String, f64>> {
        no_grad(|| {
            let (mut total, mut tokens) = (0.0, 0);
            let refs: Vec<&Sequence> = examples.iter().collect();
            for chunk in refs.chunks(32) {
                let (loss, count) = self.response_loss(chunk)?;
                total += loss.item()? as f64 * count as f64;
                tokens += count;
            }
            let loss = total / tokens.max(1) as f64;
            Ok(BTreeMap::from([("loss".to_string(), loss), ("perplexity".to_string(), loss.exp())]))
        })
    }
}
