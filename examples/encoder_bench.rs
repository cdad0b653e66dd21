//! NSMC fine-tuning at a base encoder's size, malmoi's side (issue 25): one training step or one
//! inference batch of an `ElectraForSequenceClassification` of KcELECTRA-base's shape with random
//! weights, timed step by step. It prints one JSON line of raw measurements, the fields
//! `benches/reference/encoder_side_by_side.py` reads (its docstring describes both sides); that
//! script's shell companion runs PyTorch + `transformers` and this example back to back and
//! prints one table.
//!
//! ```text
//! cargo run --release --example encoder_bench -- --mode train
//! benches/reference/encoder_side_by_side.sh          # PyTorch + transformers, then malmoi, one table
//! ```
//!
//! **The shape** is `beomi/KcELECTRA-base`'s `config.json` as that repository's first commit
//! ("Add 848.4k KcELECTRA-base", a6f029f) stores it, copied verbatim into [`KCELECTRA_BASE`]:
//! hidden 768, 12 layers, 12 heads, intermediate 3,072, `embedding_size` 768 (so no
//! `embeddings_project`), vocabulary 50,135, 512 positions, 2 token types, `pad_token_id` 0,
//! exact GELU, dropout 0.1. (`beomi/KcELECTRA-base-v2022` is the same shape with a 54,343-piece
//! vocabulary.) With the two-label head that is 124,546,562 parameters — "110 M" is BERT-base's
//! figure; KcELECTRA's larger vocabulary adds 15 M to the embedding table. Speed and memory need
//! only the shape: the real weights cost the same.
//!
//! **A step.** `--batch` rows of `--seq-len` ids drawn from 5..50,135 (KcELECTRA's five special
//! ids `[PAD]` `[UNK]` `[CLS]` `[SEP]` `[MASK]` left out); every fourth row (rows 3, 7, …) holds
//! only `--seq-len / 2` rounded up real tokens and is right-padded with `[PAD]` under the
//! attention mask, as a batch of reviews padded to its longest is, so padding costs what it
//! costs. `train`: forward in training mode (dropout 0.1), cross-entropy over random labels,
//! backward, AdamW (lr 5e-5, weight decay 0.01 on matrices, none on biases and norms, as
//! `transformers`' `Trainer` groups them) and clearing the gradients, timed whole. `infer`:
//! the forward in inference mode without a graph (`no_grad`), logits out.
//!
//! **The default length.** NSMC's 150,000 training reviews, encoded by a WordPiece of
//! KcELECTRA's vocabulary size trained on them (`[CLS]` and `[SEP]` included; the Python
//! script recomputes and records these figures), are 15.2 tokens on average, median 12, p95 41,
//! p99 54, longest 142; 64 tokens hold 99.8 % of them whole, so `--seq-len` defaults to 64.

use std::error::Error;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use ndarray::{Array2, ArrayD};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use malmoi::tensor::nn::Module;
use malmoi::tensor::no_grad;
use malmoi::tensor::optim::{AdamW, Optimizer, ParamGroup};
use malmoi::transformer::bert::BertInput;
use malmoi::transformer::electra::{ElectraConfig, ElectraForSequenceClassification, ElectraModel};

#[path = "common/process.rs"]
mod process;
use process::{load1, memory_mb};

/// `beomi/KcELECTRA-base`'s `config.json` (commit a6f029f, "Add 848.4k KcELECTRA-base").
const KCELECTRA_BASE: &str = r#"{
    "architectures": ["ElectraForPreTraining"],
    "num_hidden_layers": 12,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_attention_heads": 12,
    "embedding_size": 768,
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "electra",
    "type_vocab_size": 2,
    "vocab_size": 50135,
    "pad_token_id": 0,
    "tokenizer_class": "BertTokenizer"
}"#;
/// KcELECTRA's special ids `[PAD]`=0 … `[MASK]`=4; random rows draw from the ids after them.
const SPECIAL_IDS: u32 = 5;
/// NSMC's two classes, negative and positive.
const LABELS: usize = 2;
const LEARNING_RATE: f32 = 5e-5;
const WEIGHT_DECAY: f32 = 0.01;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Forward, loss, backward, AdamW, zero_grad.
    Train,
    /// Forward in inference mode, no graph.
    Infer,
}

