//! The bound on a model configuration's sizes, checked before any layer is built.

use crate::error::{Error, Result};

/// The largest vocabulary, width or layer count a model may have: token ids are `u32`, and
/// one row of a wider layer would take 16 GiB. Below it, no layer's shape arithmetic (gate
/// blocks, directions, concatenations) overflows, so a hostile `config.json` gets an error,
/// not an overflow.
pub(crate) const MAX_SIZE: usize = u32::MAX as usize;

/// [`Error::InvalidArgument`] naming the first of the `(name, size)` pairs above [`MAX_SIZE`].
pub(crate) fn check_sizes(sizes: &[(&str, usize)]) -> Result<()> {
    match sizes.iter().find(|&&(_, size)| size > MAX_SIZE) {
        Some((name, size)) => {
            Err(Error::InvalidArgument(format!("{name} {size} is above the largest size {MAX_SIZE}")))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_above_the_bound_are_named() {
        assert!(check_sizes(&[("vocab_size", MAX_SIZE), ("num_layers", 1)]).is_ok());
        let error = check_sizes(&[("vocab_size", 3), ("hidden_size", MAX_SIZE + 1)]).unwrap_err();
        assert!(error.to_string().contains("hidden_size 4294967296"), "{error}");
    }
}
