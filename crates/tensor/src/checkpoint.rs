//! Checkpoints in the safetensors format (what PyTorch and Hugging Face
//! read and write): named `f32` tensors plus a string-to-string metadata map.
//! Tensors are stored as `F32` by default, or as `F16` / `BF16` to halve a
//! file meant for distribution ([`save_with`]); all three load as `f32`.
//!
//! Writes are atomic — the file is written to a temporary file in the same
//! directory, flushed to disk, then renamed over the target — so a crash
//! never leaves a half-written checkpoint. Reads fail with typed errors:
//! [`Error::MissingTensor`], [`Error::CheckpointShape`],
//! [`Error::WrongDtype`], and [`Error::Checkpoint`] for truncated or corrupt
//! files.
//!
//! ```
//! use malmoi_tensor::checkpoint;
//! use malmoi_tensor::nn::{Linear, Module};
//! use malmoi_tensor::VarBuilder;
//! use std::collections::BTreeMap;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("model.safetensors");
//! let model = Linear::new(3, 2, true, VarBuilder::fresh(0))?;
//! let metadata = BTreeMap::from([("epoch".to_string(), "4".to_string())]);
//! checkpoint::save_module(&path, &model, &metadata)?;
//!
//! let restored = Linear::new(3, 2, true, VarBuilder::fresh(1))?;
//! let loaded = checkpoint::load_module(&path, &restored)?;
//! assert_eq!(loaded.metadata()["epoch"], "4");
//! assert_eq!(*restored.weight.data(), *model.weight.data());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use safetensors::tensor::{Dtype, SafeTensors, View};

use crate::error::{Error, Result};
use crate::nn::Module;
use crate::tensor::Tensor;

/// A safetensors file's contents: its float tensors by name (as `f32`), the names and
/// dtypes of any other tensors, and the metadata map.
#[derive(Debug, Clone, Default)]
pub struct Checkpoint {
    tensors: BTreeMap<String, ArrayD<f32>>,
    other_dtypes: BTreeMap<String, String>,
    metadata: BTreeMap<String, String>,
}

impl Checkpoint {
    /// The tensor called `name`.
    ///
    /// # Errors
    /// [`Error::MissingTensor`] if there is none;
    /// [`Error::WrongDtype`] if it is not stored as `F32`, `F16` or `BF16`.
    pub fn get(&self, name: &str) -> Result<&ArrayD<f32>> {
        if let Some(dtype) = self.other_dtypes.get(name) {
            return Err(Error::WrongDtype { name: name.to_string(), dtype: dtype.clone() });
        }
        self.tensors.get(name).ok_or_else(|| Error::MissingTensor { name: name.to_string() })
    }

    /// The tensor called `name`, which must have shape `shape`.
    ///
    /// # Errors
    /// As [`Checkpoint::get`], plus [`Error::CheckpointShape`].
    pub fn get_shaped(&self, name: &str, shape: &[usize]) -> Result<&ArrayD<f32>> {
        let tensor = self.get(name)?;
        if tensor.shape() != shape {
            return Err(Error::CheckpointShape {
                name: name.to_string(),
                expected: shape.to_vec(),
                got: tensor.shape().to_vec(),
            });
        }
        Ok(tensor)
    }

    /// Names of all tensors (any dtype), sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.tensors.keys().chain(self.other_dtypes.keys()).map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The string-to-string metadata stored in the header.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Copies the tensors named like `params` into them, after checking that
    /// every one is present with the right shape (nothing is changed when
    /// one is not).
    ///
    /// # Errors
    /// As [`Checkpoint::get_shaped`].
    pub fn load_into(&self, params: &[(String, Tensor)]) -> Result<()> {
        let values =
            params.iter().map(|(name, param)| self.get_shaped(name, &param.shape())).collect::<Result<Vec<_>>>()?;
        for ((_, param), value) in params.iter().zip(values) {
            param.set_data(value.clone())?;
        }
        Ok(())
    }
}

/// The number format tensors are stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// 32-bit floats: exact.
    #[default]
    F32,
    /// IEEE half precision: half the size, about 3 significant digits.
    F16,
    /// bfloat16: half the size, f32's range, about 2 significant digits.
    BF16,
}

impl Precision {
    fn dtype(self) -> Dtype {
        match self {
            Precision::F32 => Dtype::F32,
            Precision::F16 => Dtype::F16,
            Precision::BF16 => Dtype::BF16,
        }
    }

    fn bytes_per_value(self) -> usize {
        if self == Precision::F32 { 4 } else { 2 }
    }
}

/// An `f32` array as little-endian bytes of a chosen precision for the
/// safetensors writer.
struct StoredView<'a>(&'a ArrayD<f32>, Precision);

impl View for StoredView<'_> {
    fn dtype(&self) -> Dtype {
        self.1.dtype()
    }

    fn shape(&self) -> &[usize] {
        self.0.shape()
    }

    fn data(&self) -> Cow<'_, [u8]> {
        let values = self.0.iter();
        Cow::Owned(match self.1 {
            Precision::F32 => values.flat_map(|v| v.to_le_bytes()).collect(),
            Precision::F16 => values.flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect(),
            Precision::BF16 => values.flat_map(|&v| half::bf16::from_f32(v).to_le_bytes()).collect(),
        })
    }

    fn data_len(&self) -> usize {
        self.0.len() * self.1.bytes_per_value()
    }
}

