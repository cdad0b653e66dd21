//! Mutation fuzzing of every parser and loader (cargo-fuzz needs nightly; this runs on stable).
//! It lives in the root package, which depends on every crate whose parsers it feeds.
//!
//! Each target starts from small valid seeds (the files under `fuzz/seeds/<target>/` plus a
//! few built here), applies seeded byte mutations (flips, inserts, deletes, splices, repeated
//! runs, huge numbers) and feeds the result to the parser under `catch_unwind`: any panic fails
//! the test naming the target and the input. Three more checks per input:
//!
//! * **hangs** — an input slower than [`HANG`] fails the test; a watchdog thread aborts the
//!   process (naming target and case number) if one input runs for [`WATCHDOG`];
//! * **memory** — a counting global allocator records the largest single allocation made
//!   while the input is parsed; more than [`ALLOCATION_LIMIT`] fails the test, and a request
//!   above [`ALLOCATION_CAP`] is refused outright (the process aborts instead of swapping);
//! * **determinism** — the mutation stream depends only on the target name and the budget,
//!   so any failure reruns with the same command.
//!
//! Budgets: `MALMOI_FUZZ_TEXT_CASES` (text parsers, default 2 000) and
//! `MALMOI_FUZZ_MODEL_CASES` (model-file parsers, default 500), so CI stays quick;
//! `scripts/fuzz.sh` runs the long passes (10^6 / 10^5) and prints the counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use malmoi_embed::KeyedVectors;
use malmoi_embed::word2vec::{Architecture, Corpus, Word2Vec, Word2VecConfig};
use malmoi_fs::datasets::nsmc::{LabeledText, parse_labeled_tsv};
use malmoi_lm::TokenLanguageModel;
use malmoi_rlhf::batch::Sequence;
use malmoi_rlhf::data::{PromptRecord, RankingRecord, ReadOptions, SftRecord, parse_conversations, parse_records};
use malmoi_rlhf::reward::RewardModel;
use malmoi_rlhf::template::{ChatMessage, PromptTemplate, Role, TEMPLATE_FILE};
use malmoi_seq::lstm_lm::{LstmLm, LstmLmConfig, TrainOptions as LstmTrainOptions};
use malmoi_seq::sentiment::{ModelConfig, PreprocessConfig, Preprocessor, SentimentPipeline, TrainConfig};
use malmoi_seq::seq2seq::{DecodeOptions, Limits, Seq2Seq, TrainConfig as Seq2SeqTrainConfig};
use malmoi_tensor::checkpoint;
use malmoi_tokenize::tokenizer::Tokenizer;
use malmoi_tokenize::{Analyzer, BpeTrainer, KerasTokenizer};
use malmoi_transformer::bert::{Bert, BertConfig, BertForPreTraining, BertForSequenceClassification, BertInput};
use malmoi_transformer::generation::Generator;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Slowest acceptable single input, plus [`HANG_PER_BYTE`] per input byte: anything longer
/// is reported as a hang (a linear-time parser stays far below it, also on a loaded CI box).
const HANG: Duration = Duration::from_secs(2);
/// Allowance per input byte on top of [`HANG`].
const HANG_PER_BYTE: Duration = Duration::from_micros(20);
/// An input still running after this long aborts the whole process (a true hang never
/// returns to the after-the-fact check).
const WATCHDOG: Duration = Duration::from_secs(30);
/// Largest single allocation a parser may make for one fuzz input.
const ALLOCATION_LIMIT: usize = 64 << 20;
/// Requests above this fail (and abort the process) instead of being attempted.
const ALLOCATION_CAP: usize = 1 << 30;

/// The system allocator, recording the largest request made by the current thread and
/// refusing requests above [`ALLOCATION_CAP`].
struct Tracking;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) -> bool {
    // `try_with`: the slot may be gone while a thread is torn down.
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
    size <= ALLOCATION_CAP
}

// SAFETY: every call is forwarded unchanged to `System`, or fails with a null pointer (which
// the `GlobalAlloc` contract allows).
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if record(layout.size()) { unsafe { System.alloc(layout) } } else { std::ptr::null_mut() }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if record(layout.size()) { unsafe { System.alloc_zeroed(layout) } } else { std::ptr::null_mut() }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if record(new_size) { unsafe { System.realloc(ptr, layout, new_size) } } else { std::ptr::null_mut() }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// Runs `f` and returns the largest single allocation it made on this thread.
fn largest_allocation(f: impl FnOnce()) -> usize {
    let before = LARGEST.with(|largest| largest.replace(0));
    f();
    LARGEST.with(|largest| largest.replace(before.max(largest.get())))
}

/// Which budget a target uses.
#[derive(Clone, Copy)]
enum Kind {
    /// Free text (analyzer, BPE encoding, TSV): `MALMOI_FUZZ_TEXT_CASES`, default 2 000.
    Text,
    /// Model and vector files: `MALMOI_FUZZ_MODEL_CASES`, default 500.
    Model,
}

