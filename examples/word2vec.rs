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
//! vectors like gensim's `evaluate_word_pairs` / `evaluate_word_analogies`.

use clap::Parser;
use malmoi::embed::{Architecture, Corpus, KeyedVectors, Word2Vec, Word2VecConfig};
use std::path::PathBuf;

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
    /// Negative samples per positive one (default: the library's).
    #[arg(long, value_name = "N")]
    negative: Option<usize>,
    /// Vector width.
    #[arg(long, value_name = "N")]
    size: Option<usize>,
    /// Context window.
    #[arg(long, value_name = "N")]
    window: Option<usize>,
    /// Words seen fewer times are ignored.
    #[arg(long, value_name = "N")]
    min_count: Option<u64>,
    /// Down-sampling threshold of frequent words.
    #[arg(long, value_name = "T")]
    sample: Option<f64>,
    /// Passes over the corpus.
    #[arg(long, value_name = "N")]
    epochs: Option<usize>,
    /// Training threads.
    #[arg(long, value_name = "N")]
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let wv = match (&args.vectors, &args.corpus) {
        (Some(path), _) => KeyedVectors::load_word2vec_format(path, true)?,
        (None, Some(corpus)) => train(&args, corpus)?,
        (None, None) => unreachable!("clap requires --corpus or --vectors"),
    };
    evaluate(&wv, &args)?;
    for query in &args.queries {
        answer(&wv, query);
    }
    Ok(())
}

/// Builds the vocabulary, trains, saves, and returns the vectors.
fn train(args: &Args, corpus: &std::path::Path) -> Result<KeyedVectors, Box<dyn std::error::Error>> {
    let corpus = Corpus::File(corpus);
    let mut model = Word2Vec::new(args.config())?;
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

/// Scores the vectors on the word-pair and analogy files, if given.
fn evaluate(wv: &KeyedVectors, args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(path) = &args.pairs {
        let text = std::fs::read_to_string(path)?;
        let pairs: Vec<(&str, &str, f64)> = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split('\t');
                Some((f.next()?, f.next()?, f.next()?.parse().ok()?))
            })
            .collect();
        let score = wv.evaluate_word_pairs(&pairs);
        println!("word pairs: Spearman {:.3} on {} pairs ({} skipped)", score.spearman, score.used, score.skipped);
    }
    if let Some(path) = &args.analogies {
        let text = std::fs::read_to_string(path)?;
        let questions: Vec<[&str; 4]> =
            text.lines().filter_map(|l| l.split_whitespace().collect::<Vec<_>>().try_into().ok()).collect();
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
