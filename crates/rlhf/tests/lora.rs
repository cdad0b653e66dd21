//! LoRA in every trainer (SFT, the reward model, DPO, PPO, GRPO) on tiny GPTs: each LoRA run
//! moves its held-out metric the way the full run does; the base's weights come out bit for bit
//! as they went in; the reference of DPO, PPO and GRPO is the base with the adapters off, held
//! in no second model; a killed LoRA run resumes to the uninterrupted one (the supervised
//! trainers and the on-policy ones: their two steps, one shared mechanism) and refuses another
//! base; NaN rewards still stop with the engine's typed error; and the adapters save in PEFT's
//! layout or merged.

mod common;

use ndarray::ArrayD;

use common::on_policy::{
    LOW_IDS, NAN_REWARDS, assert_nan_rewards_stop, assert_resumes_exactly, fresh, grpo_config, ppo_config, weights,
};
use common::{sft_data, tiny_config, toy_pairs};
use malmoi_rlhf::Error;
use malmoi_rlhf::batch::Sequence;
use malmoi_rlhf::dpo::{Dpo, with_reference};
use malmoi_rlhf::fit::{FitConfig, fit};
use malmoi_rlhf::grpo::{Grpo, GrpoConfig};
use malmoi_rlhf::lora::{LoraConfig, LoraModel, TargetModules, save_adapter, save_merged};
use malmoi_rlhf::policy::Reference;
use malmoi_rlhf::ppo::{Ppo, PpoConfig};
use malmoi_rlhf::reward::{RewardModel, RewardTraining, SCORE_HEAD_FILE};
use malmoi_rlhf::sft::Sft;
use malmoi_tensor::nn::Module;
use malmoi_tensor::nn::lora::LoraError;
use malmoi_tokenize::BpeTrainer;
use malmoi_train::{Checkpoints, Session, TrainLog};
use malmoi_transformer::Gpt;
use malmoi_transformer::generation::Generator;

/// Rank-4 adapters on every linear layer of the tiny GPT (its attention alone is too narrow a
/// bottleneck at this size), scale 2.
fn lora() -> LoraConfig {
    LoraConfig {
        r: 4,
        lora_alpha: 8.0,
        target_modules: Some(TargetModules::Pattern("all-linear".into())),
        ..LoraConfig::default()
    }
}

/// Scales `model`'s token embeddings to a trained model's size (N(0, 0.5²)): a fresh GPT's
/// N(0, 0.02²) embeddings, read through the frozen final norm, allow logits of about ±0.3 at
/// most, which no adapter can widen (full fine-tuning grows the embeddings themselves). The full
/// and the LoRA runs of each test start from the same such base.
fn trained_scale(model: Gpt) -> Gpt {
    model.wte.weight.update_data(|w| *w *= 25.0);
    model
}

fn tiny_gpt(seed: u64, dropout: f32) -> Gpt {
    trained_scale(Gpt::new(tiny_config(40, dropout), seed).unwrap())
}

/// [`fresh`]'s tiny policy (seeded `seed`) at a trained scale, and its prompts.
fn fresh_base(seed: u64) -> (Generator, Vec<Vec<u32>>) {
    let (Generator { model, tokenizer, .. }, prompts) = fresh(seed);
    (Generator::new(trained_scale(model), tokenizer).unwrap(), prompts)
}

/// Every parameter's name and values.
fn snapshot(model: &dyn Module) -> Vec<(String, ArrayD<f32>)> {
    model.named_parameters().into_iter().map(|(name, t)| (name, t.to_array())).collect()
}

/// Asserts that `model` carries adapters over exactly the base `before` was taken of: the
/// parameters other than the adapters are `before`, bit for bit.
fn assert_base_unchanged(model: &Gpt, before: &[(String, ArrayD<f32>)]) {
    assert!(!model.adapted_modules().is_empty(), "the model carries its adapters");
    let base: Vec<(String, ArrayD<f32>)> =
        snapshot(model).into_iter().filter(|(name, _)| !name.contains(".lora_")).collect();
    assert_eq!(base, before, "the base's weights");
}

/// The first and last held-out `metric` of a full run and of a LoRA run (`run(lora)`).
fn full_and_lora(metric: &str, run: impl Fn(Option<LoraConfig>) -> TrainLog) -> [(f64, f64); 2] {
    [None, Some(lora())].map(|lora| run(lora).first_and_last(&format!("val_{metric}")).unwrap())
}

