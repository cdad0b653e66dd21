//! PPO end to end on a tiny GPT: the reward rises, runs are reproducible and resumable, and bad
//! input stops with typed errors.

mod common;

use common::tiny_config;
use malmoi_rlhf::Error;
use malmoi_rlhf::ppo::{FnReward, KlControl, Ppo, PpoConfig, Rollout, STEP_METRICS};
use malmoi_rlhf::reward::RewardModel;
use malmoi_tensor::nn::Module;
use malmoi_tokenize::BpeTrainer;
use malmoi_tokenize::tokenizer::Tokenizer;
use malmoi_train::{Checkpoints, Session, StepRecord, TrainLog};
use malmoi_transformer::Gpt;
use malmoi_transformer::generation::{GenerationConfig, Generator};

fn tokenizer(texts: &[&str]) -> Tokenizer {
    BpeTrainer::new().vocab_size(260).special_tokens(["<|endoftext|>"]).train(texts.iter().copied()).unwrap()
}

fn policy(seed: u64) -> Generator {
    let tokenizer = tokenizer(&["abc abd", "bca"]);
    let config = tiny_config(tokenizer.vocab_size(), 0.0);
    Generator::new(Gpt::new(config, seed).unwrap(), tokenizer).unwrap()
}

/// Fraction of the response's tokens from the lower half of the vocabulary (about ½ for the
/// untuned policy).
fn share_of_low_ids(rollouts: &[Rollout]) -> malmoi_rlhf::Result<Vec<f32>> {
    let low = |r: &Rollout| r.sequence.response.iter().filter(|&&id| id < 130).count() as f32;
    Ok(rollouts.iter().map(|r| low(r) / r.sequence.response.len() as f32).collect())
}

fn prompts(generator: &Generator) -> Vec<Vec<u32>> {
    ["ab", "b", "c", "ca", "bb", "cc"].iter().map(|p| generator.prompt_ids(p).unwrap()).collect()
}

fn config(steps: usize) -> PpoConfig {
    PpoConfig {
        steps,
        batch_size: 8,
        mini_batch_size: 4,
        ppo_epochs: 2,
        learning_rate: 3e-3,
        kl: KlControl::Fixed { beta: 0.02 },
        generation: GenerationConfig { max_new_tokens: 6, do_sample: true, ..GenerationConfig::default() },
        eval_interval: 5,
        seed: 7,
        ..PpoConfig::default()
    }
}

/// A step's metric.
fn metric(step: &StepRecord, name: &str) -> f64 {
    step.metrics[name]
}

#[test]
fn ppo_raises_the_reward_and_measures_the_kl() {
    let mut generator = policy(1);
    let prompts = prompts(&generator);
    let reward = FnReward(share_of_low_ids);
    let mut ppo = Ppo::new(&mut generator, &reward, config(60)).unwrap();
    let log = ppo.train(&prompts, &prompts, Session::default()).unwrap();
    let (first_reward, last_reward) = log.first_and_last("val_reward").unwrap();
    let (first_kl, last_kl) = log.first_and_last("val_kl").unwrap();
    let rollout_mean =
        |steps: &[StepRecord]| steps.iter().map(|s| metric(s, "reward")).sum::<f64>() / steps.len() as f64;
    let (early, late) = (rollout_mean(&log.steps[..10]), rollout_mean(&log.steps[50..]));
    assert!(late > early + 0.2, "rollout reward {early} → {late}");
    assert!(first_kl.abs() < 1e-4, "the untuned policy is its own reference: KL {first_kl}");
    assert!(last_reward > first_reward + 0.2, "held-out reward {first_reward} → {last_reward}");
    assert!(last_kl > 0.0);
    assert_eq!(log.steps.len(), 60);
    assert_eq!(log.evals.len(), 13, "at the start and every 5 steps");
    for step in &log.steps {
        assert!(STEP_METRICS.iter().all(|name| step.metrics.contains_key(*name)), "step {}", step.step);
        assert!((0.0..=1.0).contains(&metric(step, "clip_fraction")) && metric(step, "entropy") > 0.0);
    }
    let samples = ppo.samples(&prompts, 4).unwrap();
    assert_eq!(samples.len(), 4);
    assert_eq!(ppo.evaluate(&prompts).unwrap()["reward"], last_reward, "the samples' evaluation is the last one");
    let dir = tempfile::tempdir().unwrap();
    log.plot(&dir.path().join("ppo.svg"), 1).unwrap();
    let svg = std::fs::read_to_string(dir.path().join("ppo.svg")).unwrap();
    assert!(svg.contains("clip_fraction") && svg.contains("held-out"));
}

