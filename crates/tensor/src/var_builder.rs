//! [`VarBuilder`]: the named tensor source every layer and model is built from (candle-nn's
//! `VarBuilder`). One construction path serves both ways a model comes to be:
//!
//! - [`VarBuilder::fresh`] initialises: each name is drawn by the [`Init`] its layer asks for,
//!   from one generator seeded once, in construction order, so a seed gives one model;
//! - [`VarBuilder::from_dir`] / [`from_files`](VarBuilder::from_files) load: each name is read
//!   from memory-mapped safetensors files and the initialiser is ignored, so nothing is drawn at
//!   random only to be overwritten, and a missing or misshapen tensor is an error naming it.
//!
//! Names are hierarchical by construction: a model hands each child a [`pp`](VarBuilder::pp)
//! view (`"encoder"`, `"layers.0"`), so the name a layer is built under is the name it is saved
//! and loaded under.
//!
//! ```
//! use malmoi_tensor::nn::{Linear, Module};
//! use malmoi_tensor::{VarBuilder, checkpoint};
//!
//! let fresh = Linear::new(3, 2, true, VarBuilder::fresh(0))?;
//! let again = Linear::new(3, 2, true, VarBuilder::fresh(0))?;
//! assert_eq!(*fresh.weight.data(), *again.weight.data());
//!
//! let dir = tempfile::tempdir()?;
//! checkpoint::save_module(dir.path().join("model.safetensors"), &fresh, &Default::default())?;
//! let loaded = Linear::new(3, 2, true, VarBuilder::from_dir(dir.path())?)?;
//! assert_eq!(*loaded.weight.data(), *fresh.weight.data());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Loading in detail:
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
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use safetensors::tensor::{Dtype, SafeTensors};

use crate::error::{Error, Result};
use crate::nn::init::Init;
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

/// A fresh source: one generator, drawn in construction order, and the names made so far.
#[derive(Debug)]
struct Fresh {
    rng: StdRng,
    made: BTreeSet<String>,
}

/// Where a [`VarBuilder`]'s tensors come from.
#[derive(Debug)]
enum Source {
    Files(Store),
    Fresh(Box<Mutex<Fresh>>),
}

