//! The KoChatGPT pipeline in small: SFT on the multi-turn conversations → a reward model from
//! rankings → PPO (or DPO) on the PPO prompts, then the SFT and the tuned model's answers side by
//! side.
//!
//! ```text
//! cargo run --release --example chat                          # small run, minutes
//! cargo run --release --example chat -- --sft-epochs 4 --ppo-steps 100   # longer
//! cargo run --release --example chat -- --dpo                 # DPO instead of PPO
//! cargo run --release --example chat -- --lora --out /tmp/chat-lora   # LoRA adapters at every stage
//! ```
//!
//! The base model is `--base` (any GPT-2-layout folder `Gpt::from_pretrained` loads; by default
//! the NSMC GPT, `models/gpt`, context 64) with its context extended to `--block-size` (256 by
//! default; position `j` starts from the trained embedding of position `j` mod the base's
//! context). With `--lora` every stage trains LoRA adapters (`--lora-r`, `--lora-alpha`,
//! `--lora-targets`; learning rates `--lora-lr-factor` times the full run's) instead of all
//! weights — the reward model's score head and PPO's value head train fully, and
//! the reference of PPO and DPO is the policy with its adapters off — and each stage's adapters
//! are saved in PEFT's layout as `OUT/{sft,rm,ppo,dpo}-adapter` (their base: the extended
//! `--base` for SFT, `OUT/sft-model` for the others; the reward model's score head and PPO's
//! value head beside them), the merged models as `OUT/*-model`. Conversations are split by index:
//! every tenth from the first is held out for evaluation (SFT loss, reward-model pair accuracy),
//! every tenth from the second gives the reward model's training prompts, the rest are SFT
//! data. KoChatGPT's own ranking file is not at hand, so rankings are built the way the tutorial
//! built them, from answers of models of different strength: for each prompt the data's own
//! chatbot answer is ranked best, the SFT model's second, the untuned GPT's last (written out in
//! KoChatGPT's RM format as `OUT/rm_train.json` and `OUT/rm_test.json`). Every stage reports its
//! held-out metric before and after; models land in `OUT/{sft,rm,ppo,dpo}-model` in Hugging
//! Face's layout, curves as `OUT/*.svg`, figures in `OUT/summary.json`.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};

use clap::Parser;

use malmoi::rlhf::batch::Sequence;
use malmoi::rlhf::data::{
    Conversation, PromptRecord, RankingRecord, ReadOptions, SftRecord, read_conversations, read_records, write_records,
};
use malmoi::rlhf::dpo::{Dpo, with_reference};
use malmoi::rlhf::encode::Encoder;
use malmoi::rlhf::fit::{FitConfig, fit};
use malmoi::rlhf::lora::{LoraConfig, LoraModel, TargetModules, save_adapter, save_merged};
use malmoi::rlhf::policy::Reference;
use malmoi::rlhf::ppo::{Ppo, PpoConfig};
use malmoi::rlhf::reward::{Preference, RewardModel, RewardTraining};
use malmoi::rlhf::rollout::{RewardFunction, Rollout, generate_rollouts};
use malmoi::rlhf::sft::Sft;
use malmoi::rlhf::template::{PromptTemplate, Role, conversation_text};
use malmoi::tensor::nn::Module;
use malmoi::train::{Metrics, Session, TrainLog};
use malmoi::transformer::Gpt;
use malmoi::transformer::generation::{GenerationConfig, Generator};