/// Batches of 4, warm-up 2 steps, seed 3; LoRA at a learning rate 5 times the full run's (1e-2),
/// as adapters usually need.
fn fit_config(epochs: usize, lora: Option<LoraConfig>) -> FitConfig {
    let learning_rate = if lora.is_some() { 5e-2 } else { 1e-2 };
    FitConfig {
        epochs,
        batch_size: 4,
        learning_rate,
        warmup_steps: 2,
        eval_interval: 100,
        seed: 3,
        lora,
        ..FitConfig::default()
    }
}

#[test]
fn sft_with_lora_lowers_the_held_out_loss_as_full_sft_does_and_leaves_the_base_alone() {
    let data = sft_data();
    let base = snapshot(&tiny_gpt(2, 0.0));
    let [(full_before, full_after), (before, after)] = full_and_lora("loss", |lora| {
        let mut model = tiny_gpt(2, 0.0);
        let config = fit_config(60, lora.clone());
        let log = fit(&mut Sft::new(&mut model, 0), &data[..12], &data[12..], &config, Session::default()).unwrap();
        if lora.is_some() {
            assert_base_unchanged(&model, &base);
        }
        log
    });
    assert!(full_after < 0.5 * full_before, "full SFT: held-out loss {full_before} → {full_after}");
    assert_eq!(before, full_before, "fresh adapters change nothing: the same start");
    assert!(after < 0.5 * before, "LoRA SFT: held-out loss {before} → {after}");
}

/// A reward model on a tiny trunk with a byte-level tokenizer.
fn tiny_reward_model(seed: u64) -> RewardModel {
    let tokenizer =
        BpeTrainer::new().vocab_size(260).special_tokens(["<|endoftext|>"]).train(["abc abd", "bca"]).unwrap();
    let trunk = trained_scale(Gpt::new(tiny_config(tokenizer.vocab_size(), 0.0), seed).unwrap());
    RewardModel::from_generator(Generator::new(trunk, tokenizer).unwrap(), seed).unwrap()
}

#[test]
fn a_lora_reward_model_learns_the_rankings_with_its_head_fully_trained() {
    let pairs = toy_pairs();
    let base = snapshot(&tiny_reward_model(5).trunk);
    let initial_head = tiny_reward_model(5).head.weight.to_array();
    let scores = |model: &RewardModel| {
        let sequences: Vec<Sequence> = pairs.iter().flat_map(|p| [p.chosen.clone(), p.rejected.clone()]).collect();
        model.score(&sequences).unwrap()
    };
    let [full, (before, after)] = full_and_lora("accuracy", |lora| {
        let mut model = tiny_reward_model(5);
        let config = fit_config(20, lora.clone());
        let log =
            fit(&mut RewardTraining::new(&mut model), &pairs[..8], &pairs[8..], &config, Session::default()).unwrap();
        if lora.is_some() {
            assert_base_unchanged(&model.trunk, &base);
            assert_ne!(model.head.weight.to_array(), initial_head, "the score head trains");
            // saved as PEFT's folder with the head beside it, and merged
            let dir = tempfile::tempdir().unwrap();
            model.save_adapter(dir.path()).unwrap();
            for file in ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json", SCORE_HEAD_FILE] {
                assert!(dir.path().join(file).exists(), "{file}");
            }
            let adapted = scores(&model);
            assert!(model.save_pretrained(dir.path().join("merged")).is_err(), "a trunk with adapters is refused");
            model.save_merged(dir.path().join("merged")).unwrap();
            let merged = scores(&RewardModel::from_pretrained(dir.path().join("merged")).unwrap());
            approx::assert_abs_diff_eq!(merged.as_slice(), adapted.as_slice(), epsilon = 1e-4);
        }
        log
    });
    assert_eq!(full, (0.0, 1.0), "full: held-out accuracy");
    assert_eq!((before, after), (0.0, 1.0), "LoRA: held-out accuracy");
}

