//! Logits processors: each rewrites one step's logits in place, with `transformers`'
//! semantics (`RepetitionPenaltyLogitsProcessor`, `NoRepeatNGramLogitsProcessor`,
//! `TemperatureLogitsWarper`, `TopKLogitsWarper`, `TopPLogitsWarper`) and OpenAI's frequency
//! and presence penalties. A removed token gets `−∞`. The logits of a step are indexed by token
//! id; ids the logits do not reach are ignored.

use super::config::GenerationConfig;

/// Divides positive logits of tokens in `context` by `penalty` and multiplies negative ones.
pub fn repetition_penalty(logits: &mut [f32], context: &[u32], penalty: f32) {
    if penalty == 1.0 {
        return;
    }
    let vocab = logits.len();
    let mut seen = vec![false; vocab];
    for id in context.iter().map(|&id| id as usize).filter(|&id| id < vocab) {
        if !std::mem::replace(&mut seen[id], true) {
            let l = &mut logits[id];
            *l = if *l < 0.0 { *l * penalty } else { *l / penalty };
        }
    }
}

/// `logit[j] −= count[j] · frequency + (count[j] > 0) · presence` over the `generated` tokens.
pub fn frequency_presence_penalty(logits: &mut [f32], generated: &[u32], frequency: f32, presence: f32) {
    if frequency == 0.0 && presence == 0.0 {
        return;
    }
    let mut counts = vec![0u32; logits.len()];
    generated.iter().map(|&id| id as usize).filter(|&id| id < logits.len()).for_each(|id| counts[id] += 1);
    for (l, &c) in logits.iter_mut().zip(&counts).filter(|(_, c)| **c > 0) {
        *l -= c as f32 * frequency + presence;
    }
}

/// Bans every token that would complete an `n`-gram already present in `context`.
pub fn no_repeat_ngram(logits: &mut [f32], context: &[u32], n: usize) {
    if n == 0 || context.len() + 1 < n {
        return;
    }
    let prefix = &context[context.len() + 1 - n..];
    for window in context.windows(n).filter(|window| &window[..n - 1] == prefix) {
        if let Some(logit) = logits.get_mut(window[n - 1] as usize) {
            *logit = f32::NEG_INFINITY;
        }
    }
}

/// Divides every logit by `temperature` (> 0).
pub fn temperature(logits: &mut [f32], temperature: f32) {
    if temperature != 1.0 {
        logits.iter_mut().for_each(|l| *l /= temperature);
    }
}

/// Keeps the logits not below the `k`-th largest (ties kept, as `transformers` does).
pub fn top_k(logits: &mut [f32], k: usize) {
    if k == 0 || k >= logits.len() {
        return;
    }
    let mut sorted = logits.to_vec();
    sorted.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    let threshold = sorted[k - 1];
    logits.iter_mut().filter(|l| **l < threshold).for_each(|l| *l = f32::NEG_INFINITY);
}

/// Nucleus filtering: sorts ascending, removes the tokens whose cumulative probability stays
/// at or below `1 − p`, and always keeps the most probable one.
pub fn top_p(logits: &mut [f32], p: f32) {
    if p >= 1.0 {
        return;
    }
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[a].total_cmp(&logits[b]));
    let probs = softmax(logits);
    let mut cumulative = 0.0f32;
    for &id in &order[..order.len() - 1] {
        cumulative += probs[id];
        if cumulative > 1.0 - p {
            break;
        }
        logits[id] = f32::NEG_INFINITY;
    }
}

/// Runs every processor `config` enables, in `transformers`' order. `context` is prompt plus
/// output so far, `generated` the output alone.
pub fn process(logits: &mut [f32], context: &[u32], generated: &[u32], config: &GenerationConfig) {
    suppress(logits, &config.suppress_tokens);
    repetition_penalty(logits, context, config.repetition_penalty);
    frequency_presence_penalty(logits, generated, config.frequency_penalty, config.presence_penalty);
    no_repeat_ngram(logits, context, config.no_repeat_ngram_size);
    if config.is_greedy() {
        return;
    }
    temperature(logits, config.temperature);
    top_k(logits, config.top_k);
    top_p(logits, config.top_p);
}

/// `transformers`' `SuppressTokensLogitsProcessor`: the ids in `suppressed` are never chosen.
pub fn suppress(logits: &mut [f32], suppressed: &[u32]) {
    for &id in suppressed {
        if let Some(logit) = logits.get_mut(id as usize) {
            *logit = f32::NEG_INFINITY;
        }
    }
}

/// A numerically stable softmax (`−∞` logits get probability 0).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut probs: Vec<f32> = logits.iter().map(|&l| (l - max).exp()).collect();
    let sum: f32 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= sum);
    probs
}

/// `log softmax` in f64 for summing over long outputs.
pub fn log_softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let log_sum = logits.iter().map(|&l| (l as f64 - max).exp()).sum::<f64>().ln() + max;
    logits.iter().map(|&l| l as f64 - log_sum).collect()
}

/// The id of the largest logit (the first of equals).
pub fn argmax(logits: &[f32]) -> u32 {
    (0..).zip(logits).fold((0, f32::NEG_INFINITY), |best, (id, &l)| if l > best.1 { (id, l) } else { best }).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_p_keeps_the_most_probable_token() {
        let mut logits = vec![0.0, 5.0, 1.0];
        top_p(&mut logits, 0.01);
        assert_eq!(logits[1], 5.0);
        assert!(logits[0].is_infinite() && logits[2].is_infinite());
    }

    #[test]
    fn no_repeat_bigram_bans_the_continuation() {
        let mut logits = vec![0.0; 5];
        no_repeat_ngram(&mut logits, &[1, 2, 3, 1], 2);
        assert_eq!(logits[2], f32::NEG_INFINITY);
        assert_eq!(logits.iter().filter(|l| l.is_infinite()).count(), 1);
    }
}
