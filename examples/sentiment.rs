//! The main job: Korean movie-review sentiment with the lecture's model, or with a fine-tuned
//! encoder (BERT, ELECTRA, RoBERTa, XLM-R).
//!
//! ```text
//! cargo run --release --example sentiment -- "영화 노잼이네" "영화 꿀잼이다"
//! cargo run --release --example sentiment -- -- "-_- 이런영화가 존재하는게 신기."
//! cargo run --release --example sentiment -- --input reviews.txt      # one review per line; `-` = stdin
//! some-command | cargo run --release --example sentiment               # stdin when no text is given
//! cargo run --release --example sentiment -- --eval ../shared/data/nsmc/ratings_test.txt [--model DIR]
//! cargo run --release --example sentiment -- --train [--data DIR] [--out DIR] [--kind lstm|gru|bilstm]
//!                                            [--pooling last|max] [--dropout P] [--no-clean]
//!                                            [--epochs N] [--checkpoints DIR] [--word2vec CORPUS]
//! cargo run --release --example sentiment -- --train --encoder DIR --out DIR [--data DIR] [--epochs N]
//!                                            [--max-len N] [--batch N] [--lr LR] [--warmup SHARE]
//!                                            [--patience N] [--eval-every STEPS] [--validation N]
//!                                            [--limit N] [--seed N] [--checkpoints DIR]
//!                                            [--lora [--lora-r R] [--lora-alpha A] [--lora-targets a,b]]
//! cargo run --release --example sentiment -- … [--analyzer mecab|context] [--context-model PATH]
//! ```
//!
//! The first forms load the model the repository ships (`models/sentiment/`, or `--model DIR`)
//! and write one tab-separated line per input text, in input order, none left out:
//! `text  label  probability  note` — `positive`/`negative`, the probability of that label,
//! and a note when the verdict deserves no trust (`empty text`, `no Korean words`,
//! `no known tokens`, `only 1 known token`: fewer than `MIN_KNOWN_TOKENS` = 2 tokens the
//! model knows; for an encoder, `empty text` and `truncated to N tokens`). Tabs, newlines and
//! backslashes inside a text are written as `\t`, `\n`, `\\`.
//! Texts come from the arguments (after `--` they may start with `-`), from `--input FILE`
//! (`-` for stdin), or from stdin when no text is given and stdin is not a terminal.
//! `--eval FILE` judges every review of a labelled NSMC-format file the same way and prints
//! accuracy, precision, recall, F1, the confusion matrix and the accuracy of flagged verdicts.
//! One text may have at most `MAX_TEXT_BYTES` (64 KiB): a longer line or argument is an error
//! naming it (file and line), read no further than the bound; a file with no review is an error.
//!
//! `--model DIR` may be a fine-tuned encoder folder (Hugging Face's layout, recognised by the
//! `model_type` its `config.json` names; the one `--train --encoder` writes, or any two-class
//! `…ForSequenceClassification` folder with its `tokenizer.json`): reviews are encoded by its
//! tokenizer, cut at the maximum length its `tokenizer.json` stores, and judged in inference
//! mode, so a verdict does not depend on the other texts of the batch. A folder without a
//! classification head (a pre-trained encoder: fine-tune it first), whose head has another
//! number of classes, or whose tokenizer has ids beyond the model's vocabulary, is an error.
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
//!
//! `--train --encoder DIR` fine-tunes the Hugging Face encoder folder DIR instead (BERT, ELECTRA,
//! RoBERTa or XLM-R with its `tokenizer.json`; a pre-trained base, masked-LM or discriminator
//! folder gets a fresh two-class head, a two-class classifier keeps its own): the training
//! reviews (the first `--limit N` of them; `--validation N` of them, drawn by `--seed`, held out
//! for the evaluations: by default a tenth, at most 2,000) are encoded as `[CLS] review [SEP]`
//! (`<s> … </s>`), at most `--max-len` tokens (default: what the folder's tokenizer stores, else
//! the model's positions; longer reviews are cut and counted), and trained `--epochs` epochs
//! (default 1) in length-bucketed batches of `--batch` with AdamW at `--lr`, a linear warm-up over
//! the share `--warmup` of the steps then linear decay, an evaluation every epoch (or
//! `--eval-every` steps), early stopping on the validation loss after `--patience` evaluations
//! without improvement (the best weights kept), checkpoints in `--checkpoints DIR` (rerun the same
//! command to resume). `--lora` trains LoRA adapters (`--lora-r`, `--lora-alpha`,
//! `--lora-targets`; default `query,value`) and the head instead of every weight, and merges
//! them at the end. `--out DIR` (required) receives a Hugging Face folder — `config.json` with
//! `id2label` `{0: negative, 1: positive}`, `model.safetensors`, the tokenizer files — that
//! `--model DIR`, `--eval` and `transformers`' `AutoModelForSequenceClassification` load, with
//! `curve.svg` and `log.jsonl`; then the saved folder is evaluated on `ratings_test.txt`.
//!
//! `--analyzer` picks the morpheme analyser of the shipped kind of pipeline, wherever it splits
//! text (judging, `--eval`, `--train`, `--word2vec`): `mecab` (the default) is MeCab-ko's best
//! analysis, as the shipped model was trained with; `context` chooses among MeCab-ko's candidate
//! analyses by context, in dictionary form (걸었다 → 걷 었 다), with the model `--context-model
//! PATH` (required with `context`, refused without it). An encoder's tokenizer ignores both.

