//! What the tests against `transformers`' fixtures share.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::ArrayD;

/// The tensors of a fixture's `expected.safetensors`, floats and integer ids alike, as f32.
pub fn expected_tensors(path: impl AsRef<Path>) -> BTreeMap<String, ArrayD<f32>> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.iter()
        .map(|(name, view)| {
            let values: Vec<f32> = match view.dtype() {
                safetensors::Dtype::F32 => {
                    view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
                }
                safetensors::Dtype::I64 => {
                    view.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f32).collect()
                }
                other => panic!("{name}: {other:?}"),
            };
            (name.to_string(), ArrayD::from_shape_vec(view.shape(), values).unwrap())
        })
        .collect()
}
