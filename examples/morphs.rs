//! Korean morphological analysis from the command line.
//!
//! ```text
//! cargo run --release --example morphs -- "아버지가방에들어가신다"
//! cargo run --release --example morphs -- --dump ../shared/data/nsmc/ratings_test.txt > ours.tsv
//! ```
//!
//! The first form prints morphs, pos, nouns and stems of each argument. With
//! `--dump FILE` it reads an NSMC TSV (`id<TAB>document<TAB>label`, no quoting),
//! analyses every document in parallel and prints `id<TAB>morph1 morph2 …` per
//! line, the input of `benches/reference/mecab_agreement.py`. `--dump-pos` prints
//! `surface/TAG`. A first line equal to NSMC's header `id<TAB>document<TAB>label`
//! is skipped, and stderr says whether there was one; every other line is a row.
//! A row that is not `id<TAB>document[<TAB>label]` (no tab, more than three
//! fields, not UTF-8, a document over 64 KiB) is left out of the output and
//! reported on stderr with its line number and why; nothing is dropped silently.
//! `--throughput FILE` times the analysis of every document of the file on
//! one thread and on rayon pools of 1 and 2 threads. `--lindera` switches to
//! lindera's own segmenter instead of the MeCab-compatible search. Texts that
//! start with `-` go after `--`.

use std::error::Error;
use std::io::Write;
use std::time::Instant;

use clap::Parser;
use malmoi::tokenize::korean::{Analyzer, Engine};

/// Korean morphological analysis: morphs, pos, nouns and stems, or whole-file dumps and timings.
#[derive(Parser)]
struct Args {
    /// Texts to analyse (아버지가방에들어가신다 when none is given).
    texts: Vec<String>,
    /// Print `id<TAB>morph1 morph2 …` for every document of an NSMC TSV.
    #[arg(long, value_name = "NSMC_TSV", conflicts_with_all = ["texts", "dump_pos", "throughput"])]
    dump: Option<String>,
    /// As --dump, with `surface/TAG` tokens.
    #[arg(long, value_name = "NSMC_TSV", conflicts_with_all = ["texts", "throughput"])]
    dump_pos: Option<String>,
    /// Time the analysis of every document on one thread and on pools of 1 and 2 threads.
    #[arg(long, value_name = "NSMC_TSV", conflicts_with = "texts")]
    throughput: Option<String>,
    /// Use lindera's own segmenter instead of the MeCab-compatible search.
    #[arg(long)]
    lindera: bool,
}

fn main() {
    if let Err(error) = run(Args::parse()) {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

/// NSMC's header line.
const HEADER: &str = "id\tdocument\tlabel";
/// Longest document analysed, in bytes (analysis takes tens of times the text in memory).
const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let engine = if args.lindera { Engine::Lindera } else { Engine::Mecab };
    let analyzer = Analyzer::builder().engine(engine).build()?;
    if let Some(path) = &args.dump {
        return dump(&analyzer, &read_documents(path)?, false);
    }
    if let Some(path) = &args.dump_pos {
        return dump(&analyzer, &read_documents(path)?, true);
    }
    if let Some(path) = &args.throughput {
        return throughput(&analyzer, &read_documents(path)?);
    }
    if args.texts.is_empty() {
        return show(&analyzer, "아버지가방에들어가신다");
    }
    for text in &args.texts {
        show(&analyzer, text)?;
    }
    Ok(())
}

fn show(analyzer: &Analyzer, text: &str) -> Result<(), Box<dyn Error>> {
    println!("text:   {text}");
    println!("morphs: {:?}", analyzer.morphs(text)?);
    println!("pos:    {:?}", analyzer.pos(text)?);
    println!("nouns:  {:?}", analyzer.nouns(text)?);
    println!("stems:  {:?}", analyzer.morphs_stem(text)?);
    Ok(())
}

/// (id, document) rows of an NSMC TSV, split on tabs only. The header line, if the file has
/// one, is skipped; stderr says whether it had one and lists every line left out and why.
fn read_documents(path: &str) -> Result<Vec<(String, String)>, Box<dyn Error>> {
    let content = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    if content.is_empty() {
        eprintln!("{path}: empty file, no rows");
        return Ok(Vec::new());
    }
    let content = content.strip_suffix(b"\n").unwrap_or(&content);
    let mut rows = Vec::new();
    let mut skipped = 0;
    for (index, line) in content.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if index == 0 {
            let has_header = line == HEADER.as_bytes();
            eprintln!("{path}: {}", if has_header { "header line skipped" } else { "no header line; line 1 is a row" });
            if has_header {
                continue;
            }
        }
        match parse_row(line) {
            Ok(row) => rows.push(row),
            Err(reason) => {
                skipped += 1;
                eprintln!("{path}:{}: row left out: {reason}", index + 1);
            }
        }
    }
    if skipped > 0 {
        eprintln!("{path}: {skipped} row(s) left out, {} read", rows.len());
    }
    Ok(rows)
}

