//! Half-precision checkpoints: F16 and BF16 files are half the size and load back as f32.

use std::collections::BTreeMap;

use malmoi_tensor::checkpoint::{self, Precision};
use ndarray::{ArrayD, IxDyn};

#[test]
fn half_precision_round_trips_within_its_resolution() {
    let values: Vec<f32> = (0..1000).map(|i| ((i as f32) * 0.37).sin() * 3.0).collect();
    let array = ArrayD::from_shape_vec(IxDyn(&[10, 100]), values).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let size = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().len();
    for (precision, name, tolerance) in [
        (Precision::F32, "f32.safetensors", 0.0),
        (Precision::F16, "f16.safetensors", 3.0 / 1024.0),
        (Precision::BF16, "bf16.safetensors", 3.0 / 128.0),
    ] {
        let path = dir.path().join(name);
        checkpoint::save_with(&path, [("w", &array)], &BTreeMap::new(), precision).unwrap();
        let loaded = checkpoint::load(&path).unwrap();
        let worst = loaded.get("w").unwrap().iter().zip(&array).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst <= tolerance, "{precision:?}: {worst}");
    }
    assert!(size("f16.safetensors") * 10 < size("f32.safetensors") * 6);
    assert_eq!(size("f16.safetensors"), size("bf16.safetensors"));
}
