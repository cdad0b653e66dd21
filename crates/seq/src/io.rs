//! Model-directory I/O: atomic file writes ([`malmoi_fs`]: a temporary file in the same
//! directory, then a rename) and the check that a `config.json` fits the weights stored.

use std::path::Path;

use malmoi_tensor::checkpoint;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` so that readers see either the old file or the complete new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    malmoi_fs::write_atomically(path, bytes).map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

/// `Err` (the reason, for [`Error::ModelDir`]) when `config.json` describes at least `needed`
/// weights but the checkpoint holds fewer: the directory loaders call it before building a
/// model, so a configuration claiming 10^12 weights is refused without allocating them.
pub(crate) fn check_weights_fit(weights: &checkpoint::Checkpoint, needed: u64) -> std::result::Result<(), String> {
    let stored: u64 =
        weights.names().into_iter().filter_map(|name| weights.get(name).ok()).map(|a| a.len() as u64).sum();
    if needed > stored {
        return Err(format!("config.json describes at least {needed} weights but model.safetensors holds {stored}"));
    }
    Ok(())
}
