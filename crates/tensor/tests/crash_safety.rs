//! Crash safety of checkpoint saves: a child process saves checkpoints in a loop and is
//! killed with SIGKILL at random moments, many times; after every kill the checkpoint on
//! disk must load, be internally consistent (every value equals its recorded step) and not
//! be older than the last one seen, and the next child resumes from it.
//!
//! The child is this test binary itself, re-run with `MALMOI_CRASH_CHILD` set. The number of
//! kills comes from `MALMOI_CRASH_KILLS` (default 30, a few seconds).

#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use malmoi_tensor::checkpoint;
use ndarray::ArrayD;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Floats per checkpoint: 1 MB, so a save takes long enough for kills to land inside it.
const VALUES: usize = 1 << 18;

/// The step recorded in the checkpoint at `path`, after checking every value equals it.
fn load_step(path: &Path) -> u64 {
    let loaded = checkpoint::load(path).unwrap_or_else(|e| panic!("checkpoint does not load: {e}"));
    let step: u64 = loaded.metadata()["step"].parse().unwrap();
    let weights = loaded.get("weights").unwrap();
    assert_eq!(weights.len(), VALUES);
    assert!(weights.iter().all(|&x| x == step as f32), "checkpoint of step {step} mixes values of other steps");
    step
}

/// The child: resume from the checkpoint if there is one, then save steps forever.
fn child(path: &Path) -> ! {
    let mut step = if path.exists() { load_step(path) + 1 } else { 0 };
    loop {
        let weights = ArrayD::from_elem(vec![VALUES], step as f32);
        let metadata = BTreeMap::from([("step".to_string(), step.to_string())]);
        checkpoint::save(path, [("weights", &weights)], &metadata).unwrap();
        step += 1;
    }
}

/// The number of temporary files of `model.safetensors` in `dir` (left by a killed save).
fn temporary_files(dir: &Path) -> usize {
    let entries = std::fs::read_dir(dir).unwrap();
    entries.filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(".model.safetensors.tmp-")).count()
}

/// The inode of `path` (`None` while it does not exist).
fn inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.ino())
}

#[test]
fn killed_saves_always_leave_the_previous_checkpoint() {
    let dir_var = std::env::var_os("MALMOI_CRASH_CHILD");
    if let Some(dir) = dir_var {
        child(&Path::new(&dir).join("model.safetensors"));
    }
    let kills: usize = std::env::var("MALMOI_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let mut rng = StdRng::seed_from_u64(13);
    let mut last = None;
    let mut interrupted_saves = 0;
    let started = Instant::now();
    for kill in 0..kills {
        let before = inode(&path);
        let mut process = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "killed_saves_always_leave_the_previous_checkpoint", "--nocapture"])
            .env("MALMOI_CRASH_CHILD", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until this child has resumed and completed a save of its own (the file is
        // replaced by a rename, so its inode changes), then kill it at a random moment of its
        // save loop: while it fills the next tensor, serialises, writes, syncs or renames.
        let deadline = Instant::now() + Duration::from_secs(60);
        while inode(&path) == before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(inode(&path) != before, "kill {kill}: the child saved nothing within 60 s");
        std::thread::sleep(Duration::from_micros(rng.random_range(0..40_000)));
        process.kill().unwrap(); // SIGKILL on Unix
        let status = process.wait().unwrap();
        assert!(!status.success(), "kill {kill}: the child exited by itself: {status}");
        let step = load_step(&path);
        interrupted_saves += temporary_files(dir.path());
        assert!(temporary_files(dir.path()) <= 1, "kill {kill}: earlier saves' temporary files were not removed");
        if let Some(previous) = last {
            assert!(step >= previous, "kill {kill}: checkpoint went back from step {previous} to {step}");
        }
        last = Some(step);
    }
    eprintln!(
        "crash safety: {kills} SIGKILLs, checkpoint loaded and consistent after each, last step {last:?}, \
         {interrupted_saves} kills interrupted a save (its temporary file was removed by the next save), {:.1?}",
        started.elapsed()
    );
    assert!(last.unwrap_or(0) >= kills as u64, "each child resumes and saves at least once: {last:?}");
}
