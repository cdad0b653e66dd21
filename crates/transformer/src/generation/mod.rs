//! Text generation: greedy decoding, sampling with every knob of [`GenerationConfig`], and
//! beam search, over a [`Gpt`] with its key/value cache, streaming one token at a time.
//!
//! [`generate_ids`] works on token ids of any [`CausalLm`]; [`Generator`] adds the tokenizer, stop sequences
//! and streaming text — the `pipeline("text-generation")` of the lecture.
//!
//! A prompt longer than the model's context keeps its last `block_size` tokens (truncation
//! from the left). Once the context is full, each further step recomputes the last
//! `block_size` tokens, as nanoGPT's `generate` crops its input.

mod beam;
pub(crate) mod config;
pub mod logits;
mod text;

pub use config::{
    GENERATION_CONFIG_FILE, GenerationConfig, MAX_BEAMS, MAX_NEW_TOKENS, MAX_STOP_SEQUENCES, MAX_TOP_LOGPROBS,
};
pub use text::{END_OF_TEXT, Generator, TOKENIZER_FILE, TextGeneration};

use std::ops::ControlFlow;

use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::attention::KvCache;
use crate::causal_lm::{CausalLm, last_logits};
use crate::error::{Error, Result};
use crate::gpt::Gpt;

/// One generated token.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedToken {
    /// Its id.
    pub id: u32,
    /// Its natural-log probability under the distribution it was chosen from (after the
    /// logits processors).
    pub logprob: f64,
    /// The most probable alternatives at that step, best first, as `(id, logprob)`
    /// (`top_logprobs` of them).
    pub top_logprobs: Vec<(u32, f64)>,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// `max_new_tokens` were generated.
    Length,
    /// The end-of-text token was generated.
    Eos,
    /// A stop sequence appeared.
    Stop,
    /// The caller's callback asked to stop.
    Cancelled,
}

impl FinishReason {
    /// OpenAI's name for it (`"length"`, `"stop"`, …).
    pub fn as_openai(self) -> &'static str {
        match self {
            FinishReason::Length => "length",
            FinishReason::Eos | FinishReason::Stop => "stop",
            FinishReason::Cancelled => "cancelled",
        }
    }
}

/// The output of [`generate_ids`].
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The generated tokens (the prompt excluded).
    pub tokens: Vec<GeneratedToken>,
    /// Why it ended.
    pub finish_reason: FinishReason,
}

impl Generation {
    /// The generated ids.
    pub fn ids(&self) -> Vec<u32> {
        self.tokens.iter().map(|t| t.id).collect()
    }
}

/// Continues `prompt` with any [`CausalLm`] as `config` says; `on_token` sees each token as it
/// is chosen and can stop the generation by returning [`ControlFlow::Break`]. Beam search
/// reports its tokens once the best hypothesis is known.
///
/// Runs in inference whatever the model's mode. The same seed gives the same output.
///
/// ```
/// use malmoi_transformer::{Gpt, GptConfig, generation::{GenerationConfig, generate_ids}};
/// let config = GptConfig { vocab_size: 30, block_size: 16, n_layer: 1, n_head: 2, n_embd: 8, ..GptConfig::default() };
/// let model = Gpt::new(config, 0)?;
/// let out = generate_ids(&model, &[1, 2, 3], &GenerationConfig::sampling(5, 0.8, 42), |_| std::ops::ControlFlow::Continue(()))?;
/// assert_eq!(out.tokens.len(), 5);
/// # Ok::<(), malmoi_transformer::Error>(())
/// ```
///
/// # Errors
/// [`Error::Input`] for an empty prompt or ids outside the vocabulary; [`Error::Config`]
/// for knobs out of range; [`malmoi_tensor::Error::NonFinite`] for NaN logits.
pub fn generate_ids(
    model: &(impl CausalLm + ?Sized),
    prompt: &[u32],
    config: &GenerationConfig,
    mut on_token: impl FnMut(&GeneratedToken) -> ControlFlow<()>,
) -> Result<Generation> {
    config.validate()?;
    if prompt.is_empty() {
        return Err(Error::Input("empty prompt: give at least one token (e.g. <|endoftext|>)".into()));
    }
    if let Some(&bad) = prompt.iter().find(|&&id| id as usize >= model.vocab_size()) {
        return Err(Error::Input(format!("token id {bad} outside the vocabulary of {}", model.vocab_size())));
    }
    let prompt = &prompt[prompt.len().saturating_sub(model.context_size())..];
    if config.num_beams > 1 {
        return beam::search(model, prompt, config, on_token);
    }
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut context = prompt.to_vec();
    let mut cache = model.new_cache(1);
    let mut step_logits = prefill(model, &context, &mut cache)?;
    let mut tokens = Vec::new();
    let mut generated = Vec::new();
    let finish_reason = loop {
        if tokens.len() == config.max_new_tokens {
            break FinishReason::Length;
        }
        logits::process(&mut step_logits, &context, &generated, config);
        let token = choose(&step_logits, config, &mut rng)?;
        let id = token.id;
        context.push(id);
        generated.push(id);
        let flow = on_token(&token);
        tokens.push(token);
        if flow.is_break() {
            break FinishReason::Cancelled;
        }
        if config.is_eos(id) {
            break FinishReason::Eos;
        }
        if tokens.len() < config.max_new_tokens {
            step_logits = step(model, &context, &mut cache)?;
        }
    };
    Ok(Generation { tokens, finish_reason })
}

