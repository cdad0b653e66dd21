//! GPT on Korean movie reviews: train a small model on NSMC's unlabelled reviews, or generate
//! from the one the repository ships.
//!
//! ```text
//! cargo run --release --example gpt -- "영화가"                       # generate (models/gpt)
//! cargo run --release --example gpt -- --temperature 0.8 --top-p 0.95 --stream "배우들 연기가"
//! cargo run --release --example gpt -- --model DIR --greedy "영화가"   # any Hugging Face folder
//! cargo run --release --example gpt -- --model DIR --chat --system "친절하게" "영화 추천해줘"
//! cargo run --release --example gpt -- --train [--data FILE] [--out DIR] [--steps N] …
//! ```
//!
//! `--model` takes any folder `huggingface-cli download` gives for GPT-2 (KoGPT2), Llama,
//! Qwen2, Mistral or GPT-NeoX (polyglot-ko): `config.json`, `model.safetensors` (or shards),
//! `tokenizer.json`, and `tokenizer_config.json` / `generation_config.json` when present.
//! `--greedy` is `transformers`' default decoding (no sampling, no penalties); `--chat` renders
//! each prompt as a user turn through the checkpoint's chat template.
//!
//! `--train` trains a byte-level BPE (`--vocab`) on all but the last `--holdout` reviews, then a
//! GPT of `--layers` × `--heads` × `--width` on random windows of the token stream, with a
//! progress bar, validation every `--eval-interval` steps, checkpoints in `OUT/checkpoints`
//! (run the same command again to resume), the loss curve `OUT/loss.svg`, and the model in
//! Hugging Face's GPT-2 layout (`config.json`, `model.safetensors`, `tokenizer.json`, float16
//! with `--half`). Validation perplexity is measured on the held-out reviews.

use std::error::Error;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;

use malmoi::tensor::checkpoint::Precision;
use malmoi::tokenize::BpeTrainer;
use malmoi::tokenize::chat_template::ChatMessage;
use malmoi::train::{LrSchedule, Session, TrainConfig, Trainer};
use malmoi::transformer::attention_map::attention_svg;
use malmoi::transformer::generation::{GenerationConfig, Generator, TextGeneration};
use malmoi::transformer::train::{LmConfig, train};
use malmoi::transformer::{CausalLm, Gpt, GptConfig};

const SHIPPED_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/gpt");
const SHARED_REVIEWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/nsmc/reviews_unlabeled.txt");

#[derive(Parser, Debug)]
#[command(about = "Train a GPT on Korean movie reviews, or generate from one.")]
struct Args {
    /// Prompts to continue (an empty prompt starts a review from nothing).
    prompts: Vec<String>,
    /// Model directory to generate from.
    #[arg(long, default_value = SHIPPED_MODEL)]
    model: PathBuf,
    #[command(flatten)]
    knobs: Knobs,
    /// Print tokens as they are generated.
    #[arg(long)]
    stream: bool,
    /// Plain greedy decoding, as `transformers`' `generate` does by default (overrides the
    /// sampling knobs and penalties).
    #[arg(long)]
    greedy: bool,
    /// Each prompt is a user turn, rendered by the checkpoint's chat template.
    #[arg(long)]
    chat: bool,
    /// A system message for `--chat`.
    #[arg(long, requires = "chat")]
    system: Option<String>,
    /// Print load seconds, tokens/s and peak memory to stderr (one JSON line per generation).
    #[arg(long)]
    timings: bool,
    /// Write the attention maps of the first prompt and its continuation, one SVG per layer
    /// (`PATH-layerN.svg`).
    #[arg(long)]
    attention: Option<PathBuf>,
    /// Train a new model instead of generating.
    #[arg(long)]
    train: bool,
    #[command(flatten)]
    training: Training,
}

/// The generation knobs (see `GenerationConfig`).
#[derive(clap::Args, Debug)]
struct Knobs {
    /// Most new tokens.
    #[arg(long, default_value_t = 40)]
    max_new_tokens: usize,
    /// Sampling temperature (0: greedy).
    #[arg(long, default_value_t = 0.9)]
    temperature: f32,
    /// Keep the k most probable tokens (0: off).
    #[arg(long, default_value_t = 50)]
    top_k: usize,
    /// Nucleus sampling threshold (1: off).
    #[arg(long, default_value_t = 0.95)]
    top_p: f32,
    /// transformers' repetition penalty (1: off).
    #[arg(long, default_value_t = 1.2)]
    repetition_penalty: f32,
    /// OpenAI's frequency penalty.
    #[arg(long, default_value_t = 0.0)]
    frequency_penalty: f32,
    /// OpenAI's presence penalty.
    #[arg(long, default_value_t = 0.0)]
    presence_penalty: f32,
    /// Never repeat an n-gram of this size (0: off).
    #[arg(long, default_value_t = 3)]
    no_repeat_ngram_size: usize,
    /// Beam search with this many beams (turns sampling off).
    #[arg(long, default_value_t = 1)]
    num_beams: usize,
    /// Stop sequences (repeatable).
    #[arg(long)]
    stop: Vec<String>,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Samples per prompt (seeds seed, seed+1, …), 1 to 1000.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    samples: u64,
}

