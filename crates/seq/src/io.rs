//! Model-directory I/O: atomic file writes ([`malmoi_fs`]: a temporary file in the same
//! directory, then a rename) and building a model from the weights a directory stores.

use std::path::Path;

use malmoi_tensor::VarBuilder;
use malmoi_tensor::var_builder::WEIGHTS_FILE;

use crate::error::{Error, Result};

/// Stored tensors nobody read that a load error lists by name; the rest are counted.
const LISTED_UNUSED: usize = 5;

/// Writes `bytes` to `path` so that readers see either the old file or the complete new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    malmoi_fs::write_atomically(path, bytes).map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

/// Builds a model with `build` from the tensors of `dir/model.safetensors` (nothing is drawn at
/// random first) and requires that it read every tensor stored.
///
/// `Err` is the reason, for [`Error::ModelDir`]: the file is missing or unreadable; a tensor the
/// configuration asks for is missing or of another shape (named), which refuses a
/// configuration claiming 10^12 weights before anything that size is allocated; or the file
/// holds tensors the configuration has no place for (named).
pub(crate) fn build_from_weights<M>(
    dir: &Path,
    build: impl FnOnce(VarBuilder) -> Result<M>,
) -> std::result::Result<M, String> {
    let vb = VarBuilder::from_files(&[dir.join(WEIGHTS_FILE)]).map_err(|e| e.to_string())?;
    let mismatch = |what: String| format!("config.json does not fit {WEIGHTS_FILE}: {what}");
    let model = build(vb.clone()).map_err(|e| mismatch(e.to_string()))?;
    let unused = vb.unused();
    if !unused.is_empty() {
        let listed: Vec<String> = unused.iter().take(LISTED_UNUSED).map(|name| format!("{name:?}")).collect();
        let more = unused.len() - listed.len();
        let rest = if more > 0 { format!(" and {more} more") } else { String::new() };
        return Err(mismatch(format!("the model has no place for stored {}{rest}", listed.join(", "))));
    }
    Ok(model)
}
