//! The main job: Korean movie-review sentiment with the lecture's model.
//!
//! ```text
//! cargo run --release --example sentiment -- "영화 노잼이네" "영화 꿀잼이다"
//! cargo run --release --example sentiment -- -- "-_- 이런영화가 존재하는게 신기."
//! cargo run --release --example sentiment -- --input reviews.txt      # one review per line; `-` = stdin
//! some-command | cargo run --release --example sentiment               # stdin when no text is given
//! cargo run --release --example sentiment -- --eval ../shared/data/nsmc/ratings_test.txt
//! cargo run --release --example sentiment -- --train [--data DIR] [--out DIR] [--kind lstm|gru|bilstm]
//!                                            [--pooling last|max] [--dropout P] [--no-clean]
//!                                            [--epochs N] [--checkpoints DIR] [--word2vec CORPUS]
//! ```
//!
//! The first forms load the model the repository ships (`models/sentiment/`, or `--model DIR`)
//! and write one tab-separated line per input text, in input order, none left out:
//! `text  label  probability  note` — `positive`/`negative`, the probability of that label,
//! and a note when the verdict deserves no trust (`empty text`, `no Korean words`,
//! `no known tokens`, `only 1 known token`: fewer than `MIN_KNOWN_TOKENS` = 2 tokens the
//! model knows). Tabs, newlines and backslashes inside a text are written as `\t`, `\n`, `\\`.
//! Texts come from the arguments (after `--` they may start with `-`), from `--input FILE`
//! (`-` for stdin), or from stdin when no text is given and stdin is not a terminal.
//! `--eval FILE` judges every review of a labelled NSMC-format file the same way and prints
//! accuracy, precision, recall, F1, the confusion matrix and the accuracy of flagged verdicts.
//! One text may have at most `MAX_TEXT_BYTES` (64 KiB): a longer line or argument is an error
//! naming it (file and line), read no further than the bound; a file with no review is an error.
//!
//! `--train` retrains the model: DIR holds `ratings_train.txt` and `ratings_test.txt`; without
//! `--data` the `MALMOI_NSMC_DIR` environment variable is used, then `../shared/data/nsmc`, and
//! when none exists the files are downloaded with `curl` from the NSMC project's public GitHub
//! location into `data/nsmc/`. Training runs on the shared engine (`malmoi::train`: an evaluation
//! per epoch, early stopping with the best epoch's weights restored) and writes the pipeline, its
//! training curves (`curve.svg`: loss per step, train and validation loss and accuracy per epoch)
//! and the test accuracy to `--out` (default `models/sentiment/`, weights stored as float16);
//! `--checkpoints DIR` saves every epoch there (`step-N/`, `LATEST`) and makes an interrupted run
//! resumable (rerun the same command); `--word2vec CORPUS` starts the word
//! vectors from word2vec trained on unlabelled reviews (e.g.
//! `../shared/data/nsmc/reviews_unlabeled.txt`).

use std::error::Error;
use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, ValueEnum};
use malmoi::datasets::nsmc::read_labeled_tsv;
use malmoi::embed::{Corpus, KeyedVectors, Word2Vec, Word2VecConfig};
use malmoi::seq::sentiment::{
    ModelConfig, Pooling, Prediction, PreprocessConfig, Preprocessor, SentimentPipeline, TextLines, TrainConfig,
};
use malmoi::tensor::checkpoint::Precision;
use malmoi::tensor::nn::CellKind;
use malmoi::tokenize::korean::Analyzer;
use malmoi::train::metrics::ConfusionMatrix;
use malmoi::train::{Checkpoints, Session};

const SHIPPED_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/sentiment");
const NSMC_URL: &str = "https://raw.githubusercontent.com/e9t/nsmc/master";
/// Lines judged per call when reading a file or stdin (verdicts do not depend on it).
const CHUNK: usize = 2_000;
/// Bytes of text judged per call when reading a file or stdin: with [`CHUNK`], what bounds
/// the memory of `--input` whatever the file.
const CHUNK_BYTES: usize = 1 << 20;
/// Largest `--epochs`.
const MAX_EPOCHS: u64 = 1_000;

/// Judges Korean movie reviews with the shipped NSMC model, evaluates it, or retrains it.
#[derive(Parser)]
#[command(after_help = "Output: one line per text: text<TAB>label<TAB>probability<TAB>note.")]
struct Cli {
    /// Reviews to judge; put them after `--` if one starts with `-`.
    texts: Vec<String>,
    /// Read one review per line from FILE (`-` = stdin); empty lines are judged too.
    #[arg(long, value_name = "FILE", conflicts_with = "texts")]
    input: Option<PathBuf>,
    /// Evaluate on a labelled NSMC-format file (id, document, label; header line).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["texts", "input"])]
    eval: Option<PathBuf>,
    /// The model directory to load.
    #[arg(long, value_name = "DIR", default_value = SHIPPED_MODEL)]
    model: PathBuf,
    /// Retrain on NSMC instead (see the options below).
    #[arg(long, conflicts_with_all = ["texts", "input", "eval"])]
    train: bool,
    #[command(flatten)]
    training: TrainArgs,
}