/// Training options.
#[derive(clap::Args, Debug)]
struct Training {
    /// One review per line.
    #[arg(long, default_value = SHARED_REVIEWS)]
    data: PathBuf,
    /// Where the trained model goes.
    #[arg(long, default_value = SHIPPED_MODEL)]
    out: PathBuf,
    /// Reviews at the end of the file kept for validation.
    #[arg(long, default_value_t = 5000)]
    holdout: usize,
    /// BPE vocabulary size.
    #[arg(long, default_value_t = 4096)]
    vocab: usize,
    #[arg(long, default_value_t = 4)]
    layers: usize,
    #[arg(long, default_value_t = 4)]
    heads: usize,
    #[arg(long, default_value_t = 192)]
    width: usize,
    /// Context length.
    #[arg(long, default_value_t = 64)]
    block: usize,
    #[arg(long, default_value_t = 0.0)]
    dropout: f32,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 3000)]
    steps: usize,
    #[arg(long, default_value_t = 2e-3)]
    lr: f32,
    #[arg(long, default_value_t = 250)]
    eval_interval: usize,
    /// Store the weights as float16.
    #[arg(long)]
    half: bool,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    if args.train {
        return run_training(&args.training);
    }
    let started = Instant::now();
    let generator = Generator::from_pretrained(&args.model)?;
    let load_seconds = started.elapsed().as_secs_f64();
    let prompts = if args.prompts.is_empty() { vec![String::new()] } else { args.prompts.clone() };
    for (i, prompt) in prompts.iter().enumerate() {
        for sample in 0..args.knobs.samples {
            let config = generation_config(&args, args.knobs.seed + sample);
            let started = Instant::now();
            let out = generate(&generator, &args, prompt, &config)?;
            if args.timings {
                let tokens = out.tokens.len();
                let timing = serde_json::json!({
                    "load_s": (load_seconds * 1000.0).round() / 1000.0,
                    "tokens": tokens,
                    "tokens_per_s": (tokens as f64 / started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
                    "peak_rss_mb": peak_rss_mb(),
                    "greedy_ids": out.tokens.iter().map(|t| t.id).collect::<Vec<_>>(),
                });
                eprintln!("{timing}");
            }
            if !args.stream {
                println!("{}{}", if args.chat { "" } else { prompt }, out.text);
            }
            if let (0, 0, Some(path)) = (i, sample, &args.attention) {
                write_attention(&Generator::from_dir(&args.model)?, &format!("{prompt}{}", out.text), path)?;
            }
        }
    }
    Ok(())
}

/// The process's peak resident memory in MiB (`VmHWM`), if the system reports it.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}

/// One heat map per layer of the model's attention over `text`.
fn write_attention(generator: &Generator, text: &str, path: &std::path::Path) -> Result<(), Box<dyn Error>> {
    let ids = generator.prompt_ids(text)?;
    let ids = &ids[ids.len().saturating_sub(generator.model.config().block_size)..];
    let tokens: Vec<String> =
        ids.iter().map(|&id| generator.tokenizer.decode(&[id], false)).collect::<Result<_, _>>()?;
    let (_, layers) = generator.model.attention_weights(ids)?;
    for (layer, weights) in layers.iter().enumerate() {
        let file =
            path.with_file_name(format!("{}-layer{layer}.svg", path.file_stem().unwrap_or_default().to_string_lossy()));
        attention_svg(&file, &tokens, &tokens, weights.view(), &format!("layer {layer}: {text}"))?;
        eprintln!("wrote {}", file.display());
    }
    Ok(())
}

fn generation_config(args: &Args, seed: u64) -> GenerationConfig {
    let knobs = &args.knobs;
    if args.greedy {
        return GenerationConfig { stop: knobs.stop.clone(), ..GenerationConfig::greedy(knobs.max_new_tokens) };
    }
    GenerationConfig {
        max_new_tokens: knobs.max_new_tokens,
        do_sample: knobs.num_beams == 1 && knobs.temperature > 0.0,
        temperature: knobs.temperature,
        top_k: knobs.top_k,
        top_p: knobs.top_p,
        repetition_penalty: knobs.repetition_penalty,
        frequency_penalty: knobs.frequency_penalty,
        presence_penalty: knobs.presence_penalty,
        no_repeat_ngram_size: knobs.no_repeat_ngram_size,
        num_beams: knobs.num_beams,
        stop: knobs.stop.clone(),
        seed,
        ..GenerationConfig::default()
    }
}

