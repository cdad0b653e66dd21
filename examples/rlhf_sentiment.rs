//! RLHF's classic first demo, in Korean: PPO makes the NSMC GPT write positive movie reviews,
//! with the shipped NSMC sentiment model's P(positive) as the reward and a KL leash to the
//! untuned GPT; then DPO on pairs of the untuned GPT's reviews ranked by the same classifier;
//! with `--grpo`, GRPO too: `--num-generations` reviews per opening, each scored against the
//! others of its group, with the same budget of rollouts per step as PPO.
//!
//! ```text
//! cargo run --release --example rlhf_sentiment                  # small run, a few minutes
//! cargo run --release --example rlhf_sentiment -- --grpo        # PPO, DPO and GRPO
//! cargo run --release --example rlhf_sentiment -- --grpo --no-ppo --no-dpo   # GRPO alone
//! cargo run --release --example rlhf_sentiment -- --steps 200 --batch-size 64   # longer
//! ```
//!
//! Prompts are `<|endoftext|>` plus the first 2–4 tokens of NSMC training reviews (held-out
//! prompts come from the test reviews); the policy continues each for `--max-new-tokens`, and the
//! classifier scores the whole review (prompt + continuation). Everything lands in `--out`:
//! `ppo.svg` (reward, KL, β, entropy, clip fraction, value loss per step), `ppo_log.jsonl` (the
//! engine's log: every step's metrics and every evaluation), `dpo.svg`, `grpo.svg` and
//! `grpo_log.jsonl`, `summary.json` (each run adds its entries to what is there), and the tuned
//! policies in Hugging Face's layout (`ppo-model/`, `dpo-model/`, `grpo-model/`). Checkpoints in
//! `OUT/*-checkpoints`: run the same command again to resume.
//!
//! The reward is the classifier's P(positive); `--length-weight` adds a rule reward for reviews
//! of `--length-target` characters (`WeightedSum` of the two), and the held-out reward is then
//! that sum.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};

use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use malmoi::datasets::nsmc::read_labeled_tsv;
use malmoi::rlhf::dpo::{Dpo, with_reference};
use malmoi::rlhf::fit::{FitConfig, fit};
use malmoi::rlhf::grpo::{Grpo, GrpoConfig, LengthReward, LossType, ScaleRewards, WeightedSum};
use malmoi::rlhf::ppo::{KlControl, Ppo, PpoConfig};
use malmoi::rlhf::reward::Preference;
use malmoi::rlhf::rollout::{FnReward, RewardFunction, Rollout, generate_rollouts};
use malmoi::seq::sentiment::SentimentPipeline;
use malmoi::tokenize::Analyzer;
use malmoi::train::{EvalRecord, Metrics, Session, TrainLog};
use malmoi::transformer::generation::{GenerationConfig, Generator};