fn budget(kind: Kind) -> usize {
    let (var, default) = match kind {
        Kind::Text => ("MALMOI_FUZZ_TEXT_CASES", 2_000),
        Kind::Model => ("MALMOI_FUZZ_MODEL_CASES", 500),
    };
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Tokens that tend to break parsers: huge and negative numbers, lone jamo, format markers.
const DICTIONARY: &[&[u8]] = &[
    b"1000000000000",
    b"18446744073709551615",
    b"-1",
    b"NaN",
    b"1e39",
    "\u{1100}".as_bytes(),
    "\u{1161}".as_bytes(),
    "\u{11A8}".as_bytes(),
    "\u{302E}".as_bytes(),
    "\u{FEFF}".as_bytes(),
    b"\"",
    b"{",
    b"[",
    b"\t",
    b"\n",
    b"\\u0000",
    b"\xff\xfe",
];

/// One random mutation of `seed` (or a splice with `other`).
fn mutate(rng: &mut StdRng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let at = if data.is_empty() { 0 } else { rng.random_range(0..=data.len()) };
        match rng.random_range(0..7) {
            0 if !data.is_empty() => {
                let i = at.min(data.len() - 1);
                data[i] ^= 1 << rng.random_range(0..8);
            }
            1 => data.insert(at, rng.random()),
            2 if at < data.len() => {
                let end = (at + rng.random_range(1..16)).min(data.len());
                data.drain(at..end);
            }
            3 => data.splice(at..at, DICTIONARY[rng.random_range(0..DICTIONARY.len())].iter().copied()).for_each(drop),
            4 if !other.is_empty() => {
                let from = rng.random_range(0..other.len());
                let to = (from + rng.random_range(1..64)).min(other.len());
                data.splice(at..at, other[from..to].iter().copied()).for_each(drop);
            }
            5 if at < data.len() => {
                let byte = data[at];
                data.splice(at..at, std::iter::repeat_n(byte, rng.random_range(1..256))).for_each(drop);
            }
            _ => data.truncate(at),
        }
    }
    data
}

/// Aborts the process if the input that started at `started` (ms since `origin`, or
/// `u64::MAX` between inputs) runs longer than [`WATCHDOG`].
fn watchdog(name: String, origin: Instant, started: Arc<AtomicU64>, case: Arc<AtomicU64>, done: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            let at = started.load(Ordering::Relaxed);
            if at != u64::MAX && origin.elapsed().as_millis() as u64 > at + WATCHDOG.as_millis() as u64 {
                eprintln!("fuzz {name}: case {} still running after {WATCHDOG:?}: hang", case.load(Ordering::Relaxed));
                std::process::abort();
            }
        }
    });
}

/// Runs `target` on the seeds of `name` then on mutations of them, up to the budget of
/// `kind`; panics name the target and the input. `rare` seeds (very long inputs) are
/// mutated on one case in 5 000 only, so they do not dominate the run time.
fn fuzz(name: &str, kind: Kind, built: Vec<Vec<u8>>, rare: Vec<Vec<u8>>, mut target: impl FnMut(&[u8])) {
    let cases = budget(kind);
    let seeds = seeds(name, built);
    let mut rng = StdRng::seed_from_u64(name.bytes().map(u64::from).sum::<u64>() ^ cases as u64);
    let origin = Instant::now();
    let started = Arc::new(AtomicU64::new(u64::MAX));
    let current = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    watchdog(name.to_string(), origin, started.clone(), current.clone(), done.clone());
    let (mut slowest, mut largest, mut parsed) = (Duration::ZERO, 0, 0usize);
    for case in 0..cases {
        let input = if case < seeds.len() {
            seeds[case].clone()
        } else if case < seeds.len() + rare.len() {
            rare[case - seeds.len()].clone()
        } else {
            let pool = if !rare.is_empty() && rng.random_range(0..5_000) == 0 { &rare } else { &seeds };
            let seed = &pool[rng.random_range(0..pool.len())];
            let other = &seeds[rng.random_range(0..seeds.len())];
            mutate(&mut rng, seed, other)
        };
        current.store(case as u64, Ordering::Relaxed);
        started.store(origin.elapsed().as_millis() as u64, Ordering::Relaxed);
        let began = Instant::now();
        let mut outcome = Ok(());
        let bytes = largest_allocation(|| outcome = catch_unwind(AssertUnwindSafe(|| target(&input))));
        let took = began.elapsed();
        started.store(u64::MAX, Ordering::Relaxed);
        if outcome.is_err() {
            done.store(true, Ordering::Relaxed);
            panic!("{name}: case {case}: panic on input {}", shown(&input));
        }
        let limit = HANG + HANG_PER_BYTE * input.len() as u32;
        assert!(took < limit, "{name}: case {case}: {took:?} on input {}", shown(&input));
        assert!(
            bytes <= ALLOCATION_LIMIT,
            "{name}: case {case}: allocated {bytes} bytes at once on input {}",
            shown(&input)
        );
        slowest = slowest.max(took);
        largest = largest.max(bytes);
        parsed += 1;
    }
    done.store(true, Ordering::Relaxed);
    eprintln!(
        "fuzz {name}: {parsed} inputs ({} seeds), 0 panics, 0 hangs, slowest {slowest:?}, \
         largest allocation {largest} B, total {:.1?}",
        seeds.len() + rare.len(),
        origin.elapsed()
    );
}

/// The first 200 bytes of `input` (as lossy UTF-8) and its length, for failure messages.
fn shown(input: &[u8]) -> String {
    format!("{:?} ({} bytes)", String::from_utf8_lossy(&input[..input.len().min(200)]), input.len())
}

/// The committed seeds of `target` (`fuzz/seeds/<target>/*`) followed by `built`.
/// `MALMOI_FUZZ_WRITE_SEEDS=1` writes `built` into that directory (to refresh the corpus).
fn seeds(target: &str, built: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds").join(target);
    if std::env::var_os("MALMOI_FUZZ_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (i, seed) in built.iter().enumerate() {
            std::fs::write(dir.join(format!("built-{i}")), seed).unwrap();
        }
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.sort();
    let mut seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    seeds.extend(built);
    seeds.sort();
    seeds.dedup();
    if seeds.is_empty() {
        seeds.push(Vec::new());
    }
    seeds
}

/// A scratch file for loaders that take paths (one per target and process).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("malmoi-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