/// One continuation of `prompt` (a user turn with `--chat`), printed as it comes with
/// `--stream`.
fn generate(
    generator: &Generator<Box<dyn CausalLm>>,
    args: &Args,
    prompt: &str,
    config: &GenerationConfig,
) -> Result<TextGeneration, Box<dyn Error>> {
    use std::io::Write;
    let ids = if args.chat {
        let mut messages: Vec<ChatMessage> = args.system.iter().map(ChatMessage::system).collect();
        messages.push(ChatMessage::user(prompt));
        generator.chat_ids(&messages, true)?
    } else {
        generator.prompt_ids(prompt)?
    };
    if !args.stream {
        return Ok(generator.continue_ids(&ids, config, |_, _| ControlFlow::Continue(()))?);
    }
    if !args.chat {
        print!("{prompt}");
    }
    let out = generator.continue_ids(&ids, config, |piece, _| {
        print!("{piece}");
        let _ = std::io::stdout().flush();
        ControlFlow::Continue(())
    })?;
    println!();
    Ok(out)
}

fn run_training(opts: &Training) -> Result<(), Box<dyn Error>> {
    let text = std::fs::read_to_string(&opts.data).map_err(|e| format!("{}: {e}", opts.data.display()))?;
    let reviews: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if reviews.len() <= opts.holdout {
        return Err(format!("{} reviews, but {} are to be held out", reviews.len(), opts.holdout).into());
    }
    let (train_reviews, val_reviews) = reviews.split_at(reviews.len() - opts.holdout);
    std::fs::create_dir_all(&opts.out)?;
    let started = Instant::now();
    let tokenizer = BpeTrainer::new()
        .vocab_size(opts.vocab)
        .special_tokens(["<|endoftext|>"])
        .show_progress(true)
        .train(train_reviews.iter().copied())?;
    eprintln!("BPE: {} tokens in {:.1} s", tokenizer.vocab_size(), started.elapsed().as_secs_f64());
    let eos = tokenizer.token_to_id("<|endoftext|>").ok_or("the BPE has no <|endoftext|>")?;
    let stream = |lines: &[&str]| -> Result<Vec<u32>, Box<dyn Error>> {
        let encoded = tokenizer.encode_batch_ids(lines, false)?;
        Ok(encoded.into_iter().flat_map(|ids| std::iter::once(eos).chain(ids)).collect())
    };
    let (train_tokens, val_tokens) = (stream(train_reviews)?, stream(val_reviews)?);
    eprintln!("{} training tokens, {} validation tokens", train_tokens.len(), val_tokens.len());
    let config = GptConfig {
        vocab_size: tokenizer.vocab_size(),
        block_size: opts.block,
        n_layer: opts.layers,
        n_head: opts.heads,
        n_embd: opts.width,
        dropout: opts.dropout,
        ..GptConfig::default()
    };
    let mut model = Gpt::new(config, 0)?;
    eprintln!("GPT: {} parameters", malmoi::tensor::nn::Module::num_parameters(&model));
    let run = TrainConfig {
        max_steps: opts.steps,
        learning_rate: opts.lr,
        schedule: LrSchedule::Cosine { warmup_steps: (opts.steps / 10).min(200), min_factor: 0.1 },
        grad_clip: 1.0,
        eval_interval: opts.eval_interval,
        eval_at_start: false,
        seed: 1337,
    };
    let lm = LmConfig { batch_size: opts.batch, block_size: opts.block, ..LmConfig::default() };
    let trainer = Trainer::new(run).with_session(Session::checkpointed(opts.out.join("checkpoints")));
    let log = train(&mut model, &train_tokens, &val_tokens, &lm, &trainer)?;
    log.plot(&opts.out.join("loss.svg"), 50)?;
    let last = log.last_eval().ok_or("no validation was run")?;
    println!(
        "validation loss {:.4} nats/token, perplexity {:.2} after {} steps ({:.0} s of training)",
        last.metrics["val_loss"], last.metrics["val_perplexity"], last.step, last.seconds
    );
    let precision = if opts.half { Precision::F16 } else { Precision::F32 };
    let generator = Generator::new(model, tokenizer)?;
    generator.save_with(&opts.out, precision)?;
    log.write_jsonl(&opts.out.join("train_log.jsonl"))?;
    std::fs::remove_dir_all(opts.out.join("checkpoints"))?;
    // Samples from the saved model, as a user loading it would get them.
    let generator = Generator::from_dir(&opts.out)?;
    for prompt in ["영화가", "배우들 연기가", ""] {
        let out = generator
            .generate(prompt, &GenerationConfig { top_k: 50, top_p: 0.95, ..GenerationConfig::sampling(40, 0.9, 0) })?;
        println!("{prompt}{}", out.text);
    }
    Ok(())
}