use std::error::Error;
use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, ValueEnum};
use malmoi::datasets::nsmc::{LabeledText, read_labeled_tsv};
use malmoi::embed::{Corpus, KeyedVectors, Word2Vec, Word2VecConfig};
use malmoi::seq::sentiment::{
    ModelConfig, Pooling, Prediction, PreprocessConfig, Preprocessor, SentimentPipeline, TextLines, TrainConfig,
};
use malmoi::tensor::checkpoint::Precision;
use malmoi::tensor::nn::{CellKind, Module};
use malmoi::tokenize::korean::{Analyzer, ContextModel, Engine};
use malmoi::train::metrics::ConfusionMatrix;
use malmoi::train::{Checkpoints, EarlyStopping, Session, Trainer};
use malmoi::transformer::SequenceClassifier;
use malmoi::transformer::bert::BertInput;
use malmoi::transformer::fine_tune::{
    ClassifierConfig, ClassifierTraining, EncodedText, Labeled, TextEncoder, read_labels, save_classifier,
};
use malmoi::transformer::lora::{LoraConfig, TargetModules};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

const SHIPPED_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/sentiment");
const NSMC_URL: &str = "https://raw.githubusercontent.com/e9t/nsmc/master";
/// Lines judged per call when reading a file or stdin (verdicts do not depend on it).
const CHUNK: usize = 2_000;
/// Bytes of text judged per call when reading a file or stdin: with [`CHUNK`], what bounds
/// the memory of `--input` whatever the file.
const CHUNK_BYTES: usize = 1 << 20;
/// Largest `--epochs`.
const MAX_EPOCHS: u64 = 1_000;
/// The classes of an encoder this example fine-tunes, in NSMC's label order.
const LABELS: [&str; 2] = ["negative", "positive"];
/// Reviews an encoder judges at once, of similar length (verdicts do not depend on it).
const ENCODER_BATCH: usize = 64;
/// Most reviews held out from the training file for the evaluations of `--encoder`.
const VALIDATION: usize = 2_000;

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
    /// The model directory to load: the shipped kind, or a fine-tuned encoder folder.
    #[arg(long, value_name = "DIR", default_value = SHIPPED_MODEL)]
    model: PathBuf,
    /// Retrain on NSMC instead (see the options below).
    #[arg(long, conflicts_with_all = ["texts", "input", "eval"])]
    train: bool,
    #[command(flatten)]
    analysis: AnalyzerArgs,
    #[command(flatten)]
    training: TrainArgs,
}

/// Which morpheme analyser the shipped kind of pipeline uses.
#[derive(Args)]
struct AnalyzerArgs {
    /// The morpheme analyser: MeCab-ko's best analysis, or its candidates chosen by context.
    #[arg(long, value_enum, default_value_t = AnalyzerKind::Mecab)]
    analyzer: AnalyzerKind,
    /// The context model of `--analyzer context` (a file `ContextModel::save` wrote).
    #[arg(long, value_name = "PATH", required_if_eq("analyzer", "context"))]
    context_model: Option<PathBuf>,
}