fn text_seeds() -> Vec<Vec<u8>> {
    ["아버지가 방에 들어가신다", "I love NLP 자연어처리!! ㅋㅋㅋ", "한국어 形態素 analysis 123 😀", "ᄀᄀᄀ ᅡᅡ ᆨ"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
}

/// Very long inputs: 300 kB of mixed Hangul and ASCII, and 60 000 lone combining jamo.
fn long_texts() -> Vec<Vec<u8>> {
    vec!["가나다라마바사 abc ".repeat(20_000).into_bytes(), "\u{1161}\u{11A8}".repeat(30_000).into_bytes()]
}

/// The analyzer, or `None` (the test `test` is skipped) when no dictionary can be found or built.
fn analyzer_or_skip(test: &str) -> Option<Analyzer> {
    let analyzer = Analyzer::new().ok();
    if analyzer.is_none() {
        eprintln!("{test}: no dictionary, skipped");
    }
    analyzer
}

#[test]
fn fuzz_korean_analyzer() {
    let Some(analyzer) = analyzer_or_skip("fuzz korean_analyzer") else { return };
    fuzz("korean_analyzer", Kind::Text, text_seeds(), long_texts(), |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let _ = analyzer.pos(&text);
        let _ = analyzer.morphs_stem(&text);
    });
}

fn small_bpe() -> Tokenizer {
    let texts = ["아버지가 방에 들어가신다", "hello world hello", "자연어 처리 자연어", "tokens tokens"];
    BpeTrainer::new().vocab_size(300).min_frequency(1).train(texts.iter().copied()).unwrap()
}

#[test]
fn fuzz_bpe_encode_decode_roundtrip() {
    let bpe = small_bpe();
    fuzz("bpe_encode_decode", Kind::Text, text_seeds(), long_texts(), |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let ids = bpe.encode_ids(&text, true).unwrap();
        assert_eq!(bpe.decode(&ids, false).unwrap(), text, "byte-level BPE round trip");
        let untrusted = bpe.encode_ids_untrusted(&text, true).unwrap();
        assert_eq!(bpe.decode(&untrusted, false).unwrap(), text, "untrusted round trip");
        let wild: Vec<u32> = bytes.chunks(2).map(|c| u32::from(c[0]) * 7 + c.len() as u32 * 1000).collect();
        let _ = bpe.decode(&wild, true);
        let mut stream = bpe.decode_stream(false);
        let streamed: String = ids.iter().filter_map(|&id| stream.step(id).unwrap()).collect();
        assert_eq!(streamed + &stream.finish().unwrap(), text, "streamed decode");
    });
}

#[test]
fn fuzz_tokenizer_json_loading() {
    let json = small_bpe().to_json_string().unwrap().into_bytes();
    fuzz("bpe_tokenizer_json", Kind::Model, vec![json], Vec::new(), |bytes| {
        if let Ok(bpe) = Tokenizer::from_bytes(bytes) {
            let _ = bpe.encode_ids("아버지가 hello", true);
            let _ = bpe.encode_untrusted("아버지가 hello", true);
            let _ = bpe.decode(&[0, 1, 2, 250, 299, 10_000], false);
            let mut stream = bpe.decode_stream(true);
            for id in [0, 1, 2, 250, 299, 10_000] {
                let _ = stream.step(id);
            }
            let _ = stream.finish();
        }
    });
}

#[test]
fn fuzz_keras_tokenizer_json() {
    let mut tokenizer = KerasTokenizer::new().with_oov_token("<OOV>");
    tokenizer.fit_on_texts([vec!["배", "가", "부르다"], vec!["배", "의", "가격"]]);
    fuzz("keras_tokenizer_json", Kind::Model, vec![tokenizer.to_json().into_bytes()], Vec::new(), |bytes| {
        if let Ok(t) = KerasTokenizer::from_json(&String::from_utf8_lossy(bytes)) {
            let sequence = t.text_to_sequence(["배", "없는말"]);
            let _ = t.sequence_to_text(&sequence);
            let _ = t.sequence_to_text(&[0, 1, 9_999]);
        }
    });
}

fn word2vec_seed(binary: bool) -> Vec<u8> {
    let kv =
        KeyedVectors::from_flat(vec!["배".into(), "사과".into(), "a".into()], 3, (0..9).map(|x| x as f32).collect())
            .unwrap();
    let path = scratch(if binary { "seed.bin" } else { "seed.txt" });
    kv.save_word2vec_format(&path, binary).unwrap();
    std::fs::read(path).unwrap()
}

/// Headers that claim far more than the file holds (10^12 vectors, or 10^12 dimensions).
const HUGE_WORD2VEC_HEADERS: [&[u8]; 3] =
    [b"1000000000000 1000000000000\n", b"1000000000000 3\n", b"1 1000000000000\nword 1 2\n"];

#[test]
fn fuzz_word2vec_loading() {
    for binary in [false, true] {
        let path = scratch(if binary { "w2v.bin" } else { "w2v.txt" });
        let mut seeds = vec![word2vec_seed(binary)];
        seeds.extend(HUGE_WORD2VEC_HEADERS.iter().map(|h| h.to_vec()));
        let name = if binary { "word2vec_binary" } else { "word2vec_text" };
        fuzz(name, Kind::Model, seeds, Vec::new(), |bytes| {
            write(&path, bytes);
            if let Ok(kv) = KeyedVectors::load_word2vec_format(&path, binary) {
                let _ = kv.most_similar(&["배"], &[], 2);
            }
        });
    }
}

