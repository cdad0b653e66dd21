//! word2vec training: learning on a synthetic corpus with known structure, determinism
//! (same seed and one worker → byte-identical model files; several workers differ in bytes,
//! not in what they learn), persistence, continued training and bad input.

use std::path::{Path, PathBuf};

use malmoi_embed::word2vec::{Architecture, Corpus, Word2Vec, Word2VecConfig};
use malmoi_embed::{EmbedError, KeyedVectors};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Sentences drawn from two topics that share only function words: a model that learns
/// anything puts each topic's words closer to each other than to the other topic's.
fn two_topic_corpus(n: usize) -> Vec<Vec<String>> {
    let animals = ["개", "고양이", "사자", "호랑이", "돼지", "토끼"];
    let food = ["사과", "배", "포도", "딸기", "수박", "참외"];
    let glue = ["은", "는", "이", "가", "을", "를"];
    let mut rng = StdRng::seed_from_u64(42);
    (0..n)
        .map(|i| {
            let topic = if i % 2 == 0 { &animals } else { &food };
            (0..12)
                .map(|k| {
                    let pool = if k % 3 == 2 { &glue } else { topic };
                    pool[rng.random_range(0..pool.len())].to_string()
                })
                .collect()
        })
        .collect()
}

fn config(architecture: Architecture, hs: bool) -> Word2VecConfig {
    Word2VecConfig {
        architecture,
        vector_size: 20,
        window: 3,
        min_count: 1,
        negative: if hs { 0 } else { 5 },
        hs,
        sample: 0.0,
        epochs: 5,
        workers: 1,
        seed: 7,
        progress: false,
        ..Default::default()
    }
}

fn topic_separation(kv: &KeyedVectors) -> f32 {
    let within = (kv.similarity("개", "고양이").unwrap() + kv.similarity("사과", "포도").unwrap()) / 2.0;
    let across = (kv.similarity("개", "사과").unwrap() + kv.similarity("고양이", "포도").unwrap()) / 2.0;
    within - across
}

#[test]
fn all_four_variants_learn_the_topics() {
    let corpus = two_topic_corpus(2000);
    for architecture in [Architecture::SkipGram, Architecture::Cbow] {
        for hs in [false, true] {
            let (model, report) = Word2Vec::fit(config(architecture, hs), &Corpus::Sentences(&corpus)).unwrap();
            assert_eq!(report.raw_words, 5 * 12 * 2000);
            let gap = topic_separation(model.wv());
            // gensim 4.4 on the same kind of corpus: skip-gram 1.01 (NS) / 1.28 (HS), CBOW 0.20 / 0.18
            // (CBOW's context means blur the topics on a vocabulary this small).
            let floor = if architecture == Architecture::SkipGram { 0.7 } else { 0.1 };
            assert!(gap > floor, "{architecture:?} hs={hs}: within-minus-across cosine {gap}");
            let top: Vec<String> =
                model.wv().most_similar(&["사자"], &[], 3).unwrap().into_iter().map(|p| p.0).collect();
            assert!(top.iter().all(|w| ["개", "고양이", "호랑이", "돼지", "토끼"].contains(&w.as_str())), "{top:?}");
        }
    }
}

#[test]
fn one_thread_with_a_seed_is_deterministic() {
    let corpus = two_topic_corpus(300);
    let train = |seed| {
        let mut c = config(Architecture::SkipGram, false);
        c.seed = seed;
        Word2Vec::fit(c, &Corpus::Sentences(&corpus)).unwrap().0.into_keyed_vectors()
    };
    assert_eq!(train(3), train(3));
    assert_ne!(train(3), train(4));
}

#[test]
fn multi_threaded_training_over_a_streamed_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corpus.txt");
    let text: Vec<String> = two_topic_corpus(4000).iter().map(|s| s.join(" ")).collect();
    std::fs::write(&path, text.join("\n")).unwrap();
    // Skip-gram: its topic gap (≈ 1.0, gensim 1.01) stays far above the bound whatever the
    // three Hogwild workers' interleaving; CBOW's (≈ 0.2) once dipped below 0.1 under load.
    let mut c = config(Architecture::SkipGram, false);
    c.workers = 3;
    let (model, report) = Word2Vec::fit(c, &Corpus::File(&path)).unwrap();
    assert_eq!(report.raw_words, 5 * 12 * 4000);
    assert_eq!(model.corpus_words(), 12 * 4000);
    assert!(topic_separation(model.wv()) > 0.1);

    // The same file through an analyzer closure.
    let analyzer = |line: &str| line.split(' ').filter(|t| t.len() > 3).map(String::from).collect();
    let mut c = config(Architecture::Cbow, false);
    c.epochs = 1;
    let (model, _) = Word2Vec::fit(c, &Corpus::AnalyzedFile(&path, &analyzer)).unwrap();
    assert!(!model.wv().contains("은"), "one-syllable (3-byte) tokens were filtered out");
}

