//! The main job: Korean movie-review sentiment with the lecture's model.
//!
//! ```text
//! cargo run --release --example sentiment -- "영화 노잼이네" "영화 꿀잼이다"
//! cargo run --release --example sentiment -- --train [--data DIR] [--out DIR] [--kind lstm|gru|bilstm]
//!                                            [--pooling last|max] [--dropout P] [--no-clean]
//!                                            [--epochs N] [--checkpoints DIR] [--word2vec CORPUS]
//! ```
//!
//! The first form loads the model the repository ships (`models/sentiment/`, trained by the
//! second form on NSMC) and prints a verdict per sentence in the lecture's words. `--train`
//! retrains it: DIR holds `ratings_train.txt` and `ratings_test.txt`; without `--data` the
//! `MALMOI_NSMC_DIR` environment variable is used, then `../shared/data/nsmc`, and when none
//! exists the files are downloaded with `curl` from the NSMC project's public GitHub location
//! into `data/nsmc/`. Training writes the pipeline, its training curve (`curve.svg`) and the
//! test accuracy to `--out` (default `models/sentiment/`, weights stored as float16); `--checkpoints DIR` makes an
//! interrupted run resumable; `--word2vec CORPUS` starts the word vectors from word2vec trained
//! on unlabelled reviews (e.g. `../shared/data/nsmc/reviews_unlabeled.txt`).

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use malmoi::embed::{Corpus, KeyedVectors, Word2Vec, Word2VecConfig};
use malmoi::seq::nsmc::read_labeled_tsv;
use malmoi::seq::recurrent::CellKind;
use malmoi::seq::sentiment::{
    CheckpointDir, ModelConfig, Pooling, PreprocessConfig, Preprocessor, SentimentPipeline, TrainConfig,
};
use malmoi::tensor::checkpoint::Precision;
use malmoi::tokenize::korean::Analyzer;

const SHIPPED_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/sentiment");
const NSMC_URL: &str = "https://raw.githubusercontent.com/e9t/nsmc/master";

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--train") {
        return train(&args);
    }
    if args.is_empty() {
        return Err("usage: sentiment TEXT… | sentiment --train [--data DIR] [--out DIR]".into());
    }
    let model_dir = option(&args, "--model").map_or_else(|| PathBuf::from(SHIPPED_MODEL), PathBuf::from);
    let pipeline = SentimentPipeline::load(&model_dir, Analyzer::new()?)?;
    let texts: Vec<&String> = positional(&args);
    for (text, verdict) in texts.iter().zip(pipeline.predict_batch(&texts)?) {
        match verdict {
            Ok(sentiment) => println!("{text}\t{sentiment}"),
            Err(e) => println!("{text}\t판단할 수 없습니다: {e}"),
        }
    }
    Ok(())
}

