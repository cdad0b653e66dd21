//! Greedy and beam-search decoding.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::model::{Encoded, Seq2SeqModel, select_state};
use super::vocab::{BOS, EOS};
use crate::error::{Error, Result};

/// How [`Seq2Seq::translate`](super::Seq2Seq::translate) searches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DecodeOptions {
    /// Hypotheses kept per step; 1 is greedy decoding.
    pub beam_width: usize,
    /// Finished hypotheses are ranked by `log p / length^length_penalty` (0 = raw log-probability,
    /// which favours short outputs; 1 = mean log-probability per symbol).
    pub length_penalty: f32,
}

impl Default for DecodeOptions {
    /// Greedy decoding.
    fn default() -> Self {
        Self { beam_width: 1, length_penalty: 1.0 }
    }
}

/// One decoded output.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    /// Output ids, without the closing [`EOS`].
    pub ids: Vec<u32>,
    /// Sum of the log-probabilities of every emitted id, [`EOS`] included.
    pub log_prob: f32,
    /// Attention weights `(steps, source)`, one row per emitted id (the [`EOS`] included).
    pub attention: Array2<f32>,
    /// Whether the decoder emitted [`EOS`] (false when it hit the length limit).
    pub finished: bool,
}

impl Hypothesis {
    fn start(source: usize) -> Self {
        Self { ids: Vec::new(), log_prob: 0.0, attention: Array2::zeros((0, source)), finished: false }
    }

    /// Appends `id` with its log-probability and the attention row that produced it.
    fn extend(&self, id: u32, log_prob: f32, attention: ndarray::ArrayView1<f32>) -> Self {
        let mut next = self.clone();
        next.push(id, log_prob, attention);
        next
    }

    fn push(&mut self, id: u32, log_prob: f32, attention: ndarray::ArrayView1<f32>) {
        self.log_prob += log_prob;
        self.attention.push_row(attention).expect("rows of the source length");
        if id == EOS {
            self.finished = true;
        } else {
            self.ids.push(id);
        }
    }

    /// The ranking score: `log_prob / steps^length_penalty`.
    pub fn normalized_score(&self, length_penalty: f32) -> f32 {
        self.log_prob / (self.attention.nrows().max(1) as f32).powf(length_penalty)
    }
}

/// Greedy decoding of every row of `encoded` at once, at most `max_len` steps each. Rows do not
/// influence each other: every row's result equals decoding it alone.
pub fn greedy(model: &Seq2SeqModel, encoded: &Encoded, max_len: usize) -> Result<Vec<Hypothesis>> {
    let (rows, source) = encoded.padding.dim();
    let mut hypotheses = vec![Hypothesis::start(source); rows];
    let mut previous = vec![BOS; rows];
    let mut state = encoded.state.clone();
    for _ in 0..max_len {
        let step = model.step(encoded, &previous, &state)?;
        for (row, hypothesis) in hypotheses.iter_mut().enumerate().filter(|(_, h)| !h.finished) {
            let (id, log_prob) = argmax(step.log_probs.row(row));
            hypothesis.push(id, log_prob, step.attention.row(row));
            previous[row] = id;
        }
        state = step.state;
        if hypotheses.iter().all(|h| h.finished) {
            break;
        }
    }
    Ok(hypotheses)
}

/// The first largest entry and its value.
fn argmax(row: ndarray::ArrayView1<f32>) -> (u32, f32) {
    let mut best = (0, f32::NEG_INFINITY);
    for (id, &value) in row.iter().enumerate() {
        if value > best.1 {
            best = (id as u32, value);
        }
    }
    best
}

/// Beam search over the single source row of `encoded`: each step extends every live hypothesis
/// by every id and keeps the `beam_width` best by log-probability; those ending in [`EOS`] leave
/// the beam. Stops when `beam_width` hypotheses have finished, none is live, or after `max_len`
/// steps; returns the best finished one by [`Hypothesis::normalized_score`] (the best live one if
/// none finished). Ties go to the earlier hypothesis and the smaller id, so width 1 is greedy.
pub fn beam_search(
    model: &Seq2SeqModel,
    encoded: &Encoded,
    options: &DecodeOptions,
    max_len: usize,
) -> Result<Hypothesis> {
    let (rows, source) = encoded.padding.dim();
    if rows != 1 || options.beam_width == 0 {
        return Err(Error::InvalidArgument(format!(
            "beam search decodes one source with a positive width, got {rows} sources and width {}",
            options.beam_width
        )));
    }
    let mut live = vec![Hypothesis::start(source)];
    let mut finished: Vec<Hypothesis> = Vec::new();
    let mut beams = encoded.clone();
    let mut previous = vec![BOS];
    for _ in 0..max_len {
        let step = model.step(&beams, &previous, &beams.state)?;
        let mut candidates: Vec<(usize, u32, f32)> = Vec::with_capacity(live.len() * step.log_probs.ncols());
        for (beam, row) in step.log_probs.rows().into_iter().enumerate() {
            let base = live[beam].log_prob;
            candidates.extend(row.iter().enumerate().map(|(id, &lp)| (beam, id as u32, base + lp)));
        }
        candidates.sort_by(|a, b| b.2.total_cmp(&a.2)); // stable: ties keep (beam, id) order
        let mut next = Vec::new();
        let mut parents = Vec::new();
        for &(beam, id, _) in candidates.iter().take(options.beam_width).filter(|c| c.2.is_finite()) {
            let extended = live[beam].extend(id, step.log_probs[[beam, id as usize]], step.attention.row(beam));
            if extended.finished {
                finished.push(extended);
            } else {
                next.push(extended);
                parents.push(beam);
            }
        }
        if finished.len() >= options.beam_width || next.is_empty() {
            live = next;
            break;
        }
        let rows = vec![0; parents.len()];
        beams = Encoded { state: select_state(&step.state, &parents), ..encoded.select(&rows)? };
        previous = next.iter().map(|h| *h.ids.last().expect("a live hypothesis has ids")).collect();
        live = next;
    }
    let pool = if finished.is_empty() { live } else { finished };
    let best = pool.into_iter().reduce(|best, h| {
        if h.normalized_score(options.length_penalty) > best.normalized_score(options.length_penalty) {
            h
        } else {
            best
        }
    });
    Ok(best.unwrap_or_else(|| Hypothesis::start(source)))
}
