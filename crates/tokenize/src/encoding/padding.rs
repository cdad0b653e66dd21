//! Keras' `pad_sequences`: make integer sequences one length.

/// Which end of a sequence padding is added to, or truncation removes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Side {
    /// The beginning (Keras `'pre'`, the default).
    #[default]
    Pre,
    /// The end (Keras `'post'`).
    Post,
}

/// Options of [`pad_sequences`]; the default is Keras' (`maxlen=None`,
/// `padding='pre'`, `truncating='pre'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PadOptions {
    /// Length of every output row; `None` means the longest input sequence.
    pub maxlen: Option<usize>,
    /// Where the padding value is added to short sequences.
    pub padding: Side,
    /// Where long sequences lose elements.
    pub truncating: Side,
}

/// A padded batch: `rows × cols` values stored row-major, ready for
/// `ndarray::Array2::from_shape_vec(padded.shape(), padded.into_vec())`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Padded<T> {
    data: Vec<T>,
    rows: usize,
    cols: usize,
}

impl<T> Padded<T> {
    /// `(rows, cols)`: number of sequences and the common length.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Row `i`, or `None` past the last row.
    pub fn row(&self, i: usize) -> Option<&[T]> {
        (i < self.rows).then(|| &self.data[i * self.cols..(i + 1) * self.cols])
    }

    /// The rows in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[T]> + '_ {
        (0..self.rows).map(|i| &self.data[i * self.cols..(i + 1) * self.cols])
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The row-major buffer.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }
}

impl<T: Clone> Padded<T> {
    /// The rows as separate vectors (Python's `x.tolist()`).
    pub fn to_vecs(&self) -> Vec<Vec<T>> {
        self.rows().map(<[T]>::to_vec).collect()
    }
}

/// Pads (and truncates) `sequences` to one length, like
/// `keras.utils.pad_sequences(sequences, maxlen, padding, truncating, value)`.
///
/// ```
/// use malmoi_tokenize::encoding::{pad_sequences, PadOptions, Side};
///
/// let seqs = vec![vec![1], vec![2, 3], vec![4, 5, 6]];
/// let x = pad_sequences(&seqs, PadOptions::default(), 0);
/// assert_eq!(x.to_vecs(), vec![vec![0, 0, 1], vec![0, 2, 3], vec![4, 5, 6]]);
///
/// let post = PadOptions { maxlen: Some(2), padding: Side::Post, truncating: Side::Post };
/// let x = pad_sequences(&seqs, post, 0);
/// assert_eq!(x.to_vecs(), vec![vec![1, 0], vec![2, 3], vec![4, 5]]);
/// ```
pub fn pad_sequences<T: Copy, S: AsRef<[T]>>(sequences: &[S], options: PadOptions, value: T) -> Padded<T> {
    let longest = sequences.iter().map(|s| s.as_ref().len()).max().unwrap_or(0);
    let cols = options.maxlen.unwrap_or(longest);
    let mut data = Vec::with_capacity(sequences.len() * cols);
    for seq in sequences {
        let seq = seq.as_ref();
        let kept = match options.truncating {
            Side::Pre => &seq[seq.len().saturating_sub(cols)..],
            Side::Post => &seq[..seq.len().min(cols)],
        };
        let fill = std::iter::repeat_n(value, cols - kept.len());
        match options.padding {
            Side::Pre => data.extend(fill.chain(kept.iter().copied())),
            Side::Post => data.extend(kept.iter().copied().chain(fill)),
        }
    }
    Padded { data, rows: sequences.len(), cols }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keras_docstring_examples() {
        let seqs = vec![vec![1], vec![2, 3], vec![4, 5, 6]];
        let with = |maxlen, padding, value| {
            pad_sequences(&seqs, PadOptions { maxlen, padding, ..Default::default() }, value).to_vecs()
        };
        assert_eq!(with(None, Side::Pre, -1), vec![vec![-1, -1, 1], vec![-1, 2, 3], vec![4, 5, 6]]);
        assert_eq!(with(None, Side::Post, 0), vec![vec![1, 0, 0], vec![2, 3, 0], vec![4, 5, 6]]);
        assert_eq!(with(Some(2), Side::Pre, 0), vec![vec![0, 1], vec![2, 3], vec![5, 6]]);
    }

    #[test]
    fn empty_inputs_and_zero_length() {
        let none: Vec<Vec<u32>> = vec![];
        assert_eq!(pad_sequences(&none, PadOptions::default(), 0).shape(), (0, 0));
        let seqs = vec![vec![], vec![7u32]];
        let x = pad_sequences(&seqs, PadOptions { maxlen: Some(0), ..Default::default() }, 0);
        assert_eq!(x.shape(), (2, 0));
        assert_eq!(x.rows().count(), 2);
        assert_eq!(x.row(1), Some(&[][..]));
        assert_eq!(x.row(2), None);
    }
}