#[derive(Parser, Debug)]
#[command(about = "SFT → reward model → PPO (or DPO) on KoChatGPT's data, in small.")]
struct Args {
    /// The base GPT: a GPT-2-layout model folder (`config.json`, `model.safetensors`,
    /// `tokenizer.json` with `<|endoftext|>`).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/models/gpt"))]
    base: PathBuf,
    /// KoChatGPT's multi-turn conversations.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/kochatgpt/kochatgpt_1_SFT_conversation.jsonl"))]
    conversations: PathBuf,
    /// KoChatGPT's PPO prompts (one JSON array of `{"prompt"}`).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/kochatgpt/kochatgpt_3_PPO.jsonl"))]
    ppo_prompts: PathBuf,
    /// Output folder.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/target/chat"))]
    out: PathBuf,
    /// Context length of the tuned models (the base's is extended to it).
    #[arg(long, default_value_t = 256)]
    block_size: usize,
    /// SFT epochs.
    #[arg(long, default_value_t = 2)]
    sft_epochs: usize,
    /// Reward-model epochs.
    #[arg(long, default_value_t = 2)]
    rm_epochs: usize,
    /// Tokens of each generated answer (rankings, PPO rollouts, side by side).
    #[arg(long, default_value_t = 32)]
    max_new_tokens: usize,
    /// PPO steps.
    #[arg(long, default_value_t = 20)]
    ppo_steps: usize,
    /// PPO prompts used for training (held-out ones come after them).
    #[arg(long, default_value_t = 640)]
    ppo_train: usize,
    /// Held-out PPO prompts.
    #[arg(long, default_value_t = 64)]
    ppo_held_out: usize,
    /// Tune with DPO on the reward model's training pairs instead of PPO.
    #[arg(long)]
    dpo: bool,
    /// Stop at the first malformed record instead of skipping it (skipped records are counted
    /// and reported; KoChatGPT's PPO file has three empty prompts).
    #[arg(long)]
    strict: bool,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1234)]
    seed: u64,
    /// Train LoRA adapters at every stage instead of all weights (saved in PEFT's layout as
    /// `OUT/*-adapter`).
    #[arg(long)]
    lora: bool,
    /// LoRA rank.
    #[arg(long, default_value_t = 8)]
    lora_r: usize,
    /// LoRA alpha (the adapters' scale is alpha / r).
    #[arg(long, default_value_t = 16.0)]
    lora_alpha: f32,
    /// Modules to adapt: comma-separated names or suffixes (`c_attn,c_proj,c_fc`) or
    /// `all-linear`; by default PEFT's for GPT-2, `c_attn`.
    #[arg(long)]
    lora_targets: Option<String>,
    /// A LoRA run's learning rates, as multiples of the full run's (adapters need larger ones).
    #[arg(long, default_value_t = 10.0)]
    lora_lr_factor: f32,
}

impl Args {
    /// The adapters of a stage tuned from `base` (`None` without `--lora`).
    fn lora(&self, base: &Path) -> Option<LoraConfig> {
        let target_modules = self.lora_targets.as_deref().map(|targets| match targets {
            "all-linear" => TargetModules::Pattern(targets.into()),
            names => TargetModules::names(names.split(',').map(str::trim)),
        });
        self.lora.then(|| LoraConfig {
            r: self.lora_r,
            lora_alpha: self.lora_alpha,
            target_modules,
            base_model_name_or_path: Some(base.display().to_string()),
            ..LoraConfig::default()
        })
    }

    /// A stage's learning rate: `full`, times `--lora-lr-factor` in a LoRA run.
    fn learning_rate(&self, full: f32) -> f32 {
        if self.lora { full * self.lora_lr_factor } else { full }
    }

    /// A supervised stage (SFT, reward model, DPO) tuned from `base`: `epochs` passes of batches
    /// of 16 at `full`'s [`learning_rate`](Self::learning_rate), evaluated every `eval_interval`
    /// steps, seeded with `--seed`, with the stage's adapters in a LoRA run.
    fn fit_config(&self, epochs: usize, full: f32, eval_interval: usize, base: &Path) -> FitConfig {
        FitConfig {
            epochs,
            batch_size: 16,
            learning_rate: self.learning_rate(full),
            eval_interval,
            seed: self.seed,
            lora: self.lora(base),
            ..FitConfig::default()
        }
    }
}

