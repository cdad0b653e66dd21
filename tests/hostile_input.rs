//! Hostile input, round two (issue 26): the example binaries run as a careless or hostile user
//! would run them, each case bounded in time, asserting a typed error that names what is wrong
//! (the file, the line, the knob and its bound), bounded memory and no dropped rows.
//!
//! The binaries are the ones `cargo test` builds next to this test (`target/<profile>/examples/`);
//! one that is missing (a run of this test alone) is built with `cargo build --example`.
//! `MALMOI_EXAMPLES_DIR` points the suite at other builds (to show a case failing on old ones).
//! The server's cases (slow clients, JSON error bodies) are in
//! `crates/playground/tests/hostile.rs`. docs/hardening.md lists the bounds and the cases.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest any one run may take (a few seconds each on the shared 2-core machine).
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// What a run of an example left behind.
struct Outcome {
    /// The exit code (`None`: killed by a signal, e.g. a panic's abort or the time limit).
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The highest resident set size seen while it ran (`/proc/PID/status` VmHWM), in MiB.
    peak_mib: f64,
}

impl Outcome {
    /// Asserts a failure exit with a message on stderr that holds every one of `needles`.
    fn fails_with(&self, code: i32, needles: &[&str]) {
        assert_eq!(self.code, Some(code), "exit code; stderr: {}", self.stderr);
        for needle in needles {
            assert!(self.stderr.contains(needle), "stderr lacks {needle:?}: {}", self.stderr);
        }
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
    }
}

/// The directory of the example binaries of this test's profile.
fn examples_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MALMOI_EXAMPLES_DIR") {
        return PathBuf::from(dir);
    }
    // this test runs from target/<profile>/deps/
    let exe = std::env::current_exe().expect("the test's own path");
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps").join("examples")
}

/// The path of example `name`, built first if it is missing.
fn example(name: &str) -> PathBuf {
    static BUILDING: Mutex<()> = Mutex::new(());
    let path = examples_dir().join(name);
    let _one_build_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        let release = examples_dir().parent().is_some_and(|p| p.ends_with("release"));
        let mut cargo = Command::new(option_env!("CARGO").unwrap_or("cargo"));
        cargo.args(["build", "--example", name]).current_dir(env!("CARGO_MANIFEST_DIR"));
        if release {
            cargo.arg("--release");
        }
        assert!(cargo.status().expect("cargo runs").success(), "cargo build --example {name}");
    }
    path
}

/// The highest resident set size of process `pid` so far, in MiB (0 once it has exited).
fn peak_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(|v| v.trim().trim_end_matches(" kB").trim());
    kib.and_then(|k| k.parse::<f64>().ok()).map_or(0.0, |k| k / 1024.0)
}

