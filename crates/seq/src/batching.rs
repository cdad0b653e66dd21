//! The one padding of this crate's id batches ([`pad_ids`]). Splits, seeded length-bucketed
//! batches and the step → batch mapping of epoch-based training are the engine's
//! ([`malmoi_train::batching`]).

use malmoi_tokenize::encoding::{PadOptions, Side, pad_sequences};
use ndarray::{ArrayD, IxDyn};

/// Post-pads id sequences with `value` to the longest of them (at least one step): the ids as
/// `(batch, time)`, still `u32` (the token-id type of every tokenizer and model here, which
/// `malmoi_tensor::nn::Embedding::forward` reads as is), and each sequence's length. The one
/// padding of this crate's batches — Keras' `pad_sequences(padding="post")` through
/// [`pad_sequences`]; the models mask by the lengths, so the value matters only where a loss
/// reads it.
///
/// ```
/// use malmoi_tensor::{VarBuilder, nn::Embedding};
///
/// let (ids, lengths) = malmoi_seq::batching::pad_ids(&[vec![4, 5, 6], vec![7]], 0);
/// assert_eq!(ids.as_slice().unwrap(), &[4u32, 5, 6, 7, 0, 0]);
/// assert_eq!(lengths, [3, 1]);
/// let vectors = Embedding::new(8, 2, Some(0), VarBuilder::fresh(0))?.forward(&ids)?; // read as is
/// assert_eq!(vectors.shape(), [2, 3, 2]);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
pub fn pad_ids<S: AsRef<[u32]>>(sequences: &[S], value: u32) -> (ArrayD<u32>, Vec<usize>) {
    let lengths: Vec<usize> = sequences.iter().map(|s| s.as_ref().len()).collect();
    let time = lengths.iter().copied().max().unwrap_or(0).max(1);
    let options = PadOptions { maxlen: Some(time), padding: Side::Post, truncating: Side::Post };
    let ids = pad_sequences(sequences, options, value).into_vec();
    let ids =
        ArrayD::from_shape_vec(IxDyn(&[sequences.len(), time]), ids).expect("pad_sequences gives batch × time ids");
    (ids, lengths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_post_to_the_longest_and_at_least_one_step() {
        let (ids, lengths) = pad_ids(&[Vec::<u32>::new(), Vec::new()], 9);
        assert_eq!((ids.shape(), lengths), (&[2, 1][..], vec![0, 0]));
        assert_eq!(ids.as_slice().unwrap(), &[9, 9]);
        let (ids, _) = pad_ids::<Vec<u32>>(&[], 0);
        assert_eq!(ids.shape(), &[0, 1]);
    }
}
