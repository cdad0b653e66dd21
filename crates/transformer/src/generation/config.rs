//! [`GenerationConfig`]: every knob of `transformers`' `generate` and the OpenAI Playground.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How to continue a prompt.
///
/// The defaults are greedy decoding of up to 50 tokens. `temperature == 0` also means greedy
/// (the OpenAI convention); with `do_sample` the next token is drawn from the processed
/// distribution with a generator seeded by `seed`.
///
/// The logits of each step pass through, in this order (`transformers`' order, with OpenAI's
/// penalties next to the repetition penalty): repetition penalty, frequency and presence
/// penalties, no-repeat n-grams, then temperature, top-k and top-p.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerationConfig {
    /// Most tokens to add.
    pub max_new_tokens: usize,
    /// Sample (`true`) or take the most probable token (`false`).
    pub do_sample: bool,
    /// Divides the logits; below 1 sharpens, above 1 flattens; 0 means greedy.
    pub temperature: f32,
    /// Keep only the `k` most probable tokens (0: off).
    pub top_k: usize,
    /// Keep the smallest set of most probable tokens whose probability reaches `top_p` (1: off).
    pub top_p: f32,
    /// `transformers`' repetition penalty over prompt and output: a seen token's positive
    /// logit is divided by it, a negative one multiplied (1: off).
    pub repetition_penalty: f32,
    /// OpenAI's frequency penalty: subtracts `count · penalty` from each token generated so far.
    pub frequency_penalty: f32,
    /// OpenAI's presence penalty: subtracts `penalty` from each token generated at least once.
    pub presence_penalty: f32,
    /// Never repeat an n-gram of this size (0: off).
    pub no_repeat_ngram_size: usize,
    /// Beam search with this many beams (1: no beam search).
    pub num_beams: usize,
    /// Beam scores are `sum log p / length^length_penalty`.
    pub length_penalty: f32,
    /// Beam search stops as soon as `num_beams` hypotheses are finished.
    pub early_stopping: bool,
    /// The token that ends a text.
    pub eos_token_id: Option<usize>,
    /// Text that ends the output when generated (not included in it).
    pub stop: Vec<String>,
    /// Seed of the sampling generator.
    pub seed: u64,
    /// How many alternatives (with log-probabilities) to report per generated token.
    pub top_logprobs: usize,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        GenerationConfig {
            max_new_tokens: 50,
            do_sample: false,
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            repetition_penalty: 1.0,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            no_repeat_ngram_size: 0,
            num_beams: 1,
            length_penalty: 1.0,
            early_stopping: false,
            eos_token_id: None,
            stop: Vec::new(),
            seed: 0,
            top_logprobs: 0,
        }
    }
}

impl GenerationConfig {
    /// Greedy decoding of up to `max_new_tokens`.
    pub fn greedy(max_new_tokens: usize) -> Self {
        GenerationConfig { max_new_tokens, ..Self::default() }
    }

    /// Sampling at `temperature` with `seed`.
    pub fn sampling(max_new_tokens: usize, temperature: f32, seed: u64) -> Self {
        GenerationConfig { max_new_tokens, do_sample: true, temperature, seed, ..Self::default() }
    }

    /// True when the next token is the most probable one rather than a draw.
    pub fn is_greedy(&self) -> bool {
        !self.do_sample || self.temperature == 0.0
    }

    /// Checks every knob's range.
    ///
    /// # Errors
    /// [`Error::Config`] naming the knob.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Config(what));
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return bad(format!("temperature must be ≥ 0, got {}", self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad(format!("top_p must be in (0, 1], got {}", self.top_p));
        }
        if !(self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite()) {
            return bad(format!("repetition_penalty must be > 0, got {}", self.repetition_penalty));
        }
        if !(self.frequency_penalty.is_finite() && self.presence_penalty.is_finite() && self.length_penalty.is_finite()) {
            return bad("penalties must be finite".into());
        }
        if self.num_beams == 0 {
            return bad("num_beams must be at least 1".into());
        }
        if self.num_beams > 1 && self.do_sample {
            return bad("beam search is deterministic: set do_sample to false".into());
        }
        if self.stop.iter().any(String::is_empty) {
            return bad("a stop sequence is empty".into());
        }
        Ok(())
    }
}
