//! Direct preference optimisation (Rafailov et al. 2023; TRL's `DPOTrainer` with the sigmoid
//! loss): the policy learns from preference pairs directly, no reward model and no sampling.
//!
//! The reference model (the SFT model) enters only through the summed log-probabilities of
//! each pair's responses, computed once before training ([`with_reference`]); in a LoRA run
//! (`FitConfig::lora`) the reference is the policy itself with its adapters off, so
//! `with_reference(&policy, ..)` needs no second copy. A pair's
//! implicit rewards are `β · (log π − log π_ref)` of each response; held-out preference accuracy
//! is the fraction of pairs whose chosen response gets the larger one.

use std::collections::BTreeMap;

use malmoi_tensor::nn::Module;
use malmoi_tensor::{Tensor, no_grad};
use malmoi_transformer::Gpt;
use malmoi_transformer::lora::LoraModel;

use crate::batch::{ResponseBatch, sequence_logprobs};
use crate::error::{Error, Result};
use crate::fit::Objective;
use crate::losses::dpo_loss;
use crate::reward::Preference;

/// A preference pair with its reference log-probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct DpoExample {
    /// The pair.
    pub pair: Preference,
    /// `log π_ref(chosen | prompt)`.
    pub reference_chosen: f32,
    /// `log π_ref(rejected | prompt)`.
    pub reference_rejected: f32,
}

/// Computes the reference model's log-probabilities of every pair once (in inference). A model
/// carrying LoRA adapters gives its base's, with the adapters switched off
/// ([`with_adapters_disabled`](LoraModel::with_adapters_disabled)): in a LoRA run the policy is
/// its own reference, before or after its adapters are added, and no copy is made.
///
/// # Errors
/// Model errors; [`malmoi_tensor::Error::NonFinite`] for a NaN log-probability.
pub fn with_reference(reference: &Gpt, pairs: Vec<Preference>, pad: u32) -> Result<Vec<DpoExample>> {
    let block = reference.config().block_size;
    let mut examples = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(16) {
        let rows = chunk.iter().map(|p| &p.chosen).chain(chunk.iter().map(|p| &p.rejected));
        let batch = ResponseBatch::new(rows, pad, block)?;
        let logprobs = reference.with_adapters_disabled(|base| no_grad(|| sequence_logprobs(base, &batch)))?.to_array();
        if logprobs.iter().any(|l| !l.is_finite()) {
            return Err(malmoi_tensor::Error::non_finite("reference log-probability").into());
        }
        for (i, pair) in chunk.iter().enumerate() {
            let (reference_chosen, reference_rejected) = (logprobs[i], logprobs[chunk.len() + i]);
            examples.push(DpoExample { pair: pair.clone(), reference_chosen, reference_rejected });
        }
    }
    Ok(examples)
}

/// DPO of a policy: the [`Objective`] that [`fit`](crate::fit::fit) trains.
#[derive(Debug)]
pub struct Dpo<'a> {
    policy: &'a mut Gpt,
    beta: f32,
    pad: u32,
}

/// What a batch of pairs gives: the loss and both implicit rewards.
struct Scored {
    loss: Tensor,
    chosen_rewards: Vec<f32>,
    rejected_rewards: Vec<f32>,
}

impl<'a> Dpo<'a> {
    /// Tunes `policy` with KL strength `beta` (TRL's default is 0.1); batches padded with `pad`.
    ///
    /// # Errors
    /// [`Error::Input`] for a `beta` that is not positive and finite.
    pub fn new(policy: &'a mut Gpt, beta: f32, pad: u32) -> Result<Self> {
        if !(beta > 0.0 && beta.is_finite()) {
            return Err(Error::Input(format!("DPO's beta must be positive, got {beta}")));
        }
        Ok(Self { policy, beta, pad })
    }

    fn score(&self, examples: &[&DpoExample]) -> Result<Scored> {
        let n = examples.len();
        let rows = examples.iter().map(|e| &e.pair.chosen).chain(examples.iter().map(|e| &e.pair.rejected));
        let batch = ResponseBatch::new(rows, self.pad, self.policy.config().block_size)?;
        let logprobs = sequence_logprobs(self.policy, &batch)?;
        let (chosen, rejected) = (logprobs.narrow(0, 0, n)?, logprobs.narrow(0, n, n)?);
        let reference = |pick: fn(&DpoExample) -> f32| {
            Tensor::constant(ndarray::Array1::from_iter(examples.iter().map(|e| pick(e))).into_dyn())
        };
        let (reference_chosen, reference_rejected) =
            (reference(|e| e.reference_chosen), reference(|e| e.reference_rejected));
        let loss = dpo_loss(&chosen, &rejected, &reference_chosen, &reference_rejected, self.beta)?;
        let implicit = |policy: &Tensor, reference: &Tensor| -> Vec<f32> {
            let (p, r) = (policy.to_array(), reference.to_array());
            p.iter().zip(r.iter()).map(|(p, r)| self.beta * (p - r)).collect()
        };
        let chosen_rewards = implicit(&chosen, &reference_chosen);
        let rejected_rewards = implicit(&rejected, &reference_rejected);
        Ok(Scored { loss, chosen_rewards, rejected_rewards })
    }
}

impl Objective for Dpo<'_> {
    type Example = DpoExample;

    fn model(&mut self) -> &mut dyn Module {
        &mut *self.policy
    }

    fn transformer(&mut self) -> Option<&mut Gpt> {
        Some(&mut *self.policy)
    }

    fn reseed(&self, seed: u64) {
        self.policy.reseed(seed);
    }

    fn length(&self, example: &DpoExample) -> usize {
        example.pair.chosen.len().max(example.pair.rejected.len())
    }

    fn loss(&self, batch: &[&DpoExample]) -> Result<Tensor> {
        Ok(self.score(batch)?.loss)
    }

    /// `accuracy` (chosen implicit reward above rejected; ties count half), `loss`, `margin` (mean difference of
    /// the implicit rewards), `chosen_reward`, `rejected_reward`.
    fn evaluate(&self, examples: &[DpoExample]) -> Result<BTreeMap<String, f64>> {
        no_grad(|| {
            let (mut right, mut loss, mut chosen, mut rejected) = (0.0, 0.0, 0.0, 0.0);
            let refs: Vec<&DpoExample> = examples.iter().collect();
            for chunk in refs.chunks(16) {
                let scored = self.score(chunk)?;
                loss += scored.loss.item()? as f64 * chunk.len() as f64;
                for (c, r) in scored.chosen_rewards.iter().zip(&scored.rejected_rewards) {
                    // a tie (as before any training, when policy = reference) counts half
                    right += if c > r {
                        1.0
                    } else if c == r {
                        0.5
                    } else {
                        0.0
                    };
                    chosen += *c as f64;
                    rejected += *r as f64;
                }
            }
            let n = examples.len() as f64;
            Ok(BTreeMap::from([
                ("accuracy".to_string(), right / n),
                ("loss".to_string(), loss / n),
                ("margin".to_string(), (chosen - rejected) / n),
                ("chosen_reward".to_string(), chosen / n),
                ("rejected_reward".to_string(), rejected / n),
            ]))
        })
    }
}