/// Conversations split by index: held out, reward-model prompts, SFT data.
struct Split<'c> {
    test: Vec<&'c Conversation>,
    rm: Vec<&'c Conversation>,
    sft: Vec<&'c Conversation>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let options = if args.strict { ReadOptions::strict() } else { ReadOptions::skipping() };
    let conversations = read_conversations(&args.conversations, &options)?;
    report_skipped("conversations", conversations.skipped_count());
    let template = PromptTemplate::default();
    let mut summary = BTreeMap::new();

    // 1. SFT
    let mut sft = extended(&args.base, args.block_size)?;
    let split = {
        let encoder = Encoder::new(&sft, &template)?;
        let parts = split(&conversations.records);
        println!(
            "{} conversations: {} for SFT, {} for reward-model prompts, {} held out",
            conversations.records.len(),
            parts.sft.len(),
            parts.rm.len(),
            parts.test.len()
        );
        let pairs = |what: &str, part: &[&Conversation]| fitting_pairs(what, &encoder, part);
        Split3 {
            sft: pairs("SFT", &parts.sft),
            rm: pairs("reward-model", &parts.rm),
            test: pairs("held-out", &parts.test),
        }
    };
    let (train, test) = {
        let encoder = Encoder::new(&sft, &template)?;
        (encode("SFT", &encoder, &split.sft)?, encode("held-out", &encoder, &split.test)?)
    };
    let pad = sft.end_of_text().ok_or("no <|endoftext|>")?;
    let sft_config = args.fit_config(args.sft_epochs, 5e-4, 50, &args.base);
    let log = fit(&mut Sft::new(&mut sft.model, pad), &train, &test, &sft_config, session(&args.out, "sft"))?;
    record(&mut summary, &log, "sft", "loss", &args.out)?;
    if args.lora {
        report_adapters("SFT", &sft.model, &mut summary);
        save_adapter(&sft, args.out.join("sft-adapter"))?;
    }
    let sft_dir = args.out.join("sft-model");
    save(&mut sft, &template, &sft_dir)?;

    // 2. Rankings (data > SFT > untuned) and the reward model
    let untuned = extended(&args.base, args.block_size)?;
    let generation = GenerationConfig {
        max_new_tokens: args.max_new_tokens,
        do_sample: true,
        temperature: 0.7,
        top_p: 0.9,
        eos_token_id: vec![pad],
        ..GenerationConfig::default()
    };
    let rm_train = rankings(&split.rm, &sft, &untuned, &template, &generation, args.seed)?;
    let rm_test = rankings(&split.test, &sft, &untuned, &template, &generation, args.seed + 1)?;
    write_records(args.out.join("rm_train.json"), &rm_train)?;
    write_records(args.out.join("rm_test.json"), &rm_test)?;
    let encoder = Encoder::new(&sft, &template)?;
    let (pairs_train, pairs_test) = (preferences(&encoder, &rm_train)?, preferences(&encoder, &rm_test)?);
    println!("reward model: {} training pairs, {} held-out pairs", pairs_train.len(), pairs_test.len());
    let mut reward_model = RewardModel::from_generator(Generator::from_dir(&sft_dir)?, args.seed)?;
    let rm_config = args.fit_config(args.rm_epochs, 1e-4, 50, &sft_dir);
    let log = fit(
        &mut RewardTraining::new(&mut reward_model),
        &pairs_train,
        &pairs_test,
        &rm_config,
        session(&args.out, "rm"),
    )?;
    record(&mut summary, &log, "rm", "accuracy", &args.out)?;
    if args.lora {
        reward_model.save_adapter(args.out.join("rm-adapter"))?;
    }
    reward_model.save_merged(args.out.join("rm-model"))?;

    // 3. PPO on KoChatGPT's prompts (or DPO on the reward model's pairs)
    let prompts = read_records::<PromptRecord>(&args.ppo_prompts, &options)?;
    report_skipped("PPO prompts", prompts.skipped_count());
    let (train_prompts, held_out) = ppo_prompts(&encoder, &prompts.records, args.ppo_train, args.ppo_held_out);
    let config = PpoConfig {
        steps: args.ppo_steps,
        batch_size: 32,
        mini_batch_size: 8,
        learning_rate: args.learning_rate(2e-5),
        generation: generation.clone(),
        eval_interval: 5,
        seed: args.seed,
        lora: args.lora(&sft_dir),
        ..PpoConfig::default()
    };
    let mut tuned = Generator::from_dir(&sft_dir)?;
    let name = if args.dpo { "dpo" } else { "ppo" };
    let adapter_dir = args.out.join(format!("{name}-adapter"));
    let (before, after): (Metrics, Metrics) = if args.dpo {
        // the reference: a second SFT model, or in a LoRA run the policy with its adapters off
        let reference = if args.lora { None } else { Some(Generator::from_dir(&sft_dir)?.model) };
        let (train, test) = {
            let model = reference.as_ref().unwrap_or(&tuned.model);
            (with_reference(model, pairs_train, pad)?, with_reference(model, pairs_test, pad)?)
        };
        let dpo_config = args.fit_config(1, 5e-5, 25, &sft_dir);
        let log =
            fit(&mut Dpo::new(&mut tuned.model, 0.1, pad)?, &train, &test, &dpo_config, session(&args.out, "dpo"))?;
        record(&mut summary, &log, "dpo", "accuracy", &args.out)?;
        // evaluation only: the policy as it is, against its reference
        let evaluation = PpoConfig { lora: None, ..config };
        let before =
            Ppo::new(&mut Generator::from_dir(&sft_dir)?, &reward_model, evaluation.clone())?.evaluate(&held_out)?;
        let reference = reference.map_or(Reference::AdaptersOff, Reference::from);
        let after = Ppo::with_reference(&mut tuned, reference, &reward_model, evaluation)?.evaluate(&held_out)?;
        if args.lora {
            save_adapter(&tuned, &adapter_dir)?;
        }
        (before, after)
    } else {
        let mut ppo = Ppo::new(&mut tuned, &reward_model, config)?;
        let log = ppo.train(&train_prompts, &held_out, session(&args.out, "ppo"))?;
        log.plot(&args.out.join("ppo.svg"), 1)?;
        log.write_jsonl(&args.out.join("ppo_log.jsonl"))?;
        if args.lora {
            ppo.save_adapter(&adapter_dir)?;
        }
        let first = log.evals.first().ok_or("no held-out prompts")?;
        let last = log.last_eval().ok_or("no held-out prompts")?;
        (first.held_out(), last.held_out())
    };
    println!(
        "{name}: held-out reward-model score {:.3} → {:.3}, KL to SFT {:.3}",
        before["reward"], after["reward"], after["kl"]
    );
    summary.insert(format!("{name}_reward_before"), before["reward"]);
    summary.insert(format!("{name}_reward_after"), after["reward"]);
    summary.insert(format!("{name}_kl"), after["kl"]);
    save(&mut tuned, &template, &args.out.join(format!("{name}-model")))?;

    // 4. Side by side
    let sft = Generator::from_dir(&sft_dir)?;
    side_by_side(&sft, &tuned, &reward_model, &held_out[..held_out.len().min(5)], &generation, args.seed)?;
    println!("\n{}", serde_json::to_string_pretty(&summary)?);
    std::fs::write(args.out.join("summary.json"), serde_json::to_string_pretty(&summary)?)?;
    Ok(())
}

