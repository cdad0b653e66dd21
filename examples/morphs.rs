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
//! one thread and on rayon pools of 1 and 2 threads. `--engine` picks the
//! search: `mecab` (MeCab-ko's analyses, the default), `lindera` (lindera's
//! own segmenter) or `context` (candidate analyses chosen by context, lemmas in
//! dictionary form: 걸었다 → 걷/VV 었/EP 다/EF). `--repeat N` with `--dump-pos`
//! times N passes of the analysis on one thread and prints the best on stderr.
//! Texts that start with `-` go after `--`.
//!
//! The context engine reads its model from `--context-model` (default: the
//! per-user cache); when the file is missing it is trained once from
//! `--corpus` (default: NSMC's unlabelled and training reviews in
//! `../shared/data/nsmc/`) and saved there. `--train-context OUT` trains and
//! saves a model explicitly:
//!
//! ```text
//! cargo run --release --example morphs -- --train-context /tmp/context.tsv --corpus ../shared/data/nsmc/reviews_unlabeled.txt
//! cargo run --release --example morphs -- --engine context "4km 구간을 걸었다."
//! ```

use std::error::Error;
use std::io::Write;
use std::time::Instant;

use std::path::{Path, PathBuf};

use clap::{Parser, ValueEnum};
use malmoi::tokenize::korean::{Analyzer, ContextModel, ContextParams, Engine, default_cache_root};

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
    /// The lattice search and how it chooses.
    #[arg(long, value_enum, default_value_t = EngineArg::Mecab)]
    engine: EngineArg,
    /// With --dump-pos: time this many passes of the analysis on one thread (best is printed on stderr).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// The context engine's model (trained from --corpus and saved here when missing).
    #[arg(long, value_name = "PATH")]
    context_model: Option<PathBuf>,
    /// The context engine without a model: MeCab-ko's best analysis in dictionary form.
    #[arg(long, conflicts_with = "context_model")]
    no_context_model: bool,
    /// Train a context model from --corpus, save it to OUT and print what training measured.
    #[arg(long, value_name = "OUT", conflicts_with_all = ["texts", "dump", "dump_pos", "throughput"])]
    train_context: Option<PathBuf>,
    /// Texts the context model learns from (repeat for several files): NSMC TSVs (with their header) or one
    /// text per line.
    /// (Default: NSMC's unlabelled and training reviews in ../shared/data/nsmc/.)
    #[arg(long, value_name = "FILE", action = clap::ArgAction::Append)]
    corpus: Option<Vec<String>>,
}

/// The searches `--engine` offers.
#[derive(Clone, Copy, ValueEnum)]
enum EngineArg {
    /// MeCab-ko's analyses.
    Mecab,
    /// lindera's own segmenter.
    Lindera,
    /// Candidates chosen by context, in dictionary form.
    Context,
}