#[derive(Parser, Debug)]
#[command(about = "PPO, DPO and GRPO make the NSMC GPT write positive reviews.")]
struct Args {
    /// The policy to tune (a GPT directory).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/models/gpt"))]
    policy: PathBuf,
    /// The sentiment model whose P(positive) is the reward.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/models/sentiment"))]
    sentiment: PathBuf,
    /// Reviews whose openings are the training prompts (NSMC TSV).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/nsmc/ratings_train.txt"))]
    train_reviews: PathBuf,
    /// Reviews whose openings are the held-out prompts.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/nsmc/ratings_test.txt"))]
    test_reviews: PathBuf,
    /// Output folder.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/target/rlhf_sentiment"))]
    out: PathBuf,
    /// Training prompts.
    #[arg(long, default_value_t = 2000)]
    prompts: usize,
    /// Held-out prompts (each answered once per evaluation, with fixed seeds).
    #[arg(long, default_value_t = 128)]
    held_out: usize,
    /// PPO steps (and GRPO's).
    #[arg(long, default_value_t = 60)]
    steps: usize,
    /// Rollouts per PPO step (and per GRPO step: `batch_size / num_generations` openings).
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Rollouts per optimisation step.
    #[arg(long, default_value_t = 8)]
    mini_batch_size: usize,
    /// PPO epochs per batch of rollouts.
    #[arg(long, default_value_t = 4)]
    ppo_epochs: usize,
    /// PPO's learning rate.
    #[arg(long, default_value_t = 1e-4)]
    learning_rate: f32,
    /// Initial β of the adaptive KL penalty (TRL's 0.2 is for rewards that are logits; a
    /// probability in [0, 1] needs a lighter leash).
    #[arg(long, default_value_t = 0.05)]
    init_beta: f64,
    /// Target KL (nats per review) of the adaptive penalty.
    #[arg(long, default_value_t = 6.0)]
    kl_target: f64,
    /// Keep β fixed at this value instead of adapting it.
    #[arg(long)]
    fixed_beta: Option<f64>,
    /// Tokens each continuation may add.
    #[arg(long, default_value_t = 16)]
    max_new_tokens: usize,
    /// Sampling temperature of the rollouts.
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Preference pairs for DPO (each from two samples of the untuned GPT).
    #[arg(long, default_value_t = 1024)]
    dpo_pairs: usize,
    /// DPO's β.
    #[arg(long, default_value_t = 0.1)]
    dpo_beta: f32,
    /// DPO epochs.
    #[arg(long, default_value_t = 2)]
    dpo_epochs: usize,
    /// DPO's learning rate.
    #[arg(long, default_value_t = 5e-5)]
    dpo_learning_rate: f32,
    /// Skip DPO.
    #[arg(long)]
    no_dpo: bool,
    /// Skip PPO.
    #[arg(long)]
    no_ppo: bool,
    /// Run GRPO too.
    #[arg(long)]
    grpo: bool,
    /// GRPO: reviews per opening (G).
    #[arg(long, default_value_t = 8)]
    num_generations: usize,
    /// GRPO: passes over each batch of rollouts (μ).
    #[arg(long, default_value_t = 1)]
    num_iterations: usize,
    /// GRPO: rollouts per optimisation step.
    #[arg(long, default_value_t = 8)]
    grpo_mini_batch_size: usize,
    /// GRPO's learning rate.
    #[arg(long, default_value_t = 1e-4)]
    grpo_learning_rate: f32,
    /// GRPO's β, the weight of the per-token k3 KL to the untuned GPT (0: no reference pass;
    /// the paper's 0.04 let the KL run to 18 nats per review in 60 steps here).
    #[arg(long, default_value_t = 0.1)]
    grpo_beta: f64,
    /// GRPO's clip range ε.
    #[arg(long, default_value_t = 0.2)]
    epsilon: f32,
    /// GRPO's averaging of per-token losses: dapo (TRL's default), grpo or dr_grpo.
    #[arg(long, default_value = "dapo")]
    loss_type: String,
    /// GRPO's advantage scaling: group (TRL's default), batch or none.
    #[arg(long, default_value = "group")]
    scale_rewards: String,
    /// Weight of a rule reward for reviews of `--length-target` characters (0: off).
    #[arg(long, default_value_t = 0.0)]
    length_weight: f32,
    /// The review length (characters of the continuation) the length reward aims at.
    #[arg(long, default_value_t = 20)]
    length_target: usize,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1234)]
    seed: u64,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let classifier = SentimentPipeline::load(&args.sentiment, Analyzer::new()?)?;
    let policy = Generator::from_dir(&args.policy)?;
    let prompts = review_openings(&policy, &args.train_reviews, args.prompts, args.seed)?;
    let held_out = review_openings(&policy, &args.test_reviews, args.held_out, args.seed + 1)?;
    println!("{} training prompts, {} held-out prompts", prompts.len(), held_out.len());
    let sentiment = FnReward(|rollouts: &[Rollout]| {
        let texts: Vec<String> = rollouts.iter().map(|r| format!("{}{}", r.prompt_text, r.text)).collect();
        let verdicts = classifier.predict_batch(&texts).map_err(|e| malmoi::rlhf::Error::Input(e.to_string()))?;
        Ok(verdicts.iter().map(|v| v.sentiment.positive).collect())
    });
    let mut reward = WeightedSum::new().with(1.0, &sentiment);
    if args.length_weight != 0.0 {
        reward = reward.with(args.length_weight, LengthReward::chars(args.length_target));
    }
    let config = ppo_config(&args);
    let path = args.out.join("summary.json");
    let mut summary: BTreeMap<String, f64> = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)?,
        Err(_) => BTreeMap::new(),
    };
    let runs = Runs { args: &args, prompts: &prompts, held_out: &held_out, reward: &reward };
    if !args.no_ppo {
        summary.extend(runs.ppo(&config)?);
    }
    if !args.no_dpo {
        summary.extend(runs.dpo(&config)?);
    }
    if args.grpo {
        summary.extend(runs.grpo()?);
    }
    println!("\n{}", serde_json::to_string_pretty(&summary)?);
    std::fs::write(&path, serde_json::to_string_pretty(&summary)?)?;
    println!("curves: {}", args.out.display());
    Ok(())
}