fn split(conversations: &[Conversation]) -> Split<'_> {
    let mut split = Split { test: Vec::new(), rm: Vec::new(), sft: Vec::new() };
    for (i, conversation) in conversations.iter().enumerate() {
        let target = match i % 10 {
            0 => &mut split.test,
            1 => &mut split.rm,
            _ => &mut split.sft,
        };
        target.push(conversation);
    }
    split
}

/// The SFT pairs of the split's three parts.
struct Split3 {
    test: Vec<SftRecord>,
    rm: Vec<SftRecord>,
    sft: Vec<SftRecord>,
}

/// One pair per assistant turn, with as many earlier turns as context as fit the model's
/// context together with the whole answer (the earliest dropped first, whole user/assistant
/// exchanges at a time); where no prompt leaves room for the whole answer, the longest prompt
/// that fits alone, and the answer is cut when encoded. Says how many lost context and how many
/// did not fit even alone.
fn fitting_pairs(what: &str, encoder: &Encoder, conversations: &[&Conversation]) -> Vec<SftRecord> {
    let (mut pairs, mut shortened, mut left_out) = (Vec::new(), 0, 0);
    for conversation in conversations {
        let turns = &conversation.turns;
        for i in (1..turns.len()).filter(|&i| turns[i].role == Role::Assistant && turns[i - 1].role == Role::User) {
            let answer = &turns[i].content;
            let prompts: Vec<String> = (0..i).step_by(2).map(|j| conversation_text(&turns[j..i])).collect();
            let whole = |prompt: &String| encoder.pair(prompt, answer).is_ok_and(|pair| !pair.truncated);
            let fitting =
                prompts.iter().position(whole).or_else(|| prompts.iter().position(|p| encoder.prompt(p).is_ok()));
            match fitting {
                Some(k) => {
                    shortened += usize::from(k > 0);
                    pairs.push(SftRecord::new(prompts[k].clone(), answer.clone()));
                }
                None => left_out += 1,
            }
        }
    }
    println!(
        "{what}: {} pairs ({shortened} with their earliest turns dropped to fit the context, {left_out} too long even alone)",
        pairs.len()
    );
    pairs
}

