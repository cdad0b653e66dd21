//! KoChatGPT at KoGPT2's size, malmoi's side: one SFT, reward-model, DPO or GRPO training step, or
//! a greedy rollout, of a 125 M GPT-2 (KoGPT2's shape: 12 × 768, 12 heads, vocabulary 51,200,
//! context 1,024, tied output layer, random weights), with LoRA adapters or fully tuned, timed
//! step by step. It prints one JSON line of raw measurements, the fields
//! `benches/reference/kochatgpt_side_by_side.py` reads (its docstring describes both sides); that
//! script's shell companion runs both sides back to back and prints the table.
//!
//! ```text
//! cargo run --release --example chat_bench -- --step sft --mode lora
//! benches/reference/kochatgpt_side_by_side.sh        # PyTorch + PEFT, then malmoi, one table
//! ```
//!
//! Every training step runs the trainers' own code — the [`Objective`]s `Sft`, `RewardTraining`
//! and `Dpo`, `with_reference` for DPO's reference pass, `policy_forward` and `GrpoObjective` for
//! GRPO — then backward, AdamW and clearing the gradients, timed whole. The rows are random ids
//! (9..51,199; KoGPT2's nine special ids are left out) of `--seq-len` tokens, the first
//! `--prompt-len` of them the prompt. LoRA: rank 8, α 16 on `c_attn`, `c_proj` (attention's and
//! the MLP's) and `c_fc`, PEFT's GPT-2 layout; the reference of DPO and GRPO is the base with the
//! adapters switched off in a LoRA run, a frozen copy in a full one.

use std::error::Error;
use std::ops::ControlFlow;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde_json::json;

use malmoi::rlhf::batch::{ResponseBatch, Sequence, policy_forward};
use malmoi::rlhf::dpo::{Dpo, with_reference};
use malmoi::rlhf::fit::Objective;
use malmoi::rlhf::grpo::{GrpoObjective, LossType, ScaleRewards, group_advantages};
use malmoi::rlhf::lora::{LoraConfig, LoraModel, TargetModules};
use malmoi::rlhf::policy::{Reference, frozen_reference};
use malmoi::rlhf::reward::{Preference, RewardModel, RewardTraining};
use malmoi::rlhf::sft::Sft;
use malmoi::tensor::nn::init::Init;
use malmoi::tensor::nn::{Linear, Module};
use malmoi::tensor::optim::{AdamW, Optimizer, ParamGroup};
use malmoi::tensor::{Tensor, VarBuilder, no_grad};
use malmoi::tokenize::BpeTrainer;
use malmoi::transformer::generation::GenerationConfig;
use malmoi::transformer::{Gpt, GptConfig};

#[path = "common/process.rs"]
mod process;
use process::{load1, memory_mb};

/// KoGPT2's nine special ids (`<s>`, `</s>`, `<usr>`, `<pad>`, …) are 0..9; random rows avoid them.
const SPECIAL_IDS: u32 = 9;
/// KoGPT2's `<pad>`.
const PAD: u32 = 3;
const DPO_BETA: f32 = 0.1;
const GRPO_BETA: f32 = 0.04;
const GRPO_EPSILON: f32 = 0.2;
const WEIGHT_DECAY: f32 = 0.01;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Step {
    Sft,
    Rm,
    Dpo,
    Grpo,
    Generate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Lora,
    Full,
}

