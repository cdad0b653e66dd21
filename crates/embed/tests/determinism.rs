//! Same seed and one worker → byte-identical model files, for all four word2vec variants and
//! every file format (the full model `save`, word2vec text and binary); with several workers
//! the files differ between runs (Hogwild), but the model learns the same structure.

use std::path::Path;

use malmoi_embed::word2vec::{Architecture, Corpus, Word2Vec, Word2VecConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Sentences from two topics sharing only function words (as in `tests/word2vec.rs`).
fn corpus(n: usize) -> Vec<Vec<String>> {
    let animals = ["개", "고양이", "사자", "호랑이", "돼지", "토끼"];
    let food = ["사과", "배", "포도", "딸기", "수박", "참외"];
    let glue = ["은", "는", "이", "가", "을", "를"];
    let mut rng = StdRng::seed_from_u64(42);
    (0..n)
        .map(|i| {
            let topic = if i % 2 == 0 { &animals } else { &food };
            (0..12).map(|k| if k % 3 == 2 { &glue } else { topic }[rng.random_range(0..6)].to_string()).collect()
        })
        .collect()
}

fn config(architecture: Architecture, hs: bool, workers: usize, seed: u64) -> Word2VecConfig {
    Word2VecConfig {
        architecture,
        vector_size: 24,
        window: 4,
        min_count: 1,
        negative: if hs { 0 } else { 5 },
        hs,
        sample: 1e-3,
        epochs: 3,
        workers,
        seed,
        progress: false,
        ..Default::default()
    }
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
    let lines: Vec<String> = corpus(3000).iter().map(|s| s.join(" ")).collect();
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

#[test]
fn one_worker_and_a_seed_give_byte_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = write_corpus(dir.path());
    for architecture in [Architecture::SkipGram, Architecture::Cbow] {
        for hs in [false, true] {
            let run = |seed| model_files(config(architecture, hs, 1, seed), &corpus, dir.path());
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
        let (model, _) =
            Word2Vec::fit(config(Architecture::SkipGram, false, workers, 11), &Corpus::File(&corpus)).unwrap();
        let kv = model.wv();
        let within = (kv.similarity("개", "고양이").unwrap() + kv.similarity("사과", "포도").unwrap()) / 2.0;
        let across = (kv.similarity("개", "사과").unwrap() + kv.similarity("고양이", "포도").unwrap()) / 2.0;
        (within - across, model.wv().clone())
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
