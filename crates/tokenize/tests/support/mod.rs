//! Helpers shared by this crate's tests.

use std::path::PathBuf;

use tempfile::TempDir;

/// A file `name` holding `contents` in a fresh scratch directory, which lasts as long as the
/// returned guard.
pub fn scratch_file(name: &str, contents: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    (dir, path)
}