/// What every trainer of the example starts from: the options, the training and held-out
/// review openings, and the reward.
struct Runs<'a> {
    args: &'a Args,
    prompts: &'a [Vec<u32>],
    held_out: &'a [Vec<u32>],
    reward: &'a dyn RewardFunction,
}

impl Runs<'_> {
    /// PPO from the untuned GPT; returns the untuned and the tuned policy's held-out reward, and
    /// the tuned one's KL.
    fn ppo(&self, config: &PpoConfig) -> Result<BTreeMap<String, f64>, Box<dyn Error>> {
        let Runs { args, prompts, held_out, reward } = *self;
        let mut policy = Generator::from_dir(&args.policy)?;
        let (log, untuned_samples, samples) = {
            let mut ppo = Ppo::new(&mut policy, &reward, config.clone())?;
            let untuned_samples = ppo.samples(held_out, 4)?;
            let log = ppo.train(prompts, held_out, Session::checkpointed(args.out.join("ppo-checkpoints")))?;
            ppo.save_pretrained(args.out.join("ppo-model"))?;
            (log, untuned_samples, ppo.samples(held_out, 4)?)
        };
        log.plot(&args.out.join("ppo.svg"), 1)?;
        log.write_jsonl(&args.out.join("ppo_log.jsonl"))?;
        let (before, after) = before_and_after(&log)?;
        print_samples("untuned GPT", &before.held_out(), &untuned_samples);
        print_samples(&format!("PPO after {} steps", after.step), &after.held_out(), &samples);
        Ok(BTreeMap::from([
            ("untuned_reward".to_string(), before.metrics["val_reward"]),
            ("ppo_reward".to_string(), after.metrics["val_reward"]),
            ("ppo_kl".to_string(), after.metrics["val_kl"]),
        ]))
    }

    /// GRPO from the untuned GPT with the same rollouts per step as PPO, evaluated as PPO is;
    /// returns the untuned and the tuned policy's held-out reward, and the tuned one's KL.
    fn grpo(&self) -> Result<BTreeMap<String, f64>, Box<dyn Error>> {
        let Runs { args, prompts, held_out, reward } = *self;
        let config = grpo_config(args)?;
        println!(
            "\nGRPO: {} steps × {} openings × {} reviews, β {}, ε {}, loss {:?}, advantages scaled by {:?}",
            config.steps,
            config.prompts_per_step(),
            config.num_generations,
            config.beta,
            config.epsilon,
            config.loss_type,
            config.scale_rewards
        );
        let mut policy = Generator::from_dir(&args.policy)?;
        let (log, samples) = {
            let mut grpo = Grpo::new(&mut policy, reward, config)?;
            let log = grpo.train(prompts, held_out, Session::checkpointed(args.out.join("grpo-checkpoints")))?;
            grpo.save_pretrained(args.out.join("grpo-model"))?;
            (log, grpo.samples(held_out, 4)?)
        };
        log.plot(&args.out.join("grpo.svg"), 1)?;
        log.write_jsonl(&args.out.join("grpo_log.jsonl"))?;
        let (before, after) = before_and_after(&log)?;
        print_samples(&format!("GRPO after {} steps", after.step), &after.held_out(), &samples);
        let series =
            |name: &str| log.series(name).iter().map(|(_, v)| format!("{v:.3}")).collect::<Vec<_>>().join(", ");
        println!("GRPO held-out reward per evaluation: {}", series("val_reward"));
        println!("GRPO held-out KL per evaluation: {}", series("val_kl"));
        Ok(BTreeMap::from([
            ("untuned_reward".to_string(), before.metrics["val_reward"]),
            ("grpo_reward".to_string(), after.metrics["val_reward"]),
            ("grpo_kl".to_string(), after.metrics["val_kl"]),
            ("grpo_seconds".to_string(), after.seconds),
        ]))
    }

    /// DPO on pairs of the untuned GPT's continuations ranked by the classifier; returns held-out
    /// preference accuracy before and after, and the tuned policy's held-out reward and KL,
    /// measured exactly as PPO's.
    fn dpo(&self, config: &PpoConfig) -> Result<BTreeMap<String, f64>, Box<dyn Error>> {
        let Runs { args, prompts, held_out, reward } = *self;
        let reference = Generator::from_dir(&args.policy)?;
        let pad = reference.end_of_text().ok_or("no <|endoftext|>")?;
        let generation = GenerationConfig { eos_token_id: vec![pad], ..config.generation.clone() };
        let train_prompts = &prompts[..args.dpo_pairs.min(prompts.len())];
        let train = ranked_pairs(&reference, train_prompts, reward, &generation, args.seed)?;
        let test = ranked_pairs(&reference, held_out, reward, &generation, args.seed + 1)?;
        println!("\nDPO: {} training pairs, {} held-out pairs", train.len(), test.len());
        let (train, test) =
            (with_reference(&reference.model, train, pad)?, with_reference(&reference.model, test, pad)?);
        let mut policy = Generator::from_dir(&args.policy)?;
        let fit_config = FitConfig {
            epochs: args.dpo_epochs,
            batch_size: 16,
            learning_rate: args.dpo_learning_rate,
            warmup_steps: 10,
            eval_interval: 25,
            seed: args.seed,
            ..FitConfig::default()
        };
        let log = {
            let mut dpo = Dpo::new(&mut policy.model, args.dpo_beta, pad)?;
            fit(&mut dpo, &train, &test, &fit_config, Session::checkpointed(args.out.join("dpo-checkpoints")))?
        };
        log.plot(&args.out.join("dpo.svg"), 20)?;
        policy.save(args.out.join("dpo-model"))?;
        let (accuracy_before, accuracy_after) = log.first_and_last("val_accuracy").ok_or("no held-out pairs")?;
        let steps = log.steps.len();
        let measured = Ppo::with_reference(&mut policy, reference.model, &reward, config.clone())?;
        let metrics = measured.evaluate(held_out)?;
        print_samples(&format!("DPO after {steps} steps"), &metrics, &measured.samples(held_out, 4)?);
        Ok(BTreeMap::from([
            ("dpo_accuracy_before".to_string(), accuracy_before),
            ("dpo_accuracy_after".to_string(), accuracy_after),
            ("dpo_reward".to_string(), metrics["reward"]),
            ("dpo_kl".to_string(), metrics["kl"]),
        ]))
    }
}

