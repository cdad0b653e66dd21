//! PPO end to end on a tiny GPT: the reward rises, runs are reproducible and resumable, and bad
//! input stops with typed errors (with the checks every on-policy trainer passes,
//! `common::on_policy`).

mod common;

use common::on_policy::ppo_config as config;
use common::on_policy::{
    LOW_IDS, RuleReward, Train, assert_resumes_exactly, assert_the_reward_rises, fresh, metric, on_policy_tests,
    plotted, policy, tokenizer, train_fresh, weights,
};
use common::tiny_config;
use malmoi_rlhf::Error;
use malmoi_rlhf::ppo::{KlControl, Ppo, PpoConfig, STEP_METRICS};
use malmoi_rlhf::reward::RewardModel;
use malmoi_train::Session;
use malmoi_transformer::Gpt;
use malmoi_transformer::generation::Generator;

on_policy_tests!(Ppo);

/// PPO with `config` against `reward`, as [`train_fresh`] trains it.
fn ppo(reward: &'static RuleReward, config: PpoConfig) -> impl Train {
    move |generator, prompts, held_out| {
        Ppo::new(generator, reward, config.clone())?.train(prompts, held_out, Session::default())
    }
}

#[test]
fn ppo_raises_the_reward_and_measures_the_kl() {
    let (mut generator, prompts) = fresh(1);
    let mut ppo = Ppo::new(&mut generator, &LOW_IDS, config(60)).unwrap();
    let (log, last_kl) = assert_the_reward_rises(&mut ppo, &prompts, &STEP_METRICS);
    assert!(last_kl > 0.0);
    let svg = plotted(&log);
    assert!(svg.contains("clip_fraction") && svg.contains("held-out"));
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
fn same_seed_same_run_and_a_resumed_run_continues_exactly() {
    // adaptive β, so its state must come back with the checkpoint
    let config = PpoConfig { kl: KlControl::Adaptive { init_beta: 0.1, target: 0.5, horizon: 20.0 }, ..config(6) };
    let [whole, _] = assert_resumes_exactly(|session| {
        let (mut generator, prompts) = fresh(2);
        let mut ppo = Ppo::new(&mut generator, &LOW_IDS, config.clone()).unwrap();
        let log = ppo.train(&prompts, &prompts[..2], session).unwrap();
        let value_head = weights(&ppo.value_head);
        drop(ppo);
        (log, (weights(&generator.model), value_head))
    });
    let betas: Vec<f64> = whole.0.steps.iter().map(|s| metric(s, "beta")).collect();
    assert!(betas.windows(2).all(|w| w[0] != w[1]), "β adapts every step: {betas:?}");
}

#[test]
fn bad_knobs_are_refused() {
    let too_large_a_minibatch = PpoConfig { mini_batch_size: 9, ..config(1) };
    assert!(matches!(Ppo::new(&mut policy(4), &LOW_IDS, too_large_a_minibatch), Err(Error::Input(_))));
}

#[test]
fn the_policy_saves_in_hugging_face_layout_with_its_value_head() {
    let mut generator = policy(6);
    let ppo = Ppo::new(&mut generator, &LOW_IDS, config(1)).unwrap();
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
    let final_kl = |beta: f64| {
        let log = train_fresh(1, 1, ppo(&LOW_IDS, PpoConfig { kl: KlControl::Fixed { beta }, ..config(60) }));
        log.steps[50..].iter().map(|s| metric(s, "kl")).sum::<f64>() / 10.0
    };
    let (loose, tight) = (final_kl(0.0), final_kl(0.5));
    assert!(tight < 0.5 * loose, "KL with β = 0.5: {tight}, with β = 0: {loose}");
}

/// With one minibatch and one epoch the optimisation sees exactly the rollout's policy: the
/// ratio is 1 everywhere, so nothing is clipped and the policy has not moved yet.
#[test]
fn a_single_update_starts_from_the_rollout_policy() {
    let log = train_fresh(8, 0, ppo(&LOW_IDS, PpoConfig { mini_batch_size: 8, ppo_epochs: 1, ..config(3) }));
    for step in &log.steps {
        assert_eq!((metric(step, "clip_fraction"), metric(step, "approx_kl")), (0.0, 0.0), "step {}", step.step);
    }
}
