//! Atomic file writes ([`malmoi_fs`]): a temporary file in the same directory, then a rename.

use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` so that readers see either the old file or the complete new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    malmoi_fs::write_atomically(path, bytes).map_err(|source| Error::Io { path: path.to_path_buf(), source })
}