fn before_and_after(log: &TrainLog) -> Result<(&EvalRecord, &EvalRecord), Box<dyn Error>> {
    Ok((log.evals.first().ok_or("no held-out prompts")?, log.last_eval().ok_or("no held-out prompts")?))
}

fn grpo_config(args: &Args) -> Result<GrpoConfig, Box<dyn Error>> {
    let loss_type: LossType = serde_json::from_value(serde_json::Value::String(args.loss_type.clone()))
        .map_err(|_| format!("--loss-type: dapo, grpo or dr_grpo, not {:?}", args.loss_type))?;
    let scale_rewards: ScaleRewards = serde_json::from_value(serde_json::Value::String(args.scale_rewards.clone()))
        .map_err(|_| format!("--scale-rewards: group, batch or none, not {:?}", args.scale_rewards))?;
    Ok(GrpoConfig {
        steps: args.steps,
        batch_size: args.batch_size,
        num_generations: args.num_generations,
        mini_batch_size: args.grpo_mini_batch_size,
        num_iterations: args.num_iterations,
        learning_rate: args.grpo_learning_rate,
        beta: args.grpo_beta,
        epsilon: args.epsilon,
        scale_rewards,
        loss_type,
        generation: ppo_config(args).generation,
        eval_interval: 10,
        seed: args.seed,
        ..GrpoConfig::default()
    })
}