/// The base GPT with its context extended to `block_size`.
fn extended(base: &Path, block_size: usize) -> Result<Generator, Box<dyn Error>> {
    let base = Generator::from_dir(base)?;
    let model = base.model.with_block_size(block_size)?;
    Ok(Generator::new(model, base.tokenizer)?)
}

/// Encodes the pairs whose prompt fits the context; says how many did not.
fn encode(what: &str, encoder: &Encoder, pairs: &[SftRecord]) -> Result<Vec<Sequence>, Box<dyn Error>> {
    let (mut sequences, mut too_long, mut truncated) = (Vec::new(), 0, 0);
    for pair in pairs {
        match encoder.pair(&pair.prompt, &pair.completion) {
            Ok(encoded) => {
                truncated += usize::from(encoded.truncated);
                sequences.push(encoded.sequence);
            }
            Err(malmoi::rlhf::Error::Input(_)) => too_long += 1,
            Err(e) => return Err(e.into()),
        }
    }
    println!(
        "{what}: {} pairs encoded, {too_long} left out (context longer than the model's), {truncated} answers cut to fit",
        sequences.len()
    );
    Ok(sequences)
}

/// A stage's session: progress shown, checkpoints kept in `OUT/STAGE-checkpoints` (a rerun
/// resumes).
fn session(out: &Path, stage: &str) -> Session {
    Session::checkpointed(out.join(format!("{stage}-checkpoints")))
}

/// Records a stage's held-out metric before and after, and draws its curves.
fn record(
    summary: &mut BTreeMap<String, f64>,
    log: &TrainLog,
    stage: &str,
    metric: &str,
    out: &Path,
) -> Result<(), Box<dyn Error>> {
    let (before, after) = log.first_and_last(&format!("val_{metric}")).ok_or("no held-out data")?;
    println!("{stage}: held-out {metric} {before:.4} → {after:.4}");
    summary.insert(format!("{stage}_{metric}_before"), before);
    summary.insert(format!("{stage}_{metric}_after"), after);
    log.plot(&out.join(format!("{stage}.svg")), 20)?;
    Ok(())
}

/// Saves a tuned model with its prompt template in Hugging Face's layout, its LoRA adapters (if
/// any) merged into its weights first.
fn save(model: &mut Generator, template: &PromptTemplate, dir: &Path) -> Result<(), Box<dyn Error>> {
    save_merged(model, dir)?;
    template.save(dir)?;
    Ok(())
}

/// Answers of `model` to the pairs' prompts (those that fit), in order, with `None` where the
/// prompt is too long.
fn answers(
    model: &Generator,
    template: &PromptTemplate,
    pairs: &[SftRecord],
    generation: &GenerationConfig,
    seed: u64,
) -> Result<Vec<Option<String>>, Box<dyn Error>> {
    let encoder = Encoder::new(model, template)?;
    let prompts: Vec<Option<Vec<u32>>> = pairs.iter().map(|p| encoder.prompt(&p.prompt).ok()).collect();
    let indexed: Vec<(usize, &[u32])> =
        prompts.iter().enumerate().filter_map(|(i, p)| Some((i, p.as_deref()?))).collect();
    let mut texts = vec![None; pairs.len()];
    for rollout in generate_rollouts(&model.model, &model.tokenizer, &indexed, generation, seed)? {
        texts[rollout.prompt_index] = Some(rollout.text);
    }
    Ok(texts)
}