#[test]
fn lora_dpo_learns_the_preferences_against_its_own_base() {
    let pairs = toy_pairs();
    let base = snapshot(&tiny_gpt(5, 0.0));
    let run = |lora: Option<LoraConfig>| {
        let mut policy = tiny_gpt(5, 0.0);
        // the policy is its own reference: before its adapters, and (below) after training them
        let (train, test) = (
            with_reference(&policy, pairs[..8].to_vec(), 0).unwrap(),
            with_reference(&policy, pairs[8..].to_vec(), 0).unwrap(),
        );
        let config = fit_config(20, lora.clone());
        let log = fit(&mut Dpo::new(&mut policy, 0.5, 0).unwrap(), &train, &test, &config, Session::default()).unwrap();
        if lora.is_some() {
            assert_base_unchanged(&policy, &base);
            let again = with_reference(&policy, pairs[8..].to_vec(), 0).unwrap();
            assert_eq!(again, test, "the reference is the base with the adapters off, bit for bit");
        }
        log
    };
    let [full, lora_run] = [run(None), run(Some(lora()))];
    for (name, log) in [("full", &full), ("LoRA", &lora_run)] {
        let (before, after) = log.first_and_last("val_accuracy").unwrap();
        assert_eq!(before, 0.5, "{name}: the untuned policy is its reference: every pair a tie");
        assert_eq!(after, 1.0, "{name}: held-out accuracy");
        let (margin_before, margin_after) = log.first_and_last("val_margin").unwrap();
        assert!(margin_before == 0.0 && margin_after > 0.5, "{name}: reward margin {margin_before} → {margin_after}");
    }
}

/// [`ppo_config`], LoRA at a learning rate 10/3 times the full run's.
fn ppo_run(steps: usize, lora: Option<LoraConfig>) -> PpoConfig {
    let learning_rate = if lora.is_some() { 1e-2 } else { 3e-3 };
    PpoConfig { learning_rate, lora, ..ppo_config(steps) }
}

/// [`grpo_config`], LoRA at a learning rate 10/3 times the full run's.
fn grpo_run(steps: usize, lora: Option<LoraConfig>) -> GrpoConfig {
    let learning_rate = if lora.is_some() { 1e-2 } else { 3e-3 };
    GrpoConfig { learning_rate, lora, ..grpo_config(steps) }
}

/// Asserts what a LoRA on-policy run must show after training: the held-out reward rose as the
/// full run's did (both by more than 0.15, from the same start); the reference held no second
/// model (`reference` was [`Reference::AdaptersOff`]) and is the base exactly — the LoRA run's
/// evaluation equals one against a separate copy of the base — and the base is unchanged.
fn assert_on_policy_lora(
    full: &TrainLog,
    lora: &TrainLog,
    against_copy: f64,
    base: &[(String, ArrayD<f32>)],
    policy: &Gpt,
) {
    let (full_before, full_after) = full.first_and_last("val_reward").unwrap();
    let (before, after) = lora.first_and_last("val_reward").unwrap();
    assert!(full_after > full_before + 0.15, "full: held-out reward {full_before} → {full_after}");
    assert_eq!(before, full_before, "fresh adapters change nothing: the same start");
    assert!(after > before + 0.15, "LoRA: held-out reward {before} → {after}");
    let (_, kl) = lora.first_and_last("val_kl").unwrap();
    assert!(kl > 0.0, "the adapters moved the policy from its base");
    assert_eq!(against_copy, kl, "the KL to the base with the adapters off is the KL to a copy of the base");
    assert_base_unchanged(policy, base);
}

#[test]
fn lora_ppo_raises_the_reward_against_the_base_with_its_adapters_off() {
    let (mut generator, prompts) = fresh_base(1);
    let base = snapshot(&generator.model);
    let mut full_policy = fresh_base(1).0;
    let mut full = Ppo::new(&mut full_policy, &LOW_IDS, ppo_run(60, None)).unwrap();
    assert!(matches!(full.reference(), Reference::Model(_)), "full fine-tuning keeps a frozen copy");
    let full = full.train(&prompts, &prompts, Session::default()).unwrap();
    let mut ppo = Ppo::new(&mut generator, &LOW_IDS, ppo_run(60, Some(lora()))).unwrap();
    assert!(matches!(ppo.reference(), Reference::AdaptersOff), "no second model in a LoRA run");
    let initial_head = weights(&ppo.value_head);
    let log = ppo.train(&prompts, &prompts, Session::default()).unwrap();
    assert_ne!(weights(&ppo.value_head), initial_head, "the value head trains");
    let dir = tempfile::tempdir().unwrap();
    ppo.save_adapter(dir.path()).unwrap();
    assert!(ppo.save_pretrained(dir.path().join("refused")).is_err(), "a policy with adapters is refused");
    drop(ppo);
    let copy = fresh_base(1).0.model;
    let against_copy =
        Ppo::with_reference(&mut generator, copy, &LOW_IDS, ppo_run(60, None)).unwrap().evaluate(&prompts).unwrap();
    assert_on_policy_lora(&full, &log, against_copy["kl"], &base, &generator.model);
    assert!(dir.path().join("value_head.safetensors").exists());
    assert_saved_adapter_reloads(&mut generator, dir.path(), fresh_base(1).0.model);
}

