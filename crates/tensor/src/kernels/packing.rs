//! Packed layout of a padded batch of variable-length sequences.
//!
//! The recurrent kernels never touch padded time steps. They sort the batch by
//! length (longest first, ties keep their order) and store step `t` of every
//! sequence still running at `t` as a contiguous block of rows — the layout of
//! PyTorch's `PackedSequence`. Step `t`'s block holds `batch_sizes[t]` rows,
//! and row `k` of it belongs to sorted sequence `k`, so the rows of step
//! `t + 1` are a prefix of the rows of step `t`: a recurrent step is one
//! matrix product on a prefix of the state.

use std::ops::Range;

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis, s};

use super::{Result, invalid};

/// Where each (sequence, step) pair of a padded batch lives in packed rows.
#[derive(Debug, Clone)]
pub(crate) struct Packing {
    /// `order[k]` is the batch index of the `k`-th longest sequence.
    order: Vec<usize>,
    /// Sequence lengths, in batch order.
    lengths: Vec<usize>,
    /// Number of sequences still running at each step (non-increasing).
    batch_sizes: Vec<usize>,
    /// First packed row of each step; `offsets[t + 1] - offsets[t] == batch_sizes[t]`.
    offsets: Vec<usize>,
    /// Padded length `T` of the batch.
    time: usize,
}

impl Packing {
    /// Lays out a batch of `batch` sequences padded to `time` steps; without
    /// `lengths` every sequence runs for all `time` steps.
    pub(crate) fn new(batch: usize, time: usize, lengths: Option<&[usize]>) -> Result<Self> {
        let lengths = match lengths {
            None => vec![time; batch],
            Some(lengths) => {
                if lengths.len() != batch {
                    return Err(invalid(
                        "recurrent",
                        format!("{} sequence lengths for a batch of {batch}", lengths.len()),
                    ));
                }
                if let Some(&bad) = lengths.iter().find(|&&len| len > time) {
                    return Err(invalid(
                        "recurrent",
                        format!("sequence length {bad} exceeds the padded length {time}"),
                    ));
                }
                lengths.to_vec()
            }
        };
        let mut order: Vec<usize> = (0..batch).collect();
        order.sort_by_key(|&b| std::cmp::Reverse(lengths[b]));
        let steps = order.first().map_or(0, |&b| lengths[b]);
        let batch_sizes: Vec<usize> = (0..steps).map(|t| lengths.iter().filter(|&&len| len > t).count()).collect();
        let mut offsets = Vec::with_capacity(steps + 1);
        offsets.push(0);
        for &n in &batch_sizes {
            offsets.push(offsets.last().copied().unwrap_or(0) + n);
        }
        Ok(Self { order, lengths, batch_sizes, offsets, time })
    }

    /// Number of sequences in the batch.
    pub(crate) fn batch(&self) -> usize {
        self.order.len()
    }

    /// Padded length `T`.
    pub(crate) fn time(&self) -> usize {
        self.time
    }

    /// Number of steps actually run (the longest length).
    pub(crate) fn steps(&self) -> usize {
        self.batch_sizes.len()
    }

    /// Total number of packed rows (sum of lengths).
    pub(crate) fn rows(&self) -> usize {
        self.offsets[self.steps()]
    }

    /// Packed rows of step `t`.
    pub(crate) fn step_rows(&self, t: usize) -> Range<usize> {
        self.offsets[t]..self.offsets[t + 1]
    }

    /// Rows of step `t`'s input state: a prefix of step `t - 1`'s rows, or
    /// `None` at step 0 (the state then comes from the initial state).
    pub(crate) fn previous_rows(&self, t: usize) -> Option<Range<usize>> {
        (t > 0).then(|| self.offsets[t - 1]..self.offsets[t - 1] + self.batch_sizes[t])
    }

    /// Gathers `(B, T, F)` into packed `(rows, F)`.
    pub(crate) fn pack(&self, x: ArrayView3<f32>) -> Array2<f32> {
        let mut packed = Array2::zeros((self.rows(), x.dim().2));
        for t in 0..self.steps() {
            let rows = self.step_rows(t);
            for (k, mut row) in packed.slice_mut(s![rows, ..]).rows_mut().into_iter().enumerate() {
                row.assign(&x.slice(s![self.order[k], t, ..]));
            }
        }
        packed
    }

    /// Scatters packed `(rows, F)` into `(B, T, F)` with zeros at padded steps.
    pub(crate) fn unpack(&self, packed: ArrayView2<f32>) -> Array3<f32> {
        let mut x = Array3::zeros((self.batch(), self.time, packed.ncols()));
        for t in 0..self.steps() {
            let rows = self.step_rows(t);
            for (k, row) in packed.slice(s![rows, ..]).rows().into_iter().enumerate() {
                x.slice_mut(s![self.order[k], t, ..]).assign(&row);
            }
        }
        x
    }

    /// Reorders `(B, F)` from batch order into sorted (longest first) order.
    pub(crate) fn sort_rows(&self, a: ArrayView2<f32>) -> Array2<f32> {
        a.select(Axis(0), &self.order)
    }

