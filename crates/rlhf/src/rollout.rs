//! Rollouts: the policy answers a batch of prompts, and a reward function scores the answers.
//! Shared by the on-policy trainers, [`ppo`](crate::ppo) and [`grpo`](crate::grpo).

use std::ops::ControlFlow;

use rayon::prelude::*;

use malmoi_tokenize::tokenizer::Tokenizer;
use malmoi_transformer::Gpt;
use malmoi_transformer::generation::GenerationConfig;

use crate::batch::Sequence;
use crate::encode::decode_ids;
use crate::error::{Error, Result};
use crate::reward::RewardModel;

/// One sampled answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    /// Which prompt (index into the prompts the trainer was given).
    pub prompt_index: usize,
    /// The prompt's and the response's tokens (an `<|endoftext|>` that ended it included).
    pub sequence: Sequence,
    /// The prompt as text (special tokens dropped).
    pub prompt_text: String,
    /// The response as text (special tokens dropped).
    pub text: String,
}

/// What PPO and GRPO maximise: a score per rollout (higher is better).
///
/// A [`RewardModel`] is one; any `Fn(&[Rollout]) -> Result<Vec<f32>>` wrapped in [`FnReward`]
/// is another (a sentiment classifier reading [`Rollout::text`], say).
pub trait RewardFunction: Sync {
    /// One score per rollout, in order.
    ///
    /// # Errors
    /// The scorer's own errors.
    fn rewards(&self, rollouts: &[Rollout]) -> Result<Vec<f32>>;

    /// Checks that the scorer reads the policy's tokens as the policy means them.
    ///
    /// # Errors
    /// [`Error::VocabularyMismatch`].
    fn check_tokenizer(&self, _tokenizer: &Tokenizer) -> Result<()> {
        Ok(())
    }
}

impl RewardFunction for RewardModel {
    fn rewards(&self, rollouts: &[Rollout]) -> Result<Vec<f32>> {
        let sequences: Vec<Sequence> = rollouts.iter().map(|r| r.sequence.clone()).collect();
        self.score(&sequences)
    }

    fn check_tokenizer(&self, tokenizer: &Tokenizer) -> Result<()> {
        self.check_vocabulary(tokenizer)
    }
}

/// A closure as a [`RewardFunction`] (it sees the decoded texts, so any tokenizer works).
pub struct FnReward<F>(pub F);

impl<F: Fn(&[Rollout]) -> Result<Vec<f32>> + Sync> RewardFunction for FnReward<F> {
    fn rewards(&self, rollouts: &[Rollout]) -> Result<Vec<f32>> {
        (self.0)(rollouts)
    }
}

/// Samples one response per `(index, prompt)` in parallel. Response `i` uses the seed
/// `mix(seed, i)`, so a rollout depends only on its prompt, the policy and the seed, never on
/// the thread count or the other prompts. Responses stop at `<|endoftext|>` (kept) or where the
/// context is full.
///
/// # Errors
/// Generation errors (ids outside the vocabulary, bad knobs).
pub fn generate_rollouts(
    policy: &Gpt,
    tokenizer: &Tokenizer,
    prompts: &[(usize, &[u32])],
    config: &GenerationConfig,
    seed: u64,
) -> Result<Vec<Rollout>> {
    let block = policy.config().block_size;
    prompts
        .par_iter()
        .enumerate()
        .map(|(i, &(prompt_index, prompt))| {
            let room = block.saturating_sub(prompt.len());
            if room == 0 {
                return Err(Error::Input(format!("prompt {prompt_index} fills the context of {block} tokens")));
            }
            let config = GenerationConfig {
                max_new_tokens: config.max_new_tokens.min(room),
                seed: mix(seed, i as u64),
                ..config.clone()
            };
            let response = policy.generate_ids(prompt, &config, |_| ControlFlow::Continue(()))?.ids();
            let (prompt_text, text) = (decode_ids(tokenizer, prompt)?, decode_ids(tokenizer, &response)?);
            Ok(Rollout { prompt_index, sequence: Sequence::new(prompt.to_vec(), response)?, prompt_text, text })
        })
        .collect()
}

/// A seed for item `i` of a run seeded with `seed` (SplitMix64's finaliser).
pub(crate) fn mix(seed: u64, i: u64) -> u64 {
    let mut z = seed ^ i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
