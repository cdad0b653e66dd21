//! Frequency statistics and a word cloud for a text file.
//!
//! ```text
//! cargo run --release --example freq -- ../shared/data/nsmc/ratings_test.txt
//! cargo run --release --example freq -- FILE --out cloud.svg --top 30 --seed 7
//! cargo run --release --example freq -- FILE --english
//! ```
//!
//! Korean text (mostly Hangul) is reduced to nouns by the morphological
//! analyser, line by line in parallel, and the lecture's stopwords are
//! removed; other text goes through the English word tokenizer, keeping
//! tokens with a letter or digit. Prints the token count, unique count,
//! `most_common(N)` and hapax count, and writes a word-cloud SVG
//! (`wordcloud.svg` unless `--out PATH`).

use std::error::Error;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use malmoi::tokenize::freq::FreqDist;
use malmoi::tokenize::korean::Analyzer;
use malmoi::tokenize::text::{Stopwords, word_tokenize};
use malmoi::tokenize::wordcloud::WordCloud;
use rayon::prelude::*;

/// Frequency statistics and a word cloud for a text file.
#[derive(Parser)]
struct Args {
    /// The text file (one document per line).
    file: String,
    /// Where the word-cloud SVG is written.
    #[arg(long, default_value = "wordcloud.svg")]
    out: String,
    /// How many of the most common tokens are listed.
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Seed of the word-cloud layout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Treat the text as English even if it is mostly Hangul.
    #[arg(long)]
    english: bool,
}

/// True when most letters are Hangul syllables.
fn is_korean(text: &str) -> bool {
    let letters = text.chars().filter(|c| c.is_alphabetic());
    let (hangul, all) =
        letters.fold((0usize, 0usize), |(h, a), c| (h + usize::from(('가'..='힣').contains(&c)), a + 1));
    hangul * 2 > all
}

fn korean_nouns(lines: &[&str]) -> Result<FreqDist, Box<dyn Error>> {
    let analyzer = Analyzer::new()?;
    let stopwords = Stopwords::korean();
    let per_line: Vec<Vec<String>> = lines.par_iter().map(|line| analyzer.nouns(line)).collect::<Result<_, _>>()?;
    Ok(per_line.into_iter().flat_map(|nouns| stopwords.filter(nouns)).collect())
}

fn english_words(lines: &[&str]) -> FreqDist {
    let per_line: Vec<Vec<String>> = lines.par_iter().map(|line| word_tokenize(line)).collect();
    per_line.into_iter().flatten().filter(|token| token.chars().any(char::is_alphanumeric)).collect()
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.file).map_err(|e| format!("{}: {e}", args.file))?;
    let lines: Vec<&str> = text.lines().collect();
    let korean = !args.english && is_korean(&text);

    let start = Instant::now();
    let fd = if korean { korean_nouns(&lines)? } else { english_words(&lines) };
    let elapsed = start.elapsed().as_secs_f64();
    let method = if korean { "Korean nouns, lecture stopwords removed" } else { "English word_tokenize" };
    println!("file:      {} ({} lines; {method})", args.file, lines.len());
    println!("tokenized: {:.2} s ({:.0} lines/s)", elapsed, lines.len() as f64 / elapsed.max(1e-9));
    println!("tokens:    {}", fd.total());
    println!("unique:    {}", fd.unique());
    println!("hapaxes:   {}", fd.hapaxes().len());
    let rare = fd.rare_words(3);
    println!(
        "rare (<3): {} words ({:.1} % of the vocabulary, {:.1} % of the tokens)",
        rare.rare,
        100.0 * rare.rare_ratio(),
        100.0 * rare.rare_freq_ratio()
    );
    println!("most_common({}):", args.top);
    for (rank, (word, count)) in fd.most_common(args.top).into_iter().enumerate() {
        println!("  {:>3}. {word}\t{count}\t{:.2} %", rank + 1, 100.0 * fd.freq(word));
    }

    let start = Instant::now();
    let cloud = WordCloud::new().with_seed(args.seed).generate(&fd)?;
    cloud.write_svg(&args.out)?;
    println!(
        "word cloud: {} words placed in {:.0} ms → {}",
        cloud.words().len(),
        1e3 * start.elapsed().as_secs_f64(),
        args.out
    );
    Ok(())
}