impl Gpt {
    /// [`generate_ids`] with this model.
    ///
    /// # Errors
    /// As [`generate_ids`].
    pub fn generate_ids(
        &self,
        prompt: &[u32],
        config: &GenerationConfig,
        on_token: impl FnMut(&GeneratedToken) -> ControlFlow<()>,
    ) -> Result<Generation> {
        generate_ids(self, prompt, config, on_token)
    }
}

/// Fills an empty `cache` with `ids` and returns the logits after the last one.
fn prefill(model: &(impl CausalLm + ?Sized), ids: &[u32], cache: &mut KvCache) -> Result<Vec<f32>> {
    let ids = Array2::from_shape_vec((1, ids.len()), ids.to_vec()).expect("one row");
    let logits = model.forward_cached(&ids, cache)?;
    Ok(last_logits(&logits).row(0).to_vec())
}

/// Logits after the last token of `context`, whose earlier tokens are in `cache`; a full
/// context is recomputed over its last `context_size` tokens.
fn step(model: &(impl CausalLm + ?Sized), context: &[u32], cache: &mut KvCache) -> Result<Vec<f32>> {
    let block = model.context_size();
    if cache.len() < block {
        return prefill(model, &context[context.len() - 1..], cache);
    }
    *cache = model.new_cache(1);
    prefill(model, &context[context.len() - block..], cache)
}

/// Picks the next token from processed logits: the argmax, or a draw.
fn choose(logits: &[f32], config: &GenerationConfig, rng: &mut StdRng) -> Result<GeneratedToken> {
    if logits.iter().any(|l| l.is_nan()) {
        return Err(malmoi_tensor::Error::non_finite("logits").into());
    }
    let log_probs = logits::log_softmax(logits);
    let id = if config.is_greedy() { logits::argmax(logits) } else { draw(&log_probs, rng) };
    let logprob = log_probs[id as usize];
    Ok(GeneratedToken { id, logprob, top_logprobs: top_alternatives(&log_probs, config.top_logprobs) })
}

/// A draw from the distribution `exp(log_probs)` over the ids by inverting its cumulative sum.
fn draw(log_probs: &[f64], rng: &mut StdRng) -> u32 {
    let u: f64 = rng.random();
    let mut cumulative = 0.0;
    let mut last_possible = 0;
    for (id, &lp) in (0..).zip(log_probs).filter(|(_, lp)| lp.is_finite()) {
        cumulative += lp.exp();
        last_possible = id;
        if u < cumulative {
            return id;
        }
    }
    last_possible
}

/// The `k` most probable ids with their log-probabilities, best first.
fn top_alternatives(log_probs: &[f64], k: usize) -> Vec<(u32, f64)> {
    if k == 0 {
        return Vec::new();
    }
    let mut ranked: Vec<(u32, f64)> = (0..).zip(log_probs.iter().copied()).filter(|(_, lp)| lp.is_finite()).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(k);
    ranked
}