/// One `id<TAB>document[<TAB>label]` row, or why the line is not one.
fn parse_row(line: &[u8]) -> Result<(String, String), String> {
    let line = std::str::from_utf8(line).map_err(|e| format!("not UTF-8 ({e})"))?;
    let fields: Vec<&str> = line.split('\t').collect();
    match fields[..] {
        [""] => Err("empty line".into()),
        [_] => Err("no tab: expected id<TAB>document<TAB>label".into()),
        [_, document, ..] if document.len() > MAX_DOCUMENT_BYTES => {
            Err(format!("the document is {} bytes, over the {MAX_DOCUMENT_BYTES}-byte bound", document.len()))
        }
        [id, document] | [id, document, _] => Ok((id.to_string(), document.to_string())),
        _ => Err(format!("{} tab-separated fields: expected id<TAB>document<TAB>label", fields.len())),
    }
}

/// Analyses every document and prints one line per document.
fn dump(analyzer: &Analyzer, rows: &[(String, String)], with_tags: bool) -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let lines: Vec<String> = if with_tags {
        rows.iter()
            .map(|(id, doc)| {
                let pos = analyzer.pos(doc)?;
                let tagged: Vec<String> = pos.iter().map(|(s, t)| format!("{s}/{t}")).collect();
                Ok(format!("{id}\t{}", tagged.join(" ")))
            })
            .collect::<Result<_, Box<dyn Error>>>()?
    } else {
        let docs: Vec<&str> = rows.iter().map(|(_, doc)| doc.as_str()).collect();
        let morphs = analyzer.batch_morphs(&docs, false)?;
        rows.iter().zip(morphs).map(|((id, _), m)| format!("{id}\t{}", m.join(" "))).collect()
    };
    let seconds = started.elapsed().as_secs_f64();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in &lines {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    eprintln!("{} documents in {seconds:.2} s ({:.0} docs/s)", rows.len(), rows.len() as f64 / seconds);
    Ok(())
}

/// Documents per second: a plain loop, then `batch_morphs` (without and with
/// stems) on 1 and 2 threads.
fn throughput(analyzer: &Analyzer, rows: &[(String, String)]) -> Result<(), Box<dyn Error>> {
    let docs: Vec<&str> = rows.iter().map(|(_, doc)| doc.as_str()).collect();
    let report = |label: &str, seconds: f64, morphemes: usize| {
        println!(
            "{label}: {} docs in {seconds:.2} s = {:.0} docs/s, {:.0} morphemes/s",
            docs.len(),
            docs.len() as f64 / seconds,
            morphemes as f64 / seconds
        );
    };
    let started = Instant::now();
    let cpu_started = thread_cpu_seconds();
    let mut morphemes = 0;
    for doc in &docs {
        morphemes += analyzer.morphs(doc)?.len();
    }
    report("loop over morphs(), 1 thread", started.elapsed().as_secs_f64(), morphemes);
    if let (Some(before), Some(after)) = (cpu_started, thread_cpu_seconds()) {
        report("  the same per CPU-second of this thread", after - before, morphemes);
    }
    for (stem, threads) in [(false, 1), (false, 2), (true, 1), (true, 2)] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
        let started = Instant::now();
        let cpu_started = process_cpu_seconds();
        let result = pool.install(|| analyzer.batch_morphs(&docs, stem))?;
        let morphemes = result.iter().map(Vec::len).sum();
        report(&format!("batch_morphs(stem={stem}), {threads} thread(s)"), started.elapsed().as_secs_f64(), morphemes);
        if let (Some(before), Some(after)) = (cpu_started, process_cpu_seconds()) {
            report("  the same per CPU-second of the process", after - before, morphemes);
        }
    }
    Ok(())
}

/// CPU time this thread has run, from Linux's `/proc/thread-self/schedstat`
/// (nanoseconds on CPU): wall-clock figures on a shared machine mix in time
/// spent waiting for a core.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(nanos / 1e9)
}

/// CPU time of the whole process (all threads), from Linux's `/proc/self/stat`
/// (user + system time in clock ticks of 1/100 s).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
