//! Beam search with `transformers`' rules: each step scores every continuation of every beam
//! by its summed log-probability (after the logits processors), keeps the best `num_beams`
//! that do not end the text, and sets finished hypotheses aside, scored
//! `sum log p / generated_length^length_penalty`. The search stops when `num_beams`
//! hypotheses are finished and (without `early_stopping`) no running beam can beat the worst
//! of them, or at `max_new_tokens`, when the running beams join the hypotheses.

use std::ops::ControlFlow;

use ndarray::Array2;

use super::{FinishReason, GeneratedToken, Generation, GenerationConfig, logits};
use crate::attention::KvCache;
use crate::causal_lm::{CausalLm, last_logits};
use crate::error::{Error, Result};

/// A running or finished sequence of generated tokens with its summed log-probability.
#[derive(Debug, Clone)]
struct Hypothesis {
    tokens: Vec<GeneratedToken>,
    sum_logprobs: f64,
}

impl Hypothesis {
    fn score(&self, length_penalty: f32) -> f64 {
        self.sum_logprobs / (self.tokens.len().max(1) as f64).powf(length_penalty as f64)
    }
}

/// The finished hypotheses, at most `num_beams`, best kept.
struct Finished {
    hypotheses: Vec<Hypothesis>,
    num_beams: usize,
    length_penalty: f32,
}

impl Finished {
    fn add(&mut self, hypothesis: Hypothesis) {
        self.hypotheses.push(hypothesis);
        let lp = self.length_penalty;
        self.hypotheses.sort_by(|a, b| b.score(lp).total_cmp(&a.score(lp)));
        self.hypotheses.truncate(self.num_beams);
    }

    fn is_done(&self, best_running_sum: f64, generated_len: usize, early_stopping: bool) -> bool {
        if self.hypotheses.len() < self.num_beams {
            return false;
        }
        if early_stopping {
            return true;
        }
        let worst = self.hypotheses.last().expect("full").score(self.length_penalty);
        worst >= best_running_sum / (generated_len.max(1) as f64).powf(self.length_penalty as f64)
    }
}

/// Beam search from `prompt` (already truncated to the context).
pub(super) fn search(
    model: &(impl CausalLm + ?Sized),
    prompt: &[u32],
    config: &GenerationConfig,
    mut on_token: impl FnMut(&GeneratedToken) -> ControlFlow<()>,
) -> Result<Generation> {
    let num_beams = config.num_beams;
    let mut finished = Finished { hypotheses: Vec::new(), num_beams, length_penalty: config.length_penalty };
    let mut cache = model.new_cache(1);
    let prompt_row = Array2::from_shape_vec((1, prompt.len()), prompt.to_vec()).expect("one row");
    let mut step_logits = last_logits(&model.forward_cached(&prompt_row, &mut cache)?);
    let mut beams = vec![Hypothesis { tokens: Vec::new(), sum_logprobs: 0.0 }];
    let block = model.context_size();
    let mut eos_ended = false;
    while beams[0].tokens.len() < config.max_new_tokens {
        let mut candidates = Vec::with_capacity(beams.len() * 2 * num_beams);
        for (b, beam) in beams.iter().enumerate() {
            let row = step_logits.row(b).to_vec();
            if row.iter().any(|l| l.is_nan()) {
                return Err(malmoi_tensor::Error::non_finite("logits").into());
            }
            let mut scores: Vec<f32> = logits::log_softmax(&row).into_iter().map(|lp| lp as f32).collect();
            let generated: Vec<u32> = beam.tokens.iter().map(|t| t.id).collect();
            let context: Vec<u32> = prompt.iter().copied().chain(generated.iter().copied()).collect();
            logits::process(&mut scores, &context, &generated, config);
            let mut best: Vec<(u32, f64)> =
                (0..).zip(&scores).filter(|(_, s)| s.is_finite()).map(|(id, &s)| (id, s as f64)).collect();
            best.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
            best.truncate(2 * num_beams);
            candidates.extend(best.into_iter().map(|(id, logprob)| (beam.sum_logprobs + logprob, b, id, logprob)));
        }
        candidates.sort_by(|x, y| y.0.total_cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
        candidates.truncate(2 * num_beams);
        let mut next = Vec::with_capacity(num_beams);
        let mut rows = Vec::with_capacity(num_beams);
        for (rank, &(sum, b, id, logprob)) in candidates.iter().enumerate() {
            let mut tokens = beams[b].tokens.clone();
            tokens.push(GeneratedToken { id, logprob, top_logprobs: Vec::new() });
            let hypothesis = Hypothesis { tokens, sum_logprobs: sum };
            if config.is_eos(id) {
                if rank < num_beams {
                    finished.add(hypothesis);
                }
            } else {
                next.push(hypothesis);
                rows.push(b);
            }
            if next.len() == num_beams {
                break;
            }
        }
        let generated_len = beams[0].tokens.len() + 1;
        if next.is_empty() || finished.is_done(next[0].sum_logprobs, generated_len, config.early_stopping) {
            eos_ended = true;
            beams = next;
            break;
        }
        beams = next;
        if beams[0].tokens.len() == config.max_new_tokens {
            break;
        }
        let last: Vec<u32> = beams.iter().map(|h| h.tokens.last().expect("one token").id).collect();
        step_logits = if cache.len() < block {
            cache = cache.select(&rows)?;
            last_logits(
                &model.forward_cached(&Array2::from_shape_vec((last.len(), 1), last).expect("column"), &mut cache)?,
            )
        } else {
            recompute(model, prompt, &beams, &mut cache)?
        };
    }
    if !eos_ended || finished.hypotheses.len() < num_beams {
        beams.into_iter().for_each(|h| finished.add(h));
    }
    let best =
        finished.hypotheses.into_iter().next().ok_or_else(|| Error::Input("beam search found nothing".into()))?;
    let mut tokens = Vec::with_capacity(best.tokens.len());
    for token in best.tokens {
        let flow = on_token(&token);
        tokens.push(token);
        if flow.is_break() {
            return Ok(Generation { tokens, finish_reason: FinishReason::Cancelled });
        }
    }
    let ended_by_eos = tokens.last().is_some_and(|t| config.is_eos(t.id));
    Ok(Generation { tokens, finish_reason: if ended_by_eos { FinishReason::Eos } else { FinishReason::Length } })
}

/// With a full context, recomputes every beam over its last `block_size` tokens.
fn recompute(
    model: &(impl CausalLm + ?Sized),
    prompt: &[u32],
    beams: &[Hypothesis],
    cache: &mut KvCache,
) -> Result<Array2<f32>> {
    let block = model.context_size();
    let windows: Vec<u32> = beams
        .iter()
        .flat_map(|h| {
            let context: Vec<u32> = prompt.iter().copied().chain(h.tokens.iter().map(|t| t.id)).collect();
            context[context.len() - block..].to_vec()
        })
        .collect();
    *cache = model.new_cache(beams.len());
    let ids = Array2::from_shape_vec((beams.len(), block), windows).expect("one window per beam");
    Ok(last_logits(&model.forward_cached(&ids, cache)?))
}