/// Options of `--train`.
#[derive(Args)]
struct TrainArgs {
    /// Directory with ratings_train.txt and ratings_test.txt.
    #[arg(long, value_name = "DIR", requires = "train")]
    data: Option<PathBuf>,
    /// Where the trained model is saved (default for the LSTM: the shipped model's directory;
    /// required with --encoder).
    #[arg(long, value_name = "DIR", requires = "train")]
    out: Option<PathBuf>,
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
    /// Fine-tune this Hugging Face encoder folder (BERT, ELECTRA, RoBERTa, XLM-R) instead.
    #[arg(long, value_name = "DIR", requires = "train",
          conflicts_with_all = ["kind", "pooling", "dropout", "no_clean", "word2vec"])]
    encoder: Option<PathBuf>,
    #[command(flatten)]
    fine_tuning: EncoderArgs,
}

/// Options of `--train --encoder`.
#[derive(Args)]
struct EncoderArgs {
    /// Most tokens per review, special tokens included (longer reviews are cut and counted).
    #[arg(long, value_name = "N", requires = "encoder")]
    max_len: Option<usize>,
    /// Reviews per step.
    #[arg(long, value_name = "N", default_value_t = 32, requires = "encoder")]
    batch: usize,
    /// Peak learning rate (AdamW).
    #[arg(long, value_name = "LR", default_value_t = 5e-5, requires = "encoder")]
    lr: f32,
    /// Share of the steps spent warming the learning rate up (then linear decay to 0).
    #[arg(long, value_name = "SHARE", default_value_t = 0.1, requires = "encoder")]
    warmup: f32,
    /// Stop after N evaluations without a lower validation loss (the best weights are kept).
    #[arg(long, value_name = "N", requires = "encoder")]
    patience: Option<usize>,
    /// Evaluate (and checkpoint) every STEPS steps instead of once per epoch.
    #[arg(long, value_name = "STEPS", requires = "encoder")]
    eval_every: Option<usize>,
    /// Training reviews held out for the evaluations (default: a tenth, at most 2,000).
    #[arg(long, value_name = "N", requires = "encoder")]
    validation: Option<usize>,
    /// Use only the first N training reviews (quick runs).
    #[arg(long, value_name = "N", requires = "encoder")]
    limit: Option<usize>,
    /// Seed of the held-out draw, the batch order, dropout and a fresh head.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "encoder")]
    seed: u64,
    /// Train LoRA adapters on the encoder (and the head) instead of every weight.
    #[arg(long, requires = "encoder")]
    lora: bool,
    /// LoRA rank.
    #[arg(long, value_name = "R", default_value_t = 8, requires = "lora")]
    lora_r: usize,
    /// LoRA alpha (the update is scaled by alpha / r).
    #[arg(long, value_name = "A", default_value_t = 16.0, requires = "lora")]
    lora_alpha: f32,
    /// Modules to adapt, comma-separated (`query,value`, `all-linear`; default: PEFT's for the
    /// architecture, query and value).
    #[arg(long, value_name = "LIST", requires = "lora")]
    lora_targets: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Lstm,
    Gru,
    Bilstm,
}

