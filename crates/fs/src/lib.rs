//! The support every crate shares: crash-safe file writes, the one progress bar
//! ([`progress`]) and the readers of the datasets the lectures train on ([`datasets`]: NSMC).
//!
//! Crash-safe file writes: a temporary file beside the target, written under an exclusive
//! lock, synced, then renamed over the target, so readers (and a process resuming after a
//! crash) see either the old file or the complete new one.
//!
//! A writer killed mid-save cannot remove its temporary file. Each save of a path therefore
//! first removes the path's leftover temporary files (`.NAME.tmp-XXXXXX`) whose lock is
//! free: a live writer holds the lock on its own temporary file until the rename, and the
//! operating system releases the lock of a dead one.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("vocab.json");
//! malmoi_fs::write_atomically(&path, b"[\"<pad>\"]")?;
//! assert_eq!(std::fs::read(&path)?, b"[\"<pad>\"]");
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod datasets;
pub mod progress;

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use tempfile::NamedTempFile;

/// Fails unless `path` can be written — its directory exists and takes a file — so that a
/// long job reports a bad output path before it starts rather than after; a file the probe
/// creates is removed again, an existing one is left as it was.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// malmoi_fs::check_writable(&dir.path().join("model.bin"))?;
/// assert!(!dir.path().join("model.bin").exists());
/// assert!(malmoi_fs::check_writable(&dir.path().join("missing/model.bin")).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// The error of opening `path` for appending (or of removing the probe).
pub fn check_writable(path: &Path) -> io::Result<()> {
    let existed = path.exists();
    fs::OpenOptions::new().append(true).create(true).open(path)?;
    if !existed {
        fs::remove_file(path)?;
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically (see the [crate] documentation).
///
/// # Errors
/// Any I/O error of creating, writing, syncing or renaming the temporary file; `path` is
/// then unchanged.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomically_with(path, |out| out.write_all(bytes))
}

/// Writes `path` atomically through `write`, which streams into a buffered writer over the
/// temporary file; `path` is replaced only after `write` succeeded and the file is synced.
///
/// # Errors
/// The first error of `write` or of the file operations; `path` is then unchanged and the
/// temporary file removed.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let prefix = temporary_prefix(path)?;
    remove_leftovers(dir, &prefix);
    let temporary = locked_temporary(dir, &prefix)?;
    let mut out = BufWriter::with_capacity(1 << 20, temporary.as_file().try_clone()?);
    write(&mut out)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    temporary.persist(path).map_err(|e| e.error)?;
    sync_directory(dir)
}

/// `.NAME.tmp-`: the prefix of `path`'s temporary files.
fn temporary_prefix(path: &Path) -> io::Result<OsString> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{} does not name a file", path.display()))
    })?;
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".tmp-");
    Ok(prefix)
}

/// A new temporary file in `dir`, locked exclusively by this process. A concurrent sweep
/// may remove the file between its creation and the lock; it is then made again.
fn locked_temporary(dir: &Path, prefix: &OsString) -> io::Result<NamedTempFile> {
    loop {
        let mut builder = tempfile::Builder::new();
        builder.prefix(prefix);
        // the permissions of a plainly created file (umask applies), not a temporary file's 0600
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let temporary = builder.tempfile_in(dir)?;
        temporary.as_file().lock()?;
        if same_file(temporary.as_file(), temporary.path()) {
            return Ok(temporary);
        }
    }
}

/// Whether `path` still names the open `file`.
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::metadata(path)) {
            (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

/// Removes the temporary files in `dir` that start with `prefix` and whose writer is gone
/// (their lock can be taken). Best effort: a file that cannot be opened, locked or removed
/// is left for a later save.
fn remove_leftovers(dir: &Path, prefix: &OsString) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if !entry.file_name().as_encoded_bytes().starts_with(prefix.as_encoded_bytes()) {
            continue;
        }
        let Ok(file) = File::open(entry.path()) else { continue };
        if file.try_lock().is_ok() && same_file(&file, &entry.path()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Syncs the directory entry of the rename (Unix; a no-op elsewhere).
fn sync_directory(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