#[derive(Parser, Debug)]
#[command(about = "Times training steps or inference batches of a KcELECTRA-base-size ELECTRA classifier")]
struct Args {
    /// What to time.
    #[arg(long, value_enum)]
    mode: Mode,
    /// Reviews per step.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Tokens per row (NSMC: 64 holds 99.8 % of the reviews whole, see the module docs).
    #[arg(long, default_value_t = 64)]
    seq_len: usize,
    /// Steps run before the timed ones (reported first in `step_s`).
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seed of the weights, the rows and the labels.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// What one configuration measured (the JSON line's fields).
struct Measured {
    step_s: Vec<f64>,
    losses: Vec<f64>,
    params: usize,
    model_rss_mb: f64,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let config: ElectraConfig = serde_json::from_str(KCELECTRA_BASE)?;
    let (longest, vocab) = (config.bert.max_position_embeddings, config.bert.vocab_size as u32);
    if args.batch == 0 || args.seq_len < 2 || args.seq_len > longest || args.steps == 0 {
        return Err(format!("--batch and --steps must be positive and --seq-len within 2..={longest}").into());
    }
    rayon::ThreadPoolBuilder::new().num_threads(args.threads).build_global()?;
    let load1_start = load1();
    let wall = Instant::now();
    let mut model = ElectraForSequenceClassification::new(ElectraModel::new(config, args.seed)?, LABELS, args.seed)?;
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    let input = random_batch(&args, vocab, &mut rng);
    let measured = match args.mode {
        Mode::Train => train(&args, &mut model, &input, &mut rng)?,
        Mode::Infer => infer(&args, &mut model, &input)?,
    };
    let line = json!({
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "step_s": measured.step_s.iter().map(|s| (s * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
        "losses": measured.losses.iter().map(|l| (l * 1e4).round() / 1e4).collect::<Vec<_>>(),
        "params": measured.params,
        "batch": args.batch,
        "seq_len": args.seq_len,
        "real_tokens": input.attention_mask.iter().filter(|&&real| real).count(),
        "model_rss_mb": measured.model_rss_mb,
        "peak_rss_mb": memory_mb("VmHWM"),
        "load1_start": load1_start,
        "load1_end": load1(),
        "wall_s": (wall.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        "threads": args.threads,
    });
    println!("{line}");
    Ok(())
}

/// Real tokens of row `row`: `seq_len`, except every fourth row (3, 7, …), which holds half of
/// them (rounded up) and is padded to `seq_len`. The PyTorch side uses the same rule.
fn row_length(row: usize, seq_len: usize) -> usize {
    if row % 4 == 3 { seq_len.div_ceil(2) } else { seq_len }
}

/// `--batch` rows of random ids in `SPECIAL_IDS..vocab`, padded with `[PAD]` (0) under the mask
/// past each row's [`row_length`]; one segment.
fn random_batch(args: &Args, vocab: u32, rng: &mut StdRng) -> BertInput {
    let shape = (args.batch, args.seq_len);
    let attention_mask = Array2::from_shape_fn(shape, |(row, t)| t < row_length(row, args.seq_len));
    let draw = |real: bool| if real { rng.random_range(SPECIAL_IDS..vocab) } else { 0 };
    let input_ids = attention_mask.mapv(draw);
    BertInput { input_ids, token_type_ids: Array2::zeros(shape), attention_mask }
}

/// Times `--warmup` + `--steps` training steps: forward (training mode), cross-entropy over
/// random labels, backward, AdamW and clearing the gradients.
fn train(
    args: &Args,
    model: &mut ElectraForSequenceClassification,
    input: &BertInput,
    rng: &mut StdRng,
) -> Result<Measured, Box<dyn Error>> {
    model.set_training(true);
    let params = model.named_parameters();
    let total = params.iter().map(|(_, p)| p.len()).sum();
    let mut optimizer = AdamW::groups(ParamGroup::decay_matrices(params, WEIGHT_DECAY), LEARNING_RATE)?;
    let labels: ArrayD<usize> = ndarray::Array1::from_shape_fn(args.batch, |_| rng.random_range(0..LABELS)).into_dyn();
    let model_rss_mb = memory_mb("VmRSS");
    let (mut step_s, mut losses) = (Vec::new(), Vec::new());
    for i in 0..args.warmup + args.steps {
        let start = Instant::now();
        let loss = model.forward(input)?.cross_entropy(&labels, None)?;
        loss.backward()?;
        optimizer.step()?;
        optimizer.zero_grad();
        step_s.push(start.elapsed().as_secs_f64());
        losses.push(f64::from(loss.item()?));
        eprintln!("train step {}/{}: {:.2} s", i + 1, args.warmup + args.steps, step_s[i]);
    }
    Ok(Measured { step_s, losses, params: total, model_rss_mb })
}

/// Times `--warmup` + `--steps` forwards in inference mode (no dropout, no graph).
fn infer(
    args: &Args,
    model: &mut ElectraForSequenceClassification,
    input: &BertInput,
) -> Result<Measured, Box<dyn Error>> {
    model.set_training(false);
    let total = model.named_parameters().iter().map(|(_, p)| p.len()).sum();
    let model_rss_mb = memory_mb("VmRSS");
    let mut step_s = Vec::new();
    for i in 0..args.warmup + args.steps {
        let start = Instant::now();
        let logits = no_grad(|| model.forward(input))?;
        step_s.push(start.elapsed().as_secs_f64());
        if logits.shape() != [args.batch, LABELS] {
            return Err(format!("logits of shape {:?}", logits.shape()).into());
        }
        eprintln!("infer batch {}/{}: {:.3} s", i + 1, args.warmup + args.steps, step_s[i]);
    }
    Ok(Measured { step_s, losses: Vec::new(), params: total, model_rss_mb })
}