fn ppo_config(args: &Args) -> PpoConfig {
    let kl = match args.fixed_beta {
        Some(beta) => KlControl::Fixed { beta },
        None => KlControl::Adaptive { init_beta: args.init_beta, target: args.kl_target, horizon: 10_000.0 },
    };
    let generation = GenerationConfig {
        max_new_tokens: args.max_new_tokens,
        do_sample: true,
        temperature: args.temperature,
        ..GenerationConfig::default()
    };
    PpoConfig {
        steps: args.steps,
        batch_size: args.batch_size,
        mini_batch_size: args.mini_batch_size,
        ppo_epochs: args.ppo_epochs,
        learning_rate: args.learning_rate,
        kl,
        generation,
        eval_interval: 10,
        seed: args.seed,
        ..PpoConfig::default()
    }
}

/// `<|endoftext|>` + the first 2–4 tokens of up to `n` non-empty reviews (a seeded choice).
fn review_openings(policy: &Generator, path: &Path, n: usize, seed: u64) -> Result<Vec<Vec<u32>>, Box<dyn Error>> {
    let start = policy.end_of_text().ok_or("the policy's tokenizer has no <|endoftext|>")?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut openings = Vec::with_capacity(n);
    for review in read_labeled_tsv(path)?.iter().filter(|r| !r.document.trim().is_empty()) {
        if openings.len() == n {
            break;
        }
        let ids = policy.prompt_ids(&review.document)?;
        let keep = rng.random_range(2..=4).min(ids.len());
        openings.push(std::iter::once(start).chain(ids[..keep].iter().copied()).collect());
    }
    Ok(openings)
}

/// A held-out evaluation (`reward`, `kl`) and the first answers it scored.
fn print_samples(title: &str, metrics: &Metrics, samples: &[(String, String)]) {
    println!("\n{title}: held-out reward {:.3}, KL {:.2}", metrics["reward"], metrics["kl"]);
    for (prompt, response) in samples {
        println!("  [{prompt}]{response}");
    }
}

/// Two samples per prompt from `model`, the one the classifier scores higher chosen (ties
/// dropped).
fn ranked_pairs(
    model: &Generator,
    prompts: &[Vec<u32>],
    reward: &dyn RewardFunction,
    generation: &GenerationConfig,
    seed: u64,
) -> Result<Vec<Preference>, Box<dyn Error>> {
    let indexed: Vec<(usize, &[u32])> = prompts.iter().map(Vec::as_slice).enumerate().collect();
    let first = generate_rollouts(&model.model, &model.tokenizer, &indexed, generation, seed)?;
    let second = generate_rollouts(&model.model, &model.tokenizer, &indexed, generation, !seed)?;
    let (a, b) = (reward.rewards(&first)?, reward.rewards(&second)?);
    Ok(first
        .into_iter()
        .zip(second)
        .zip(a.iter().zip(&b))
        .filter(|(_, (x, y))| x != y)
        .map(|((f, s), (x, y))| {
            let (chosen, rejected) = if x > y { (f, s) } else { (s, f) };
            Preference { chosen: chosen.sequence, rejected: rejected.sequence }
        })
        .collect())
}