#[test]
fn same_seed_same_run_and_a_resumed_run_continues_exactly() {
    let reward = FnReward(share_of_low_ids);
    // adaptive β, so its state must come back with the checkpoint
    let config = PpoConfig { kl: KlControl::Adaptive { init_beta: 0.1, target: 0.5, horizon: 20.0 }, ..config(6) };
    // a fresh process each time: only the checkpoint folder carries over
    let run = |session: Session| {
        let mut generator = policy(2);
        let prompts = prompts(&generator);
        let mut ppo = Ppo::new(&mut generator, &reward, config.clone()).unwrap();
        let log = ppo.train(&prompts, &prompts[..2], session).unwrap();
        let value_head: Vec<_> = ppo.value_head.named_parameters().iter().map(|(_, t)| t.to_array()).collect();
        drop(ppo);
        let policy: Vec<_> = generator.model.named_parameters().iter().map(|(_, t)| t.to_array()).collect();
        (log, policy, value_head)
    };
    let whole = run(Session::default());
    let again = run(Session::default());
    assert_eq!(whole.0.without_times(), again.0.without_times());
    assert_eq!((&whole.1, &whole.2), (&again.1, &again.2));
    let betas: Vec<f64> = whole.0.steps.iter().map(|s| metric(s, "beta")).collect();
    assert!(betas.windows(2).all(|w| w[0] != w[1]), "β adapts every step: {betas:?}");
    let dir = tempfile::tempdir().unwrap();
    let checkpointed = || Session { checkpoints: Some(Checkpoints::new(dir.path())), ..Session::default() };
    let first_half = run(Session { stop_at_step: Some(3), ..checkpointed() });
    assert_eq!(first_half.0.steps.len(), 3);
    let resumed = run(checkpointed());
    assert_eq!(resumed.0.steps, whole.0.steps, "every step, β included");
    assert_eq!((&resumed.1, &resumed.2), (&whole.1, &whole.2), "the policy and the value head");
    let last = |log: &TrainLog| log.last_eval().map(|e| (e.step, e.metrics["val_reward"], e.metrics["val_kl"]));
    assert_eq!(last(&resumed.0), last(&whole.0));
}

#[test]
fn non_finite_rewards_stop_the_run() {
    let mut generator = policy(3);
    let prompts = prompts(&generator);
    let reward = FnReward(|rollouts: &[Rollout]| Ok(vec![f32::NAN; rollouts.len()]));
    let mut ppo = Ppo::new(&mut generator, &reward, config(2)).unwrap();
    let result = ppo.train(&prompts, &[], Session::default());
    assert!(
        matches!(result, Err(Error::Train(malmoi_train::Error::NonFinite { step: 1, ref what })) if what == "reward")
    );
    // on held-out prompts the engine catches it before the first step
    let result = ppo.train(&prompts, &prompts, Session::default());
    assert!(matches!(result, Err(Error::Train(malmoi_train::Error::NonFinite { step: 0, .. }))));
}

