//! Seeded shuffling, validation splits and (optionally length-bucketed) mini-batches.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::error::{Error, Result};

/// Splits `0..n` into training and validation indices.
///
/// Like Keras' `validation_split`, the validation set is the **last** `fraction` of the data
/// when `shuffle_seed` is `None`; with a seed the indices are shuffled first.
///
/// ```
/// use malmoi_seq::batching::validation_split;
/// let (train, valid) = validation_split(10, 0.2, None).unwrap();
/// assert_eq!(train, (0..8).collect::<Vec<_>>());
/// assert_eq!(valid, vec![8, 9]);
/// ```
pub fn validation_split(n: usize, fraction: f64, shuffle_seed: Option<u64>) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(Error::InvalidArgument(format!("validation fraction must be in [0, 1), got {fraction}")));
    }
    let mut indices: Vec<usize> = (0..n).collect();
    if let Some(seed) = shuffle_seed {
        indices.shuffle(&mut StdRng::seed_from_u64(seed));
    }
    let n_valid = (n as f64 * fraction).round() as usize;
    let valid = indices.split_off(n - n_valid);
    Ok((indices, valid))
}

/// How an epoch's examples are grouped into mini-batches.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchPlan {
    /// Examples per batch (the last batch may be smaller).
    pub batch_size: usize,
    /// Shuffle the examples (and the batch order) every epoch.
    pub shuffle: bool,
    /// Group examples of similar length into the same batch, so padded steps are few.
    pub bucket_by_length: bool,
    /// Seed of every random choice; epoch `e` uses a stream derived from `seed` and `e`.
    pub seed: u64,
}

/// How many batches' worth of examples are sorted together when bucketing by length:
/// large enough to make batches uniform, small enough to keep epochs varied.
const BUCKET_SPAN: usize = 50;

impl BatchPlan {
    /// A plan with shuffling on and bucketing off.
    pub fn new(batch_size: usize, seed: u64) -> Self {
        Self { batch_size, shuffle: true, bucket_by_length: false, seed }
    }

    /// The batches of one epoch over `indices`; `lengths[i]` is example `i`'s length and is
    /// read only when bucketing.
    ///
    /// ```
    /// use malmoi_seq::batching::BatchPlan;
    /// let plan = BatchPlan { bucket_by_length: true, ..BatchPlan::new(2, 7) };
    /// let lengths = [5, 1, 5, 1];
    /// let batches = plan.batches(&[0, 1, 2, 3], &lengths, 0).unwrap();
    /// assert_eq!(batches.len(), 2);
    /// for batch in &batches {
    ///     assert_eq!(lengths[batch[0]], lengths[batch[1]]);
    /// }
    /// ```
    pub fn batches(&self, indices: &[usize], lengths: &[usize], epoch: usize) -> Result<Vec<Vec<usize>>> {
        if self.batch_size == 0 {
            return Err(Error::InvalidArgument("batch size must be positive".into()));
        }
        if let Some(&bad) = indices.iter().find(|&&i| self.bucket_by_length && i >= lengths.len()) {
            return Err(Error::InvalidArgument(format!("index {bad} has no length")));
        }
        let mut rng = StdRng::seed_from_u64(self.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut order = indices.to_vec();
        if self.shuffle {
            order.shuffle(&mut rng);
        }
        if self.bucket_by_length {
            for span in order.chunks_mut(self.batch_size * BUCKET_SPAN) {
                span.sort_by_key(|&i| lengths[i]);
            }
        }
        let mut batches: Vec<Vec<usize>> = order.chunks(self.batch_size).map(<[usize]>::to_vec).collect();
        if self.shuffle {
            batches.shuffle(&mut rng);
        }
        Ok(batches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sizes_and_seeded_shuffle() {
        let (train, valid) = validation_split(100, 0.2, Some(3)).unwrap();
        assert_eq!((train.len(), valid.len()), (80, 20));
        let mut all: Vec<usize> = train.iter().chain(&valid).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(validation_split(100, 0.2, Some(3)).unwrap(), (train, valid));
        assert!(validation_split(10, 1.0, None).is_err());
    }

    #[test]
    fn batches_cover_every_index_once_and_repeat_with_the_seed() {
        let plan = BatchPlan { bucket_by_length: true, ..BatchPlan::new(8, 11) };
        let lengths: Vec<usize> = (0..100).map(|i| (i * 37) % 29).collect();
        let indices: Vec<usize> = (0..100).collect();
        let batches = plan.batches(&indices, &lengths, 1).unwrap();
        let mut seen: Vec<usize> = batches.concat();
        seen.sort_unstable();
        assert_eq!(seen, indices);
        assert_eq!(plan.batches(&indices, &lengths, 1).unwrap(), batches);
        assert_ne!(plan.batches(&indices, &lengths, 2).unwrap(), batches);
    }

    #[test]
    fn bucketing_reduces_padding() {
        let lengths: Vec<usize> = (0..640).map(|i| 1 + (i * 7919) % 30).collect();
        let indices: Vec<usize> = (0..640).collect();
        let padded = |plan: &BatchPlan| -> usize {
            plan.batches(&indices, &lengths, 0)
                .unwrap()
                .iter()
                .map(|b| b.len() * b.iter().map(|&i| lengths[i]).max().unwrap())
                .sum()
        };
        let plain = BatchPlan::new(64, 1);
        let bucketed = BatchPlan { bucket_by_length: true, ..plain.clone() };
        assert!(padded(&bucketed) * 3 < padded(&plain) * 2);
    }

    #[test]
    fn zero_batch_size_is_an_error() {
        assert!(BatchPlan::new(0, 1).batches(&[0], &[1], 0).is_err());
    }
}
