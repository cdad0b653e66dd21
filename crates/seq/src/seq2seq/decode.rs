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
    for (id, &value) in (0..).zip(row) {
        if value > best.1 {
            best = (id, value);
        }
    }
    best
}

/// Beam search over the single source row of `encoded`, keeping `beam_width` live hypotheses.
///
/// Each step extends every live hypothesis by every id and ranks the extensions by
/// log-probability; an extension ending in [`EOS`] among the best `beam_width` is finished, and
/// the best extensions that do not end form the next beam (so the beam stays full, as in
/// fairseq). Search stops when `beam_width` hypotheses have finished and none of them is beaten by
/// the best live one scored as if it ended now (exact for `length_penalty` 0, where scores only
/// fall), or after `max_len` steps. Returns the finished hypothesis with the best
/// [`Hypothesis::normalized_score`] (the best live one if none finished). Ties go to the earlier
/// hypothesis and the smaller id, so width 1 with length penalty 0 is greedy decoding.
pub fn beam_search(
    model: &Seq2SeqModel,
    encoded: &Encoded,
    options: &DecodeOptions,
    max_len: usize,
) -> Result<Hypothesis> {
    let (rows, source) = encoded.padding.dim();
    let width = options.beam_width;
    if rows != 1 || width == 0 {
        return Err(Error::InvalidArgument(format!(
            "beam search decodes one source with a positive width, got {rows} sources and width {width}"
        )));
    }
    let score = |h: &Hypothesis| h.normalized_score(options.length_penalty);
    let mut live = vec![Hypothesis::start(source)];
    let mut finished: Vec<Hypothesis> = Vec::new();
    let mut beams = encoded.clone();
    let mut previous = vec![BOS];
    for _ in 0..max_len {
        let step = model.step(&beams, &previous, &beams.state)?;
        let mut candidates: Vec<(usize, u32, f32)> = Vec::with_capacity(live.len() * step.log_probs.ncols());
        for (beam, row) in step.log_probs.rows().into_iter().enumerate() {
            let base = live[beam].log_prob;
            candidates.extend((0..).zip(row).map(|(id, &lp)| (beam, id, base + lp)));
        }
        candidates.sort_by(|a, b| b.2.total_cmp(&a.2)); // stable: ties keep (beam, id) order
        let (mut next, mut parents) = (Vec::with_capacity(width), Vec::with_capacity(width));
        for (rank, &(beam, id, _)) in candidates.iter().enumerate().filter(|(_, c)| c.2.is_finite()) {
            if next.len() == width && rank >= width {
                break;
            }
            if id == EOS && rank < width {
                finished.push(live[beam].extend(id, step.log_probs[[beam, EOS as usize]], step.attention.row(beam)));
            } else if id != EOS && next.len() < width {
                next.push(live[beam].extend(id, step.log_probs[[beam, id as usize]], step.attention.row(beam)));
                parents.push(beam);
            }
        }
        live = next;
        finished.sort_by(|a, b| score(b).total_cmp(&score(a)));
        finished.truncate(width);
        let best_live =
            live.iter().map(|h| h.log_prob / ((h.attention.nrows() + 1) as f32).powf(options.length_penalty));
        let settled =
            finished.len() == width && best_live.fold(f32::NEG_INFINITY, f32::max) <= score(&finished[width - 1]);
        if settled || live.is_empty() {
            break;
        }
        beams = Encoded { state: select_state(&step.state, &parents), ..encoded.select(&vec![0; parents.len()])? };
        previous = live.iter().map(|h| *h.ids.last().expect("a live hypothesis has ids")).collect();
    }
    let pool = if finished.is_empty() { live } else { finished };
    let best = pool.into_iter().reduce(|best, h| if score(&h) > score(&best) { h } else { best });
    Ok(best.unwrap_or_else(|| Hypothesis::start(source)))
}
