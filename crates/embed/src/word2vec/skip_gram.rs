//! Skip-gram (Mikolov et al., 2013): each context word's vector predicts the center word, and
//! is updated by its own error.

use super::sampling::Lcg;
use super::train::{Trainer, Weights, Window};
use crate::keyed_vectors::axpy;

impl Trainer<'_> {
    /// One window's update: for every context word, predict the center word from its vector and
    /// move the vector along the error gathered in `neu1e`.
    #[inline(always)]
    pub(super) fn skip_gram(
        &self,
        weights: &Weights<'_>,
        window: &Window<'_>,
        alpha: f32,
        neu1e: &mut [f32],
        rng: &mut Lcg,
    ) {
        for context in window.context() {
            // SAFETY: the only syn0 row held in this thread.
            let input = unsafe { weights.syn0.row(context as usize) };
            neu1e.fill(0.0);
            self.output_layer(weights, input, window.word(), alpha, neu1e, rng);
            axpy(1.0, neu1e, input);
        }
    }
}
