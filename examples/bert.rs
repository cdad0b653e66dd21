//! BERT on NSMC with no weights from outside: pre-train on the unlabelled reviews (masked LM
//! with the 80/10/10 rule + next-sentence prediction on consecutive reviews), then fine-tune a
//! classification head on `ratings_train.txt` and report the accuracy on `ratings_test.txt`.
//!
//! ```text
//! cargo run --release --example bert -- pretrain [--minutes 10] [--steps 100000] [--out models/bert]
//! cargo run --release --example bert -- finetune [--steps 1500] [--out models/bert]
//! ```
//!
//! The tokenizer is a byte-level BPE (`--vocab`) trained on the same reviews, with `[PAD]`,
//! `[CLS]`, `[SEP]` and `[MASK]` as special tokens; sequences are `[CLS] A [SEP] B [SEP]`, at
//! most `--max-len` tokens. `pretrain` writes `OUT/pretrained/` (Hugging Face's
//! `BertForPreTraining` layout + `tokenizer.json`) and its loss curve; `finetune` reads it and
//! writes `OUT/classifier/` and the test accuracy. Both train on the shared engine with
//! checkpoints in `OUT/pretrain-checkpoints/` and `OUT/finetune-checkpoints/`: a pre-training
//! session ends after `--minutes`, and the next one continues the same run.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use malmoi::datasets::nsmc::read_labeled_tsv;
use malmoi::tensor::nn::Module;
use malmoi::tokenize::BpeTrainer;
use malmoi::tokenize::tokenizer::Tokenizer;
use malmoi::train::{EvalRecord, LrSchedule, Session, TrainConfig, TrainLog, Trainer};
use malmoi::transformer::SequenceClassifier;
use malmoi::transformer::bert::{Bert, BertConfig, BertForPreTraining, BertForSequenceClassification};
use malmoi::transformer::fine_tune::{ClassifierConfig, ClassifierTraining, Labeled};
use malmoi::transformer::mlm::{PreTraining, PreTrainingConfig};
use malmoi::transformer::nsp::{SpecialIds, sentence_pair};

const NSMC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/nsmc");
const SPECIALS: [&str; 4] = ["[PAD]", "[CLS]", "[SEP]", "[MASK]"];

#[derive(Parser)]
#[command(about = "Pre-train BERT on NSMC's unlabelled reviews and fine-tune it on NSMC")]
struct Cli {
    #[command(subcommand)]
    stage: Stage,
    /// Directory holding ratings_train.txt, ratings_test.txt and reviews_unlabeled.txt.
    #[arg(long, global = true, default_value = NSMC)]
    data: PathBuf,
    /// Where the models go.
    #[arg(long, global = true, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/models/bert"))]
    out: PathBuf,
    /// Longest sequence, in tokens.
    #[arg(long, global = true, default_value_t = 64)]
    max_len: usize,
    #[arg(long, global = true, default_value_t = 32)]
    batch: usize,
    #[arg(long, global = true, default_value_t = 0)]
    seed: u64,
}

#[derive(Subcommand)]
enum Stage {
    /// Masked LM + next-sentence prediction on the unlabelled reviews.
    Pretrain(Pretraining),
    /// A classification head on NSMC, then the test accuracy.
    Finetune {
        #[arg(long, default_value_t = 1500)]
        steps: usize,
        #[arg(long, default_value_t = 1e-4)]
        lr: f32,
    },
}

#[derive(Args)]
struct Pretraining {
    /// This session's time budget; a later run resumes from the checkpoint it leaves.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// The whole run's steps.
    #[arg(long, default_value_t = 100_000)]
    steps: usize,
    /// Held-out masked-LM / next-sentence evaluation (and a checkpoint) every this many steps.
    #[arg(long, default_value_t = 200)]
    eval_every: usize,
    #[arg(long, default_value_t = 8000)]
    vocab: usize,
    #[arg(long, default_value_t = 4)]
    layers: usize,
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    #[arg(long, default_value_t = 4)]
    heads: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f32,
}