#[test]
fn lora_grpo_raises_the_reward_against_the_base_with_its_adapters_off() {
    let (mut generator, prompts) = fresh_base(1);
    let base = snapshot(&generator.model);
    let full = Grpo::new(&mut fresh_base(1).0, &LOW_IDS, grpo_run(40, None))
        .unwrap()
        .train(&prompts, &prompts, Session::default())
        .unwrap();
    let mut grpo = Grpo::new(&mut generator, &LOW_IDS, grpo_run(40, Some(lora()))).unwrap();
    assert!(matches!(grpo.reference(), Reference::AdaptersOff), "no second model in a LoRA run");
    let log = grpo.train(&prompts, &prompts, Session::default()).unwrap();
    drop(grpo);
    let copy = fresh_base(1).0.model;
    let against_copy =
        Grpo::with_reference(&mut generator, copy, &LOW_IDS, grpo_run(40, None)).unwrap().evaluate(&prompts).unwrap();
    assert_on_policy_lora(&full, &log, against_copy["kl"], &base, &generator.model);
}

/// Asserts that the adapter folder in `dir` loads onto `base` (a fresh copy of the trained one)
/// to the adapted `generator`'s logits, and that merging it writes a plain model with the same
/// logits.
fn assert_saved_adapter_reloads(generator: &mut Generator, dir: &std::path::Path, mut reloaded: Gpt) {
    let ids = ndarray::array![[1, 2, 3, 4]];
    let logits = |model: &Gpt| model.forward(&ids, None).unwrap().0.to_array();
    let adapted = logits(&generator.model);
    reloaded.set_training(false);
    reloaded.load_adapter(dir).unwrap();
    assert_eq!(logits(&reloaded), adapted, "PEFT's folder loads back onto the base");
    let merged_dir = dir.join("merged");
    assert!(!save_merged(generator, &merged_dir).unwrap().is_empty());
    assert!(generator.model.adapted_modules().is_empty(), "merged in memory too");
    let merged = Generator::from_dir(&merged_dir).unwrap();
    approx::assert_abs_diff_eq!(logits(&merged.model).as_slice().unwrap(), adapted.as_slice().unwrap(), epsilon = 1e-4);
}

#[test]
fn a_killed_lora_sft_run_resumes_exactly_from_checkpoints_of_its_adapters() {
    // dropout on in the model and the adapters, so the masks must be redrawn per step as well
    let data = sft_data();
    let config = FitConfig {
        eval_interval: 5,
        weight_decay: 0.1,
        lora: Some(LoraConfig { lora_dropout: 0.1, ..lora() }),
        ..fit_config(4, None)
    };
    let run = |session: Session| {
        let mut model = tiny_gpt(2, 0.2);
        let log = fit(&mut Sft::new(&mut model, 0), &data[..12], &data[12..], &config, session).unwrap();
        (log, snapshot(&model))
    };
    let (whole_log, whole_weights) = run(Session::default());
    let dir = tempfile::tempdir().unwrap();
    let checkpointed = || Session { checkpoints: Some(Checkpoints::new(dir.path())), ..Session::default() };
    for stop in [2, 7] {
        assert_eq!(run(Session { stop_at_step: Some(stop), ..checkpointed() }).0.steps.len(), stop);
    }
    // the checkpoint keeps the adapters alone: the base is known unchanged
    let latest = Checkpoints::new(dir.path()).latest().unwrap().unwrap();
    let stored = malmoi_tensor::checkpoint::load(latest.join("parameters.safetensors")).unwrap();
    assert!(stored.names().iter().all(|name| name.contains(".lora_")), "{:?}", stored.names());
    assert_eq!(stored.names().len(), 2 * tiny_gpt(2, 0.0).add_lora(&lora(), 0).unwrap().len());
    let (log, weights) = run(checkpointed());
    assert_eq!(weights, whole_weights, "the weights, adapters and base");
    assert_eq!(log.without_times(), whole_log.without_times(), "every step and evaluation");
    // another base is refused: the checkpoint's adapters were trained on this one
    let other = Session { checkpoints: Some(Checkpoints::new(dir.path())), ..Session::default() };
    let err = fit(&mut Sft::new(&mut tiny_gpt(3, 0.2), 0), &data[..12], &data[12..], &config, other).unwrap_err();
    assert!(matches!(err, Error::Train(malmoi_train::Error::Config(ref m)) if m.contains("another config")), "{err}");
}

