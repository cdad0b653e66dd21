//! The choice of smoothing: how an n-gram model turns counts into scores.

/// How an [`NgramModel`](crate::NgramModel) turns counts into scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Smoothing {
    /// Interpolated modified Kneser-Ney (Chen & Goodman 1998) with three discounts per order
    /// (D1, D2, D3+), estimated the way KenLM's `lmplz` does. Probabilities sum to one.
    KneserNey,
    /// Stupid backoff (Brants et al. 2007): the relative frequency of the longest seen n-gram,
    /// times `alpha` per backoff step. Scores are not normalised probabilities.
    StupidBackoff {
        /// The factor of each backoff step, in (0, 1]; Brants et al. use 0.4.
        alpha: f64,
    },
}
