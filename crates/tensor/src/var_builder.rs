//! [`VarBuilder`]: a model's weights looked up by name in memory-mapped safetensors files, so
//! that layers are built from the tensors a checkpoint holds instead of being initialised at
//! random and overwritten (candle-nn's `VarBuilder`).
//!
//! A directory in Hugging Face's layout holds `model.safetensors`, or shards listed by
//! `model.safetensors.index.json`. Files are memory-mapped; each tensor is converted to `f32`
//! (from `F32`, `F16` or `BF16`) straight from the mapping, a few megabytes at a time, and the
//! pages read are released as it goes, so loading peaks near the size of the `f32` weights
//! instead of the file plus the weights.
//!
//! ```
//! use std::collections::BTreeMap;
//! use malmoi_tensor::{checkpoint, var_builder::VarBuilder};
//! use ndarray::{ArrayD, IxDyn};
//!
//! let dir = tempfile::tempdir()?;
//! let weight = ArrayD::from_elem(IxDyn(&[2, 3]), 0.5f32);
//! checkpoint::save(dir.path().join("model.safetensors"), [("layer.weight", &weight)], &BTreeMap::new())?;
//!
//! let vb = VarBuilder::from_dir(dir.path())?;
//! let layer = vb.pp("layer");
//! assert_eq!(layer.get(&[2, 3], "weight")?, weight);
//! assert!(vb.unused().is_empty());
//! # Ok::<(), malmoi_tensor::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use memmap2::{Mmap, UncheckedAdvice};
use ndarray::{ArrayD, IxDyn};
use rayon::prelude::*;
use safetensors::tensor::{Dtype, SafeTensors};

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The weights file of a single-file model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The index of a sharded model directory.
pub const WEIGHTS_INDEX_FILE: &str = "model.safetensors.index.json";

/// Values converted per chunk before the chunk's pages are released.
const CHUNK_VALUES: usize = 1 << 21;

/// Where a tensor lies in a mapped file.
#[derive(Debug, Clone)]
struct Entry {
    file: usize,
    dtype: Dtype,
    shape: Vec<usize>,
    /// Byte range in the mapping (header included).
    start: usize,
    end: usize,
}

/// The mapped files and the tensors they hold.
#[derive(Debug)]
struct Store {
    paths: Vec<PathBuf>,
    maps: Vec<Mmap>,
    entries: BTreeMap<String, Entry>,
    used: Mutex<BTreeSet<String>>,
}

/// Named weights from safetensors files, viewed under a dotted prefix.
///
/// Cloning is cheap: clones and [`pp`](Self::pp) views share the mapped files and the record
/// of which tensors were read.
#[derive(Debug, Clone)]
pub struct VarBuilder {
    store: Arc<Store>,
    prefix: String,
}