#[test]
fn word2vec_headers_claiming_10e12_elements_are_refused_before_allocating() {
    for binary in [false, true] {
        for header in HUGE_WORD2VEC_HEADERS {
            let path = scratch(&format!("huge-{binary}-{}.w2v", header.len()));
            write(&path, header);
            let mut result = None;
            let bytes = largest_allocation(|| result = Some(KeyedVectors::load_word2vec_format(&path, binary)));
            let result = result.unwrap();
            assert!(result.is_err(), "{header:?} binary={binary}: loaded {result:?}");
            assert!(bytes < 4 << 20, "{header:?} binary={binary}: allocated {bytes} bytes at once");
        }
    }
}

fn small_checkpoint() -> Vec<u8> {
    let path = scratch("seed.safetensors");
    let a = ndarray::ArrayD::from_shape_vec(vec![2, 3], vec![1.0f32; 6]).unwrap();
    let b = ndarray::ArrayD::from_shape_vec(vec![4], vec![0.5f32; 4]).unwrap();
    checkpoint::save(&path, [("a", &a), ("b.weight", &b)], &Default::default()).unwrap();
    std::fs::read(&path).unwrap()
}

/// A safetensors file whose header claims a 10^6 × 10^6 (10^12-element) `F32` tensor.
fn huge_safetensors() -> Vec<u8> {
    let huge = br#"{"x":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4000000000000]}}"#;
    [&(huge.len() as u64).to_le_bytes()[..], huge].concat()
}

#[test]
fn fuzz_safetensors_checkpoint() {
    let path = scratch("fuzz.safetensors");
    fuzz("safetensors_checkpoint", Kind::Model, vec![small_checkpoint(), huge_safetensors()], Vec::new(), |bytes| {
        write(&path, bytes);
        if let Ok(c) = checkpoint::load(&path) {
            let _ = c.get_shaped("a", &[2, 3]);
        }
    });
}

#[test]
fn safetensors_header_claiming_10e12_elements_is_refused_before_allocating() {
    let path = scratch("huge.safetensors");
    for header_length in [None, Some(u64::MAX), Some(1 << 40)] {
        let mut file = huge_safetensors();
        if let Some(n) = header_length {
            file[..8].copy_from_slice(&n.to_le_bytes());
        }
        write(&path, &file);
        let mut result = None;
        let bytes = largest_allocation(|| result = Some(checkpoint::load(&path)));
        let result = result.unwrap();
        assert!(result.is_err(), "header length {header_length:?}: loaded {result:?}");
        assert!(bytes < 4 << 20, "header length {header_length:?}: allocated {bytes} bytes at once");
    }
}

#[test]
fn fuzz_nsmc_tsv() {
    let seeds = vec![b"id\tdocument\tlabel\n1\t\xEC\xA2\x8B\xEB\x8B\xA4\t1\n2\tbad\t0\n3\t\t1\n".to_vec()];
    fuzz("nsmc_tsv", Kind::Text, seeds, Vec::new(), |bytes| {
        let _ = parse_labeled_tsv(&String::from_utf8_lossy(bytes), Path::new("fuzz.tsv"));
    });
}

#[test]
fn fuzz_kochatgpt_readers() {
    let sft = r#"[{"prompt": "불고기용 고기 한우에요?", "completion": "네, 한우입니다.", "tokens": 12}]"#;
    let rm = r#"[{"prompt": "질문", "completion_0": "좋은 답", "completion_1": "보통 답", "completion_2": "나쁜 답", "ranking": [0, 1, 2]}]"#;
    let prompts = "{\"prompt\": \"첫 질문\"}\n{\"prompt\": \"둘째 질문\"}\n";
    let conversation =
        "<<start conversation>>\n<사람>: 안녕?\n<챗봇>: 안녕하세요.\n둘째 줄\n<사람>: 고마워\n<챗봇>: 천만에요.\n";
    let seeds = [sft, rm, prompts, conversation].iter().map(|s| s.as_bytes().to_vec()).collect();
    let path = Path::new("fuzz.jsonl");
    fuzz("kochatgpt_readers", Kind::Text, seeds, Vec::new(), |bytes| {
        let text = String::from_utf8_lossy(bytes);
        for options in [ReadOptions::strict(), ReadOptions::skipping()] {
            let _ = parse_records::<SftRecord>(&text, path, &options);
            if let Ok(records) = parse_records::<RankingRecord>(&text, path, &options) {
                records
                    .records
                    .iter()
                    .for_each(|r| assert_eq!(r.pairs().len(), r.completions.len() * (r.completions.len() - 1) / 2));
            }
            let _ = parse_records::<PromptRecord>(&text, path, &options);
            if let Ok(conversations) = parse_conversations(&text, path, &options) {
                conversations.records.iter().for_each(|c| drop(c.sft_pairs()));
            }
        }
    });
}

/// Separates the files of a model directory inside one fuzz input.
const FILE_SEPARATOR: &[u8] = b"\n\0--next file--\0\n";
/// The files of a sentiment pipeline directory, in the order they are packed into an input.
const SENTIMENT_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// A pipeline with an 8-wide LSTM trained for one epoch on eight reviews, packed as one input.
fn small_sentiment_dir(analyzer: &Analyzer) -> Vec<u8> {
    let reviews = ["정말 재밌는 영화", "최고의 영화 감동", "정말 지루한 영화", "최악의 영화 시간 낭비"];
    let corpus: Vec<LabeledText> = (0..2)
        .flat_map(|round| {
            reviews.iter().enumerate().map(move |(i, text)| LabeledText {
                id: format!("{round}-{i}"),
                document: text.to_string(),
                label: u8::from(i < 2),
            })
        })
        .collect();
    let small = |vocab_size| {
        let mut config = ModelConfig::lecture(vocab_size);
        config.embedding_dim = 8;
        config.encoder.input_size = 8;
        config.encoder.hidden_size = 8;
        config
    };
    let train = TrainConfig { batch_size: 4, max_epochs: 1, ..TrainConfig::default() };
    let preprocessor = Preprocessor::new(PreprocessConfig::default(), analyzer.clone());
    let (pipeline, _) =
        SentimentPipeline::trainer(preprocessor).model(small).min_count(1).config(train).train(&corpus).unwrap();
    packed_model("sentiment-seed", &SENTIMENT_FILES, |dir| pipeline.save(dir).unwrap())
}