#[test]
fn a_killed_lora_ppo_run_resumes_exactly_with_its_adapters_and_value_head() {
    assert_resumes_exactly(|session| {
        let (mut generator, prompts) = fresh_base(2);
        let mut ppo = Ppo::new(&mut generator, &LOW_IDS, ppo_run(6, Some(lora()))).unwrap();
        let log = ppo.train(&prompts, &prompts[..2], session).unwrap();
        let value_head = weights(&ppo.value_head);
        drop(ppo);
        (log, (weights(&generator.model), value_head))
    });
}

#[test]
fn nan_rewards_still_stop_lora_runs_with_the_engines_error() {
    let (mut generator, prompts) = fresh(3);
    assert_nan_rewards_stop(&mut Ppo::new(&mut generator, &NAN_REWARDS, ppo_run(2, Some(lora()))).unwrap(), &prompts);
    let (mut generator, prompts) = fresh(3);
    assert_nan_rewards_stop(&mut Grpo::new(&mut generator, &NAN_REWARDS, grpo_run(2, Some(lora()))).unwrap(), &prompts);
}

#[test]
fn bad_lora_requests_are_typed_errors_and_leave_the_model_alone() {
    let data = sft_data();
    let mut model = tiny_gpt(2, 0.0);
    let typo = LoraConfig { target_modules: Some(TargetModules::names(["c_atn"])), ..lora() };
    let err = fit(&mut Sft::new(&mut model, 0), &data, &[], &fit_config(1, Some(typo)), Session::default());
    assert!(
        matches!(err, Err(Error::Transformer(malmoi_transformer::Error::Lora(LoraError::NoMatch { ref pattern }))) if pattern == "c_atn"),
        "{err:?}"
    );
    assert!(model.adapted_modules().is_empty());
    let zero_rank = PpoConfig { lora: Some(LoraConfig { r: 0, ..lora() }), ..ppo_run(1, None) };
    let (mut generator, _) = fresh(4);
    assert!(matches!(Ppo::new(&mut generator, &LOW_IDS, zero_rank), Err(Error::Transformer(_))));
    // the reference "adapters off" of a policy that has none would be the policy itself
    let off = Grpo::with_reference(&mut generator, Reference::AdaptersOff, &LOW_IDS, grpo_run(1, None));
    assert!(matches!(off, Err(Error::Input(_))));
    // adapters already there: a second set is refused, and `lora: None` trains them
    generator.model.add_lora(&lora(), 0).unwrap();
    assert!(matches!(
        Ppo::new(&mut generator, &LOW_IDS, ppo_run(1, Some(lora()))),
        Err(Error::Transformer(malmoi_transformer::Error::Lora(LoraError::AlreadyAdapted { .. })))
    ));
    let ppo = Ppo::new(&mut generator, &LOW_IDS, ppo_run(1, None)).unwrap();
    assert!(matches!(ppo.reference(), Reference::AdaptersOff));
    assert!(ppo.named_parameters().iter().all(|(name, _)| name.contains(".lora_") || name.starts_with("v_head.")));
    // a plain policy has no adapter to save
    let (mut plain, _) = fresh(4);
    assert!(save_adapter(&plain, tempfile::tempdir().unwrap().path()).is_err());
    assert!(
        Ppo::new(&mut plain, &LOW_IDS, ppo_run(1, None))
            .unwrap()
            .save_adapter(tempfile::tempdir().unwrap().path())
            .is_err()
    );
}