#[derive(Clone, Copy, ValueEnum)]
enum AnalyzerKind {
    /// MeCab-ko's best analysis (what the shipped model was trained with).
    Mecab,
    /// MeCab-ko's candidate analyses chosen by context, in dictionary form.
    Context,
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
        return match &cli.training.encoder {
            Some(encoder) => train_encoder(encoder, &cli.training, &cli.analysis),
            None => train(&cli.training, &cli.analysis),
        };
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
    let mut judge = Judge::load(&cli.model, &cli.analysis)?;
    if let Some(path) = &cli.eval {
        return evaluate(&mut judge, path);
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    match source {
        Some(lines) => judge_lines(&mut judge, lines, &mut out)?,
        None => judge_texts(&mut judge, &cli.texts, &mut out)?,
    }
    out.flush()?;
    Ok(())
}

/// A verdict on one text, whichever the model.
struct Verdict {
    positive: bool,
    /// The probability of the verdict's label.
    probability: f32,
    /// Why the verdict deserves no trust, if it does not.
    note: Option<String>,
}

impl From<Prediction> for Verdict {
    fn from(prediction: Prediction) -> Self {
        Verdict {
            positive: prediction.is_positive(),
            probability: prediction.sentiment.confidence(),
            note: prediction.caveat.map(|c| c.to_string()),
        }
    }
}

/// What judges reviews: the shipped kind of pipeline (morphemes and an LSTM) or a fine-tuned
/// encoder.
enum Judge {
    Pipeline(Box<SentimentPipeline>),
    Encoder(Box<EncoderJudge>),
}

impl Judge {
    /// The model of `dir`: an encoder when its `config.json` names a `model_type`, else the
    /// shipped kind of pipeline with the analyser `analysis` chooses.
    fn load(dir: &Path, analysis: &AnalyzerArgs) -> Result<Self, Box<dyn Error>> {
        match hugging_face_config(dir) {
            Some(config) => Ok(Judge::Encoder(Box::new(EncoderJudge::load(dir, &config)?))),
            None => Ok(Judge::Pipeline(Box::new(SentimentPipeline::load(dir, analyzer(analysis)?)?))),
        }
    }

    /// Verdicts on `texts`, in order.
    fn verdicts<S: AsRef<str> + Sync>(&mut self, texts: &[S]) -> Result<Vec<Verdict>, Box<dyn Error>> {
        Ok(match self {
            Judge::Pipeline(pipeline) => pipeline.predict_batch(texts)?.into_iter().map(Verdict::from).collect(),
            Judge::Encoder(encoder) => encoder.verdicts(texts)?,
        })
    }
}

/// The `config.json` of `dir` when it is a JSON object naming a `model_type` (Hugging Face's
/// layout); anything else is left to the pipeline's loader and its errors.
fn hugging_face_config(dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    serde_json::from_str::<serde_json::Value>(&text).ok().filter(|json| json.get("model_type").is_some())
}

/// A fine-tuned two-class encoder folder and its tokenizer.
struct EncoderJudge {
    model: SequenceClassifier,
    text: TextEncoder,
    /// The class `id2label` names `positive` (1 when none does).
    positive: usize,
}

impl EncoderJudge {
    /// Loads the classifier folder `dir` (whose `config.json` is `config`), in inference mode;
    /// a folder without a classification head (a pre-trained encoder) is an error, not a
    /// random head's verdicts.
    fn load(dir: &Path, config: &serde_json::Value) -> Result<Self, Box<dyn Error>> {
        let architectures = config.get("architectures").cloned().unwrap_or_default();
        let mut names = architectures.as_array().into_iter().flatten().filter_map(|a| a.as_str());
        if !names.any(|a| a.ends_with("ForSequenceClassification")) {
            let dir = dir.display();
            let what = format!("architectures {architectures}");
            return Err(format!(
                "{dir}: {what} is not a sequence classifier; fine-tune it with --train --encoder {dir}"
            )
            .into());
        }
        let model = SequenceClassifier::from_pretrained(dir, LABELS.len(), 0)?;
        let text = TextEncoder::for_classifier(dir, &model, None)?;
        let names = read_labels(dir, LABELS.len())?;
        let positive = names.iter().position(|name| name.eq_ignore_ascii_case("positive")).unwrap_or(1);
        Ok(EncoderJudge { model, text, positive })
    }

    fn verdicts<S: AsRef<str> + Sync>(&mut self, texts: &[S]) -> Result<Vec<Verdict>, Box<dyn Error>> {
        let encoded = self.text.encode(texts)?;
        let positive = self.probabilities(&encoded)?;
        let max_len = self.text.max_len();
        let verdicts = texts.iter().zip(&encoded).zip(positive).map(|((text, encoded), p)| {
            let note = if text.as_ref().trim().is_empty() {
                Some("empty text".to_string())
            } else {
                encoded.truncated.then(|| format!("truncated to {max_len} tokens"))
            };
            Verdict { positive: p > 0.5, probability: p.max(1.0 - p), note }
        });
        Ok(verdicts.collect())
    }