impl VarBuilder {
    /// The weights of a model directory: `model.safetensors`, or the shards that
    /// `model.safetensors.index.json` lists.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] naming the directory when it holds neither (or only a PyTorch
    /// `pytorch_model.bin`), or naming the file that is unreadable or corrupt.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let single = dir.join(WEIGHTS_FILE);
        if single.is_file() {
            return Self::from_files(&[single]);
        }
        let index = dir.join(WEIGHTS_INDEX_FILE);
        if index.is_file() {
            return Self::from_files(&shards(&index)?);
        }
        let hint = if dir.join("pytorch_model.bin").exists() {
            " (only pytorch_model.bin: convert it to safetensors, e.g. with transformers' save_pretrained(safe_serialization=True))"
        } else {
            ""
        };
        Err(Error::Checkpoint(format!("{}: no {WEIGHTS_FILE} or {WEIGHTS_INDEX_FILE}{hint}", dir.display())))
    }

    /// The weights in the safetensors files `paths` (the shards of one model).
    ///
    /// # Errors
    /// [`Error::Checkpoint`] naming the file that cannot be mapped or is corrupt, or a tensor
    /// name that two files both hold.
    pub fn from_files(paths: &[PathBuf]) -> Result<Self> {
        let mut maps = Vec::with_capacity(paths.len());
        let mut entries = BTreeMap::new();
        for (index, path) in paths.iter().enumerate() {
            let map = map_file(path)?;
            for (name, entry) in read_entries(path, &map, index)? {
                if entries.insert(name.clone(), entry).is_some() {
                    return Err(Error::Checkpoint(format!(
                        "{}: tensor {name:?} is also in another shard",
                        path.display()
                    )));
                }
            }
            maps.push(map);
        }
        let store = Store { paths: paths.to_vec(), maps, entries, used: Mutex::new(BTreeSet::new()) };
        Ok(VarBuilder { store: Arc::new(store), prefix: String::new() })
    }

    /// A view whose names start with `prefix.` (nested on this view's own prefix).
    pub fn pp(&self, prefix: impl AsRef<str>) -> VarBuilder {
        VarBuilder { store: Arc::clone(&self.store), prefix: self.full_name(prefix.as_ref()) }
    }

    /// This view's prefix (`""` at the root).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// True if the files hold `name` under this view's prefix.
    pub fn contains(&self, name: &str) -> bool {
        self.store.entries.contains_key(&self.full_name(name))
    }

    /// The stored shape of `name`, if the files hold it.
    pub fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.store.entries.get(&self.full_name(name)).map(|e| e.shape.clone())
    }

    /// The tensor `name` as `f32`, which must have `shape`.
    ///
    /// # Errors
    /// [`Error::MissingTensor`] with the full name; [`Error::CheckpointShape`];
    /// [`Error::WrongDtype`] for a tensor not stored as `F32`, `F16` or `BF16`.
    pub fn get(&self, shape: &[usize], name: &str) -> Result<ArrayD<f32>> {
        let full = self.full_name(name);
        let entry = self.store.entries.get(&full).ok_or_else(|| Error::MissingTensor { name: full.clone() })?;
        if entry.shape != shape {
            return Err(Error::CheckpointShape { name: full, expected: shape.to_vec(), got: entry.shape.clone() });
        }
        let values = self.store.convert(entry, &full)?;
        self.store.used.lock().unwrap_or_else(PoisonError::into_inner).insert(full);
        Ok(ArrayD::from_shape_vec(IxDyn(shape), values).expect("the stored byte length matches the shape"))
    }

    /// The matrix `name` stored `(in, out)` (GPT-2's `Conv1D`), returned as `(out, in)`: the
    /// layout of a [`Linear`](crate::nn::Linear). `shape` is the returned `[out, in]`. The
    /// transposition happens while converting, in cache-sized tiles on every core, instead of
    /// as a second pass over a strided view.
    ///
    /// # Errors
    /// As [`get`](Self::get), the stored shape being `[in, out]`.
    pub fn get_transposed(&self, shape: [usize; 2], name: &str) -> Result<ArrayD<f32>> {
        let [rows, cols] = shape;
        let stored = self.get(&[cols, rows], name)?;
        let mut out = vec![0f32; rows * cols];
        transpose_into(stored.as_slice().expect("a fresh array is contiguous"), cols, rows, &mut out);
        Ok(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("rows × cols values"))
    }

    /// [`get`](Self::get) as a trainable parameter.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn parameter(&self, shape: &[usize], name: &str) -> Result<Tensor> {
        Ok(Tensor::parameter(self.get(shape, name)?))
    }

    /// Names in the files that no [`get`](Self::get) has read yet: after a model is built,
    /// the tensors it has no place for.
    pub fn unused(&self) -> Vec<String> {
        let used = self.store.used.lock().unwrap_or_else(PoisonError::into_inner);
        self.store.entries.keys().filter(|n| !used.contains(*n)).cloned().collect()
    }

    /// The file that holds `name` (under this view's prefix), for error messages.
    pub fn path_of(&self, name: &str) -> Option<&Path> {
        self.store.entries.get(&self.full_name(name)).map(|e| self.store.paths[e.file].as_path())
    }

    /// The files, in the order given or listed by the index.
    pub fn paths(&self) -> &[PathBuf] {
        &self.store.paths
    }

    /// Total bytes the tensors take as `f32`.
    pub fn f32_bytes(&self) -> u64 {
        self.store.entries.values().map(|e| e.shape.iter().product::<usize>() as u64 * 4).sum()
    }

    fn full_name(&self, name: &str) -> String {
        match (self.prefix.is_empty(), name.is_empty()) {
            (true, _) => name.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}.{name}", self.prefix),
        }
    }
}

impl Store {
    /// Converts a stored tensor to `f32`, chunk by chunk, releasing the pages read.
    fn convert(&self, entry: &Entry, name: &str) -> Result<Vec<f32>> {
        let width = match entry.dtype {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::BF16 => 2,
            other => return Err(Error::WrongDtype { name: name.to_string(), dtype: other.to_string() }),
        };
        let map = &self.maps[entry.file];
        let count = (entry.end - entry.start) / width;
        let mut values = vec![0f32; count];
        for (chunk, out) in values.chunks_mut(CHUNK_VALUES).enumerate() {
            let start = entry.start + chunk * CHUNK_VALUES * width;
            let bytes = &map[start..start + out.len() * width];
            convert_chunk(entry.dtype, bytes, out);
            release(map, start, bytes.len());
        }
        Ok(values)
    }
}