/// The values of a stored tensor as `f32`, if its dtype is a float format we read.
fn read_values(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    match dtype {
        Dtype::F32 => Some(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()),
        Dtype::F16 => Some(bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect()),
        Dtype::BF16 => Some(bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect()),
        _ => None,
    }
}

/// Writes named tensors and `metadata` to `path` atomically, as `F32`.
///
/// # Errors
/// [`Error::Io`] if the directory cannot be written;
/// [`Error::Checkpoint`] for duplicate names or a header too large.
pub fn save<'a>(
    path: impl AsRef<Path>,
    tensors: impl IntoIterator<Item = (&'a str, &'a ArrayD<f32>)>,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    save_with(path, tensors, metadata, Precision::F32)
}

/// Writes named tensors and `metadata` to `path` atomically, stored with `precision`.
///
/// # Errors
/// As [`save`].
pub fn save_with<'a>(
    path: impl AsRef<Path>,
    tensors: impl IntoIterator<Item = (&'a str, &'a ArrayD<f32>)>,
    metadata: &BTreeMap<String, String>,
    precision: Precision,
) -> Result<()> {
    let path = path.as_ref();
    let mut named: Vec<(&str, StoredView)> =
        tensors.into_iter().map(|(name, array)| (name, StoredView(array, precision))).collect();
    named.sort_by_key(|(name, _)| *name);
    if let Some(pair) = named.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(Error::Checkpoint(format!("{}: tensor name {:?} given twice", path.display(), pair[0].0)));
    }
    let info: HashMap<String, String> = metadata.clone().into_iter().collect();
    let bytes = safetensors::serialize(named, (!info.is_empty()).then_some(info))
        .map_err(|e| Error::Checkpoint(format!("{}: {e}", path.display())))?;
    write_atomically(path, &bytes)
}

/// Writes `bytes` to a temporary file next to `path`, syncs it, and renames
/// it over `path`, so a crash leaves either the old file or the new one.
///
/// A save killed midway leaves its temporary file; the next save of the same
/// path removes it ([`malmoi_fs`]).
///
/// # Errors
/// [`Error::Io`] if the directory cannot be written.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(malmoi_fs::write_atomically(path, bytes)?)
}

/// Reads a safetensors file.
///
/// Tensors of other dtypes are listed but only fail when asked for (so a
/// PyTorch file with integer buffers still loads its weights).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Checkpoint`] if it is
/// truncated or corrupt.
pub fn load(path: impl AsRef<Path>) -> Result<Checkpoint> {
    let path = path.as_ref();
    let bytes = std::fs::read(path)?;
    let corrupt = |e: safetensors::SafeTensorError| Error::Checkpoint(format!("{}: {e}", path.display()));
    let file = SafeTensors::deserialize(&bytes).map_err(corrupt)?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(corrupt)?;
    let mut checkpoint = Checkpoint {
        metadata: header.metadata().clone().unwrap_or_default().into_iter().collect(),
        ..Checkpoint::default()
    };
    for (name, view) in file.iter() {
        let Some(values) = read_values(view.dtype(), view.data()) else {
            checkpoint.other_dtypes.insert(name.to_string(), view.dtype().to_string());
            continue;
        };
        let array = ArrayD::from_shape_vec(IxDyn(view.shape()), values)
            .map_err(|e| Error::Checkpoint(format!("{}: tensor {name:?}: {e}", path.display())))?;
        checkpoint.tensors.insert(name.to_string(), array);
    }
    Ok(checkpoint)
}

/// Saves every parameter of `module` under its dotted name, as `F32`.
///
/// # Errors
/// As [`save`].
pub fn save_module(path: impl AsRef<Path>, module: &impl Module, metadata: &BTreeMap<String, String>) -> Result<()> {
    save_module_with(path, module, metadata, Precision::F32)
}

/// Saves every parameter of `module` under its dotted name, stored with `precision`.
///
/// # Errors
/// As [`save`].
pub fn save_module_with(
    path: impl AsRef<Path>,
    module: &impl Module,
    metadata: &BTreeMap<String, String>,
    precision: Precision,
) -> Result<()> {
    let params = module.named_parameters();
    let arrays: Vec<(String, ArrayD<f32>)> = params.iter().map(|(name, p)| (name.clone(), p.to_array())).collect();
    save_with(path, arrays.iter().map(|(name, a)| (name.as_str(), a)), metadata, precision)
}

/// Loads every parameter of `module` from `path` (extra tensors in the file
/// are ignored) and returns the checkpoint for its metadata.
///
/// # Errors
/// As [`load`] and [`Checkpoint::load_into`]; on error no parameter is changed.
pub fn load_module(path: impl AsRef<Path>, module: &impl Module) -> Result<Checkpoint> {
    let checkpoint = load(path)?;
    checkpoint.load_into(&module.named_parameters())?;
    Ok(checkpoint)
}