fn main() -> Result<(), Box<dyn Error>> {
    let cli = Cli::parse();
    match &cli.stage {
        Stage::Pretrain(stage) => {
            let config = BertConfig {
                vocab_size: 0,
                hidden_size: stage.hidden,
                num_hidden_layers: stage.layers,
                num_attention_heads: stage.heads,
                intermediate_size: 4 * stage.hidden,
                hidden_act: "gelu".into(),
                hidden_dropout_prob: 0.1,
                max_position_embeddings: cli.max_len,
                type_vocab_size: 2,
                layer_norm_eps: 1e-12,
                pad_token_id: 0,
                model_type: "bert".into(),
                rest: Default::default(),
            };
            pretrain(&cli, config, stage)
        }
        Stage::Finetune { steps, lr } => finetune(&cli, *steps, *lr),
    }
}

fn special_ids(tokenizer: &Tokenizer) -> Result<SpecialIds, Box<dyn Error>> {
    let id = |t: &str| tokenizer.token_to_id(t).ok_or_else(|| format!("the tokenizer lacks {t}"));
    Ok(SpecialIds { pad: id(SPECIALS[0])?, cls: id(SPECIALS[1])?, sep: id(SPECIALS[2])?, mask: id(SPECIALS[3])? })
}

fn pretrain(cli: &Cli, mut config: BertConfig, stage: &Pretraining) -> Result<(), Box<dyn Error>> {
    let path = cli.data.join("reviews_unlabeled.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    // the LM issue's last 5,000 reviews stay unseen by training; 2,000 of them are held out here
    let (lines, unseen) = lines.split_at(lines.len().saturating_sub(5000));
    let checkpoints = cli.out.join("pretrain-checkpoints");
    let tokenizer = pretraining_tokenizer(&checkpoints, lines, stage.vocab)?;
    let special = special_ids(&tokenizer)?;
    let encoded = tokenizer.encode_batch_ids(lines, true)?;
    let held_out = tokenizer.encode_batch_ids(&unseen[..unseen.len().min(2000)], true)?;
    config.vocab_size = tokenizer.vocab_size();
    config.pad_token_id = special.pad;
    let mut model = BertForPreTraining::new(Bert::new(config, cli.seed)?, cli.seed)?;
    eprintln!("BERT: {} parameters, {} reviews", model.num_parameters(), encoded.len());
    let settings = PreTrainingConfig { batch_size: cli.batch, max_len: cli.max_len, ..PreTrainingConfig::default() };
    let mut step = PreTraining::new(&mut model, &encoded, &held_out, special, settings)?;
    let mut optimizer = step.optimizer(stage.lr)?;
    let run = TrainConfig {
        max_steps: stage.steps,
        learning_rate: stage.lr,
        schedule: LrSchedule::Warmup { warmup_steps: 200.min(stage.steps) },
        grad_clip: 1.0,
        eval_interval: stage.eval_every,
        eval_at_start: true,
        seed: cli.seed,
    };
    let session = Session {
        time_budget: Some(Duration::from_secs_f64(stage.minutes * 60.0)),
        ..Session::checkpointed(&checkpoints)
    };
    let log = Trainer::new(run).with_session(session).fit(&mut step, &mut optimizer)?;
    let dir = cli.out.join("pretrained");
    model.save_pretrained(&dir)?;
    let last = save_run(&dir, &tokenizer, &log, 50)?;
    println!(
        "pre-trained {} steps so far ({:.0} s) → {}; evaluation at step {}: {}",
        log.steps.len(),
        last.seconds,
        dir.display(),
        last.step,
        describe(&last.metrics)
    );
    Ok(())
}

/// The tokenizer of a pre-training run: the one its checkpoints were made with, else a new
/// byte-level BPE on `lines`, kept beside the checkpoints so a resumed run encodes alike.
fn pretraining_tokenizer(checkpoints: &Path, lines: &[&str], vocab: usize) -> Result<Tokenizer, Box<dyn Error>> {
    let path = checkpoints.join("tokenizer.json");
    if path.exists() {
        return Ok(Tokenizer::from_file(&path)?);
    }
    let tokenizer = BpeTrainer::new()
        .vocab_size(vocab)
        .special_tokens(SPECIALS)
        .show_progress(true)
        .train(lines.iter().copied())?;
    std::fs::create_dir_all(checkpoints)?;
    tokenizer.save(&path)?;
    Ok(tokenizer)
}

fn finetune(cli: &Cli, steps: usize, lr: f32) -> Result<(), Box<dyn Error>> {
    let pretrained = cli.out.join("pretrained");
    let tokenizer = Tokenizer::from_file(pretrained.join("tokenizer.json"))?;
    let special = special_ids(&tokenizer)?;
    let bert = BertForPreTraining::from_pretrained(&pretrained)?.bert;
    let mut model = SequenceClassifier::Bert(BertForSequenceClassification::new(bert, 2, cli.seed)?);
    let encode = |path: PathBuf| -> Result<Vec<Labeled>, Box<dyn Error>> {
        let rows = read_labeled_tsv(path)?;
        let documents: Vec<&str> = rows.iter().map(|r| r.document.as_str()).collect();
        let ids = tokenizer.encode_batch_ids(&documents, true)?;
        let labeled = ids.iter().zip(&rows).map(|(ids, row)| {
            let (ids, types) = sentence_pair(ids, None, cli.max_len, special);
            Labeled { ids, types, label: row.label as usize }
        });
        Ok(labeled.collect())
    };
    let (train, test) = (encode(cli.data.join("ratings_train.txt"))?, encode(cli.data.join("ratings_test.txt"))?);
    let settings = ClassifierConfig { batch_size: cli.batch, seed: cli.seed, ..ClassifierConfig::default() };
    let mut step = ClassifierTraining::new(&mut model, &train, &test, settings)?;
    let mut optimizer = step.optimizer(lr)?;
    let run = TrainConfig {
        max_steps: steps,
        learning_rate: lr,
        schedule: LrSchedule::Linear { warmup_steps: steps / 10 },
        grad_clip: 1.0,
        eval_interval: steps, // the 50,000 test reviews, once at the end
        eval_at_start: false,
        seed: cli.seed,
    };
    let session = Session::checkpointed(cli.out.join("finetune-checkpoints"));
    let log = Trainer::new(run).with_session(session).fit(&mut step, &mut optimizer)?;
    let dir = cli.out.join("classifier");
    model.save_pretrained(&dir)?;
    let last = save_run(&dir, &tokenizer, &log, 100)?;
    println!(
        "fine-tuned {steps} steps in {:.0} s; NSMC test accuracy {:.2} % ({} reviews)",
        last.seconds,
        100.0 * last.metrics["val_accuracy"],
        test.len()
    );
    Ok(())
}

/// Saves the tokenizer beside a model in `dir` with the run's curves (`loss.svg`, a moving mean
/// over `smoothing` steps) and log (`log.jsonl`); returns the last evaluation.
fn save_run<'a>(
    dir: &Path,
    tokenizer: &Tokenizer,
    log: &'a TrainLog,
    smoothing: usize,
) -> Result<&'a EvalRecord, Box<dyn Error>> {
    tokenizer.save(dir.join("tokenizer.json"))?;
    log.plot(&dir.join("loss.svg"), smoothing)?;
    log.write_jsonl(&dir.join("log.jsonl"))?;
    Ok(log.last_eval().ok_or("no evaluation")?)
}

/// `name value` pairs on one line.
fn describe(metrics: &malmoi::train::Metrics) -> String {
    metrics.iter().map(|(name, value)| format!("{name} {value:.4}")).collect::<Vec<_>>().join(", ")
}
