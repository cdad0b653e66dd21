//! Writes a corpus as malmoi's Korean morphemes: one input line (or one TSV field) per output
//! line, morphemes separated by spaces, the format `examples/word2vec.rs`,
//! `benches/vectorize.rs` (`MALMOI_TOKENS`) and the gensim / scikit-learn reference scripts
//! read.
//!
//! ```text
//! cargo run --release --example tokenize_corpus -- ../shared/data/nsmc/reviews_unlabeled.txt /tmp/unlabeled_morphs.txt
//! cargo run --release --example tokenize_corpus -- ../shared/data/nsmc/ratings_train.txt /tmp/train_morphs.txt --tsv-column 1
//! ```
//!
//! With `--tsv-column N` the first line is a header and is skipped, and field `N` (0-based)
//! of every other line is analysed.

use clap::Parser;
use malmoi::tokenize::korean::Analyzer;
use std::io::{BufRead, BufReader, BufWriter, Write};

const BATCH: usize = 20_000;

/// Writes a corpus as space-separated Korean morphemes, one output line per input line.
#[derive(Parser)]
struct Args {
    /// The corpus, one text per line (or a TSV with --tsv-column).
    input: String,
    /// Where the morphemes are written (atomically).
    output: String,
    /// Skip the header line and analyse this 0-based tab-separated field of every line
    /// (a line without it gives an empty output line).
    #[arg(long, value_name = "N")]
    tsv_column: Option<usize>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Args { input, output, tsv_column: column } = Args::parse();
    let analyzer = Analyzer::new()?;
    let reader = BufReader::new(std::fs::File::open(&input)?);
    let tmp = format!("{output}.tmp");
    let mut out = BufWriter::new(std::fs::File::create(&tmp)?);
    let mut lines = reader.lines().skip(usize::from(column.is_some()));
    let (start, mut done) = (std::time::Instant::now(), 0usize);
    loop {
        let batch: Vec<String> =
            lines.by_ref().take(BATCH).map(|line| line.map(|l| field(&l, column))).collect::<Result<_, _>>()?;
        if batch.is_empty() {
            break;
        }
        for morphs in analyzer.batch_morphs(&batch, false)? {
            writeln!(out, "{}", morphs.join(" "))?;
        }
        done += batch.len();
        eprint!("\r{done} lines, {:.0} lines/s", done as f64 / start.elapsed().as_secs_f64());
    }
    out.into_inner()?.sync_all()?;
    std::fs::rename(&tmp, &output)?;
    eprintln!("\nwrote {output} in {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// The whole line, or its tab-separated field `column`.
fn field(line: &str, column: Option<usize>) -> String {
    match column {
        Some(c) => line.split('\t').nth(c).unwrap_or_default().to_string(),
        None => line.to_string(),
    }
}