/// The files `names` of the model directory `dir`, in that order, joined by [`FILE_SEPARATOR`].
fn pack(dir: &Path, names: &[&str]) -> Vec<u8> {
    let files: Vec<Vec<u8>> = names.iter().map(|f| std::fs::read(dir.join(f)).unwrap()).collect();
    files.join(FILE_SEPARATOR)
}

/// Writes the files `names` of a packed input (cut at [`FILE_SEPARATOR`]; missing parts are
/// empty files) into `dir`.
fn unpack(bytes: &[u8], dir: &Path, names: &[&str]) {
    let mut parts = split(bytes, FILE_SEPARATOR);
    parts.resize(names.len(), &[]);
    for (file, part) in names.iter().zip(&parts) {
        write(&dir.join(file), part);
    }
}

/// A seed of a model-directory target: `save` writes the model into a fresh scratch directory
/// `name`, whose `files` are then packed.
fn packed_model(name: &str, files: &[&str], save: impl FnOnce(&Path)) -> Vec<u8> {
    let dir = scratch(name);
    save(&dir);
    pack(&dir, files)
}

/// Fuzzes the loader of a model directory made of `files`: every input is unpacked into one
/// scratch directory, which `load` then reads (and uses what it loads).
fn fuzz_model_dir(target: &str, files: &[&str], built: Vec<Vec<u8>>, mut load: impl FnMut(&Path)) {
    let dir = scratch(target);
    std::fs::create_dir_all(&dir).unwrap();
    fuzz(target, Kind::Model, built, Vec::new(), |bytes| {
        unpack(bytes, &dir, files);
        load(&dir);
    });
}

#[test]
fn fuzz_sentiment_model_dir() {
    let Some(analyzer) = analyzer_or_skip("fuzz sentiment_model_dir") else { return };
    let seed = small_sentiment_dir(&analyzer);
    fuzz_model_dir("sentiment_model_dir", &SENTIMENT_FILES, vec![seed], |dir| {
        if let Ok(pipeline) = SentimentPipeline::load(dir, analyzer.clone()) {
            let _ = pipeline.predict("정말 재밌는 영화");
        }
    });
}

/// `bytes` cut at every occurrence of `separator`.
fn split<'a>(bytes: &'a [u8], separator: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = bytes;
    while let Some(at) = rest.windows(separator.len()).position(|w| w == separator) {
        parts.push(&rest[..at]);
        rest = &rest[at + separator.len()..];
    }
    parts.push(rest);
    parts
}

#[test]
fn sentiment_config_claiming_10e12_weights_is_refused_before_allocating() {
    let Some(analyzer) = analyzer_or_skip("sentiment config of 10e12 weights") else { return };
    let seed = small_sentiment_dir(&analyzer);
    let parts = split(&seed, FILE_SEPARATOR);
    let dir = scratch("sentiment-huge");
    std::fs::create_dir_all(&dir).unwrap();
    for (field, value) in [("vocab_size", 1_000_000_000_000u64), ("hidden_size", 1_000_000), ("num_layers", 1 << 40)] {
        let mut config: serde_json::Value = serde_json::from_slice(parts[0]).unwrap();
        let model = &mut config["model"];
        let slot = if field == "vocab_size" { &mut model[field] } else { &mut model["encoder"][field] };
        *slot = value.into();
        write(&dir.join(SENTIMENT_FILES[0]), config.to_string().as_bytes());
        for (file, part) in SENTIMENT_FILES.iter().zip(&parts).skip(1) {
            write(&dir.join(file), part);
        }
        let mut result = None;
        let bytes = largest_allocation(|| result = Some(SentimentPipeline::load(&dir, analyzer.clone())));
        match result.unwrap() {
            Err(malmoi_seq::Error::ModelDir { reason, .. }) => {
                assert!(reason.contains("does not fit"), "{field}: {reason}")
            }
            Err(other) => panic!("{field} = {value}: expected ModelDir, got {other}"),
            Ok(_) => panic!("{field} = {value}: loaded"),
        }
        assert!(bytes < 4 << 20, "{field} = {value}: allocated {bytes} bytes at once");
    }
}

/// The files of a GPT model directory, in the order they are packed into an input.
const GPT_FILES: [&str; 2] = ["config.json", "model.safetensors"];

/// A fresh 1-layer, 2-head GPT with a context of 8 over `vocab_size` tokens, `n_embd` wide.
fn tiny_gpt(vocab_size: usize, n_embd: usize) -> malmoi_transformer::Gpt {
    let config = malmoi_transformer::GptConfig {
        vocab_size,
        block_size: 8,
        n_layer: 1,
        n_head: 2,
        n_embd,
        ..Default::default()
    };
    malmoi_transformer::Gpt::new(config, 0).unwrap()
}

/// A 1-layer, 16-wide GPT over 12 tokens, saved as a Hugging Face directory and packed.
fn small_gpt_dir() -> Vec<u8> {
    let model = tiny_gpt(12, 16);
    packed_model("gpt-seed", &GPT_FILES, |dir| model.save_pretrained(dir).unwrap())
}