/// Reads `pipe` to its end on a thread of its own (so that a full pipe never blocks the child).
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = Vec::new();
        pipe.read_to_end(&mut text).expect("pipe read");
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// Runs example `name` with `args` (and `stdin`, if given), within [`TIME_LIMIT`], watching its
/// memory every 5 ms.
fn run(name: &str, args: &[&str], stdin: Option<&[u8]>) -> Outcome {
    let mut child = Command::new(example(name))
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    if let Some(bytes) = stdin {
        child.stdin.take().expect("piped").write_all(bytes).expect("stdin written");
    }
    let readers = [drain(child.stdout.take().expect("piped")), drain(child.stderr.take().expect("piped"))];
    let started = Instant::now();
    let mut peak: f64 = 0.0;
    let status = loop {
        peak = peak.max(peak_mib(child.id()));
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > TIME_LIMIT {
            child.kill().expect("kill");
            panic!("{name} {args:?} ran past {TIME_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let [stdout, stderr] = readers.map(|r| r.join().expect("reader thread"));
    Outcome { code: status.code(), stdout, stderr, peak_mib: peak }
}

/// A scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("malmoi-hostile-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    /// Writes `bytes` to `name` in the directory and returns its path as a string.
    fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("scratch file");
        path.to_str().expect("UTF-8 temp path").to_string()
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().expect("UTF-8 temp path").to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- 3. morphs --dump: no silent loss -------------------------------------------------------

/// `morphs --dump` of a file `rows.tsv` holding `rows`: the run, which must succeed, the ids of
/// the rows it dumped, and the file's path.
fn morphs_dump(scratch: &Scratch, rows: &str) -> (Outcome, Vec<String>, String) {
    let file = scratch.file("rows.tsv", rows);
    let outcome = run("morphs", &["--dump", &file], None);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    let ids = outcome.stdout.lines().map(|l| l.split('\t').next().unwrap_or_default().to_string()).collect();
    (outcome, ids, file)
}

/// Case 3a: a file without NSMC's header keeps its first row (before: silently dropped).
#[test]
fn morphs_dump_keeps_the_first_row_of_a_file_without_a_header() {
    let scratch = Scratch::new("morphs-noheader");
    let (outcome, ids, _) = morphs_dump(&scratch, "1\t좋은 영화\t1\n2\t나쁜 영화\t0\n");
    assert_eq!(ids, ["1", "2"], "{}", outcome.stdout);
    assert!(outcome.stderr.contains("no header line"), "{}", outcome.stderr);
    let with_header = scratch.file("header.tsv", "id\tdocument\tlabel\n1\t좋은 영화\t1\n");
    let outcome = run("morphs", &["--dump", &with_header], None);
    assert_eq!(outcome.stdout.lines().count(), 1, "{}", outcome.stdout);
    assert!(outcome.stderr.contains("header line skipped"), "{}", outcome.stderr);
}

/// Case 3b: a row without tabs is reported with its line number, not echoed back with an
/// empty analysis; every good row is still dumped.
#[test]
fn morphs_dump_reports_a_row_without_tabs_with_its_line() {
    let scratch = Scratch::new("morphs-notabs");
    let rows = "id\tdocument\tlabel\n1\t좋은 영화\t1\nno tabs here\n3\t영화\t0\n";
    let (outcome, ids, file) = morphs_dump(&scratch, rows);
    assert_eq!(ids, ["1", "3"], "{}", outcome.stdout);
    assert!(outcome.stderr.contains(&format!("{file}:3: row left out: no tab")), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("1 row(s) left out, 2 read"), "{}", outcome.stderr);
}

// ---- 4. sentiment --input: one huge line -----------------------------------------------------

/// Case 4: one 50 MB line is refused after reading its first 64 KiB, naming the file and line,
/// with memory far below the line's size (before: 1.4 GB peak in a debug build, 2.6 GB in the
/// release one of the report); the lines before it are judged and written.
#[test]
fn sentiment_refuses_a_50_mb_line_in_bounded_memory() {
    let scratch = Scratch::new("sentiment-bigline");
    let mut text = "영화 정말 재밌다\n".to_string();
    text.push_str(&"영화 정말 재밌다 최고의 명작 ".repeat(50 * 1024 * 1024 / 40));
    text.push('\n');
    let file = scratch.file("big.txt", text);
    let outcome = run("sentiment", &["--input", &file], None);
    outcome.fails_with(1, &[&format!("{file}:2: the line is longer than MAX_TEXT_BYTES = 65536 bytes")]);
    assert_eq!(outcome.stdout.lines().count(), 1, "the line before is judged: {}", outcome.stdout);
    assert!(outcome.peak_mib < 400.0, "peak {:.0} MiB for a 50 MB line", outcome.peak_mib);
}

/// Every line of `--input` (stdin here), empty ones included, gets its row, in order.
#[test]
fn sentiment_writes_one_row_per_input_line() {
    let outcome = run("sentiment", &["--input", "-"], Some("영화 최고\n\n별로다\r\nhello\n".as_bytes()));
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    let texts: Vec<&str> = outcome.stdout.lines().map(|l| l.split('\t').next().unwrap_or_default()).collect();
    assert_eq!(texts, ["영화 최고", "", "별로다", "hello"], "{}", outcome.stdout);
}

// ---- 8. errors name their file -----------------------------------------------------------------

/// Case 8: every error about a file names it (before: `Os { code: 2 }`, `InvalidData`,
/// `IsADirectory` alone).
#[test]
fn errors_about_files_name_the_file() {
    let scratch = Scratch::new("paths");
    let garbage = scratch.file("garbage.bin", (0..=255u8).cycle().take(4096).collect::<Vec<u8>>());
    let dir = scratch.path("");
    let dir = dir.trim_end_matches('/');
    let cases: [(&str, Vec<&str>, &str); 5] = [
        ("tfidf", vec!["--tokens", "/nonexistent/tokens.txt"], "/nonexistent/tokens.txt: "),
        ("word2vec", vec!["--corpus", "/nonexistent/corpus.txt", "--quiet"], "/nonexistent/corpus.txt: "),
        ("word2vec", vec!["--vectors", garbage.as_str()], garbage.as_str()),
        ("morphs", vec!["--dump", "/nonexistent/rows.tsv"], "/nonexistent/rows.tsv: "),
        ("sentiment", vec!["--input", dir], dir),
    ];
    for (name, args, needle) in cases {
        let outcome = run(name, &args, None);
        outcome.fails_with(1, &["error: ", needle]);
        assert!(!outcome.stderr.contains("Os {"), "{name}: a debug dump, not a message: {}", outcome.stderr);
    }
}

// ---- 9. messages about what is actually wrong ----------------------------------------------

/// Case 9a: TF-IDF on a one-document corpus blames the corpus, not `max_df`, which the user
/// never set.
#[test]
fn tfidf_on_one_document_says_the_corpus_is_too_small() {
    let scratch = Scratch::new("tfidf-onedoc");
    let file = scratch.file("one.txt", "hello world\n");
    let outcome = run("tfidf", &["--tokens", &file], None);
    outcome.fails_with(1, &["the corpus has 1 document, too few for min_df = 2"]);
    assert!(!outcome.stderr.contains("max_df"), "{}", outcome.stderr);
    assert!(outcome.stdout.contains("malmoi unigrams"), "the unigram run still ran: {}", outcome.stdout);
    let empty = scratch.file("empty.txt", "\n\n");
    run("tfidf", &["--tokens", &empty], None).fails_with(1, &["no tokens"]);
}

/// Case 9b: `--eval` on a header-only file is an error, not "accuracy 0.00 %" and exit 0.
#[test]
fn sentiment_eval_on_a_header_only_file_is_an_error() {
    let scratch = Scratch::new("sentiment-eval");
    let file = scratch.file("header.tsv", "id\tdocument\tlabel\n");
    let outcome = run("sentiment", &["--eval", &file], None);
    outcome.fails_with(1, &[&file, "no review after the header line"]);
    assert!(!outcome.stdout.contains("accuracy"), "{}", outcome.stdout);
}

/// Case 9c: `bpe --vocab-size 0` is refused naming the bound (before: 260 tokens trained
/// quietly), and a bad `--out` fails before training (before: after it).
#[test]
fn bpe_bounds_the_vocabulary_and_checks_out_first() {
    let scratch = Scratch::new("bpe");
    let corpus = scratch.file("corpus.txt", "hello world\n".repeat(50));
    let outcome = run("bpe", &[&corpus, "--vocab-size", "0"], None);
    outcome.fails_with(2, &["--vocab-size", "261..=262144"]);
    run("bpe", &[&corpus, "--vocab-size", "262145"], None).fails_with(2, &["--vocab-size"]);
    let outcome = run("bpe", &[&corpus, "--vocab-size", "300", "--out", "/nonexistent/t.json"], None);
    outcome.fails_with(1, &["--out /nonexistent/t.json"]);
    assert!(!outcome.stdout.contains("trained"), "no training before the check: {}", outcome.stdout);
}

// ---- knobs that multiply work: bounded before work starts ----------------------------------

/// Every knob that multiplies work is refused beyond its documented bound as the arguments
/// are parsed (exit 2, the flag and the range named), before any file is read.
#[test]
fn work_knobs_are_bounded_before_work_starts() {
    let scratch = Scratch::new("knobs");
    let corpus = scratch.file("corpus.txt", "가 나 다\n".repeat(20));
    let out = scratch.path("vectors.bin");
    let w2v = |flag: &str, value: &str| {
        let arg = format!("{flag}={value}");
        run("word2vec", &["--corpus", &corpus, "--quiet", "--out", &out, &arg], None)
    };
    w2v("--size", "100000000").fails_with(2, &["--size", "1..=10000"]);
    w2v("--epochs", "1000000000").fails_with(2, &["--epochs", "1..=10000"]);
    w2v("--window", "0").fails_with(2, &["--window", "1..=10000"]);
    w2v("--workers", "100000").fails_with(2, &["--workers", "1..=1024"]);
    w2v("--negative", "100000").fails_with(2, &["--negative", "0..=1000"]);

    let model_dir = scratch.path("lm");
    let lm = |arg: &str| {
        let args = ["--data", &corpus, "--held-out", "2", "--model-dir", &model_dir, "--gpt", "/nonexistent", arg];
        run("lm", &args, None)
    };
    lm("--order=11").fails_with(2, &["--order", "1..=10"]);
    lm("--lstm-minutes=-1").fails_with(2, &["--lstm-minutes", "0..=10080"]);
    lm("--lstm-vocab=100000000").fails_with(2, &["--lstm-vocab", "2..=200000"]);
    lm("--top=0").fails_with(2, &["--top", "1..=1000"]);
    run("sentiment", &["--train", "--epochs", "0"], None).fails_with(2, &["--epochs", "1..=1000"]);
}

/// A word2vec output path that cannot be written fails before training, naming the flag.
#[test]
fn word2vec_checks_its_output_paths_before_training() {
    let scratch = Scratch::new("w2v-out");
    let corpus = scratch.file("corpus.txt", "가 나 다 라\n".repeat(20));
    let outcome =
        run("word2vec", &["--corpus", &corpus, "--quiet", "--min-count", "1", "--out", "/nonexistent/v.bin"], None);
    outcome.fails_with(1, &["--out /nonexistent/v.bin"]);
    assert!(!outcome.stdout.contains("vocabulary"), "no training before the check: {}", outcome.stdout);
    let pairs = scratch.file("pairs.tsv", "가\t나\t1.0\nbroken line\n");
    let out = scratch.path("v.bin");
    let args = ["--corpus", &corpus, "--quiet", "--min-count", "1", "--epochs", "1", "--out", &out, "--pairs", &pairs];
    let outcome = run("word2vec", &args, None);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert!(outcome.stderr.contains(&format!("{pairs}:2: line left out")), "{}", outcome.stderr);
}

// ---- pathological input: one huge token, one repeated character ---------------------------

/// One repeated character up to the text bound, and one huge token, run in near-linear time
/// and bounded memory, every row kept.
#[test]
fn pathological_lines_stay_fast_and_small() {
    let scratch = Scratch::new("pathological");
    let repeated = "ㅋ".repeat(65_535 / 3);
    let file = scratch.file("laugh.txt", format!("{repeated}\n"));
    let outcome = run("sentiment", &["--input", &file], None);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(outcome.stdout.lines().count(), 1);
    assert!(outcome.peak_mib < 400.0, "sentiment: peak {:.0} MiB", outcome.peak_mib);

    let rows = scratch.file("laugh.tsv", format!("1\t{repeated}\t1\n2\t{}\t0\n", "가".repeat(30_000)));
    let outcome = run("morphs", &["--dump", &rows], None);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(outcome.stdout.lines().count(), 1, "the long row is reported, not dropped silently");
    assert!(outcome.stderr.contains(":2: row left out: the document is 90000 bytes"), "{}", outcome.stderr);
    assert!(outcome.peak_mib < 400.0, "morphs: peak {:.0} MiB", outcome.peak_mib);

    let token = "x".repeat(20 << 20);
    let corpus = scratch.file("token.txt", format!("{token}\na b\na b {token}\n"));
    let outcome = run("tfidf", &["--tokens", &corpus], None);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert!(outcome.peak_mib < 400.0, "tfidf: peak {:.0} MiB for a 20 MiB token", outcome.peak_mib);
    let out = scratch.path("v.bin");
    let args = ["--corpus", &corpus, "--quiet", "--min-count", "1", "--epochs", "1", "--out", &out];
    let outcome = run("word2vec", &args, None);
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert!(outcome.peak_mib < 400.0, "word2vec: peak {:.0} MiB for a 20 MiB token", outcome.peak_mib);
}

/// Cases 1 and 9 (gpt): `--num-beams 10000` grew past 6 GB and did not finish; it is refused
/// before any work, naming the bound, in bounded memory. `--samples 0` exited 0 printing
/// nothing; it is refused by the command line.
#[test]
fn gpt_bounds_beams_and_samples() {
    let outcome = run("gpt", &["--num-beams", "10000", "영화가"], None);
    outcome.fails_with(1, &["num_beams must be 1 to 64"]);
    assert!(outcome.peak_mib < 400.0, "{} MiB", outcome.peak_mib);
    run("gpt", &["--samples", "0", "영화가"], None).fails_with(2, &["--samples", "1..=1000"]);
}
