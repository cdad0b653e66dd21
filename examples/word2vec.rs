//! Trains word2vec on a tokenized corpus, saves the vectors, and answers `most_similar`
//! queries.
//!
//! ```text
//! cargo run --release --example word2vec -- --corpus PATH [--sg] [--hs] [--negative 5]
//!     [--size 100] [--window 5] [--min-count 5] [--sample 1e-3] [--epochs 5] [--workers N]
//!     [--seed 1] [--out vectors.bin] [--text] [--model model.w2v] [--quiet]
//!     [--pairs PAIRS.tsv] [--analogies ANALOGIES.txt] [WORD ...]
//! cargo run --release --example word2vec -- --vectors gensim.bin [--pairs …] [--analogies …] [WORD ...]
//! ```
//!
//! The corpus has one sentence per line with space-separated tokens (for Korean, morphemes:
//! see the `tokenize_corpus` example). Vectors are saved in word2vec binary format (`--text`
//! for text), which gensim's `KeyedVectors.load_word2vec_format` reads; `--model` also saves
//! the full model for continued training. A query `A+B-C` asks for the analogy B - C + A.
//! `--vectors` skips training and loads word2vec binary vectors (e.g. gensim's) instead;
//! `--pairs` (word1 TAB word2 TAB score) and `--analogies` (a b c d per line) score the
//! vectors like gensim's `evaluate_word_pairs` / `evaluate_word_analogies`; their lines that
//! are not of that shape are reported (file:line) on stderr and left out.
//!
//! `--size`, `--window`, `--negative`, `--epochs` and `--workers` are bounded by the library's
//! `MAX_VECTOR_SIZE`, `MAX_WINDOW`, `MAX_NEGATIVE`, `MAX_EPOCHS` and `MAX_WORKERS`, checked as
//! the arguments are parsed; `--out` and `--model` are checked before training starts.

use clap::Parser;
use clap::builder::RangedU64ValueParser;
use malmoi::embed::word2vec::{MAX_EPOCHS, MAX_NEGATIVE, MAX_VECTOR_SIZE, MAX_WINDOW, MAX_WORKERS};
use malmoi::embed::{Architecture, Corpus, KeyedVectors, Word2Vec, Word2VecConfig};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A parser of a count in `low..=high` (clap's error names the flag and the range).
fn count_in(low: usize, high: usize) -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(low as u64..=high as u64)
}