#[test]
fn fuzz_gpt_model_dir() {
    fuzz_model_dir("gpt_model_dir", &GPT_FILES, vec![small_gpt_dir()], |dir| {
        if let Ok(model) = malmoi_transformer::Gpt::from_pretrained(dir) {
            let _ = model.forward(&ndarray::array![[0, 1, 11]], None);
        }
    });
}

/// The files of a BERT model directory (all three loaders read only these two), in the order
/// they are packed into an input.
const BERT_FILES: [&str; 2] = ["config.json", "model.safetensors"];

/// The smallest useful BERT: 8 word pieces, 4 wide, 2 heads, 1 layer, 4 positions.
fn tiny_bert(seed: u64) -> Bert {
    let config: BertConfig = serde_json::from_value(serde_json::json!({
        "vocab_size": 8,
        "hidden_size": 4,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 8,
        "max_position_embeddings": 4,
    }))
    .unwrap();
    Bert::new(config, seed).unwrap()
}

/// Three packed BERT directories, one per architecture the loaders read: `BertModel`,
/// `BertForPreTraining` and `BertForSequenceClassification` with two labels.
fn small_bert_dirs() -> Vec<Vec<u8>> {
    let dirs = ["bert-seed-base", "bert-seed-pretraining", "bert-seed-classifier"].map(scratch);
    tiny_bert(0).save_pretrained(&dirs[0]).unwrap();
    BertForPreTraining::new(tiny_bert(1), 1).unwrap().save_pretrained(&dirs[1]).unwrap();
    BertForSequenceClassification::new(tiny_bert(2), 2, 2).unwrap().save_pretrained(&dirs[2]).unwrap();
    assert!(Bert::from_pretrained(&dirs[0]).is_ok() && BertForPreTraining::from_pretrained(&dirs[1]).is_ok());
    assert!(BertForSequenceClassification::from_pretrained(&dirs[2], 2).is_ok(), "the seeds load");
    dirs.iter().map(|dir| pack(dir, &BERT_FILES)).collect()
}

#[test]
fn fuzz_bert_model_dir() {
    let input = BertInput::pad(&[(vec![0, 1, 7], vec![0, 0, 1])], 0).unwrap();
    fuzz_model_dir("bert_model_dir", &BERT_FILES, small_bert_dirs(), |dir| {
        if let Ok(model) = Bert::from_pretrained(dir) {
            let _ = model.forward(&input);
        }
        if let Ok(model) = BertForPreTraining::from_pretrained(dir) {
            let _ = model.forward(&input);
        }
        if let Ok(mut model) = BertForSequenceClassification::from_pretrained(dir, 2) {
            let _ = model.predict_proba(&input);
        }
    });
}

/// The files of a seq2seq model directory, in the order they are packed into an input.
const SEQ2SEQ_FILES: [&str; 2] = ["config.json", "model.safetensors"];

/// A 2-wide bidirectional-LSTM encoder–decoder with general attention, trained for a few
/// epochs to reverse words of `a` and `b`, saved and packed.
fn small_seq2seq_dir() -> Vec<u8> {
    let pairs: Vec<(String, String)> =
        ["ab", "ba", "aab", "abb"].iter().map(|w| (w.to_string(), w.chars().rev().collect())).collect();
    let train = Seq2SeqTrainConfig { epochs: 3, batch_size: 2, validation_split: 0.0, ..Default::default() };
    let limits = Limits { max_source_len: 6, max_target_len: 6 };
    let (model, _) = Seq2Seq::trainer(2, 2).limits(limits).config(train).train(&pairs).unwrap();
    packed_model("seq2seq-seed", &SEQ2SEQ_FILES, |dir| {
        model.save(dir).unwrap();
        Seq2Seq::load(dir).unwrap();
    })
}

#[test]
fn fuzz_seq2seq_model_dir() {
    let beam = DecodeOptions { beam_width: 2, ..DecodeOptions::default() };
    fuzz_model_dir("seq2seq_model_dir", &SEQ2SEQ_FILES, vec![small_seq2seq_dir()], |dir| {
        if let Ok(model) = Seq2Seq::load(dir) {
            let _ = model.translate("abz", &DecodeOptions::default());
            let _ = model.translate("ba", &beam);
        }
    });
}

/// The files of an LSTM language model directory, in the order they are packed into an input.
const LSTM_LM_FILES: [&str; 4] = ["config.json", "vocab.json", "unknown.json", "model.safetensors"];

/// A 2-wide, one-layer LSTM LM over the 4 most frequent tokens of three sentences (the others
/// form the `<unk>` class), trained for one epoch, saved and packed.
fn small_lstm_lm_dir() -> Vec<u8> {
    let corpus: Vec<Vec<String>> = ["나 는 버스 를 탔다", "너 는 버스 를 탔다", "나 는 집 에 갔다"]
        .iter()
        .map(|s| s.split(' ').map(String::from).collect())
        .collect();
    let vocab = LstmLm::vocabulary(&corpus, 4);
    let config = LstmLmConfig { vocab_size: vocab.len(), embedding_dim: 2, hidden_size: 2, num_layers: 1 };
    let mut model = LstmLm::new(config, vocab, 0).unwrap();
    let options = LstmTrainOptions { epochs: 1, batch_size: 2, ..Default::default() };
    model.fit(&corpus, &options, malmoi_train::Session::default()).unwrap();
    packed_model("lstm-lm-seed", &LSTM_LM_FILES, |dir| {
        model.save(dir).unwrap();
        LstmLm::load(dir).unwrap();
    })
}

