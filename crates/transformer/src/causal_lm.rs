//! [`CausalLm`]: what generation, scoring and serving need of a decoder-only language model,
//! whatever its architecture (GPT-2, Llama, Qwen2, GPT-NeoX).

use std::fmt::Debug;

use ndarray::{Array2, Array3, Axis};

use crate::attention::KvCache;
use crate::error::Result;

/// A decoder-only language model that runs incrementally over a key/value cache.
///
/// Implemented by [`Gpt`](crate::Gpt) and [`Decoder`](crate::Decoder); generation
/// ([`generate_ids`](crate::generation::generate_ids)) works on any of them.
pub trait CausalLm: Debug + Send + Sync {
    /// Number of token ids the model scores.
    fn vocab_size(&self) -> usize;

    /// The longest sequence the model takes (its position limit).
    fn context_size(&self) -> usize;

    /// An empty key/value cache for `batch` sequences.
    fn new_cache(&self, batch: usize) -> KvCache;

    /// Inference over new positions: `ids (B, T_new)` continue the sequences in `cache`, whose
    /// keys and values are extended. Returns the logits `(B, T_new, vocab)`. No dropout, no
    /// gradient, whatever the mode.
    ///
    /// # Errors
    /// [`Error::Input`](crate::Error::Input) when the cache would exceed the context, the batch
    /// differs from the cache's, or an id is outside the vocabulary.
    fn forward_cached(&self, ids: &Array2<u32>, cache: &mut KvCache) -> Result<Array3<f32>>;
}

impl<M: CausalLm + ?Sized> CausalLm for Box<M> {
    fn vocab_size(&self) -> usize {
        (**self).vocab_size()
    }

    fn context_size(&self) -> usize {
        (**self).context_size()
    }

    fn new_cache(&self, batch: usize) -> KvCache {
        (**self).new_cache(batch)
    }

    fn forward_cached(&self, ids: &Array2<u32>, cache: &mut KvCache) -> Result<Array3<f32>> {
        (**self).forward_cached(ids, cache)
    }
}

/// The logits of the last position of each row of `(B, T_new, vocab)`.
pub fn last_logits(logits: &Array3<f32>) -> Array2<f32> {
    logits.index_axis(Axis(1), logits.dim().1 - 1).to_owned()
}