    /// Reorders `(B, F)` from sorted order back into batch order.
    pub(crate) fn unsort_rows(&self, sorted: ArrayView2<f32>) -> Array2<f32> {
        let mut a = Array2::zeros(sorted.raw_dim());
        for (k, row) in sorted.rows().into_iter().enumerate() {
            a.row_mut(self.order[k]).assign(&row);
        }
        a
    }

    /// Final state of every sequence, in batch order: its packed row at its
    /// last valid step, or its initial state if it is empty.
    pub(crate) fn final_state(&self, states: ArrayView2<f32>, initial_sorted: ArrayView2<f32>) -> Array2<f32> {
        let mut last = Array2::zeros((self.batch(), states.ncols()));
        for (k, &b) in self.order.iter().enumerate() {
            let source = match self.lengths[b] {
                0 => initial_sorted.row(k),
                len => states.row(self.offsets[len - 1] + k),
            };
            last.row_mut(b).assign(&source);
        }
        last
    }

    /// For every packed row, the state it started from: the previous step's
    /// row of the same sequence, or its initial state at step 0.
    pub(crate) fn previous_states(&self, states: ArrayView2<f32>, initial_sorted: ArrayView2<f32>) -> Array2<f32> {
        let mut previous = Array2::zeros(states.raw_dim());
        for t in 0..self.steps() {
            let n = self.batch_sizes[t];
            let source = match self.previous_rows(t) {
                None => initial_sorted.slice(s![..n, ..]),
                Some(rows) => states.slice(s![rows, ..]),
            };
            previous.slice_mut(s![self.step_rows(t), ..]).assign(&source);
        }
        previous
    }

    /// Step `t`'s rows of `states` `(N, H)`, to write, and the states the step starts from, to
    /// read: the previous step's rows, or the sorted `initial` states `(B, H)` at the first step.
    pub(crate) fn step_states<'a>(
        &self,
        t: usize,
        states: &'a mut Array2<f32>,
        initial: &'a Array2<f32>,
    ) -> (&'a [f32], &'a mut [f32]) {
        let (step, h) = (self.step_rows(t), states.ncols());
        let (done, now) = block_mut(states, 0..step.end).split_at_mut(step.start * h);
        let done: &'a [f32] = done;
        let previous = match self.previous_rows(t) {
            None => block(initial, 0..step.len()),
            Some(prev) => &done[prev.start * h..prev.end * h],
        };
        (previous, now)
    }

    /// The states step `t` started from: rows of `states`, or of the sorted `initial` states at
    /// the first step.
    pub(crate) fn states_before<'a>(&self, t: usize, states: &'a Array2<f32>, initial: &'a Array2<f32>) -> &'a [f32] {
        match self.previous_rows(t) {
            None => block(initial, 0..self.step_rows(t).len()),
            Some(prev) => block(states, prev),
        }
    }
}

/// Rows `rows` of a row-major buffer the kernels allocated, as one slice.
pub(super) fn block(a: &Array2<f32>, rows: Range<usize>) -> &[f32] {
    let cols = a.ncols();
    &a.as_slice().expect("kernel buffers are row-major")[rows.start * cols..rows.end * cols]
}

/// Rows `rows` of a row-major buffer the kernels allocated, as one mutable slice.
pub(super) fn block_mut(a: &mut Array2<f32>, rows: Range<usize>) -> &mut [f32] {
    let cols = a.ncols();
    &mut a.as_slice_mut().expect("kernel buffers are row-major")[rows.start * cols..rows.end * cols]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array;

    #[test]
    fn packs_longest_first_and_round_trips() {
        let x = Array::from_shape_fn((3, 4, 2), |(b, t, f)| (100 * b + 10 * t + f) as f32);
        let packing = Packing::new(3, 4, Some(&[2, 4, 0])).unwrap();
        assert_eq!(packing.steps(), 4);
        assert_eq!(packing.rows(), 6);
        assert_eq!(packing.batch_sizes, vec![2, 2, 1, 1]);
        let packed = packing.pack(x.view());
        // step 0: sequence 1 (length 4) then sequence 0 (length 2)
        assert_eq!(packed.row(0).to_vec(), vec![100.0, 101.0]);
        assert_eq!(packed.row(1).to_vec(), vec![0.0, 1.0]);
        assert_eq!(packed.row(5).to_vec(), vec![130.0, 131.0]);
        let back = packing.unpack(packed.view());
        assert_eq!(back[[0, 1, 1]], 11.0);
        assert_eq!(back[[0, 2, 0]], 0.0, "padded step is zero");
        assert_eq!(back[[2, 0, 0]], 0.0, "empty sequence is zero");
        assert_eq!(back[[1, 3, 0]], 130.0);
    }

    #[test]
    fn rejects_lengths_beyond_padding() {
        assert!(Packing::new(2, 3, Some(&[1, 4])).is_err());
        assert!(Packing::new(2, 3, Some(&[1])).is_err());
    }
}