#[test]
fn save_load_and_continue_training() {
    let corpus = two_topic_corpus(500);
    let (model, _) = Word2Vec::fit(config(Architecture::SkipGram, true), &Corpus::Sentences(&corpus)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.w2v");
    model.save(&path).unwrap();
    let mut loaded = Word2Vec::load(&path).unwrap();
    assert_eq!(loaded.wv(), model.wv());
    assert_eq!(loaded.word_count("개"), model.word_count("개"));
    let before = topic_separation(loaded.wv());
    loaded.train(&Corpus::Sentences(&corpus)).unwrap();
    assert_ne!(loaded.wv(), model.wv());
    assert!(before > 0.7 && topic_separation(loaded.wv()) > 0.7, "continued training keeps what was learned");

    for binary in [false, true] {
        let vectors = dir.path().join(if binary { "v.bin" } else { "v.txt" });
        model.wv().save_word2vec_format(&vectors, binary).unwrap();
        let read = KeyedVectors::load_word2vec_format(&vectors, binary).unwrap();
        assert_eq!(&read, model.wv(), "binary={binary}");
    }
}

#[test]
fn bad_input_gives_typed_errors() {
    let corpus = two_topic_corpus(10);
    let mut c = config(Architecture::Cbow, false);
    c.min_count = 1_000_000;
    match Word2Vec::fit(c, &Corpus::Sentences(&corpus)) {
        Err(EmbedError::EmptyVocabulary(_)) => {}
        other => panic!("expected EmptyVocabulary, got {:?}", other.map(|_| ())),
    }
    let empty: Vec<Vec<String>> = Vec::new();
    assert!(matches!(
        Word2Vec::fit(config(Architecture::Cbow, false), &Corpus::Sentences(&empty)),
        Err(EmbedError::EmptyVocabulary(_))
    ));
    let mut untrained = Word2Vec::new(config(Architecture::Cbow, false)).unwrap();
    assert!(matches!(untrained.train(&Corpus::Sentences(&corpus)), Err(EmbedError::EmptyVocabulary(_))));
    let mut c = config(Architecture::Cbow, false);
    c.negative = 0;
    assert!(matches!(Word2Vec::new(c), Err(EmbedError::InvalidParameter(_))));
    // bounds that keep a loaded or hand-made config from overflowing or hanging training
    for bad in [
        Word2VecConfig { window: usize::MAX, ..config(Architecture::SkipGram, false) },
        Word2VecConfig { negative: 1_000_000_000_000, ..config(Architecture::Cbow, false) },
        Word2VecConfig { workers: 1 << 20, ..config(Architecture::Cbow, false) },
        Word2VecConfig { vector_size: 1 << 40, ..config(Architecture::Cbow, false) },
        Word2VecConfig { epochs: usize::MAX, ..config(Architecture::Cbow, false) },
    ] {
        assert!(matches!(Word2Vec::new(bad), Err(EmbedError::InvalidParameter(_))));
    }
    let wide = Word2VecConfig { vector_size: 1 << 40, ..config(Architecture::Cbow, false) };
    let message = Word2Vec::new(wide).unwrap_err().to_string();
    assert!(message.contains("vector_size") && message.contains("1..=10000"), "{message}");
}

/// Every error about a file names it: a corpus that does not exist (before: `Io(Os { code: 2 })`
/// alone), a corpus line that is not UTF-8 (with its line), and a vector file that is not one
/// (before: `Io(InvalidData)` alone).
#[test]
fn file_errors_name_the_file() {
    let missing = Path::new("/nonexistent/corpus.txt");
    let error = Word2Vec::fit(config(Architecture::Cbow, false), &Corpus::File(missing)).unwrap_err();
    assert!(matches!(&error, EmbedError::File { path, line: None, .. } if path == missing), "{error:?}");
    assert!(error.to_string().starts_with("/nonexistent/corpus.txt: "), "{error}");

    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.txt");
    std::fs::write(&corpus, b"a b c\na b \xff\n").unwrap();
    let mut model = Word2Vec::new(config(Architecture::Cbow, false)).unwrap();
    let error = model.build_vocab(&Corpus::File(&corpus)).unwrap_err();
    assert!(error.to_string().contains("corpus.txt:2: "), "{error}");

    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, (0..=255u8).cycle().take(4096).collect::<Vec<u8>>()).unwrap();
    for binary in [true, false] {
        let error = KeyedVectors::load_word2vec_format(&garbage, binary).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, EmbedError::MalformedVectorFile { line: 1, .. }), "{message}");
        assert!(message.contains("garbage.bin") && message.contains("<count> <dimension>"), "{message}");
    }
    let error = KeyedVectors::load_word2vec_format(dir.path(), true).unwrap_err();
    assert!(error.to_string().contains(&dir.path().display().to_string()), "{error}");
    let error = Word2Vec::load(missing).unwrap_err();
    assert!(error.to_string().starts_with("/nonexistent/corpus.txt: "), "{error}");
}

