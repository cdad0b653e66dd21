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

use malmoi::embed::{Architecture, Corpus, KeyedVectors, Word2Vec, Word2VecConfig};
use std::path::PathBuf;

struct Args {
    corpus: Option<PathBuf>,
    vectors: Option<PathBuf>,
    pairs: Option<PathBuf>,
    analogies: Option<PathBuf>,
    config: Word2VecConfig,
    out: PathBuf,
    text: bool,
    model: Option<PathBuf>,
    queries: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut config = Word2VecConfig::default();
    let (mut corpus, mut model, mut text) = (None, None, false);
    let (mut vectors, mut pairs, mut analogies) = (None, None, None);
    let mut out = PathBuf::from("vectors.bin");
    let mut queries = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        let number = |v: String| v.parse::<f64>().map_err(|e| format!("{arg}: {e}"));
        match arg.as_str() {
            "--corpus" => corpus = Some(PathBuf::from(value()?)),
            "--vectors" => vectors = Some(PathBuf::from(value()?)),
            "--pairs" => pairs = Some(PathBuf::from(value()?)),
            "--analogies" => analogies = Some(PathBuf::from(value()?)),
            "--sg" => config.architecture = Architecture::SkipGram,
            "--hs" => config.hs = true,
            "--negative" => config.negative = number(value()?)? as usize,
            "--size" => config.vector_size = number(value()?)? as usize,
            "--window" => config.window = number(value()?)? as usize,
            "--min-count" => config.min_count = number(value()?)? as u64,
            "--sample" => config.sample = number(value()?)?,
            "--epochs" => config.epochs = number(value()?)? as usize,
            "--workers" => config.workers = number(value()?)? as usize,
            "--seed" => config.seed = number(value()?)? as u64,
            "--alpha" => config.alpha = number(value()?)? as f32,
            "--out" => out = PathBuf::from(value()?),
            "--text" => text = true,
            "--model" => model = Some(PathBuf::from(value()?)),
            "--quiet" => config.progress = false,
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            word => queries.push(word.to_string()),
        }
    }
    if corpus.is_none() && vectors.is_none() {
        return Err("--corpus PATH (or --vectors PATH) is required".into());
    }
    Ok(Args { corpus, vectors, pairs, analogies, config, out, text, model, queries })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args().map_err(|e| format!("{e}\nusage: see the top of examples/word2vec.rs"))?;
    let wv = match (&args.vectors, &args.corpus) {
        (Some(path), _) => KeyedVectors::load_word2vec_format(path, true)?,
        (None, Some(corpus)) => train(&args, corpus)?,
        (None, None) => unreachable!("checked by parse_args"),
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
    let mut model = Word2Vec::new(args.config.clone())?;
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
