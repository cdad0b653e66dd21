//! Korean analyser throughput (documents/s) on NSMC reviews, 1 and 2 threads.
//!
//! `cargo bench --bench analyzer`. Uses the first 2,000 documents of
//! `../shared/data/nsmc/ratings_train.txt` when present (else built-in
//! sentences); the same figure over all 150,000 documents comes from
//! `cargo run --release --example morphs -- --throughput ../shared/data/nsmc/ratings_train.txt`,
//! and python-mecab-ko's from `benches/reference/mecab_throughput.py`.
//!
//! `pos_loop` compares MeCab-ko's search with the context engine (issue 24),
//! whose model is trained here on the next 30,000 training reviews; the
//! side-by-side figure against Kiwi on the ambiguity set comes from
//! `benches/reference/ambiguity/score.py --malmoi-bin target/release/examples/morphs`.

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use malmoi::tokenize::korean::{Analyzer, ContextModel, ContextParams, Engine};

/// Documents analysed per iteration.
const DOCUMENTS: usize = 2_000;

/// Documents after those the context model learns from.
const TRAINING: usize = 30_000;

/// Sentences used when the NSMC data is not beside the repository.
const FALLBACK: [&str; 8] = [
    "아버지가방에들어가신다",
    "와 이런 것도 영화라고 차라리 뮤직비디오를 만드는 게 나을 뻔",
    "진짜 재밌다 ㅋㅋㅋ 10점 만점에 10점!!",
    "배우들 연기가 너무 좋았고 음악도 인상적이었어요",
    "스토리가 산으로 가네요... 시간 아까움",
    "어제 버스를 탔다가 늦잠을 자서 결국 영화를 못 봤다",
    "CG는 화려한데 내용이 없음. 2편은 안 볼 듯",
    "인생 영화 다 이건 어떤 영화보다도 감동 재미 게다가 리얼이지",
];

/// `count` documents of NSMC's training reviews after the first `skip`, or the fallback sentences.
fn documents(skip: usize, count: usize) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/nsmc/ratings_train.txt");
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .lines()
            .skip(1 + skip)
            .take(count)
            .map(|line| line.split('\t').nth(1).unwrap_or("").to_string())
            .collect(),
        Err(_) => FALLBACK.iter().cycle().take(count).map(|s| s.to_string()).collect(),
    }
}

fn analyze(c: &mut Criterion) {
    let docs = documents(0, DOCUMENTS);
    let mecab = Analyzer::new().expect("mecab-ko-dic");
    let dir = mecab.dictionary_dir().expect("a dictionary directory").to_path_buf();
    let lindera = Analyzer::builder().dictionary_path(dir).engine(Engine::Lindera).build().expect("mecab-ko-dic");

    let mut group = c.benchmark_group("korean_nsmc_2k_docs");
    group.throughput(Throughput::Elements(docs.len() as u64));
    group.sample_size(20);
    group.bench_function("morphs_loop/mecab", |b| {
        b.iter(|| {
            for doc in &docs {
                black_box(mecab.morphs(black_box(doc)).expect("analysis"));
            }
        })
    });
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
        for (name, analyzer) in [("mecab", &mecab), ("lindera", &lindera)] {
            group.bench_function(BenchmarkId::new(format!("batch_morphs/{name}"), threads), |b| {
                b.iter(|| pool.install(|| analyzer.batch_morphs(black_box(&docs), false).expect("analysis")))
            });
        }
        group.bench_function(BenchmarkId::new("batch_morphs_stem/mecab", threads), |b| {
            b.iter(|| pool.install(|| mecab.batch_morphs(black_box(&docs), true).expect("analysis")))
        });
    }
    group.finish();
}

fn context(c: &mut Criterion) {
    let docs = documents(0, DOCUMENTS);
    let mecab = Analyzer::new().expect("mecab-ko-dic");
    let plain = Analyzer::builder().engine(Engine::Context).build().expect("mecab-ko-dic");
    let corpus = documents(DOCUMENTS, TRAINING);
    let (model, _) = ContextModel::train(&plain, &corpus, ContextParams::default(), false).expect("training");
    let context = Analyzer::builder().engine(Engine::Context).context_model(model).build().expect("mecab-ko-dic");
    let mut group = c.benchmark_group("korean_nsmc_2k_docs");
    group.throughput(Throughput::Elements(docs.len() as u64));
    group.sample_size(20);
    for (name, analyzer) in [("mecab", &mecab), ("context_without_model", &plain), ("context", &context)] {
        group.bench_function(format!("pos_loop/{name}"), |b| {
            b.iter(|| {
                for doc in &docs {
                    black_box(analyzer.pos(black_box(doc)).expect("analysis"));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, analyze, context);
criterion_main!(benches);