/// [`config`] with subsampling on, 3 epochs and `workers` threads (the determinism tests).
fn file_config(architecture: Architecture, hs: bool, workers: usize, seed: u64) -> Word2VecConfig {
    Word2VecConfig { sample: 1e-3, epochs: 3, workers, seed, ..config(architecture, hs) }
}

/// The bytes of the three files a trained model is saved as, trained on `corpus` (a file).
fn model_files(config: Word2VecConfig, corpus: &Path, dir: &Path) -> [Vec<u8>; 3] {
    let (model, _) = Word2Vec::fit(config, &Corpus::File(corpus)).unwrap();
    let [full, text, binary] = ["model.w2v", "vectors.txt", "vectors.bin"].map(|name| dir.join(name));
    model.save(&full).unwrap();
    model.wv().save_word2vec_format(&text, false).unwrap();
    model.wv().save_word2vec_format(&binary, true).unwrap();
    [full, text, binary].map(|path| std::fs::read(path).unwrap())
}

fn write_corpus(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("corpus.txt");
    let lines: Vec<String> = two_topic_corpus(3000).iter().map(|s| s.join(" ")).collect();
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

#[test]
fn one_worker_and_a_seed_give_byte_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path());
    for architecture in [Architecture::SkipGram, Architecture::Cbow] {
        for hs in [false, true] {
            let run = |seed| model_files(file_config(architecture, hs, 1, seed), &corpus, dir.path());
            let (first, second, other_seed) = (run(11), run(11), run(12));
            for (i, name) in ["model.w2v", "vectors.txt", "vectors.bin"].iter().enumerate() {
                assert!(first[i] == second[i], "{architecture:?} hs={hs}: {name} differs between two runs");
                assert!(first[i] != other_seed[i], "{architecture:?} hs={hs}: {name} ignores the seed");
            }
        }
    }
}

#[test]
fn several_workers_differ_in_bytes_but_not_in_what_they_learn() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path());
    let separation = |workers| {
        let c = file_config(Architecture::SkipGram, false, workers, 11);
        let (model, _) = Word2Vec::fit(c, &Corpus::File(&corpus)).unwrap();
        (topic_separation(model.wv()), model.wv().clone())
    };
    let (one, _) = separation(1);
    let (a, first) = separation(3);
    let (b, second) = separation(3);
    for gap in [one, a, b] {
        assert!(gap > 0.5, "within-minus-across cosine {gap} (1 worker: {one})");
    }
    // Which worker takes which job (and so which random stream it uses), the learning rate
    // read at the start of each job and Hogwild's unsynchronised row updates all depend on
    // thread timing; equal vectors would mean the workers did not run concurrently.
    if first == second {
        eprintln!("note: two 3-worker runs happened to produce identical vectors");
    }
}

