//! Folder-atomic checkpoints: a directory of `step-N/` folders and a `LATEST` file naming the
//! newest complete one. A new folder is written in full before `LATEST` is switched to it
//! atomically, so a crash at any moment leaves the previous checkpoint loadable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use malmoi_tensor::Tensor;
use malmoi_tensor::checkpoint::{self, write_atomically};

use crate::error::{Error, Result};

/// A checkpoint directory.
///
/// ```
/// use malmoi_train::Checkpoints;
///
/// let dir = tempfile::tempdir().unwrap();
/// let checkpoints = Checkpoints::new(dir.path());
/// assert!(checkpoints.latest()?.is_none());
/// checkpoints.commit(10, |folder| std::fs::write(folder.join("a.txt"), "ten").map_err(malmoi_train::Error::io(folder)))?;
/// checkpoints.commit(20, |folder| std::fs::write(folder.join("a.txt"), "twenty").map_err(malmoi_train::Error::io(folder)))?;
/// let latest = checkpoints.latest()?.unwrap();
/// assert!(latest.ends_with("step-20"));
/// assert!(!dir.path().join("step-10").exists(), "the previous checkpoint is removed");
/// # Ok::<(), malmoi_train::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoints {
    dir: PathBuf,
}

impl Checkpoints {
    /// Checkpoints under `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Checkpoints { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The newest complete checkpoint's folder, if any.
    ///
    /// # Errors
    /// [`Error::Io`] if `LATEST` exists but cannot be read; [`Error::Config`] if it names a
    /// folder that is not there.
    pub fn latest(&self) -> Result<Option<PathBuf>> {
        let pointer = self.dir.join("LATEST");
        let name = match std::fs::read_to_string(&pointer) {
            Ok(name) => name,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&pointer)(e)),
        };
        let folder = self.dir.join(name.trim());
        if !folder.is_dir() {
            return Err(Error::Config(format!("{} names {}, which is missing", pointer.display(), folder.display())));
        }
        Ok(Some(folder))
    }

    /// Writes checkpoint `step-{step}/` with `write` (which fills the folder it is given), then
    /// points `LATEST` at it atomically and removes the previous checkpoint. A crash inside
    /// `write` leaves `LATEST` on the previous, complete checkpoint; a half-written folder of an
    /// earlier crash is replaced.
    ///
    /// # Errors
    /// `write`'s errors; [`Error::Io`] for the folder, the pointer or the removal of the old one.
    pub fn commit<E: From<Error>>(
        &self,
        step: usize,
        write: impl FnOnce(&Path) -> std::result::Result<(), E>,
    ) -> std::result::Result<PathBuf, E> {
        let name = format!("step-{step}");
        let folder = self.dir.join(&name);
        let previous = self.latest()?;
        if folder.exists() && previous.as_ref() != Some(&folder) {
            std::fs::remove_dir_all(&folder).map_err(Error::io(&folder))?;
        }
        std::fs::create_dir_all(&folder).map_err(Error::io(&folder))?;
        write(&folder)?;
        write_atomically(&self.dir.join("LATEST"), name.as_bytes()).map_err(Error::from)?;
        if let Some(previous) = previous.filter(|p| *p != folder) {
            std::fs::remove_dir_all(&previous).map_err(Error::io(&previous))?;
        }
        Ok(folder)
    }
}

/// Saves named parameters as one safetensors file (atomically).
///
/// # Errors
/// Write errors.
pub fn save_parameters(path: &Path, params: &[(String, Tensor)]) -> Result<()> {
    let arrays: Vec<(&str, ndarray::ArrayD<f32>)> = params.iter().map(|(n, p)| (n.as_str(), p.to_array())).collect();
    checkpoint::save(path, arrays.iter().map(|(n, a)| (*n, a)), &BTreeMap::new())?;
    Ok(())
}

/// Loads a file written by [`save_parameters`] into `params` (same names and shapes).
///
/// # Errors
/// Read errors; a missing or misshapen tensor.
pub fn load_parameters(path: &Path, params: &[(String, Tensor)]) -> Result<()> {
    checkpoint::load(path)?.load_into(params)?;
    Ok(())
}