/// Named tensors — loaded from safetensors files or freshly initialised — viewed under a
/// dotted prefix.
///
/// Cloning is cheap: clones and [`pp`](Self::pp) views share the files (or the generator)
/// and the record of which names were taken.
#[derive(Debug, Clone)]
pub struct VarBuilder {
    source: Arc<Source>,
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
        Ok(VarBuilder { source: Arc::new(Source::Files(store)), prefix: String::new() })
    }

    /// A source that initialises instead of loading: every tensor is drawn by the [`Init`] its
    /// layer names, from one generator seeded with `seed`, in the order the model is built.
    /// The same seed and the same construction give the same weights.
    pub fn fresh(seed: u64) -> Self {
        let fresh = Fresh { rng: StdRng::seed_from_u64(seed), made: BTreeSet::new() };
        VarBuilder { source: Arc::new(Source::Fresh(Box::new(Mutex::new(fresh)))), prefix: String::new() }
    }

    /// True for a [`fresh`](Self::fresh) source.
    pub fn is_fresh(&self) -> bool {
        matches!(*self.source, Source::Fresh(_))
    }

    /// A view whose names start with `prefix.` (nested on this view's own prefix).
    pub fn pp(&self, prefix: impl AsRef<str>) -> VarBuilder {
        VarBuilder { source: Arc::clone(&self.source), prefix: self.full_name(prefix.as_ref()) }
    }

    /// The tensor `name` of `shape`: read from the files, or, from a fresh source, drawn by
    /// `init`.
    ///
    /// # Errors
    /// As [`get`](Self::get) when loading; from a fresh source, [`Error::Invalid`] for a name
    /// made twice or an initialiser that refuses the shape.
    pub fn get_or_init(&self, shape: &[usize], name: &str, init: Init) -> Result<ArrayD<f32>> {
        self.get_or_else(shape, name, |rng| init.draw(shape, rng))
    }

    /// As [`get_or_init`](Self::get_or_init), with a rule of the layer's own drawing the
    /// fresh tensor (it must return `shape`).
    ///
    /// # Errors
    /// As [`get_or_init`](Self::get_or_init); what `draw` returns.
    pub fn get_or_else(
        &self,
        shape: &[usize],
        name: &str,
        draw: impl FnOnce(&mut StdRng) -> Result<ArrayD<f32>>,
    ) -> Result<ArrayD<f32>> {
        let fresh = match &*self.source {
            Source::Files(_) => return self.get(shape, name),
            Source::Fresh(fresh) => fresh,
        };
        let full = self.full_name(name);
        let mut fresh = fresh.lock().unwrap_or_else(PoisonError::into_inner);
        if !fresh.made.insert(full.clone()) {
            return Err(Error::Invalid { op: "VarBuilder", reason: format!("tensor {full:?} is made twice") });
        }
        let value = draw(&mut fresh.rng)?;
        if value.shape() != shape {
            return Err(Error::CheckpointShape { name: full, expected: shape.to_vec(), got: value.shape().to_vec() });
        }
        Ok(value)
    }

    /// [`get_or_init`](Self::get_or_init) as a trainable parameter.
    ///
    /// # Errors
    /// As [`get_or_init`](Self::get_or_init).
    pub fn parameter_or_init(&self, shape: &[usize], name: &str, init: Init) -> Result<Tensor> {
        Ok(Tensor::parameter(self.get_or_init(shape, name, init)?))
    }

    /// A seed for a layer's own generator (dropout masks): drawn from a fresh source's
    /// generator in construction order, `0` when loading (a loaded model predicts without
    /// dropout, and training reseeds it every step).
    pub fn seed(&self) -> u64 {
        match &*self.source {
            Source::Files(_) => 0,
            Source::Fresh(fresh) => fresh.lock().unwrap_or_else(PoisonError::into_inner).rng.random(),
        }
    }

    fn store(&self) -> Option<&Store> {
        match &*self.source {
            Source::Files(store) => Some(store),
            Source::Fresh(_) => None,
        }
    }

    /// This view's prefix (`""` at the root).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// True if the files hold `name` under this view's prefix (never for a fresh source).
    pub fn contains(&self, name: &str) -> bool {
        self.entry(name).is_some()
    }

    /// The stored shape of `name`, if the files hold it.
    pub fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.entry(name).map(|e| e.shape.clone())
    }

    /// The stored tensor `name` as `f32`, which must have `shape`.
    ///
    /// # Errors
    /// [`Error::MissingTensor`] with the full name (always, from a fresh source: it holds no
    /// tensor, only initialisers; use [`get_or_init`](Self::get_or_init));
    /// [`Error::CheckpointShape`]; [`Error::WrongDtype`] for a tensor not stored as `F32`,
    /// `F16` or `BF16`.
    pub fn get(&self, shape: &[usize], name: &str) -> Result<ArrayD<f32>> {
        let full = self.full_name(name);
        let missing = || Error::MissingTensor { name: full.clone() };
        let store = self.store().ok_or_else(missing)?;
        let entry = store.entries.get(&full).ok_or_else(missing)?;
        if entry.shape != shape {
            return Err(Error::CheckpointShape { name: full, expected: shape.to_vec(), got: entry.shape.clone() });
        }
        let values = store.convert(entry, &full)?;
        store.used.lock().unwrap_or_else(PoisonError::into_inner).insert(full);
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

    /// [`get_transposed`](Self::get_transposed), or from a fresh source `(out, in)` drawn by
    /// `init` (a fresh tensor has no stored layout to undo).
    ///
    /// # Errors
    /// As [`get_transposed`](Self::get_transposed) and [`get_or_init`](Self::get_or_init).
    pub fn get_transposed_or_init(&self, shape: [usize; 2], name: &str, init: Init) -> Result<ArrayD<f32>> {
        match &*self.source {
            Source::Files(_) => self.get_transposed(shape, name),
            Source::Fresh(_) => self.get_or_init(&shape, name, init),
        }
    }

    /// [`get`](Self::get) as a trainable parameter.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn parameter(&self, shape: &[usize], name: &str) -> Result<Tensor> {
        Ok(Tensor::parameter(self.get(shape, name)?))
    }

    /// Names in the files that no [`get`](Self::get) has read yet: after a model is built,
    /// the tensors it has no place for (none for a fresh source).
    pub fn unused(&self) -> Vec<String> {
        let Some(store) = self.store() else { return Vec::new() };
        let used = store.used.lock().unwrap_or_else(PoisonError::into_inner);
        store.entries.keys().filter(|n| !used.contains(*n)).cloned().collect()
    }

    /// The file that holds `name` (under this view's prefix), for error messages.
    pub fn path_of(&self, name: &str) -> Option<&Path> {
        let store = self.store()?;
        self.entry(name).map(|e| store.paths[e.file].as_path())
    }

    /// The files, in the order given or listed by the index (none for a fresh source).
    pub fn paths(&self) -> &[PathBuf] {
        self.store().map_or(&[], |store| &store.paths)
    }

    /// Total bytes the stored tensors take as `f32`.
    pub fn f32_bytes(&self) -> u64 {
        let Some(store) = self.store() else { return 0 };
        store.entries.values().map(|e| e.shape.iter().product::<usize>() as u64 * 4).sum()
    }

    fn entry(&self, name: &str) -> Option<&Entry> {
        self.store()?.entries.get(&self.full_name(name))
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
    use super::{VarBuilder, transpose_into};
    use crate::Error;
    use crate::nn::init::{self, Init};
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn a_fresh_source_draws_in_construction_order_from_one_seed() {
        let vb = VarBuilder::fresh(7);
        let a = vb.pp("a").get_or_init(&[2, 3], "weight", Init::Normal { mean: 0.0, std: 1.0 }).unwrap();
        let b = vb.pp("b").get_or_init(&[4], "bias", Init::symmetric_uniform(0.5)).unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        assert_eq!(a, init::normal(&[2, 3], 0.0, 1.0, &mut rng).unwrap());
        assert_eq!(b, init::uniform(&[4], -0.5, 0.5, &mut rng).unwrap());
        assert!(vb.unused().is_empty() && vb.paths().is_empty() && !vb.contains("a.weight"));
    }

    #[test]
    fn a_fresh_source_refuses_a_name_twice_and_a_plain_get() {
        let vb = VarBuilder::fresh(0);
        vb.get_or_init(&[2], "x", Init::Zeros).unwrap();
        let twice = vb.get_or_init(&[2], "x", Init::Zeros).unwrap_err();
        assert!(matches!(twice, Error::Invalid { .. }), "{twice}");
        assert!(matches!(vb.get(&[2], "y"), Err(Error::MissingTensor { name }) if name == "y"));
        let wrong = vb.get_or_else(&[3], "z", |_| Ok(init::zeros(&[2]))).unwrap_err();
        assert!(matches!(wrong, Error::CheckpointShape { .. }), "{wrong}");
    }

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