#[test]
fn fuzz_lstm_lm_dir() {
    let sentence: Vec<String> = ["나", "는", "집", "없는말"].map(String::from).to_vec();
    fuzz_model_dir("lstm_lm_dir", &LSTM_LM_FILES, vec![small_lstm_lm_dir()], |dir| {
        if let Ok(model) = LstmLm::load(dir) {
            let _ = model.score_tokens(&sentence);
            let _ = model.next_tokens(&sentence[..2], 3);
        }
    });
}

/// The files of a reward-model directory, in the order they are packed into an input.
const REWARD_FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

/// A 1-layer, 4-wide reward model (a fresh GPT trunk and score head) over a 258-token
/// byte-level BPE, saved in the `GPT2ForSequenceClassification` layout and packed.
fn small_reward_model_dir() -> Vec<u8> {
    let tokenizer =
        BpeTrainer::new().vocab_size(258).special_tokens(["<|endoftext|>"]).train(["abc abd", "bca"]).unwrap();
    let generator = Generator::new(tiny_gpt(tokenizer.vocab_size(), 4), tokenizer).unwrap();
    let model = RewardModel::from_generator(generator, 0).unwrap();
    packed_model("reward-seed", &REWARD_FILES, |dir| {
        model.save_pretrained(dir).unwrap();
        RewardModel::from_pretrained(dir).unwrap();
    })
}

#[test]
fn fuzz_reward_model_dir() {
    // Two rows of different lengths, so the shorter is padded with the loaded `pad_token_id`.
    let rows = [Sequence::new(vec![97, 98], vec![99]).unwrap(), Sequence::new(vec![1], vec![257]).unwrap()];
    fuzz_model_dir("reward_model_dir", &REWARD_FILES, vec![small_reward_model_dir()], |dir| {
        if let Ok(model) = RewardModel::from_pretrained(dir) {
            let _ = model.score(&rows);
            if let Ok(prompt) = model.tokenizer.encode_ids("abc", true)
                && let Ok(sequence) = Sequence::new(prompt, vec![model.pad])
            {
                let _ = model.score(&[sequence]);
            }
        }
    });
}

/// Three saved templates: the KoChatGPT tutorial's, a one-line one, and one whose slot is
/// at the very start.
fn template_seeds() -> Vec<Vec<u8>> {
    let dir = scratch("template-seed");
    std::fs::create_dir_all(&dir).unwrap();
    [
        PromptTemplate::default(),
        PromptTemplate::new("Q: {prompt}\nA:").unwrap(),
        PromptTemplate::new("{prompt} →").unwrap(),
    ]
    .iter()
    .map(|template| {
        template.save(&dir).unwrap();
        std::fs::read(dir.join(TEMPLATE_FILE)).unwrap()
    })
    .collect()
}

#[test]
fn fuzz_prompt_template() {
    let dir = scratch("template");
    std::fs::create_dir_all(&dir).unwrap();
    let chat = [
        ChatMessage::new(Role::System, "친절하게 답하세요."),
        ChatMessage::new(Role::User, "안녕?"),
        ChatMessage::new(Role::Assistant, "안녕하세요."),
        ChatMessage::new(Role::User, "{prompt}"),
    ];
    fuzz("prompt_template", Kind::Model, template_seeds(), Vec::new(), |bytes| {
        write(&dir.join(TEMPLATE_FILE), bytes);
        if let Ok(Some(template)) = PromptTemplate::load(&dir) {
            assert_eq!(template.text().as_bytes(), bytes, "a loaded template keeps the file's text");
            let rendered = template.render("안녕?");
            assert_eq!(rendered.len(), bytes.len() - "{prompt}".len() + "안녕?".len());
            let _ = template.render_chat(&chat);
        }
    });
}

/// Two tiny trained word2vec models (5 words, 4 dimensions, one epoch), saved in the native
/// format: CBOW with negative sampling, and skip-gram with hierarchical softmax and negative
/// sampling (all three weight matrices).
fn small_word2vec_models() -> Vec<Vec<u8>> {
    let sentences: Vec<Vec<String>> = (0..20)
        .map(|i| ["나는", if i % 2 == 0 { "영화" } else { "드라마" }, "를", "봤다"].map(String::from).to_vec())
        .collect();
    [(Architecture::Cbow, false), (Architecture::SkipGram, true)]
        .into_iter()
        .enumerate()
        .map(|(i, (architecture, hs))| {
            let config = Word2VecConfig {
                architecture,
                hs,
                vector_size: 4,
                window: 2,
                min_count: 1,
                negative: 2,
                epochs: 1,
                workers: 1,
                progress: false,
                ..Default::default()
            };
            let (model, _) = Word2Vec::fit(config, &Corpus::Sentences(&sentences)).unwrap();
            let path = scratch(&format!("word2vec-seed-{i}.w2v"));
            model.save(&path).unwrap();
            Word2Vec::load(&path).unwrap();
            std::fs::read(path).unwrap()
        })
        .collect()
}

#[test]
fn fuzz_word2vec_model() {
    let path = scratch("word2vec.w2v");
    fuzz("word2vec_model", Kind::Model, small_word2vec_models(), Vec::new(), |bytes| {
        write(&path, bytes);
        if let Ok(model) = Word2Vec::load(&path) {
            if let Some(word) = model.wv().index_to_key().first() {
                let _ = model.wv().most_similar(&[word.as_str()], &[], 2);
                let _ = model.word_count(word);
            }
            let _ = model.wv().most_similar(&["영화"], &["없는말"], 2);
        }
    });
}