/// Decodes little-endian `F32` / `F16` / `BF16` bytes into `out`, in parallel.
fn convert_chunk(dtype: Dtype, bytes: &[u8], out: &mut [f32]) {
    const PART: usize = 1 << 14;
    let width = bytes.len() / out.len().max(1);
    out.par_chunks_mut(PART).zip(bytes.par_chunks(PART * width)).for_each(|(out, bytes)| match dtype {
        Dtype::F16 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
            }
        }
        Dtype::BF16 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = half::bf16::from_le_bytes([b[0], b[1]]).to_f32();
            }
        }
        _ => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
    });
}

/// Writes the transpose of `src` (`rows × cols`, row-major) into `dst` (`cols × rows`), tile by
/// tile, each block of destination rows on its own core.
fn transpose_into(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    const TILE: usize = 64;
    dst.par_chunks_mut(TILE * rows).enumerate().for_each(|(block, out)| {
        let first = block * TILE;
        let width = out.len() / rows.max(1);
        for i0 in (0..rows).step_by(TILE) {
            for j in 0..width {
                let column = first + j;
                for i in i0..(i0 + TILE).min(rows) {
                    out[j * rows + i] = src[i * cols + column];
                }
            }
        }
    });
}

/// Drops the mapped pages of `[start, start + len)` from this process's memory; they are
/// read again from the file if touched again.
fn release(map: &Mmap, start: usize, len: usize) {
    const PAGE: usize = 4096;
    let aligned = start / PAGE * PAGE;
    // SAFETY: the mapping is private and read-only, so dropping its pages loses nothing: a
    // later read faults them back in from the file. Failure only means the pages stay.
    let _ = unsafe { map.unchecked_advise_range(UncheckedAdvice::DontNeed, aligned, len + (start - aligned)) };
}

fn map_file(path: &Path) -> Result<Mmap> {
    let file = File::open(path).map_err(|e| Error::Checkpoint(format!("{}: {e}", path.display())))?;
    // SAFETY: the file is only read; a model file changed by another process while it is
    // being loaded gives wrong weights, as reading it would, not undefined behaviour in safe
    // code that only copies bytes out.
    unsafe { Mmap::map(&file) }.map_err(|e| Error::Checkpoint(format!("{}: {e}", path.display())))
}

/// The tensors a mapped safetensors file holds, with byte ranges into the mapping.
fn read_entries(path: &Path, map: &Mmap, file: usize) -> Result<Vec<(String, Entry)>> {
    let corrupt = |e: safetensors::SafeTensorError| Error::Checkpoint(format!("{}: {e}", path.display()));
    // Validates the header and that every tensor's bytes lie inside the file.
    let tensors = SafeTensors::deserialize(map).map_err(corrupt)?;
    let (header_len, _) = SafeTensors::read_metadata(map).map_err(corrupt)?;
    let base = 8 + header_len;
    let base_ptr = map.as_ptr() as usize;
    Ok(tensors
        .iter()
        .map(|(name, view)| {
            let start = view.data().as_ptr() as usize - base_ptr;
            debug_assert!(start >= base);
            let entry = Entry {
                file,
                dtype: view.dtype(),
                shape: view.shape().to_vec(),
                start,
                end: start + view.data().len(),
            };
            (name.to_string(), entry)
        })
        .collect())
}

/// The shard files an index lists, in first-mention order, next to the index.
fn shards(index: &Path) -> Result<Vec<PathBuf>> {
    #[derive(serde::Deserialize)]
    struct Index {
        weight_map: HashMap<String, String>,
    }
    let bad = |reason: String| Error::Checkpoint(format!("{}: {reason}", index.display()));
    let text = std::fs::read_to_string(index).map_err(|e| bad(e.to_string()))?;
    let parsed: Index = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let dir = index.parent().unwrap_or(Path::new("."));
    let mut files: Vec<&String> = parsed.weight_map.values().collect::<BTreeSet<_>>().into_iter().collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let plain = Path::new(file).components().all(|c| matches!(c, std::path::Component::Normal(_)));
            if !plain {
                return Err(bad(format!("shard {file:?} is not a file name inside the model directory")));
            }
            Ok(dir.join(file))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::transpose_into;

    #[test]
    fn tiled_transpose_equals_the_definition() {
        for (rows, cols) in [(1, 1), (3, 130), (130, 3), (65, 129), (200, 70)] {
            let src: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
            let mut dst = vec![0f32; rows * cols];
            transpose_into(&src, rows, cols, &mut dst);
            for i in 0..rows {
                for j in 0..cols {
                    assert_eq!(dst[j * rows + i], src[i * cols + j], "{rows}×{cols} at ({i}, {j})");
                }
            }
        }
    }
}