#[test]
fn bad_prompts_and_knobs_are_refused() {
    let mut generator = policy(4);
    let reward = FnReward(share_of_low_ids);
    assert!(matches!(
        Ppo::new(&mut generator, &reward, PpoConfig { mini_batch_size: 9, ..config(1) }),
        Err(Error::Input(_))
    ));
    let mut ppo = Ppo::new(&mut generator, &reward, config(1)).unwrap();
    for bad in [vec![vec![]], vec![vec![1; 16]], vec![vec![9999]], vec![]] {
        assert!(matches!(ppo.train(&bad, &[], Session::default()), Err(Error::Input(_))), "{bad:?}");
    }
}

#[test]
fn a_reward_model_with_another_vocabulary_is_refused() {
    let mut generator = policy(5);
    let other = tokenizer(&["xyz xyw", "zzz"]);
    let config = tiny_config(other.vocab_size(), 0.0);
    let reward_model =
        RewardModel::from_generator(Generator::new(Gpt::new(config, 0).unwrap(), other).unwrap(), 0).unwrap();
    assert!(matches!(Ppo::new(&mut generator, &reward_model, PpoConfig::default()), Err(Error::VocabularyMismatch(_))));
}

#[test]
fn the_policy_saves_in_hugging_face_layout_with_its_value_head() {
    let mut generator = policy(6);
    let reward = FnReward(share_of_low_ids);
    let ppo = Ppo::new(&mut generator, &reward, config(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    ppo.save_pretrained(dir.path()).unwrap();
    for file in ["config.json", "model.safetensors", "tokenizer.json", "value_head.safetensors"] {
        assert!(dir.path().join(file).exists(), "{file}");
    }
    let loaded = Generator::from_dir(dir.path()).unwrap();
    let ids = ndarray::array![[1, 2, 3]];
    let (a, _) = generator.model.forward(&ids, None).unwrap();
    let (b, _) = loaded.model.forward(&ids, None).unwrap();
    assert_eq!(a.to_array(), b.to_array());
}

#[test]
fn a_stronger_kl_penalty_keeps_the_policy_nearer_the_reference() {
    let reward = FnReward(share_of_low_ids);
    let final_kl = |beta: f64| {
        let mut generator = policy(1);
        let prompts = prompts(&generator);
        let mut ppo =
            Ppo::new(&mut generator, &reward, PpoConfig { kl: KlControl::Fixed { beta }, ..config(60) }).unwrap();
        let log = ppo.train(&prompts, &prompts[..1], Session::default()).unwrap();
        log.steps[50..].iter().map(|s| metric(s, "kl")).sum::<f64>() / 10.0
    };
    let (loose, tight) = (final_kl(0.0), final_kl(0.5));
    assert!(tight < 0.5 * loose, "KL with β = 0.5: {tight}, with β = 0: {loose}");
}

/// With one minibatch and one epoch the optimisation sees exactly the rollout's policy: the
/// ratio is 1 everywhere, so nothing is clipped and the policy has not moved yet.
#[test]
fn a_single_update_starts_from_the_rollout_policy() {
    let mut generator = policy(8);
    let prompts = prompts(&generator);
    let reward = FnReward(share_of_low_ids);
    let config = PpoConfig { mini_batch_size: 8, ppo_epochs: 1, ..config(3) };
    let log = Ppo::new(&mut generator, &reward, config).unwrap().train(&prompts, &[], Session::default()).unwrap();
    for step in &log.steps {
        assert_eq!((metric(step, "clip_fraction"), metric(step, "approx_kl")), (0.0, 0.0), "step {}", step.step);
    }
}

/// Training is deterministic for a seed on one thread, and the same on two: rollouts are
/// seeded per prompt and every reduction runs in a fixed order.
#[test]
fn one_thread_and_two_threads_give_the_same_run() {
    let reward = FnReward(share_of_low_ids);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut generator = policy(9);
            let prompts = prompts(&generator);
            let mut ppo = Ppo::new(&mut generator, &reward, config(4)).unwrap();
            ppo.train(&prompts, &prompts[..2], Session::default()).unwrap().without_times()
        })
    };
    let one = run(1);
    assert_eq!(one, run(1));
    assert_eq!(one, run(2));
}
