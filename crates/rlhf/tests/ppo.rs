//! PPO end to end on a tiny GPT: the reward rises, runs are reproducible and resumable, and bad
//! input stops with typed errors.

use malmoi_rlhf::Error;
use malmoi_rlhf::ppo::{FnReward, KlControl, Ppo, PpoConfig, Rollout};
use malmoi_rlhf::reward::RewardModel;
use malmoi_tokenize::BpeTrainer;
use malmoi_tokenize::tokenizer::Tokenizer;
use malmoi_transformer::generation::{GenerationConfig, Generator};
use malmoi_transformer::train::{Checkpoints, RunOptions};
use malmoi_transformer::{Gpt, GptConfig};

fn tokenizer(texts: &[&str]) -> Tokenizer {
    BpeTrainer::new().vocab_size(260).special_tokens(["<|endoftext|>"]).train(texts.iter().copied()).unwrap()
}

fn policy(seed: u64) -> Generator {
    let tokenizer = tokenizer(&["abc abd", "bca"]);
    let config = GptConfig {
        vocab_size: tokenizer.vocab_size(),
        block_size: 16,
        n_layer: 1,
        n_head: 2,
        n_embd: 16,
        dropout: 0.0,
        ..GptConfig::default()
    };
    Generator::new(Gpt::new(config, seed).unwrap(), tokenizer).unwrap()
}

/// Fraction of the response's tokens from the lower half of the vocabulary (about ½ for the
/// untuned policy).
fn share_of_low_ids(rollouts: &[Rollout]) -> malmoi_rlhf::Result<Vec<f32>> {
    let low = |r: &Rollout| r.sequence.response.iter().filter(|&&id| id < 130).count() as f32;
    Ok(rollouts.iter().map(|r| low(r) / r.sequence.response.len() as f32).collect())
}

fn prompts(generator: &Generator) -> Vec<Vec<usize>> {
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

#[test]
fn ppo_raises_the_reward_and_measures_the_kl() {
    let mut generator = policy(1);
    let prompts = prompts(&generator);
    let reward = FnReward(share_of_low_ids);
    let mut ppo = Ppo::new(&mut generator, &reward, config(60)).unwrap();
    let log = ppo.train(&prompts, &prompts, RunOptions::default()).unwrap();
    let (first, last) = log.first_and_last().unwrap();
    let rollout_mean =
        |steps: &[malmoi_rlhf::ppo::PpoStep]| steps.iter().map(|s| s.reward).sum::<f64>() / steps.len() as f64;
    let (early, late) = (rollout_mean(&log.steps[..10]), rollout_mean(&log.steps[50..]));
    assert!(late > early + 0.2, "rollout reward {early} → {late}");
    assert!(first.kl.abs() < 1e-4, "the untuned policy is its own reference: KL {}", first.kl);
    assert!(last.reward > first.reward + 0.2, "held-out reward {} → {}", first.reward, last.reward);
    assert!(last.kl > 0.0);
    assert_eq!(log.steps.len(), 60);
    assert!(log.steps.iter().all(|s| (0.0..=1.0).contains(&s.clip_fraction) && s.entropy > 0.0));
}

#[test]
fn same_seed_same_run_and_a_resumed_run_continues_exactly() {
    let reward = FnReward(share_of_low_ids);
    let run = |stop: Option<usize>, checkpoints: Option<&Checkpoints>| {
        let mut generator = policy(2);
        let prompts = prompts(&generator);
        let mut ppo = Ppo::new(&mut generator, &reward, config(6)).unwrap();
        ppo.train(&prompts, &prompts[..2], RunOptions { checkpoints, progress: false, stop_at_step: stop }).unwrap()
    };
    let whole = run(None, None);
    assert_eq!(whole, run(None, None));
    let dir = tempfile::tempdir().unwrap();
    let checkpoints = Checkpoints::new(dir.path());
    let first_half = run(Some(3), Some(&checkpoints));
    assert_eq!(first_half.steps.len(), 3);
    let resumed = run(None, Some(&checkpoints));
    assert_eq!(resumed.steps, whole.steps);
    assert_eq!(resumed.evals.last(), whole.evals.last());
}

#[test]
fn non_finite_rewards_stop_the_run() {
    let mut generator = policy(3);
    let prompts = prompts(&generator);
    let reward = FnReward(|rollouts: &[Rollout]| Ok(vec![f32::NAN; rollouts.len()]));
    let mut ppo = Ppo::new(&mut generator, &reward, config(2)).unwrap();
    assert!(matches!(ppo.train(&prompts, &[], RunOptions::default()), Err(Error::NonFinite { .. })));
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
        assert!(matches!(ppo.train(&bad, &[], RunOptions::default()), Err(Error::Input(_))), "{bad:?}");
    }
}

#[test]
fn a_reward_model_with_another_vocabulary_is_refused() {
    let mut generator = policy(5);
    let other = tokenizer(&["xyz xyw", "zzz"]);
    let config = GptConfig {
        vocab_size: other.vocab_size(),
        block_size: 16,
        n_layer: 1,
        n_head: 2,
        n_embd: 16,
        ..GptConfig::default()
    };
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
        let log = ppo.train(&prompts, &prompts[..1], RunOptions::default()).unwrap();
        log.steps[50..].iter().map(|s| s.kl).sum::<f64>() / 10.0
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
    let log = Ppo::new(&mut generator, &reward, config).unwrap().train(&prompts, &[], RunOptions::default()).unwrap();
    for step in &log.steps {
        assert_eq!((step.clip_fraction, step.approx_kl), (0.0, 0.0), "step {}", step.step);
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
            ppo.train(&prompts, &prompts[..2], RunOptions::default()).unwrap()
        })
    };
    let one = run(1);
    assert_eq!(one, run(1));
    assert_eq!(one, run(2));
}
