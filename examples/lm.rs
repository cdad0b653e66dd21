//! Language models side by side: sentence scores, next-word suggestions, held-out perplexity.
//!
//! ```text
//! cargo run --release --example lm -- "나는 버스를 탔다" "나는 버스를 태운다"
//! cargo run --release --example lm -- --prefix "이 영화 정말" --top 10 "영화 최고"
//! cargo run --release --example lm -- --perplexity           # on the held-out reviews
//! ```
//!
//! The n-gram model (3-gram, interpolated modified Kneser-Ney) is built over the morphemes
//! (`Analyzer::morphs`) of `reviews_unlabeled.txt` except its last `--held-out` lines, and
//! cached as an ARPA file in `--model-dir`; later runs load it. Each model of the list scores
//! every sentence (log10 probability, perplexity per token, `</s>` included, OOV count, the
//! tokens with their log10 probabilities) and suggests the next words after `--prefix`.
//! `--perplexity` scores the held-out lines with every model (the same lines for all); the
//! perplexity is per token of each model's own tokenization, so across tokenizations (GPT's
//! BPE vs morphemes) compare the log10 probability per line.
//!
//! The LSTM LM (`malmoi_seq::lstm_lm::LstmLm`, the `--lstm-vocab` most frequent morphemes) trains
//! on the first `--lstm-lines` training lines for at most `--lstm-minutes` (one epoch at
//! most; the engine's time budget), is saved to `--model-dir`/lstm_heldoutN and loaded from
//! there on later runs; an interrupted training resumes from the engine's checkpoints in its
//! `checkpoints/` folder (`--retrain-lstm` continues a run the time budget ended).
//!
//! Knobs that multiply work are bounded as they are parsed: `--order` 1..=`MAX_ORDER` (10),
//! `--top` 1..=1000, `--lstm-vocab` 2..=200000, `--lstm-minutes` 0..=10080 (a week); the model
//! directory is created before any model is built.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use clap::builder::RangedU64ValueParser;
use malmoi::lm::{LanguageModel, MAX_ORDER, NgramBuilder, NgramModel, TokenizedLm, corpus_score};
use malmoi::seq::lstm_lm::{LstmLm, LstmLmConfig, TrainOptions};
use malmoi::tokenize::Analyzer;
use malmoi::train::{Checkpoints, Session};

/// Largest `--top`.
const MAX_TOP: u64 = 1_000;
/// Largest `--lstm-vocab` (the LSTM's embedding and output layers grow with it).
const MAX_LSTM_VOCAB: u64 = 200_000;
/// Largest `--lstm-minutes`: a week.
const MAX_LSTM_MINUTES: f64 = 7.0 * 24.0 * 60.0;

/// A count in `low..=high` (clap's error names the flag and the range).
fn count_in(low: u64, high: u64) -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(low..=high)
}

/// Minutes in `0..=MAX_LSTM_MINUTES` (not NaN, not negative).
fn minutes(text: &str) -> Result<f64, String> {
    let value: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=MAX_LSTM_MINUTES).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not in 0..={MAX_LSTM_MINUTES}"))
    }
}