    /// The probability of `positive` for each sequence, in order, judged in batches of
    /// sequences of similar length in inference mode.
    fn probabilities(&mut self, encoded: &[EncodedText]) -> Result<Vec<f32>, Box<dyn Error>> {
        let mut order: Vec<usize> = (0..encoded.len()).collect();
        order.sort_by_key(|&i| encoded[i].ids.len());
        let pad_id = self.model.encoder().config().pad_token_id;
        let mut positive = vec![0.0; encoded.len()];
        for chunk in order.chunks(ENCODER_BATCH) {
            let sequences: Vec<(Vec<u32>, Vec<u32>)> =
                chunk.iter().map(|&i| (encoded[i].ids.clone(), vec![0; encoded[i].ids.len()])).collect();
            let probabilities = self.model.predict_proba(&BertInput::pad(&sequences, pad_id)?)?;
            for (row, &i) in chunk.iter().enumerate() {
                positive[i] = probabilities[[row, self.positive]];
            }
        }
        Ok(positive)
    }
}

/// Judges `texts` and writes one TSV line per text.
fn judge_texts<S: AsRef<str> + Sync>(
    judge: &mut Judge,
    texts: &[S],
    out: &mut impl Write,
) -> Result<(), Box<dyn Error>> {
    for (text, verdict) in texts.iter().zip(judge.verdicts(texts)?) {
        writeln!(out, "{}", tsv_line(text.as_ref(), &verdict))?;
    }
    Ok(())
}

/// Judges every line (empty ones included), at most `CHUNK` lines and `CHUNK_BYTES` bytes of
/// text at a time; a line that cannot be a text stops the run with its file and line number,
/// after the lines before it are judged.
fn judge_lines(judge: &mut Judge, lines: TextLines<impl BufRead>, out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let (mut chunk, mut bytes) = (Vec::new(), 0);
    for line in lines {
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                judge_texts(judge, &chunk, out)?;
                return Err(error.into());
            }
        };
        bytes += line.len();
        chunk.push(line);
        if chunk.len() == CHUNK || bytes >= CHUNK_BYTES {
            judge_texts(judge, &chunk, out)?;
            (chunk, bytes) = (Vec::new(), 0);
        }
    }
    judge_texts(judge, &chunk, out)
}

/// `text  label  probability  note`, the text escaped so that the line stays one TSV row.
fn tsv_line(text: &str, verdict: &Verdict) -> String {
    let escaped = text.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r");
    let label = if verdict.positive { "positive" } else { "negative" };
    format!("{escaped}\t{label}\t{:.4}\t{}", verdict.probability, verdict.note.as_deref().unwrap_or_default())
}