/// A saved model file with its JSON header line changed by `edit` (and the weights that follow
/// it kept, or replaced by `weights` when given).
fn edited_model_file(dir: &Path, edit: impl FnOnce(&mut serde_json::Value), weights: Option<Vec<u8>>) -> PathBuf {
    let corpus = two_topic_corpus(20);
    let mut c = config(Architecture::SkipGram, true);
    c.vector_size = 4;
    c.negative = 2;
    c.epochs = 1;
    let (model, _) = Word2Vec::fit(c, &Corpus::Sentences(&corpus)).unwrap();
    let path = dir.join("model.w2v");
    model.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let first = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let second = weights_start(&bytes);
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[first..second]).unwrap();
    edit(&mut header);
    let weights = weights.unwrap_or_else(|| bytes[second..].to_vec());
    let edited = [&bytes[..first], header.to_string().as_bytes(), &b"\n"[..], &weights[..]].concat();
    let path = dir.join("edited.w2v");
    std::fs::write(&path, edited).unwrap();
    path
}

/// The reason of a `MalformedVectorFile` error.
fn malformed_reason(result: malmoi_embed::Result<Word2Vec>) -> String {
    match result {
        Err(EmbedError::MalformedVectorFile { reason, .. }) => reason,
        Err(other) => panic!("expected MalformedVectorFile, got {other}"),
        Ok(_) => panic!("loaded"),
    }
}

#[test]
fn model_headers_claiming_more_weights_than_the_file_holds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // `fuzz.rs` (`word2vec_model`) found a `vector_size` of 10000000000004 for a 5-word model
    // asking for 200 TB at once; `usize::MAX` overflowed computing the size (a panic in debug
    // builds), and huge output-weight lengths asked for terabytes too (both by review).
    let huge: [(&str, u64); 4] = [
        ("vector_size", 1_000_000_000_000),
        ("vector_size", u64::MAX),
        ("syn1neg_len", 1_000_000_000_000),
        ("syn1_len", u64::MAX),
    ];
    for (key, value) in huge {
        let path = edited_model_file(
            dir.path(),
            |header| {
                let slot = if key == "vector_size" { &mut header["config"][key] } else { &mut header[key] };
                *slot = value.into();
            },
            None,
        );
        let reason = malformed_reason(Word2Vec::load(&path));
        assert!(reason.contains("but") && reason.contains("bytes follow it"), "{key} = {value}: {reason}");
    }
    // Weights cut short, or followed by bytes no header line accounts for.
    let saved = edited_model_file(dir.path(), |_| {}, None);
    let bytes = std::fs::read(&saved).unwrap();
    let stored = &bytes[weights_start(&bytes)..];
    for weights in [stored[..stored.len() - 4].to_vec(), [stored, &[0u8; 4][..]].concat()] {
        let path = edited_model_file(dir.path(), |_| {}, Some(weights));
        assert!(malformed_reason(Word2Vec::load(&path)).contains("bytes follow it"));
    }
}

/// Where the weights start in a saved model file: after its magic and JSON header lines.
fn weights_start(bytes: &[u8]) -> usize {
    let first = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    first + bytes[first..].iter().position(|&b| b == b'\n').unwrap() + 1
}

#[test]
fn model_counts_or_planned_words_past_2_64_and_counts_not_matching_the_words_are_refused() {
    // Found by review: training sums the counts (subsampling, the Huffman tree), which
    // overflowed (a panic in debug builds) on counts near u64::MAX.
    let dir = tempfile::tempdir().unwrap();
    let path = edited_model_file(dir.path(), |header| header["counts"][0] = u64::MAX.into(), None);
    assert!(malformed_reason(Word2Vec::load(&path)).contains("sum past 2^64"));
    // Also by review: `train` plans for `epochs × corpus_words` words, which overflowed too.
    let path = edited_model_file(
        dir.path(),
        |header| {
            header["config"]["epochs"] = 5.into();
            header["corpus_words"] = (u64::MAX / 2).into();
        },
        None,
    );
    assert!(malformed_reason(Word2Vec::load(&path)).contains("exceeds 2^64"));
    let path = edited_model_file(dir.path(), |header| header["counts"].as_array_mut().unwrap().truncate(1), None);
    assert!(malformed_reason(Word2Vec::load(&path)).contains("differ in length"));
    let path = edited_model_file(dir.path(), |header| header["words"][1] = header["words"][0].clone(), None);
    assert!(malformed_reason(Word2Vec::load(&path)).contains("duplicate"));
    let unchanged = edited_model_file(dir.path(), |_| {}, None);
    assert!(Word2Vec::load(&unchanged).is_ok());
}
