//! CBOW, the continuous bag of words (Mikolov et al., 2013): the sum (or mean) of the context
//! words' vectors predicts the center word, and every context vector takes the error.

use super::sampling::Lcg;
use super::train::{Trainer, Weights, Window};
use crate::keyed_vectors::axpy;

impl Trainer<'_> {
    /// One window's update: `neu1` gathers the context's sum (mean with `cbow_mean`), predicts
    /// the center word, and the error gathered in `neu1e` goes back to every context vector
    /// (divided among them without `cbow_mean`, as gensim does).
    #[inline(always)]
    pub(super) fn cbow(
        &self,
        weights: &Weights<'_>,
        window: &Window<'_>,
        alpha: f32,
        (neu1, neu1e): (&mut [f32], &mut [f32]),
        rng: &mut Lcg,
    ) {
        let count = window.span.len() - 1;
        if count == 0 {
            return;
        }
        neu1.fill(0.0);
        for context in window.context() {
            // SAFETY: one syn0 row at a time.
            axpy(1.0, unsafe { weights.syn0.row(context as usize) }, neu1);
        }
        if self.cbow_mean {
            neu1.iter_mut().for_each(|x| *x /= count as f32);
        }
        neu1e.fill(0.0);
        self.output_layer(weights, neu1, window.word(), alpha, neu1e, rng);
        if !self.cbow_mean {
            neu1e.iter_mut().for_each(|x| *x /= count as f32);
        }
        for context in window.context() {
            // SAFETY: one syn0 row at a time.
            axpy(1.0, neu1e, unsafe { weights.syn0.row(context as usize) });
        }
    }
}
