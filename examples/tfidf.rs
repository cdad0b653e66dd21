//! Prints the lecture's TF-IDF example: TF, DF, IDF (`log10(N / (df + 1))`) and TF-IDF tables
//! for 배가 부르다 / 배의 가격이 비싸다 / 진짜 사과가 진짜 좋다 / 아침엔 사과가 좋다, then the same
//! documents with scikit-learn's defaults (smooth IDF, l2 norm).
//!
//! ```text
//! cargo run --release --example tfidf
//! cargo run --release --example tfidf -- --tokens /tmp/train_morphs.txt
//! ```
//!
//! With `--tokens PATH` (one pre-tokenized document per line, space-separated, e.g. from the
//! `tokenize_corpus` example) it instead times `fit_transform` on that corpus (best of five,
//! wall clock and, on Linux, this process's CPU seconds), as
//! benches/reference/sklearn_tfidf.py does for scikit-learn. Errors name the file; a corpus too
//! small for the bigram run's `min_df = 2` (one document) says so. N-gram lengths are bounded by
//! the library (`malmoi::embed::count::MAX_NGRAM`).

use std::process::ExitCode;

use clap::Parser;
use malmoi::embed::{
    CountOptions, CountVectorizer, CsrMatrix, DocFrequency, IdfWeight, Norm, TfidfOptions, TfidfVectorizer,
};

const DOCS: [&str; 4] = ["배가 부르다", "배의 가격이 비싸다", "진짜 사과가 진짜 좋다", "아침엔 사과가 좋다"];

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(String::from).collect()
}

/// Spaces that fill `text` up to `width` terminal columns (Hangul is two columns wide).
fn fill(text: &str, width: usize) -> String {
    let used: usize = text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    " ".repeat(width.saturating_sub(used))
}

fn print_header(title: &str, terms: &[String]) {
    println!("\n{title}");
    println!("{:<8}{}", "", terms.iter().map(|t| fill(t, 9) + t).collect::<String>());
}

fn print_row(label: &str, values: impl Iterator<Item = f64>, decimals: usize) {
    let cells: String = values.map(|v| format!("{v:>9.decimals$}")).collect();
    println!("{label}{}{cells}", fill(label, 8));
}

fn print_matrix(title: &str, terms: &[String], m: &CsrMatrix, decimals: usize) {
    print_header(title, terms);
    for (r, row) in m.to_dense().rows().into_iter().enumerate() {
        print_row(&format!("문서{}", r + 1), row.iter().copied(), decimals);
    }
}

/// The lecture's TF-IDF tables, or `fit_transform` timings on a tokenized corpus.
#[derive(Parser)]
struct Args {
    /// Time `fit_transform` on PATH (one space-separated document per line) instead.
    #[arg(long, value_name = "PATH")]
    tokens: Option<String>,
}

fn main() -> ExitCode {
    let result = match Args::parse().tokens {
        Some(path) => time_corpus(&path),
        None => print_lecture_tables().map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Times `fit_transform` on a pre-tokenized corpus: unigrams, and uni+bigrams with min_df=2.
fn time_corpus(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let docs: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
    if docs.iter().all(Vec::is_empty) {
        return Err(format!("{path}: no tokens (expected one space-separated document per line)").into());
    }
    let bigrams = CountOptions { ngram_range: (1, 2), min_df: DocFrequency::Count(2), ..Default::default() };
    for (name, options) in [("unigrams", CountOptions::default()), ("uni+bigrams, min_df=2", bigrams)] {
        let (mut best_wall, mut best_cpu, mut shape) = (f64::INFINITY, f64::INFINITY, (0, 0, 0));
        for _ in 0..5 {
            let (wall, cpu) = (std::time::Instant::now(), cpu_seconds());
            let x = TfidfVectorizer::new(options.clone(), Default::default())
                .fit_transform(&docs)
                .map_err(|e| format!("{path}, {name}: {e}"))?;
            best_wall = best_wall.min(wall.elapsed().as_secs_f64());
            best_cpu = best_cpu.min(cpu_seconds() - cpu);
            shape = (x.shape().0, x.shape().1, x.nnz());
        }
        println!(
            "malmoi {name}: {best_wall:.3} s wall, {best_cpu:.2} CPU-s ({} docs, {} terms, {} non-zeros)",
            shape.0, shape.1, shape.2
        );
    }
    Ok(())
}

/// CPU seconds (user + system, all threads) used by this process so far; Linux only (NaN
/// elsewhere). Resolution: one clock tick (usually 10 ms).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}

fn print_lecture_tables() -> Result<(), malmoi::embed::EmbedError> {
    let mut counts = CountVectorizer::new();
    let tf = counts.fit_transform_texts(&DOCS, words)?;
    let terms = counts.feature_names()?.to_vec();
    print_matrix("TF", &terms, &tf, 0);

    let lecture = TfidfOptions { idf: IdfWeight::Lecture { base: 10.0 }, norm: Norm::None, ..Default::default() };
    let mut tfidf = TfidfVectorizer::new(Default::default(), lecture);
    let x = tfidf.fit_transform_texts(&DOCS, words)?;
    print_header("DF / IDF = log10(4 / (DF + 1))", &terms);
    let df = tfidf.document_frequency().unwrap_or_default();
    print_row("DF", df.iter().map(|&d| d as f64), 0);
    print_row("IDF", tfidf.idf().unwrap_or_default().iter().copied(), 2);
    print_matrix("TF-IDF = TF × IDF", &terms, &x, 2);

    let mut sklearn = TfidfVectorizer::default();
    let x = sklearn.fit_transform_texts(&DOCS, words)?;
    print_matrix("scikit-learn defaults (idf = ln((1 + N) / (1 + DF)) + 1, l2 norm)", &terms, &x, 2);
    Ok(())
}