#[derive(Parser)]
#[command(about = "Score sentences and suggest next words with each language model")]
struct Cli {
    /// Sentences to score (default: the lecture's pair).
    sentences: Vec<String>,
    /// Prefix whose next words to suggest.
    #[arg(long, default_value = "나는 버스를")]
    prefix: String,
    /// Number of suggestions, 1 to 1000.
    #[arg(long, default_value_t = 5, value_parser = count_in(1, MAX_TOP))]
    top: usize,
    /// The unlabelled reviews, one a line.
    #[arg(long, default_value = "../shared/data/nsmc/reviews_unlabeled.txt")]
    data: PathBuf,
    /// The last this many lines are held out of training (for --perplexity).
    #[arg(long, default_value_t = 5000)]
    held_out: usize,
    /// n-gram order, 1 to 10.
    #[arg(long, default_value_t = 3, value_parser = count_in(1, MAX_ORDER as u64))]
    order: usize,
    /// Where models are cached.
    #[arg(long, default_value = "target/lm-models")]
    model_dir: PathBuf,
    /// Rebuild the n-gram model even if a cached one exists.
    #[arg(long)]
    rebuild_ngram: bool,
    /// Train the LSTM LM even if a saved one exists, resuming its checkpoints
    /// (`--model-dir`/lstm_heldoutN/checkpoints; delete them to start over).
    #[arg(long)]
    retrain_lstm: bool,
    /// Also report every model's perplexity on the held-out lines.
    #[arg(long)]
    perplexity: bool,
    /// Training lines of the LSTM LM (the first ones).
    #[arg(long, default_value_t = 200_000)]
    lstm_lines: usize,
    /// Training-time limit of the LSTM LM, 0 to 10080 minutes.
    #[arg(long, default_value_t = 4.0, value_parser = minutes)]
    lstm_minutes: f64,
    /// Vocabulary size of the LSTM LM (most frequent morphemes; the rest are <unk>), 2 to 200000.
    #[arg(long, default_value_t = 10_000, value_parser = count_in(2, MAX_LSTM_VOCAB))]
    lstm_vocab: usize,
    /// Write the morphemes of the training and held-out lines (space-separated, one line each)
    /// to DIR/train.txt and DIR/heldout.txt, for reference tools, and exit.
    #[arg(long, value_name = "DIR")]
    dump_morphs: Option<PathBuf>,
    /// A GPT model directory (`examples/gpt.rs --train` writes one); used when it holds a
    /// config.json.
    #[arg(long, default_value = "models/gpt")]
    gpt: PathBuf,
    /// Seed of the LSTM's weights and batch order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn Error>> {
    let sentences = if cli.sentences.is_empty() {
        vec!["나는 버스를 탔다".into(), "나는 버스를 태운다".into()]
    } else {
        cli.sentences.clone()
    };
    let dir = cli.dump_morphs.as_ref().unwrap_or(&cli.model_dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let analyzer = Arc::new(Analyzer::new()?);
    let text = std::fs::read_to_string(&cli.data).map_err(|e| format!("{}: {e}", cli.data.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    let split = lines.len().checked_sub(cli.held_out).ok_or("--held-out exceeds the number of lines")?;
    let (train, held_out) = lines.split_at(split);

    if let Some(dir) = &cli.dump_morphs {
        return dump_morphs(&analyzer, dir, train, held_out);
    }
    let mut models: Vec<Box<dyn LanguageModel>> =
        vec![Box::new(ngram(&cli, &analyzer, train)?), Box::new(lstm(&cli, &analyzer, train)?)];
    if cli.gpt.join("config.json").exists() {
        models.push(Box::new(malmoi::transformer::generation::Generator::from_dir(&cli.gpt)?));
    } else {
        eprintln!("no GPT in {} (no config.json): comparing the other models", cli.gpt.display());
    }

    for model in &models {
        println!("== {}", model.name());
        for sentence in &sentences {
            let score = model.score(sentence)?;
            let tokens: Vec<String> =
                score.tokens.iter().zip(&score.log10_probs).map(|(t, p)| format!("{t}:{p:.2}")).collect();
            println!(
                "{sentence}\tlog10 p = {:.3}\tperplexity = {:.1}\toov = {}\t{}",
                score.log10_prob,
                score.perplexity,
                score.oov,
                tokens.join(" ")
            );
        }
        let next: Vec<String> =
            model.next_words(&cli.prefix, cli.top)?.iter().map(|w| format!("{} ({:.3})", w.word, w.prob)).collect();
        println!("next after \"{}\": {}", cli.prefix, next.join(", "));
        if cli.perplexity {
            let start = Instant::now();
            let corpus = corpus_score(model.as_ref(), held_out.iter().copied())?;
            println!(
                "held-out perplexity on the last {} lines: {:.4} per token (log10 p = {:.4}, {:.3} per line; {} tokens, {} OOV, {:.1} s)",
                held_out.len(),
                corpus.perplexity,
                corpus.log10_prob,
                corpus.log10_prob / held_out.len() as f64,
                corpus.tokens,
                corpus.oov,
                start.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

/// The cached n-gram model, or a new one over the morphemes of the training lines.
fn ngram(cli: &Cli, analyzer: &Arc<Analyzer>, train: &[&str]) -> Result<TokenizedLm, Box<dyn Error>> {
    let path = cli.model_dir.join(format!("reviews_morphs_{}gram_heldout{}.arpa", cli.order, cli.held_out));
    let model = if path.exists() && !cli.rebuild_ngram {
        let start = Instant::now();
        let model = NgramModel::read_arpa(&path)?;
        eprintln!("loaded {} in {:.1} s", path.display(), start.elapsed().as_secs_f64());
        model
    } else {
        build(cli, analyzer, train, &path)?
    };
    let name = format!("{}-gram modified Kneser-Ney (morphemes)", model.order());
    Ok(TokenizedLm::new(name, model, morphs(analyzer)))
}

/// The analyser's morphemes as a language model's tokenizer.
fn morphs(analyzer: &Arc<Analyzer>) -> impl Fn(&str) -> malmoi::lm::Result<Vec<String>> + Send + Sync + 'static {
    let analyzer = Arc::clone(analyzer);
    move |text| analyzer.morphs(text).map_err(malmoi::lm::Error::model)
}

/// The saved LSTM LM, or a new one trained on the first training lines.
fn lstm(cli: &Cli, analyzer: &Arc<Analyzer>, train: &[&str]) -> Result<TokenizedLm<LstmLm>, Box<dyn Error>> {
    let dir = cli.model_dir.join(format!("lstm_heldout{}", cli.held_out));
    let model = if dir.join("model.safetensors").exists() && !cli.retrain_lstm {
        LstmLm::load(&dir)?
    } else {
        let lines = &train[..cli.lstm_lines.min(train.len())];
        let sentences = analyzer.batch_morphs(lines, false)?;
        let vocab = LstmLm::vocabulary(&sentences, cli.lstm_vocab);
        let config = LstmLmConfig { vocab_size: vocab.len(), embedding_dim: 128, hidden_size: 256, num_layers: 1 };
        let mut model = LstmLm::new(config, vocab, cli.seed)?;
        let options = TrainOptions { max_len: 40, seed: cli.seed, ..TrainOptions::default() };
        let session = Session {
            checkpoints: Some(Checkpoints::new(dir.join("checkpoints"))),
            progress: true,
            time_budget: Some(std::time::Duration::from_secs_f64(cli.lstm_minutes * 60.0)),
            ..Session::default()
        };
        let start = Instant::now();
        let log = model.fit(&sentences, &options, session)?;
        let losses: Vec<String> = log.series("loss").iter().map(|(step, loss)| format!("{step}: {loss:.3}")).collect();
        eprintln!(
            "LSTM LM on {} lines: training loss (nats/token) by step {} after {:.0} s",
            lines.len(),
            losses.join(", "),
            start.elapsed().as_secs_f64()
        );
        model.save(&dir)?;
        model
    };
    let name = format!("LSTM LM ({} morphemes, hidden {})", model.config().vocab_size, model.config().hidden_size);
    Ok(TokenizedLm::new(name, model, morphs(analyzer)))
}

fn build(cli: &Cli, analyzer: &Analyzer, train: &[&str], path: &Path) -> Result<NgramModel, Box<dyn Error>> {
    let start = Instant::now();
    let sentences = analyzer.batch_morphs(train, false)?;
    let tokens: usize = sentences.iter().map(Vec::len).sum();
    eprintln!("morphemes of {} lines: {tokens} tokens in {:.1} s", train.len(), start.elapsed().as_secs_f64());
    let start = Instant::now();
    let model = NgramBuilder::new(cli.order).fit(&sentences)?;
    eprintln!(
        "{}-gram model {:?} n-grams built in {:.1} s ({} threads)",
        cli.order,
        model.ngram_counts(),
        start.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
    let start = Instant::now();
    model.write_arpa(path)?;
    eprintln!("wrote {} in {:.1} s", path.display(), start.elapsed().as_secs_f64());
    Ok(model)
}

fn dump_morphs(analyzer: &Analyzer, dir: &Path, train: &[&str], held_out: &[&str]) -> Result<(), Box<dyn Error>> {
    for (name, lines) in [("train.txt", train), ("heldout.txt", held_out)] {
        let mut text = String::new();
        for sentence in analyzer.batch_morphs(lines, false)? {
            text.push_str(&sentence.join(" "));
            text.push('\n');
        }
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
