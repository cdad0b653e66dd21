//! Model-directory I/O: atomic file writes ([`malmoi_fs`]: a temporary file in the same
//! directory, then a rename), the JSON files beside the weights, and building a model from the
//! weights a directory stores.

use std::path::Path;

use malmoi_tensor::VarBuilder;
use malmoi_tensor::var_builder::WEIGHTS_FILE;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Stored tensors nobody read that a load error lists by name; the rest are counted.
const LISTED_UNUSED: usize = 5;

/// Writes `bytes` to `path` so that readers see either the old file or the complete new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    malmoi_fs::write_atomically(path, bytes).map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

/// Creates the model directory `dir` (and its parents) if it is missing.
pub(crate) fn create_model_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })
}

/// Writes `value` as pretty-printed JSON into `dir/name`, atomically.
pub(crate) fn write_json(dir: &Path, name: &str, value: &impl Serialize) -> Result<()> {
    let json = serde_json::to_string_pretty(value).expect("plain data serialises");
    write_atomic(&dir.join(name), json.as_bytes())
}

/// `dir/name` read as JSON. `Err` is the reason, for [`Error::ModelDir`]: `name: ` and why the
/// file could not be read or parsed.
pub(crate) fn read_json<T: DeserializeOwned>(dir: &Path, name: &str) -> std::result::Result<T, String> {
    let text = std::fs::read_to_string(dir.join(name)).map_err(|e| format!("{name}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))
}

/// `Err` (the reason, for [`Error::ModelDir`]) when a directory's layout version `found` is not
/// the `supported` one.
pub(crate) fn check_format_version(found: u32, supported: u32) -> std::result::Result<(), String> {
    if found != supported {
        return Err(format!("format version {found} is not the supported version {supported}"));
    }
    Ok(())
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