fn train(args: &[String]) -> Result<(), Box<dyn Error>> {
    let data = nsmc_dir(option(args, "--data"))?;
    let out = option(args, "--out").map_or_else(|| PathBuf::from(SHIPPED_MODEL), PathBuf::from);
    let kind = option(args, "--kind").unwrap_or("lstm");
    let pooling = match option(args, "--pooling").unwrap_or("last") {
        "max" => Pooling::MaxOverTime,
        _ => Pooling::LastHidden,
    };
    let mut config = TrainConfig::default();
    if let Some(epochs) = option(args, "--epochs") {
        config.max_epochs = epochs.parse()?;
    }
    let dropout: f32 = option(args, "--dropout").map_or(Ok(0.0), str::parse)?;
    let preprocess =
        PreprocessConfig { clean_hangul: !args.iter().any(|a| a == "--no-clean"), ..PreprocessConfig::default() };
    let checkpoints = option(args, "--checkpoints").map(|dir| CheckpointDir(dir.into()));

    let started = Instant::now();
    let train = read_labeled_tsv(data.join("ratings_train.txt"))?;
    let test = read_labeled_tsv(data.join("ratings_test.txt"))?;
    let preprocessor = Preprocessor::new(preprocess.clone(), Analyzer::new()?);
    let model = |vocab_size| {
        let mut model = ModelConfig::lecture(vocab_size);
        model.pooling = pooling;
        model.dropout = dropout;
        match kind {
            "gru" => model.encoder.kind = CellKind::Gru,
            "bilstm" => model.encoder.bidirectional = true,
            _ => {}
        }
        model
    };
    let vectors = option(args, "--word2vec").map(|corpus| word_vectors(Path::new(corpus), &preprocess)).transpose()?;
    let mut trainer = SentimentPipeline::trainer(preprocessor).model(model).config(config);
    if let Some(dir) = checkpoints {
        trainer = trainer.checkpoints(dir);
    }
    if let Some(vectors) = &vectors {
        trainer = trainer.pretrained_embeddings(vectors);
    }
    let (pipeline, history) = trainer.train(&train)?;
    let seconds: Vec<f64> = history.epochs.iter().map(|e| e.seconds).collect();
    let test_started = Instant::now();
    let matrix = pipeline.evaluate(&test)?;
    pipeline.save_with(&out, Precision::F16)?;
    history.plot_svg(out.join("curve.svg"))?;
    println!("vocabulary: {}", pipeline.vocab_size());
    println!(
        "epochs: {} (mean {:.1} s each)",
        seconds.len(),
        seconds.iter().sum::<f64>() / seconds.len().max(1) as f64
    );
    println!(
        "test accuracy: {:.2} % (precision {:.4}, recall {:.4}, F1 {:.4}) in {:.1} s",
        matrix.accuracy() * 100.0,
        matrix.precision(),
        matrix.recall(),
        matrix.f1(),
        test_started.elapsed().as_secs_f64()
    );
    println!("saved to {} · total {:.0} s", out.display(), started.elapsed().as_secs_f64());
    Ok(())
}

/// word2vec (CBOW, 100 dimensions, 5 epochs) trained on `corpus`, one review per line,
/// preprocessed exactly as the classifier's input is.
fn word_vectors(corpus: &Path, preprocess: &PreprocessConfig) -> Result<KeyedVectors, Box<dyn Error>> {
    let started = Instant::now();
    let text = std::fs::read_to_string(corpus)?;
    let lines: Vec<&str> = text.lines().collect();
    let sentences = Preprocessor::new(preprocess.clone(), Analyzer::new()?).batch_tokens(&lines)?;
    let config = Word2VecConfig { vector_size: 100, min_count: 3, ..Word2VecConfig::default() };
    let (model, report) = Word2Vec::fit(config, &Corpus::Sentences(&sentences))?;
    eprintln!(
        "word2vec: {} words from {} reviews, {:.0} words/s, {:.0} s in all",
        model.wv().len(),
        lines.len(),
        report.effective_words_per_second(),
        started.elapsed().as_secs_f64()
    );
    Ok(model.into_keyed_vectors())
}

/// The NSMC directory: the argument, `MALMOI_NSMC_DIR`, the shared copy, or a download.
fn nsmc_dir(arg: Option<&str>) -> Result<PathBuf, Box<dyn Error>> {
    let candidates = [arg.map(PathBuf::from), std::env::var_os("MALMOI_NSMC_DIR").map(PathBuf::from)];
    if let Some(dir) = candidates.into_iter().flatten().next() {
        return Ok(dir);
    }
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/nsmc");
    if shared.join("ratings_train.txt").exists() {
        return Ok(shared);
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/nsmc");
    std::fs::create_dir_all(&target)?;
    for file in ["ratings_train.txt", "ratings_test.txt"] {
        let path = target.join(file);
        if !path.exists() {
            eprintln!("downloading {NSMC_URL}/{file}");
            let status =
                Command::new("curl").args(["-fsSL", "-o"]).arg(&path).arg(format!("{NSMC_URL}/{file}")).status()?;
            if !status.success() {
                return Err(format!("download of {file} failed; pass --data DIR with the NSMC files").into());
            }
        }
    }
    Ok(target)
}

fn option<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

/// Arguments that are neither flags nor flag values.
fn positional(args: &[String]) -> Vec<&String> {
    let takes_value =
        ["--model", "--data", "--out", "--kind", "--pooling", "--epochs", "--checkpoints", "--dropout", "--word2vec"];
    let mut out = Vec::new();
    let mut skip = false;
    for arg in args {
        if std::mem::take(&mut skip) {
            continue;
        }
        if takes_value.contains(&arg.as_str()) {
            skip = true;
        } else if !arg.starts_with("--") {
            out.push(arg);
        }
    }
    out
}