/// A native word2vec model whose header claims 10^12 dimensions, 10^12 output weights or
/// `usize::MAX` dimensions for its 5 words is refused, allocating less than 4 MiB at once.
#[test]
fn word2vec_model_headers_claiming_10e12_weights_are_refused_before_allocating() {
    let seed = small_word2vec_models().swap_remove(1);
    let header_end = seed.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(1).unwrap().0;
    let magic_end = seed.iter().position(|&b| b == b'\n').unwrap() + 1;
    let path = scratch("word2vec-huge.w2v");
    for (key, value) in [("vector_size", 1_000_000_000_000u64), ("vector_size", u64::MAX), ("syn1neg_len", 1 << 40)] {
        let mut header: serde_json::Value = serde_json::from_slice(&seed[magic_end..header_end]).unwrap();
        let slot = if key == "vector_size" { &mut header["config"][key] } else { &mut header[key] };
        *slot = value.into();
        write(&path, &[&seed[..magic_end], header.to_string().as_bytes(), &seed[header_end..]].concat());
        let mut loaded = true;
        let bytes = largest_allocation(|| loaded = Word2Vec::load(&path).is_ok());
        assert!(!loaded, "{key} = {value} loaded");
        assert!(bytes < 4 << 20, "{key} = {value}: allocated {bytes} bytes at once");
    }
}

/// BERT, seq2seq, LSTM-LM and reward-model configs claiming 10^12 weights (or 10^13 positions,
/// or a 10^9-position learned table) are refused from the weights stored, allocating less than
/// 4 MiB at once.
#[test]
fn model_dir_configs_claiming_10e12_weights_are_refused_before_allocating() {
    type Loader = fn(&Path) -> bool;
    /// Target, packed seed, its files, the JSON path of the key to inflate, its value, loader.
    type Case = (&'static str, Vec<u8>, &'static [&'static str], &'static [&'static str], u64, Loader);
    let bert: Loader = |dir| {
        Bert::from_pretrained(dir).is_ok()
            || BertForPreTraining::from_pretrained(dir).is_ok()
            || BertForSequenceClassification::from_pretrained(dir, 2).is_ok()
    };
    let seq2seq: Loader = |dir| Seq2Seq::load(dir).is_ok();
    let lstm_lm: Loader = |dir| LstmLm::load(dir).is_ok();
    let reward: Loader = |dir| RewardModel::from_pretrained(dir).is_ok();
    let bert_seed = small_bert_dirs().swap_remove(1);
    let cases: [Case; 8] = [
        ("bert", bert_seed.clone(), &BERT_FILES, &["vocab_size"], 1_000_000_000_000, bert),
        ("bert", bert_seed, &BERT_FILES, &["max_position_embeddings"], 10_000_000_000_004, bert),
        ("seq2seq", small_seq2seq_dir(), &SEQ2SEQ_FILES, &["model", "hidden_size"], 1 << 40, seq2seq),
        ("seq2seq", small_seq2seq_dir(), &SEQ2SEQ_FILES, &["model", "target_vocab"], 1_000_000_000_000, seq2seq),
        ("lstm-lm", small_lstm_lm_dir(), &LSTM_LM_FILES, &["embedding_dim"], 1_000_000_000_000, lstm_lm),
        ("lstm-lm", small_lstm_lm_dir(), &LSTM_LM_FILES, &["num_layers"], 1 << 40, lstm_lm),
        ("reward", small_reward_model_dir(), &REWARD_FILES, &["vocab_size"], 1_000_000_000_000, reward),
        ("reward", small_reward_model_dir(), &REWARD_FILES, &["n_positions"], 1_000_000_000, reward),
    ];
    for (name, seed, files, key, value, load) in cases {
        let dir = scratch(&format!("{name}-huge"));
        std::fs::create_dir_all(&dir).unwrap();
        unpack(&seed, &dir, files);
        let mut config: serde_json::Value = serde_json::from_slice(split(&seed, FILE_SEPARATOR)[0]).unwrap();
        *key.iter().fold(&mut config, |slot, k| &mut slot[*k]) = value.into();
        write(&dir.join(files[0]), config.to_string().as_bytes());
        let mut loaded = true;
        let bytes = largest_allocation(|| loaded = load(&dir));
        assert!(!loaded, "{name}: {key:?} = {value} loaded");
        assert!(bytes < 4 << 20, "{name}: {key:?} = {value}: allocated {bytes} bytes at once");
    }
}

/// The files of a pretrained Hugging Face folder as `Generator::from_pretrained` reads them.
const PRETRAINED_FILES: [&str; 5] =
    ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"];

/// The transformer crate's tiny `transformers`-made GPT-2 with KoGPT2's config keys, packed;
/// and the same model with the shipped GPT's larger tokenizer (more ids than the model embeds).
fn pretrained_seeds() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = root.join("crates/transformer/tests/fixtures/hf_models/gpt2_kogpt2_keys");
    let plain = pack(&fixture, &PRETRAINED_FILES);
    let mismatched = scratch("pretrained-mismatch-seed");
    std::fs::create_dir_all(&mismatched).unwrap();
    for file in PRETRAINED_FILES {
        std::fs::copy(fixture.join(file), mismatched.join(file)).unwrap();
    }
    std::fs::copy(root.join("models/gpt/tokenizer.json"), mismatched.join("tokenizer.json")).unwrap();
    vec![plain, pack(&mismatched, &PRETRAINED_FILES)]
}

/// A pretrained folder with any bytes in its five files — including a tokenizer whose
/// vocabulary does not match the model's — loads or is refused, and a loaded one generates.
#[test]
fn fuzz_pretrained_dir() {
    fuzz_model_dir("pretrained_dir", &PRETRAINED_FILES, pretrained_seeds(), |dir| {
        if let Ok(generator) = malmoi_transformer::generation::Generator::from_pretrained(dir) {
            let config = malmoi_transformer::generation::GenerationConfig::greedy(3);
            let _ = generator.generate("영화가", &config);
        }
    });
}