#[derive(Parser, Debug)]
#[command(about = "Times one training step (or greedy rollout) of a KoGPT2-size GPT-2, LoRA or full")]
struct Args {
    /// What to time.
    #[arg(long, value_enum)]
    step: Step,
    /// LoRA adapters (rank 8, α 16) or every weight.
    #[arg(long, value_enum)]
    mode: Mode,
    /// Pairs (SFT) or comparisons (reward model, DPO: twice as many rows) per step.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Answers per prompt (GRPO's group; rows of a rollout).
    #[arg(long, default_value_t = 4)]
    group: usize,
    /// Tokens per row.
    #[arg(long, default_value_t = 256)]
    seq_len: usize,
    /// Prompt tokens per row (the rest is the answer).
    #[arg(long, default_value_t = 39)]
    prompt_len: usize,
    /// Steps run before the timed ones (reported first in `step_s`).
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Timed training steps.
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Timed greedy decodes (`--step generate`), after a short untimed one.
    #[arg(long, default_value_t = 1)]
    gen_runs: usize,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seed of the weights and the rows.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// What one configuration measured (the JSON line's fields).
struct Measured {
    step_s: Vec<f64>,
    reference_s: Vec<f64>,
    losses: Vec<f64>,
    trainable_params: usize,
    total_params: usize,
    model_rss_mb: f64,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    if args.prompt_len == 0 || args.prompt_len >= args.seq_len || args.seq_len > kogpt2().block_size {
        return Err(format!(
            "--prompt-len {} must be at least 1 and below --seq-len {}, which is at most {}",
            args.prompt_len,
            args.seq_len,
            kogpt2().block_size
        )
        .into());
    }
    rayon::ThreadPoolBuilder::new().num_threads(args.threads).build_global()?;
    let load1_start = load1();
    let wall = Instant::now();
    let measured = match args.step {
        Step::Generate => generate(&args)?,
        _ => train(&args)?,
    };
    let line = json!({
        "step": format!("{:?}", args.step).to_lowercase(),
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "step_s": rounded(&measured.step_s),
        "reference_s": rounded(&measured.reference_s),
        "losses": measured.losses.iter().map(|l| (l * 1e4).round() / 1e4).collect::<Vec<_>>(),
        "trainable_params": measured.trainable_params,
        "total_params": measured.total_params,
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

/// GPT-2 at KoGPT2's size (`skt/kogpt2-base-v2`'s config), dropout off as in the PyTorch side.
fn kogpt2() -> GptConfig {
    GptConfig { vocab_size: 51_200, block_size: 1024, n_layer: 12, n_head: 12, n_embd: 768, ..GptConfig::default() }
}

/// PEFT's `LoraConfig(r=8, lora_alpha=16, target_modules=["c_attn", "c_proj", "c_fc"])`.
fn lora() -> LoraConfig {
    LoraConfig {
        r: 8,
        lora_alpha: 16.0,
        target_modules: Some(TargetModules::Names(vec!["c_attn".into(), "c_proj".into(), "c_fc".into()])),
        ..LoraConfig::default()
    }
}

/// A fresh KoGPT2-size GPT, with LoRA adapters in `Mode::Lora` (which freeze the whole base).
fn policy(args: &Args) -> Result<Gpt, Box<dyn Error>> {
    let mut model = Gpt::new(kogpt2(), args.seed)?;
    if args.mode == Mode::Lora {
        model.add_lora(&lora(), args.seed ^ 1)?;
    }
    Ok(model)
}

/// `rows` random rows of `--seq-len` ids, split into prompt and answer.
fn random_rows(args: &Args, rows: usize, rng: &mut StdRng) -> Result<Vec<Sequence>, Box<dyn Error>> {
    (0..rows)
        .map(|_| {
            let ids: Vec<u32> =
                (0..args.seq_len).map(|_| rng.random_range(SPECIAL_IDS..kogpt2().vocab_size as u32)).collect();
            Ok(Sequence::new(ids[..args.prompt_len].to_vec(), ids[args.prompt_len..].to_vec())?)
        })
        .collect()
}

fn comparisons(args: &Args, rng: &mut StdRng) -> Result<Vec<Preference>, Box<dyn Error>> {
    let rows = random_rows(args, 2 * args.batch, rng)?;
    let (chosen, rejected) = rows.split_at(args.batch);
    Ok(chosen.iter().zip(rejected).map(|(c, r)| Preference { chosen: c.clone(), rejected: r.clone() }).collect())
}

/// Times `--warmup` + `--steps` training steps of `args.step`.
fn train(args: &Args) -> Result<Measured, Box<dyn Error>> {
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    match args.step {
        Step::Sft => {
            let mut model = policy(args)?;
            let (params, rows) = (model.named_parameters(), random_rows(args, args.batch, &mut rng)?);
            let batch: Vec<&Sequence> = rows.iter().collect();
            let objective = Sft::new(&mut model, PAD);
            run_steps(args, params, || Ok((objective.loss(&batch)?, 0.0)))
        }
        Step::Rm => {
            let mut model = reward_model(args)?;
            let (params, pairs) = (model.named_parameters(), comparisons(args, &mut rng)?);
            let batch: Vec<&Preference> = pairs.iter().collect();
            let objective = RewardTraining::new(&mut model);
            run_steps(args, params, || Ok((objective.loss(&batch)?, 0.0)))
        }
        Step::Dpo => {
            let mut model = policy(args)?;
            let (params, pairs) = (model.named_parameters(), comparisons(args, &mut rng)?);
            let reference = frozen_reference(&model)?;
            let mut objective = Dpo::new(&mut model, DPO_BETA, PAD)?;
            run_steps(args, params, || {
                let start = Instant::now();
                let reference_model: &Gpt = match &reference {
                    Reference::Model(model) => model,
                    Reference::AdaptersOff => objective.transformer().expect("DPO tunes a GPT"),
                };
                let examples = with_reference(reference_model, pairs.clone(), PAD)?;
                let reference_s = start.elapsed().as_secs_f64();
                let batch: Vec<_> = examples.iter().collect();
                Ok((objective.loss(&batch)?, reference_s))
            })
        }
        Step::Grpo => grpo(args, &mut rng),
        Step::Generate => unreachable!("generation is timed by `generate`"),
    }
}

/// A reward model: a KoGPT2-size trunk and a scalar head (`GPT2ForSequenceClassification`,
/// one label); with LoRA, adapters on the trunk and the head trained fully (PEFT's `SEQ_CLS`).
fn reward_model(args: &Args) -> Result<RewardModel, Box<dyn Error>> {
    let trunk = policy(args)?;
    let head = Linear::with_init(768, 1, Init::Normal { mean: 0.0, std: 0.02 }, None, VarBuilder::fresh(args.seed))?;
    // The rows are ids already; the tokenizer is carried, never consulted.
    let tokenizer = BpeTrainer::new().vocab_size(260).special_tokens(["<pad>"]).train(["bench"])?;
    Ok(RewardModel { trunk, head, tokenizer, pad: PAD })
}

/// GRPO's step on one prompt's group of `--group` answers: the reference's per-token
/// log-probabilities without gradients, the policy's with, TRL's loss (`loss_type` "dapo", ε 0.2,
/// β 0.04, one pass per rollout: the old log-probabilities are the detached current ones) over
/// advantages of random rewards scaled within the group.
fn grpo(args: &Args, rng: &mut StdRng) -> Result<Measured, Box<dyn Error>> {
    let model = policy(args)?;
    let reference = frozen_reference(&model)?;
    let rows = random_rows(args, args.group, rng)?;
    let rewards: Vec<f32> = (0..args.group).map(|_| rng.random()).collect();
    let advantages = group_advantages(&rewards, args.group, ScaleRewards::Group)?;
    let batch = ResponseBatch::new(&rows, PAD, kogpt2().block_size)?;
    let loss = GrpoObjective {
        epsilon: GRPO_EPSILON,
        beta: GRPO_BETA,
        loss_type: LossType::Dapo,
        max_completion_length: args.seq_len - args.prompt_len,
    };
    let (params, policy) = (model.named_parameters(), &model);
    run_steps(args, params, || {
        let start = Instant::now();
        let reference_logprobs = match &reference {
            Reference::Model(model) => no_grad(|| policy_forward(model, &batch, 1.0))?,
            Reference::AdaptersOff => {
                policy.with_adapters_disabled(|base| no_grad(|| policy_forward(base, &batch, 1.0)))?
            }
        }
        .logprobs
        .to_array()
        .into_dimensionality()?;
        let reference_s = start.elapsed().as_secs_f64();
        let logprobs = policy_forward(policy, &batch, 1.0)?.logprobs;
        let old: Array2<f32> = logprobs.to_array().into_dimensionality()?;
        let scored = loss.loss(&logprobs, &old, Some(&reference_logprobs), &advantages, &batch.mask)?;
        Ok((scored.loss, reference_s))
    })
}

/// Runs the timed loop over a model whose parameters are `params` (those that train need
/// gradients: all in a full run, the adapters and heads in a LoRA one): `loss_of` gives a step's
/// loss (and its reference pass's seconds), then backward, AdamW (weight decay on matrices, as
/// `Supervised::optimizer` groups them) and clearing the gradients, all inside the step's time.
fn run_steps(
    args: &Args,
    params: Vec<(String, Tensor)>,
    mut loss_of: impl FnMut() -> Result<(Tensor, f64), Box<dyn Error>>,
) -> Result<Measured, Box<dyn Error>> {
    let total_params = params.iter().map(|(_, p)| p.len()).sum();
    let trained: Vec<(String, Tensor)> = params.into_iter().filter(|(_, p)| p.requires_grad()).collect();
    let trainable_params = trained.iter().map(|(_, p)| p.len()).sum();
    let learning_rate = if args.mode == Mode::Lora { 1e-4 } else { 1e-5 };
    let mut optimizer = AdamW::groups(ParamGroup::decay_matrices(trained, WEIGHT_DECAY), learning_rate)?;
    let model_rss_mb = memory_mb("VmRSS");
    let mut measured = Measured {
        step_s: Vec::new(),
        reference_s: Vec::new(),
        losses: Vec::new(),
        trainable_params,
        total_params,
        model_rss_mb,
    };
    for i in 0..args.warmup + args.steps {
        let start = Instant::now();
        let (loss, reference_s) = loss_of()?;
        loss.backward()?;
        optimizer.step()?;
        optimizer.zero_grad();
        measured.step_s.push(start.elapsed().as_secs_f64());
        measured.reference_s.push(reference_s);
        measured.losses.push(f64::from(loss.item()?));
        eprintln!("step {}/{}: {:.2} s", i + 1, args.warmup + args.steps, measured.step_s[i]);
    }
    Ok(measured)
}

/// Greedy decoding (KV cache) of `--group` rows from a `--prompt-len` prompt to `--seq-len`
/// tokens, the rows in parallel as `generate_rollouts` runs them; no end-of-text stop, so every
/// row decodes all its tokens.
fn generate(args: &Args) -> Result<Measured, Box<dyn Error>> {
    let mut model = policy(args)?;
    model.set_training(false);
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    let prompts = random_rows(args, args.group, &mut rng)?;
    let total_params = model.named_parameters().iter().map(|(_, p)| p.len()).sum();
    let model_rss_mb = memory_mb("VmRSS");
    let decode = |new_tokens: usize| -> Result<f64, Box<dyn Error + Send + Sync>> {
        let config = GenerationConfig::greedy(new_tokens);
        let start = Instant::now();
        let lengths = prompts
            .par_iter()
            .map(|row| Ok(model.generate_ids(&row.prompt, &config, |_| ControlFlow::Continue(()))?.ids().len()))
            .collect::<Result<Vec<usize>, Box<dyn Error + Send + Sync>>>()?;
        let seconds = start.elapsed().as_secs_f64();
        if let Some(short) = lengths.iter().find(|&&n| n != new_tokens) {
            return Err(format!("a row decoded {short} tokens, not {new_tokens}").into());
        }
        Ok(seconds)
    };
    decode(8).map_err(|e| e.to_string())?;
    let step_s = (0..args.gen_runs)
        .map(|_| decode(args.seq_len - args.prompt_len).map_err(|e| e.to_string()))
        .collect::<Result<Vec<f64>, String>>()?;
    let reference_s = vec![0.0; step_s.len()];
    Ok(Measured { step_s, reference_s, losses: Vec::new(), trainable_params: 0, total_params, model_rss_mb })
}

fn rounded(seconds: &[f64]) -> Vec<f64> {
    seconds.iter().map(|s| (s * 1000.0).round() / 1000.0).collect()
}