/// `--corpus`, else NSMC's unlabelled and training reviews (never its test set, which scores sentiment).
fn corpus(args: &Args) -> Vec<String> {
    args.corpus.clone().unwrap_or_else(|| {
        ["../shared/data/nsmc/reviews_unlabeled.txt", "../shared/data/nsmc/ratings_train.txt"]
            .map(String::from)
            .to_vec()
    })
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
    if let Some(out) = &args.train_context {
        return train_context(&corpus(&args), out).map(|_| ());
    }
    let builder = match args.engine {
        EngineArg::Mecab => Analyzer::builder(),
        EngineArg::Lindera => Analyzer::builder().engine(Engine::Lindera),
        EngineArg::Context if args.no_context_model => Analyzer::builder().engine(Engine::Context),
        EngineArg::Context => {
            let model = context_model(args.context_model.as_deref(), &args)?;
            Analyzer::builder().engine(Engine::Context).context_model(model)
        }
    };
    let analyzer = builder.build()?;
    if let Some(path) = &args.dump {
        return dump(&analyzer, &read_documents(path)?);
    }
    if let Some(path) = &args.dump_pos {
        return dump_pos(&analyzer, &read_documents(path)?, args.repeat);
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

/// The context model at `path` (default: the per-user cache), trained from
/// `--corpus` and saved there first when the file does not exist.
fn context_model(path: Option<&Path>, args: &Args) -> Result<ContextModel, Box<dyn Error>> {
    let path = match path {
        Some(path) => path.to_path_buf(),
        None => default_cache_root().ok_or("no cache directory: give --context-model")?.join("context-model-v2.tsv"),
    };
    if path.exists() {
        if args.corpus.is_some() {
            eprintln!("{}: using this model; --corpus is read only to train one (see --train-context)", path.display());
        }
        return Ok(ContextModel::load(&path)?);
    }
    let corpus = corpus(args);
    eprintln!("{}: no context model yet; training one from {}", path.display(), corpus.join(", "));
    train_context(&corpus, &path)
}

/// Trains a context model on the corpus files with MeCab-ko's search and saves it.
fn train_context(corpus: &[String], out: &Path) -> Result<ContextModel, Box<dyn Error>> {
    let mut texts = Vec::new();
    for path in corpus {
        texts.extend(read_texts(path)?);
    }
    let analyzer = Analyzer::builder().engine(Engine::Context).build()?;
    let started = Instant::now();
    let (model, report) = ContextModel::train(&analyzer, &texts, ContextParams::default(), true)?;
    model.save(out)?;
    eprintln!("context model: {report}; {:.0} s; saved {}", started.elapsed().as_secs_f64(), out.display());
    Ok(model)
}

/// The texts of a corpus file: the document column of an NSMC TSV (detected
/// by its header), else every non-empty line.
fn read_texts(path: &str) -> Result<Vec<String>, Box<dyn Error>> {
    let content = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    if content.starts_with(HEADER) {
        return Ok(read_documents(path)?.into_iter().map(|(_, document)| document).collect());
    }
    let texts: Vec<String> = content.lines().filter(|line| !line.trim().is_empty()).map(str::to_string).collect();
    let blank = content.lines().count() - texts.len();
    if blank > 0 {
        eprintln!("{path}: {blank} blank line(s) skipped, {} texts read", texts.len());
    }
    Ok(texts)
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

/// Analyses every document in parallel and prints `id<TAB>morph1 morph2 …` per document.
fn dump(analyzer: &Analyzer, rows: &[(String, String)]) -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let docs: Vec<&str> = rows.iter().map(|(_, doc)| doc.as_str()).collect();
    let morphs = analyzer.batch_morphs(&docs, false)?;
    let lines: Vec<String> = rows.iter().zip(morphs).map(|((id, _), m)| format!("{id}\t{}", m.join(" "))).collect();
    let seconds = started.elapsed().as_secs_f64();
    print_lines(&lines)?;
    eprintln!("{} documents in {seconds:.2} s ({:.0} docs/s)", rows.len(), rows.len() as f64 / seconds);
    Ok(())
}

/// Analyses every document `repeat` times on this thread, prints
/// `id<TAB>surface/TAG …` per document and the best pass's time on stderr.
fn dump_pos(analyzer: &Analyzer, rows: &[(String, String)], repeat: u32) -> Result<(), Box<dyn Error>> {
    let mut best = f64::INFINITY;
    let mut analyses = Vec::new();
    for _ in 0..repeat {
        let started = Instant::now();
        analyses = rows.iter().map(|(_, doc)| analyzer.pos(doc)).collect::<Result<Vec<_>, _>>()?;
        best = best.min(started.elapsed().as_secs_f64());
    }
    let lines: Vec<String> = rows
        .iter()
        .zip(&analyses)
        .map(|((id, _), pos)| {
            let tagged: Vec<String> = pos.iter().map(|(s, t)| format!("{s}/{t}")).collect();
            format!("{id}\t{}", tagged.join(" "))
        })
        .collect();
    print_lines(&lines)?;
    eprintln!(
        "malmoi analysis: {} texts, best of {repeat} passes {best:.4} s on one thread = {:.0} texts/s",
        rows.len(),
        rows.len() as f64 / best
    );
    Ok(())
}

fn print_lines(lines: &[String]) -> Result<(), Box<dyn Error>> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in lines {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
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