/// Accuracy, precision, recall, F1 and the confusion matrix on a labelled file, judged as any
/// other input; then how the flagged verdicts fared.
fn evaluate(judge: &mut Judge, path: &Path) -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let reviews = read_labeled_tsv(path)?;
    if reviews.is_empty() {
        return Err(format!("{}: no review after the header line, nothing to evaluate", path.display()).into());
    }
    let mut verdicts = Vec::with_capacity(reviews.len());
    for chunk in reviews.chunks(CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|r| r.document.as_str()).collect();
        verdicts.extend(judge.verdicts(&texts)?);
    }
    let tally = |keep: &dyn Fn(&Verdict) -> bool| {
        verdicts.iter().zip(&reviews).filter(|(v, _)| keep(v)).fold(ConfusionMatrix::default(), |mut m, (v, r)| {
            m.add(v.positive, r.label != 0);
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
    let mut notes: Vec<&str> = verdicts.iter().filter_map(|v| v.note.as_deref()).collect();
    notes.sort_unstable();
    notes.dedup();
    for note in notes {
        let flagged = tally(&|v: &Verdict| v.note.as_deref() == Some(note));
        println!("  {note}: {} reviews, accuracy {:.2} %", flagged.total(), 100.0 * flagged.accuracy());
    }
    let trusted = tally(&|v: &Verdict| v.note.is_none());
    println!("  without a note: {} reviews, accuracy {:.2} %", trusted.total(), 100.0 * trusted.accuracy());
    Ok(())
}

/// The morpheme analyser the options choose.
fn analyzer(args: &AnalyzerArgs) -> Result<Analyzer, Box<dyn Error>> {
    match (args.analyzer, &args.context_model) {
        (AnalyzerKind::Mecab, None) => Ok(Analyzer::new()?),
        (AnalyzerKind::Mecab, Some(_)) => Err("--context-model needs --analyzer context".into()),
        (AnalyzerKind::Context, path) => {
            let path = path.as_deref().ok_or("--analyzer context needs --context-model PATH")?;
            let model = ContextModel::load(path).map_err(|e| format!("--context-model: {e}"))?;
            Ok(Analyzer::builder().engine(Engine::Context).context_model(model).build()?)
        }
    }
}

fn train(args: &TrainArgs, analysis: &AnalyzerArgs) -> Result<(), Box<dyn Error>> {
    let data = nsmc_dir(args.data.as_deref())?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(SHIPPED_MODEL));
    // The pipeline is saved after the whole run: a directory that cannot be made fails now.
    std::fs::create_dir_all(&out).map_err(|e| format!("--out {}: {e}", out.display()))?;
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
    let preprocessor = Preprocessor::new(preprocess, analyzer(analysis)?);
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
    let vectors = args.word2vec.as_deref().map(|corpus| word_vectors(corpus, &preprocessor)).transpose()?;
    let mut trainer = SentimentPipeline::trainer(preprocessor).model(model).config(config).session(session);
    if let Some(vectors) = &vectors {
        trainer = trainer.pretrained_embeddings(vectors);
    }
    let (pipeline, log) = trainer.train(&train)?;
    let test_started = Instant::now();
    let matrix = pipeline.evaluate(&test)?;
    pipeline.save_with(&out, Precision::F16)?;
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

/// Fine-tunes the encoder folder `dir` on NSMC (see the module's documentation), saves it to
/// `--out` and evaluates the saved folder on the test file.
fn train_encoder(dir: &Path, args: &TrainArgs, analysis: &AnalyzerArgs) -> Result<(), Box<dyn Error>> {
    let out = args.out.as_deref().ok_or("--encoder needs --out DIR (the shipped model is not overwritten)")?;
    let knobs = &args.fine_tuning;
    let data = nsmc_dir(args.data.as_deref())?;
    let started = Instant::now();
    let mut model = SequenceClassifier::from_pretrained(dir, LABELS.len(), knobs.seed)?;
    let text = TextEncoder::for_classifier(dir, &model, knobs.max_len)?;
    println!(
        "{:?} encoder from {}: {} parameters, at most {} tokens per review",
        model.family(),
        dir.display(),
        model.num_parameters(),
        text.max_len()
    );
    let (train_rows, held_out_rows) = held_out_split(read_labeled_tsv(data.join("ratings_train.txt"))?, knobs)?;
    let train = encode_reviews(&text, &train_rows, "training")?;
    let held_out = encode_reviews(&text, &held_out_rows, "validation")?;
    let lora = knobs.lora.then(|| lora_config(knobs));
    let config = ClassifierConfig { batch_size: knobs.batch, seed: knobs.seed, lora, ..ClassifierConfig::default() };
    let mut step = ClassifierTraining::new(&mut model, &train, &held_out, config)?;
    let trained: usize = step.trained().iter().map(|(_, t)| t.len()).sum();
    let mut run = step.train_config(args.epochs.unwrap_or(1), knobs.lr, knobs.warmup)?;
    run.eval_interval = knobs.eval_every.unwrap_or(run.eval_interval);
    println!(
        "{} steps of {} reviews ({} per epoch), {trained} parameters train{}",
        run.max_steps,
        knobs.batch,
        step.steps_per_epoch(),
        if knobs.lora { " (LoRA adapters and the head)" } else { "" }
    );
    let mut optimizer = step.optimizer(knobs.lr)?;
    let session =
        Session { checkpoints: args.checkpoints.clone().map(Checkpoints::new), progress: true, ..Session::default() };
    let stopping = knobs.patience.map(|patience| EarlyStopping::minimize("val_loss", patience));
    let trainer = Trainer::new(run).with_session(session).with_early_stopping(stopping);
    let log = trainer.fit(&mut step, &mut optimizer)?;
    let steps_per_epoch = step.steps_per_epoch();
    save_classifier(&mut model, &text, dir, &LABELS, out)?;
    log.plot(&out.join("curve.svg"), 50)?;
    log.write_jsonl(&out.join("log.jsonl"))?;
    let seconds = log.last_eval().map_or(0.0, |e| e.seconds);
    let reviews = log.steps.len() as f64 / steps_per_epoch as f64 * train.len() as f64;
    println!(
        "trained {} steps ({reviews:.0} reviews) in {seconds:.0} s: {:.1} s per 1,000 reviews",
        log.steps.len(),
        1000.0 * seconds / reviews.max(1.0)
    );
    let val_loss = log.series("val_loss");
    if let Some((step, loss)) = val_loss.iter().min_by(|a, b| a.1.total_cmp(&b.1)) {
        let kept = if knobs.patience.is_some() { " (its weights are kept)" } else { "" };
        println!("best validation loss {loss:.4} at step {step}{kept}");
    }
    if let Some(last) = log.last_eval() {
        let accuracy = last.metrics.get("val_accuracy").copied().unwrap_or(f64::NAN);
        println!("validation accuracy at the last evaluation (step {}): {:.2} %", last.step, 100.0 * accuracy);
    }
    println!(
        "saved to {} · {:.0} s so far; the saved folder on the test file:",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    evaluate(&mut Judge::load(out, analysis)?, &data.join("ratings_test.txt"))
}

/// The training reviews (the first `--limit`) split into training and held-out ones, the
/// held-out drawn by the seed.
fn held_out_split(
    mut reviews: Vec<LabeledText>,
    knobs: &EncoderArgs,
) -> Result<(Vec<LabeledText>, Vec<LabeledText>), Box<dyn Error>> {
    reviews.truncate(knobs.limit.unwrap_or(usize::MAX));
    let held_out = knobs.validation.unwrap_or((reviews.len() / 10).min(VALIDATION));
    if held_out >= reviews.len() {
        return Err(format!("{} reviews cannot hold {held_out} out for validation", reviews.len()).into());
    }
    reviews.shuffle(&mut StdRng::seed_from_u64(knobs.seed));
    let train = reviews.split_off(held_out);
    Ok((train, reviews))
}

/// The reviews encoded for the classifier, the truncated ones counted and reported.
fn encode_reviews(text: &TextEncoder, reviews: &[LabeledText], what: &str) -> Result<Vec<Labeled>, Box<dyn Error>> {
    let documents: Vec<&str> = reviews.iter().map(|r| r.document.as_str()).collect();
    let encoded = text.encode(&documents)?;
    let truncated = encoded.iter().filter(|e| e.truncated).count();
    let tokens: usize = encoded.iter().map(|e| e.ids.len()).sum();
    println!(
        "{what}: {} reviews, {:.1} tokens on average, {truncated} truncated to {} tokens",
        reviews.len(),
        tokens as f64 / reviews.len().max(1) as f64,
        text.max_len()
    );
    Ok(encoded.into_iter().zip(reviews).map(|(e, r)| e.labeled(usize::from(r.label))).collect())
}

/// The LoRA options as PEFT's configuration.
fn lora_config(knobs: &EncoderArgs) -> LoraConfig {
    let target_modules = knobs.lora_targets.as_deref().map(|list| match list {
        "all-linear" => TargetModules::Pattern(list.into()),
        names => TargetModules::names(names.split(',').map(str::trim).filter(|n| !n.is_empty())),
    });
    LoraConfig { r: knobs.lora_r, lora_alpha: knobs.lora_alpha, target_modules, ..LoraConfig::default() }
}

/// word2vec (CBOW, 100 dimensions, 5 epochs) trained on `corpus`, one review per line,
/// preprocessed exactly as the classifier's input is (by `preprocessor`).
fn word_vectors(corpus: &Path, preprocessor: &Preprocessor) -> Result<KeyedVectors, Box<dyn Error>> {
    let started = Instant::now();
    let text = std::fs::read_to_string(corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    let sentences = preprocessor.batch_tokens(&lines)?;
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
