//! safetensors checkpoints: round trips, interoperability with the Python
//! `safetensors` package, atomic writes and typed errors.

use std::collections::BTreeMap;
use std::path::Path;

use malmoi_tensor::checkpoint::{load, load_module, save, save_module};
use malmoi_tensor::nn::{Linear, Module};
use malmoi_tensor::{Error, Tensor, VarBuilder};
use ndarray::{ArrayD, IxDyn, array};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn metadata(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn round_trips_tensors_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.safetensors");
    let a = array![[1.0_f32, -2.5], [3.0, 1e-30]].into_dyn();
    let b = ArrayD::from_elem(IxDyn(&[]), 7.0_f32);
    let empty = ArrayD::<f32>::zeros(IxDyn(&[0, 3]));
    save(&path, [("a", &a), ("b.scalar", &b), ("empty", &empty)], &metadata(&[("step", "12")])).unwrap();
    let loaded = load(&path).unwrap();
    assert_eq!(loaded.get("a").unwrap(), &a);
    assert_eq!(loaded.get("b.scalar").unwrap(), &b);
    assert_eq!(loaded.get("empty").unwrap().shape(), &[0, 3]);
    assert_eq!(loaded.metadata()["step"], "12");
    assert_eq!(loaded.names(), ["a", "b.scalar", "empty"]);
    // nothing but the checkpoint is left in the directory
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries, ["state.safetensors"]);
    // and it has the permissions of an ordinarily created file
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), mode(&plain));
    }
}

#[test]
fn overwrites_atomically_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let first = array![1.0_f32].into_dyn();
    let second = array![2.0_f32, 3.0].into_dyn();
    save(&path, [("w", &first)], &BTreeMap::new()).unwrap();
    save(&path, [("w", &second)], &BTreeMap::new()).unwrap();
    assert_eq!(load(&path).unwrap().get("w").unwrap(), &second);
    // a save into a missing directory fails without touching anything
    let missing = dir.path().join("no/such/dir/model.safetensors");
    assert!(matches!(save(&missing, [("w", &first)], &BTreeMap::new()), Err(Error::Io(_))));
}

#[test]
fn reads_a_file_written_by_python_safetensors() {
    let loaded = load(fixture("python_written.safetensors")).unwrap();
    let weight = loaded.get_shaped("encoder.weight", &[3, 4]).unwrap();
    for ((i, j), &v) in weight.view().into_dimensionality::<ndarray::Ix2>().unwrap().indexed_iter() {
        assert_eq!(v, i as f32 * 10.0 + j as f32 * 0.5);
    }
    assert_eq!(loaded.get("encoder.bias").unwrap(), &array![-1.5_f32, 0.0, 2.25].into_dyn());
    assert_eq!(loaded.get("scalar").unwrap().shape(), &[] as &[usize]);
    assert_eq!(loaded.metadata()["written_by"], "python safetensors");
    match loaded.get("position_ids") {
        Err(Error::WrongDtype { name, dtype }) => assert_eq!((name.as_str(), dtype.as_str()), ("position_ids", "I64")),
        other => panic!("expected WrongDtype, got {other:?}"),
    }
    assert_eq!(loaded.get("half").unwrap(), &ndarray::ArrayD::<f32>::ones(&[2, 2][..]), "float16 loads as f32");
    assert!(matches!(loaded.get("nope"), Err(Error::MissingTensor { .. })));
}

#[test]
fn module_round_trip_and_typed_load_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("linear.safetensors");
    let model = Linear::new(4, 3, true, VarBuilder::fresh(0)).unwrap();
    save_module(&path, &model, &metadata(&[("epoch", "2")])).unwrap();

    let same = Linear::new(4, 3, true, VarBuilder::fresh(1)).unwrap();
    assert_ne!(*same.weight.data(), *model.weight.data());
    assert_eq!(load_module(&path, &same).unwrap().metadata()["epoch"], "2");
    assert_eq!(*same.weight.data(), *model.weight.data());
    assert_eq!(*same.bias.as_ref().unwrap().data(), *model.bias.as_ref().unwrap().data());

    let wider = Linear::new(5, 3, true, VarBuilder::fresh(1)).unwrap();
    let before = wider.weight.to_array();
    match load_module(&path, &wider) {
        Err(Error::CheckpointShape { name, expected, got }) => {
            assert_eq!((name.as_str(), expected, got), ("weight", vec![3, 5], vec![3, 4]));
        }
        other => panic!("expected CheckpointShape, got {other:?}"),
    }
    assert_eq!(wider.weight.to_array(), before, "a failed load changes nothing");

    struct Renamed(Tensor);
    impl Module for Renamed {
        fn named_parameters(&self) -> Vec<(String, Tensor)> {
            vec![("decoder.weight".to_string(), self.0.clone())]
        }
    }
    let renamed = Renamed(Tensor::parameter(ArrayD::zeros(IxDyn(&[3, 4]))));
    assert!(matches!(load_module(&path, &renamed), Err(Error::MissingTensor { name }) if name == "decoder.weight"));
}

#[test]
fn truncated_corrupt_and_missing_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.safetensors");
    let a = ArrayD::from_elem(IxDyn(&[16, 16]), 0.5_f32);
    save(&path, [("a", &a)], &BTreeMap::new()).unwrap();
    let bytes = std::fs::read(&path).unwrap();

    let truncated = dir.path().join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() - 10]).unwrap();
    assert!(matches!(load(&truncated), Err(Error::Checkpoint(_))));

    let header_cut = dir.path().join("header_cut.safetensors");
    std::fs::write(&header_cut, &bytes[..20]).unwrap();
    assert!(matches!(load(&header_cut), Err(Error::Checkpoint(_))));

    let garbage = dir.path().join("garbage.safetensors");
    let mut corrupt = bytes.clone();
    corrupt[8..16].copy_from_slice(b"not json");
    std::fs::write(&garbage, &corrupt).unwrap();
    assert!(matches!(load(&garbage), Err(Error::Checkpoint(_))));

    assert!(matches!(load(dir.path().join("absent.safetensors")), Err(Error::Io(_))));
    assert!(matches!(save(&path, [("x", &a), ("x", &a)], &BTreeMap::new()), Err(Error::Checkpoint(_))));
}