/// Options of `--train`.
#[derive(Args)]
struct TrainArgs {
    /// Directory with ratings_train.txt and ratings_test.txt.
    #[arg(long, value_name = "DIR", requires = "train")]
    data: Option<PathBuf>,
    /// Where the trained pipeline is saved.
    #[arg(long, value_name = "DIR", default_value = SHIPPED_MODEL, requires = "train")]
    out: PathBuf,
    /// The recurrent encoder.
    #[arg(long, value_enum, default_value_t = Kind::Lstm, requires = "train")]
    kind: Kind,
    /// How the encoder's outputs are reduced.
    #[arg(long, value_enum, default_value_t = PoolingArg::Last, requires = "train")]
    pooling: PoolingArg,
    /// Dropout on word vectors and pooled features during training, in [0, 1).
    #[arg(long, value_name = "P", default_value_t = 0.0, requires = "train")]
    dropout: f32,
    /// Keep every character (skip the lecture's Hangul-only cleaning).
    #[arg(long, requires = "train")]
    no_clean: bool,
    /// Upper bound on epochs (early stopping may end sooner), 1 to 1000.
    #[arg(long, value_name = "N", requires = "train", value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_EPOCHS))]
    epochs: Option<usize>,
    /// Save every epoch into DIR and resume an interrupted run found there (same options).
    #[arg(long, value_name = "DIR", requires = "train")]
    checkpoints: Option<PathBuf>,
    /// Start the word vectors from word2vec trained on CORPUS (one review per line).
    #[arg(long, value_name = "CORPUS", requires = "train")]
    word2vec: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Lstm,
    Gru,
    Bilstm,
}

#[derive(Clone, Copy, ValueEnum)]
enum PoolingArg {
    /// The final hidden state.
    Last,
    /// The maximum over time.
    Max,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn Error>> {
    if cli.train {
        return train(&cli.training);
    }
    let stdin = std::io::stdin();
    let source: Option<TextLines<Box<dyn BufRead>>> = match &cli.input {
        Some(path) if path.as_os_str() == "-" => Some(TextLines::new(Box::new(stdin.lock()), "<stdin>")),
        Some(path) => Some(TextLines::new(
            Box::new(std::io::BufReader::new(
                std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?,
            )),
            path,
        )),
        None if cli.texts.is_empty() && cli.eval.is_none() && !stdin.is_terminal() => {
            Some(TextLines::new(Box::new(stdin.lock()), "<stdin>"))
        }
        None if cli.texts.is_empty() && cli.eval.is_none() => {
            return Err("give reviews as arguments, --input FILE, --eval FILE or on stdin (see --help)".into());
        }
        None => None,
    };
    let pipeline = SentimentPipeline::load(&cli.model, Analyzer::new()?)?;
    if let Some(path) = &cli.eval {
        return evaluate(&pipeline, path);
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    match source {
        Some(lines) => judge_lines(&pipeline, lines, &mut out)?,
        None => judge(&pipeline, &cli.texts, &mut out)?,
    }
    out.flush()?;
    Ok(())
}

/// Judges `texts` and writes one TSV line per text.
fn judge<S: AsRef<str> + Sync>(
    pipeline: &SentimentPipeline,
    texts: &[S],
    out: &mut impl Write,
) -> Result<(), Box<dyn Error>> {
    for (text, verdict) in texts.iter().zip(pipeline.predict_batch(texts)?) {
        writeln!(out, "{}", tsv_line(text.as_ref(), &verdict))?;
    }
    Ok(())
}

/// Judges every line (empty ones included), at most `CHUNK` lines and `CHUNK_BYTES` bytes of
/// text at a time; a line that cannot be a text stops the run with its file and line number,
/// after the lines before it are judged.
fn judge_lines(
    pipeline: &SentimentPipeline,
    lines: TextLines<impl BufRead>,
    out: &mut impl Write,
) -> Result<(), Box<dyn Error>> {
    let (mut chunk, mut bytes) = (Vec::new(), 0);
    for line in lines {
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                judge(pipeline, &chunk, out)?;
                return Err(error.into());
            }
        };
        bytes += line.len();
        chunk.push(line);
        if chunk.len() == CHUNK || bytes >= CHUNK_BYTES {
            judge(pipeline, &chunk, out)?;
            (chunk, bytes) = (Vec::new(), 0);
        }
    }
    judge(pipeline, &chunk, out)
}

/// `text  label  probability  note`, the text escaped so that the line stays one TSV row.
fn tsv_line(text: &str, verdict: &Prediction) -> String {
    let escaped = text.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r");
    let label = if verdict.is_positive() { "positive" } else { "negative" };
    let note = verdict.caveat.map(|c| c.to_string()).unwrap_or_default();
    format!("{escaped}\t{label}\t{:.4}\t{note}", verdict.sentiment.confidence())
}

