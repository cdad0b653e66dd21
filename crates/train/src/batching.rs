//! Keras-style data plumbing of epoch-based training: seeded validation splits
//! ([`validation_split`]), (optionally length-bucketed) mini-batches ([`BatchPlan`]) and the
//! batches of step `s` on the engine ([`EpochBatches`]), so a resumed run sees the batches the
//! uninterrupted one saw.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::config::{LrSchedule, TrainConfig};
use crate::error::{Error, Result};

/// Splits `0..n` into training and validation indices.
///
/// Like Keras' `validation_split`, the validation set is the **last** `fraction` of the data
/// when `shuffle_seed` is `None`; with a seed the indices are shuffled first.
///
/// ```
/// use malmoi_train::batching::validation_split;
/// let (train, valid) = validation_split(10, 0.2, None).unwrap();
/// assert_eq!(train, (0..8).collect::<Vec<_>>());
/// assert_eq!(valid, vec![8, 9]);
/// ```
///
/// # Errors
/// [`Error::Config`] for a `fraction` outside `[0, 1)`.
pub fn validation_split(n: usize, fraction: f64, shuffle_seed: Option<u64>) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(Error::Config(format!("validation fraction must be in [0, 1), got {fraction}")));
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
///
/// ```
/// use malmoi_train::batching::BatchPlan;
/// let plan = BatchPlan { shuffle: false, ..BatchPlan::new(2, 0) };
/// assert_eq!(plan.batches(&[0, 1, 2], &[], 0)?, [vec![0, 1], vec![2]]);
/// # Ok::<(), malmoi_train::Error>(())
/// ```
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
    ///
    /// ```
    /// let plan = malmoi_train::batching::BatchPlan::new(32, 7);
    /// assert!(plan.shuffle && !plan.bucket_by_length);
    /// ```
    pub fn new(batch_size: usize, seed: u64) -> Self {
        Self { batch_size, shuffle: true, bucket_by_length: false, seed }
    }

    /// The batches of one epoch over `indices`; `lengths[i]` is example `i`'s length and is
    /// read only when bucketing.
    ///
    /// ```
    /// use malmoi_train::batching::BatchPlan;
    /// let plan = BatchPlan { bucket_by_length: true, ..BatchPlan::new(2, 7) };
    /// let lengths = [5, 1, 5, 1];
    /// let batches = plan.batches(&[0, 1, 2, 3], &lengths, 0).unwrap();
    /// assert_eq!(batches.len(), 2);
    /// for batch in &batches {
    ///     assert_eq!(lengths[batch[0]], lengths[batch[1]]);
    /// }
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for a zero batch size, or an index without a length when bucketing.
    pub fn batches(&self, indices: &[usize], lengths: &[usize], epoch: usize) -> Result<Vec<Vec<usize>>> {
        if self.batch_size == 0 {
            return Err(Error::Config("batch size must be positive".into()));
        }
        if let Some(&bad) = indices.iter().find(|&&i| self.bucket_by_length && i >= lengths.len()) {
            return Err(Error::Config(format!("index {bad} has no length")));
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

/// The batches of epoch-based training on the step engine: step `s` trains on batch
/// `s % steps_per_epoch` of epoch `s / steps_per_epoch` as [`BatchPlan::batches`] orders it, so
/// a batch follows from the plan's seed and the step alone and a resumed run sees the batches
/// the uninterrupted one saw. The current epoch's batches are kept between steps.
///
/// ```
/// use malmoi_train::batching::{BatchPlan, EpochBatches};
/// let mut batches = EpochBatches::new(BatchPlan::new(2, 7), (0..5).collect(), vec![1; 5])?;
/// assert_eq!(batches.steps_per_epoch(), 3);
/// let epoch: Vec<Vec<usize>> = (0..3).map(|s| batches.batch(s).map(<[usize]>::to_vec)).collect::<Result<_, _>>()?;
/// assert_eq!(epoch, BatchPlan::new(2, 7).batches(&(0..5).collect::<Vec<_>>(), &[1; 5], 0)?);
/// let config = batches.train_config(4, 1e-3, 0.0)?;
/// assert_eq!((config.max_steps, config.eval_interval, config.seed), (12, 3, 7));
/// # Ok::<(), malmoi_train::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct EpochBatches {
    plan: BatchPlan,
    indices: Vec<usize>,
    lengths: Vec<usize>,
    epoch: Option<(usize, Vec<Vec<usize>>)>,
}

impl EpochBatches {
    /// Epochs over the examples `indices` (`lengths[i]` is example `i`'s length, read when
    /// bucketing).
    ///
    /// ```
    /// use malmoi_train::batching::{BatchPlan, EpochBatches};
    /// assert!(EpochBatches::new(BatchPlan::new(4, 1), Vec::new(), Vec::new()).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for no examples, a zero batch size or an index without a length.
    pub fn new(plan: BatchPlan, indices: Vec<usize>, lengths: Vec<usize>) -> Result<Self> {
        if indices.is_empty() {
            return Err(Error::Config("no examples to train on".into()));
        }
        let first = plan.batches(&indices, &lengths, 0)?;
        Ok(Self { epoch: Some((0, first)), plan, indices, lengths })
    }

    /// Batches in one epoch (the last one may be smaller).
    ///
    /// ```
    /// use malmoi_train::batching::{BatchPlan, EpochBatches};
    /// let batches = EpochBatches::new(BatchPlan::new(4, 1), (0..9).collect(), vec![1; 9])?;
    /// assert_eq!(batches.steps_per_epoch(), 3);
    /// # Ok::<(), malmoi_train::Error>(())
    /// ```
    pub fn steps_per_epoch(&self) -> usize {
        self.indices.len().div_ceil(self.plan.batch_size)
    }

    /// The examples of step `step` (counting from 0).
    ///
    /// ```
    /// use malmoi_train::batching::{BatchPlan, EpochBatches};
    /// let plan = BatchPlan { shuffle: false, ..BatchPlan::new(2, 1) };
    /// let mut batches = EpochBatches::new(plan, (0..3).collect(), vec![1; 3])?;
    /// assert_eq!(batches.steps_per_epoch(), 2);
    /// assert_eq!(batches.batch(2)?, [0, 1], "step 2 is the first batch of epoch 1");
    /// assert_eq!(batches.batch(3)?, [2]);
    /// # Ok::<(), malmoi_train::Error>(())
    /// ```
    ///
    /// # Errors
    /// Those of [`BatchPlan::batches`].
    pub fn batch(&mut self, step: usize) -> Result<&[usize]> {
        let (epoch, index) = (step / self.steps_per_epoch(), step % self.steps_per_epoch());
        if self.epoch.as_ref().is_none_or(|(cached, _)| *cached != epoch) {
            self.epoch = Some((epoch, self.plan.batches(&self.indices, &self.lengths, epoch)?));
        }
        let (_, batches) = self.epoch.as_ref().expect("the epoch was just set");
        Ok(&batches[index])
    }

    /// The engine's run of `epochs` epochs: as many steps, an evaluation (and a checkpoint)
    /// after every epoch, a constant `learning_rate`, gradients clipped to `grad_clip` (0: off)
    /// and the plan's seed. The example of [`EpochBatches`] shows one.
    ///
    /// # Errors
    /// [`Error::Config`] when the steps overflow.
    pub fn train_config(&self, epochs: usize, learning_rate: f32, grad_clip: f32) -> Result<TrainConfig> {
        let steps = self.steps_per_epoch();
        let max_steps = epochs
            .checked_mul(steps)
            .ok_or_else(|| Error::Config(format!("{epochs} epochs of {steps} steps overflow")))?;
        Ok(TrainConfig {
            max_steps,
            learning_rate,
            schedule: LrSchedule::Constant,
            grad_clip,
            eval_interval: steps,
            eval_at_start: false,
            seed: self.plan.seed,
        })
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
        assert!(matches!(validation_split(10, 1.0, None), Err(Error::Config(_))));
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
    fn a_zero_batch_size_or_a_missing_length_is_an_error() {
        assert!(matches!(BatchPlan::new(0, 1).batches(&[0], &[1], 0), Err(Error::Config(_))));
        let bucketed = BatchPlan { bucket_by_length: true, ..BatchPlan::new(2, 1) };
        let err = bucketed.batches(&[0, 3], &[1, 1], 0).unwrap_err();
        assert!(err.to_string().contains("index 3 has no length"), "{err}");
    }

    #[test]
    fn epoch_batches_follow_the_plan_and_the_step_alone() {
        let plan = BatchPlan { bucket_by_length: true, ..BatchPlan::new(3, 5) };
        let lengths: Vec<usize> = (0..10).map(|i| i % 4).collect();
        let indices: Vec<usize> = (0..10).collect();
        let mut batches = EpochBatches::new(plan.clone(), indices.clone(), lengths.clone()).unwrap();
        let mut fresh = EpochBatches::new(plan.clone(), indices.clone(), lengths.clone()).unwrap();
        assert_eq!(
            fresh.batch(9).unwrap(),
            plan.batches(&indices, &lengths, 2).unwrap()[1],
            "step 9: epoch 2, batch 1"
        );
        for step in 0..12 {
            let expected = plan.batches(&indices, &lengths, step / 4).unwrap()[step % 4].clone();
            assert_eq!(batches.batch(step).unwrap(), expected, "step {step}");
        }
        assert!(EpochBatches::new(plan.clone(), Vec::new(), Vec::new()).is_err());
        assert!(EpochBatches::new(BatchPlan::new(0, 1), indices, lengths).is_err());
        assert!(matches!(fresh.train_config(usize::MAX, 1e-3, 0.0), Err(Error::Config(_))));
    }
}