/// Rankings of three answers per prompt: the data's (best), the SFT model's, the untuned
/// GPT's (worst). Prompts too long for the context, or where a model answered nothing, are
/// left out (counted).
fn rankings(
    pairs: &[SftRecord],
    sft: &Generator,
    untuned: &Generator,
    template: &PromptTemplate,
    generation: &GenerationConfig,
    seed: u64,
) -> Result<Vec<RankingRecord>, Box<dyn Error>> {
    let sft_answers = answers(sft, template, pairs, generation, seed)?;
    let untuned_answers = answers(untuned, template, pairs, generation, seed)?;
    let mut records = Vec::new();
    for ((pair, ours), theirs) in pairs.iter().zip(sft_answers).zip(untuned_answers) {
        let (Some(ours), Some(theirs)) = (ours, theirs) else { continue };
        if ours.trim().is_empty() || theirs.trim().is_empty() {
            continue;
        }
        records.push(RankingRecord::new(
            pair.prompt.clone(),
            vec![pair.completion.clone(), ours, theirs],
            vec![0, 1, 2],
        )?);
    }
    println!(
        "rankings: {} of {} prompts ranked (the rest too long or answered with nothing)",
        records.len(),
        pairs.len()
    );
    Ok(records)
}

/// The three ordered pairs of every ranking, as tokens (pairs that do not fit are counted).
fn preferences(encoder: &Encoder, rankings: &[RankingRecord]) -> Result<Vec<Preference>, Box<dyn Error>> {
    let (mut pairs, mut left_out) = (Vec::new(), 0);
    for pair in rankings.iter().flat_map(RankingRecord::pairs) {
        match (encoder.pair(&pair.prompt, &pair.chosen), encoder.pair(&pair.prompt, &pair.rejected)) {
            (Ok(chosen), Ok(rejected)) => {
                pairs.push(Preference { chosen: chosen.sequence, rejected: rejected.sequence })
            }
            _ => left_out += 1,
        }
    }
    if left_out > 0 {
        println!("preferences: {left_out} pairs left out (do not fit the context)");
    }
    Ok(pairs)
}

/// Training and held-out prompts that fit the context (long ones counted and left out).
fn ppo_prompts(
    encoder: &Encoder,
    records: &[PromptRecord],
    train: usize,
    held_out: usize,
) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let (mut fitting, mut skipped) = (Vec::new(), 0);
    for record in records {
        if fitting.len() == train + held_out {
            break;
        }
        match encoder.prompt(&record.prompt) {
            Ok(ids) => fitting.push(ids),
            Err(_) => skipped += 1,
        }
    }
    println!(
        "PPO prompts: {} for training, {} held out ({skipped} too long, left out)",
        fitting.len().min(train),
        fitting.len().saturating_sub(train)
    );
    let held = fitting.split_off(train.min(fitting.len()));
    (fitting, held)
}

fn side_by_side(
    sft: &Generator,
    tuned: &Generator,
    reward_model: &RewardModel,
    prompts: &[Vec<u32>],
    generation: &GenerationConfig,
    seed: u64,
) -> Result<(), Box<dyn Error>> {
    let indexed: Vec<(usize, &[u32])> = prompts.iter().map(Vec::as_slice).enumerate().collect();
    let before: Vec<Rollout> = generate_rollouts(&sft.model, &sft.tokenizer, &indexed, generation, seed)?;
    let after: Vec<Rollout> = generate_rollouts(&tuned.model, &tuned.tokenizer, &indexed, generation, seed)?;
    let (before_scores, after_scores) = (reward_model.rewards(&before)?, reward_model.rewards(&after)?);
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        println!("\n{}", b.prompt_text.trim_end());
        println!("  SFT   [{:+.2}] {}", before_scores[i], b.text.trim());
        println!("  tuned [{:+.2}] {}", after_scores[i], a.text.trim());
    }
    Ok(())
}

/// Says how many of `model`'s parameters a LoRA stage trained (its adapters), and records it.
fn report_adapters(stage: &str, model: &Gpt, summary: &mut BTreeMap<String, f64>) {
    let adapters: usize = model.trainable_parameters().iter().map(|(_, t)| t.len()).sum();
    let all = model.num_parameters();
    println!(
        "{stage}: LoRA adapters on {} modules, {adapters} parameters ({:.2}% of the model's {all})",
        model.adapted_modules().len(),
        100.0 * adapters as f64 / all as f64
    );
    summary.insert("lora_adapter_parameters".into(), adapters as f64);
}

fn report_skipped(what: &str, skipped: usize) {
    if skipped > 0 {
        println!("{what}: {skipped} malformed records skipped");
    }
}