/// Accuracy, precision, recall, F1 and the confusion matrix on a labelled file, through
/// `predict_batch` as for any other input; then how the flagged verdicts fared.
fn evaluate(pipeline: &SentimentPipeline, path: &Path) -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let reviews = read_labeled_tsv(path)?;
    if reviews.is_empty() {
        return Err(format!("{}: no review after the header line, nothing to evaluate", path.display()).into());
    }
    let mut verdicts = Vec::with_capacity(reviews.len());
    for chunk in reviews.chunks(CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|r| r.document.as_str()).collect();
        verdicts.extend(pipeline.predict_batch(&texts)?);
    }
    let tally = |keep: &dyn Fn(&Prediction) -> bool| {
        verdicts.iter().zip(&reviews).filter(|(v, _)| keep(v)).fold(ConfusionMatrix::default(), |mut m, (v, r)| {
            m.add(v.is_positive(), r.label != 0);
            m
        })
    };
    let matrix = tally(&|_| true);
    println!("{}: {} reviews in {:.1} s", path.display(), reviews.len(), started.elapsed().as_secs_f64());
    println!(
        "accuracy {:.2} %  precision {:.4}  recall {:.4}  F1 {:.4}",
        100.0 * matrix.accuracy(),
        matrix.precision(),
        matrix.recall(),
        matrix.f1()
    );
    println!("{matrix}");
    let mut notes: Vec<String> = verdicts.iter().filter_map(|v| v.caveat.map(|c| c.to_string())).collect();
    notes.sort();
    notes.dedup();
    for note in notes {
        let flagged = tally(&|v: &Prediction| v.caveat.is_some_and(|c| c.to_string() == note));
        println!("  {note}: {} reviews, accuracy {:.2} %", flagged.total(), 100.0 * flagged.accuracy());
    }
    let trusted = tally(&|v: &Prediction| v.caveat.is_none());
    println!("  without a note: {} reviews, accuracy {:.2} %", trusted.total(), 100.0 * trusted.accuracy());
    Ok(())
}

fn train(args: &TrainArgs) -> Result<(), Box<dyn Error>> {
    let data = nsmc_dir(args.data.as_deref())?;
    let out = &args.out;
    // The pipeline is saved after the whole run: a directory that cannot be made fails now.
    std::fs::create_dir_all(out).map_err(|e| format!("--out {}: {e}", out.display()))?;
    let pooling = match args.pooling {
        PoolingArg::Max => Pooling::MaxOverTime,
        PoolingArg::Last => Pooling::LastHidden,
    };
    let mut config = TrainConfig::default();
    if let Some(epochs) = args.epochs {
        config.max_epochs = epochs;
    }
    let preprocess = PreprocessConfig { clean_hangul: !args.no_clean, ..PreprocessConfig::default() };
    let session =
        Session { checkpoints: args.checkpoints.clone().map(Checkpoints::new), progress: true, ..Session::default() };

    let started = Instant::now();
    let train = read_labeled_tsv(data.join("ratings_train.txt"))?;
    let test = read_labeled_tsv(data.join("ratings_test.txt"))?;
    let preprocessor = Preprocessor::new(preprocess.clone(), Analyzer::new()?);
    let (kind, dropout) = (args.kind, args.dropout);
    let model = |vocab_size| {
        let mut model = ModelConfig::lecture(vocab_size);
        model.pooling = pooling;
        model.dropout = dropout;
        match kind {
            Kind::Gru => model.encoder.kind = CellKind::Gru,
            Kind::Bilstm => model.encoder.bidirectional = true,
            Kind::Lstm => {}
        }
        model
    };
    let vectors = args.word2vec.as_deref().map(|corpus| word_vectors(corpus, &preprocess)).transpose()?;
    let mut trainer = SentimentPipeline::trainer(preprocessor).model(model).config(config).session(session);
    if let Some(vectors) = &vectors {
        trainer = trainer.pretrained_embeddings(vectors);
    }
    let (pipeline, log) = trainer.train(&train)?;
    let test_started = Instant::now();
    let matrix = pipeline.evaluate(&test)?;
    pipeline.save_with(out, Precision::F16)?;
    log.plot(&out.join("curve.svg"), 50)?;
    println!("vocabulary: {}", pipeline.vocab_size());
    let epochs = log.evals.len();
    let seconds = log.last_eval().map_or(0.0, |e| e.seconds);
    println!("epochs: {epochs} (mean {:.1} s each)", seconds / epochs.max(1) as f64);
    let val_loss = log.series("val_loss");
    if let Some((epoch, (_, loss))) = val_loss.iter().enumerate().min_by(|a, b| a.1.1.total_cmp(&b.1.1)) {
        println!("best epoch (its weights are kept): {} of {epochs}, val_loss {loss:.4}", epoch + 1);
    }
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
    let text = std::fs::read_to_string(corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
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
fn nsmc_dir(arg: Option<&Path>) -> Result<PathBuf, Box<dyn Error>> {
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
