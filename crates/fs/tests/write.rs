//! Atomic writes: replacement, failed writes, and the sweep of killed writers' files.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use malmoi_fs::{write_atomically, write_atomically_with};
use tempfile::TempDir;

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// A fresh scratch directory and the path of a file `name` in it (not created).
fn scratch(name: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    (dir, path)
}

#[test]
fn a_write_replaces_the_file_and_leaves_nothing_else() {
    let (dir, path) = scratch("model.safetensors");
    write_atomically(&path, b"old").unwrap();
    write_atomically(&path, b"new").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"new");
    assert_eq!(names(dir.path()), ["model.safetensors"]);
}

#[test]
fn a_failed_write_keeps_the_old_file_and_removes_its_temporary() {
    let (dir, path) = scratch("config.json");
    write_atomically(&path, b"{}").unwrap();
    let failed = write_atomically_with(&path, |out| {
        out.write_all(b"{\"half")?;
        Err(io::Error::other("serialisation failed"))
    });
    assert_eq!(failed.unwrap_err().to_string(), "serialisation failed");
    assert_eq!(fs::read(&path).unwrap(), b"{}");
    assert_eq!(names(dir.path()), ["config.json"]);
}

#[test]
fn leftovers_of_dead_writers_are_removed_and_live_writers_files_kept() {
    let (dir, path) = scratch("model.safetensors");
    // A dead writer's file: nobody holds its lock.
    fs::write(dir.path().join(".model.safetensors.tmp-dead01"), b"torn").unwrap();
    // A live writer's file: locked through another open file description.
    let live_path = dir.path().join(".model.safetensors.tmp-live01");
    let live = File::create(&live_path).unwrap();
    live.lock().unwrap();
    // Another file's temporary is not ours to judge.
    fs::write(dir.path().join(".config.json.tmp-dead02"), b"torn").unwrap();
    write_atomically(&path, b"weights").unwrap();
    assert_eq!(names(dir.path()), [".config.json.tmp-dead02", ".model.safetensors.tmp-live01", "model.safetensors"]);
    drop(live);
    write_atomically(&path, b"weights 2").unwrap();
    assert_eq!(names(dir.path()), [".config.json.tmp-dead02", "model.safetensors"]);
}

#[test]
fn a_path_without_a_file_name_is_an_input_error() {
    let error = write_atomically(Path::new("/"), b"x").unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn a_file_in_a_subdirectory_is_written_there() {
    let (_dir, path) = scratch("sub");
    fs::create_dir(&path).unwrap();
    let nested = path.join("vocab.txt");
    write_atomically(&nested, "사과\n배\n".as_bytes()).unwrap();
    assert_eq!(fs::read_to_string(&nested).unwrap(), "사과\n배\n");
}