/// Trains word2vec (or loads vectors), scores them and answers `most_similar` queries.
#[derive(Parser)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["corpus", "vectors"]))]
struct Args {
    /// Queries: a word, or `a+b-c` for the analogy b - c + a (after `--` if one starts with `-`).
    queries: Vec<String>,
    /// Tokenized corpus: one sentence per line, space-separated tokens.
    #[arg(long, value_name = "PATH")]
    corpus: Option<PathBuf>,
    /// Load word2vec binary vectors (e.g. gensim's) instead of training.
    #[arg(long, value_name = "PATH", conflicts_with = "corpus")]
    vectors: Option<PathBuf>,
    /// Score on word pairs (word1 TAB word2 TAB score).
    #[arg(long, value_name = "PATH")]
    pairs: Option<PathBuf>,
    /// Score on analogies (`a b c d` per line).
    #[arg(long, value_name = "PATH")]
    analogies: Option<PathBuf>,
    /// Skip-gram instead of CBOW.
    #[arg(long)]
    sg: bool,
    /// Hierarchical softmax.
    #[arg(long)]
    hs: bool,
    /// Negative samples per positive one (default: the library's), 0 to 1000.
    #[arg(long, value_name = "N", value_parser = count_in(0, MAX_NEGATIVE))]
    negative: Option<usize>,
    /// Vector width, 1 to 10000.
    #[arg(long, value_name = "N", value_parser = count_in(1, MAX_VECTOR_SIZE))]
    size: Option<usize>,
    /// Context window, 1 to 10000.
    #[arg(long, value_name = "N", value_parser = count_in(1, MAX_WINDOW))]
    window: Option<usize>,
    /// Words seen fewer times are ignored.
    #[arg(long, value_name = "N")]
    min_count: Option<u64>,
    /// Down-sampling threshold of frequent words.
    #[arg(long, value_name = "T")]
    sample: Option<f64>,
    /// Passes over the corpus, 1 to 10000.
    #[arg(long, value_name = "N", value_parser = count_in(1, MAX_EPOCHS))]
    epochs: Option<usize>,
    /// Training threads, 1 to 1024.
    #[arg(long, value_name = "N", value_parser = count_in(1, MAX_WORKERS))]
    workers: Option<usize>,
    /// Seed of every random choice.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Initial learning rate.
    #[arg(long, value_name = "A")]
    alpha: Option<f32>,
    /// Where the vectors are saved.
    #[arg(long, value_name = "PATH", default_value = "vectors.bin")]
    out: PathBuf,
    /// Save the vectors in word2vec text format instead of binary.
    #[arg(long)]
    text: bool,
    /// Also save the full model (for continued training) to PATH.
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

impl Args {
    /// The library's defaults with the options given on the command line.
    fn config(&self) -> Word2VecConfig {
        let mut config = Word2VecConfig::default();
        if self.sg {
            config.architecture = Architecture::SkipGram;
        }
        config.hs |= self.hs;
        config.progress &= !self.quiet;
        config.negative = self.negative.unwrap_or(config.negative);
        config.vector_size = self.size.unwrap_or(config.vector_size);
        config.window = self.window.unwrap_or(config.window);
        config.min_count = self.min_count.unwrap_or(config.min_count);
        config.sample = self.sample.unwrap_or(config.sample);
        config.epochs = self.epochs.unwrap_or(config.epochs);
        config.workers = self.workers.unwrap_or(config.workers);
        config.seed = self.seed.unwrap_or(config.seed);
        config.alpha = self.alpha.unwrap_or(config.alpha);
        config
    }
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let wv = match (&args.vectors, &args.corpus) {
        (Some(path), _) => KeyedVectors::load_word2vec_format(path, true)?,
        (None, Some(corpus)) => train(args, corpus)?,
        (None, None) => unreachable!("clap requires --corpus or --vectors"),
    };
    evaluate(&wv, args)?;
    for query in &args.queries {
        answer(&wv, query);
    }
    Ok(())
}

/// Builds the vocabulary, trains, saves, and returns the vectors.
fn train(args: &Args, corpus: &Path) -> Result<KeyedVectors, Box<dyn std::error::Error>> {
    let mut model = Word2Vec::new(args.config())?;
    check_writable(&args.out, "--out")?;
    if let Some(path) = &args.model {
        check_writable(path, "--model")?;
    }
    let corpus = Corpus::File(corpus);
    let start = std::time::Instant::now();
    model.build_vocab(&corpus)?;
    println!(
        "vocabulary: {} words from {} tokens ({:.1} s)",
        model.wv().len(),
        model.corpus_words(),
        start.elapsed().as_secs_f64()
    );
    let report = model.train(&corpus)?;
    println!(
        "trained {:?}, {} epochs: {} raw words, {} effective words in {:.1} s = {:.0} effective words/s",
        model.config().architecture,
        report.epochs,
        report.raw_words,
        report.effective_words,
        report.seconds,
        report.effective_words_per_second()
    );
    model.wv().save_word2vec_format(&args.out, !args.text)?;
    println!("saved vectors to {}", args.out.display());
    if let Some(path) = &args.model {
        model.save(path)?;
        println!("saved model to {}", path.display());
    }
    Ok(model.into_keyed_vectors())
}

/// [`malmoi::fs::check_writable`] with the flag named in the error.
fn check_writable(path: &Path, flag: &str) -> Result<(), String> {
    malmoi::fs::check_writable(path).map_err(|e| format!("{flag} {}: {e}", path.display()))
}

/// The lines of `text` (read from `path`) that `parse` accepts; every other line is reported
/// on stderr with its number, and how many were left out. Empty lines, comments (`#`) and
/// section titles of analogy files (`: capital-common-countries`) are no data and pass silently.
fn parse_lines<'t, T>(path: &Path, text: &'t str, expected: &str, parse: impl Fn(&'t str) -> Option<T>) -> Vec<T> {
    let mut parsed = Vec::new();
    let mut skipped = 0;
    for (index, line) in text.lines().enumerate().filter(|(_, l)| !(l.trim().is_empty() || l.starts_with(['#', ':']))) {
        match parse(line) {
            Some(item) => parsed.push(item),
            None => {
                skipped += 1;
                eprintln!("{}:{}: line left out: expected {expected}", path.display(), index + 1);
            }
        }
    }
    if skipped > 0 {
        eprintln!("{}: {skipped} line(s) left out, {} read", path.display(), parsed.len());
    }
    parsed
}

/// Scores the vectors on the word-pair and analogy files, if given.
fn evaluate(wv: &KeyedVectors, args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let read = |path: &Path| std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()));
    if let Some(path) = &args.pairs {
        let text = read(path)?;
        let pairs = parse_lines(path, &text, "word1<TAB>word2<TAB>score", |l| {
            let mut f = l.split('\t');
            let pair = (f.next()?, f.next()?, f.next()?.parse().ok()?);
            f.next().is_none().then_some(pair)
        });
        let score = wv.evaluate_word_pairs(&pairs);
        println!("word pairs: Spearman {:.3} on {} pairs ({} skipped)", score.spearman, score.used, score.skipped);
    }
    if let Some(path) = &args.analogies {
        let text = read(path)?;
        let questions: Vec<[&str; 4]> =
            parse_lines(path, &text, "four words", |l| l.split_whitespace().collect::<Vec<_>>().try_into().ok());
        let score = wv.evaluate_word_analogies(&questions)?;
        println!("analogies: {:.1}% of {} questions ({} skipped)", 100.0 * score.accuracy, score.used, score.skipped);
    }
    Ok(())
}

/// Prints the neighbours of `word`, or of the analogy `a+b-c`.
fn answer(wv: &KeyedVectors, query: &str) {
    let (positive, negative) = split_query(query);
    match wv.most_similar(&positive, &negative, 10) {
        Ok(neighbours) => {
            let list: Vec<String> = neighbours.iter().map(|(w, s)| format!("{w} {s:.3}")).collect();
            println!("{query}: {}", list.join(", "));
        }
        Err(e) => println!("{query}: {e}"),
    }
}

/// `a+b-c` → positive [a, b], negative [c].
fn split_query(query: &str) -> (Vec<&str>, Vec<&str>) {
    let (mut positive, mut negative) = (Vec::new(), Vec::new());
    let mut sign_positive = true;
    let mut start = 0;
    for (i, ch) in query.char_indices().chain([(query.len(), '+')]) {
        if ch == '+' || ch == '-' {
            let word = &query[start..i];
            if !word.is_empty() {
                if sign_positive { positive.push(word) } else { negative.push(word) }
            }
            sign_positive = ch == '+';
            start = i + ch.len_utf8();
        }
    }
    (positive, negative)
}
