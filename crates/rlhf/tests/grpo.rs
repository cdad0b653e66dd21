//! GRPO: its formulas against the NumPy fixture (`benches/reference/rlhf_fixtures.py` writes
//! `tests/fixtures/formulas.json`), and end to end on a tiny GPT: a rule reward rises at a
//! bounded KL, runs are reproducible and resumable, and bad input stops with typed errors (with the
//! checks every on-policy trainer passes, `common::on_policy`).

mod common;

use ndarray::Array2;
use serde::Deserialize;

use common::on_policy::grpo_config as config;
use common::on_policy::{
    LOW_IDS, RuleReward, Train, assert_resumes_exactly, assert_the_reward_rises, fresh, metric, on_policy_tests,
    plotted, policy, prompts, share_of_low_ids, train_fresh, weights,
};
use malmoi_rlhf::Error;
use malmoi_rlhf::grpo::{
    Grpo, GrpoConfig, GrpoObjective, LengthReward, LossType, STEP_METRICS, ScaleRewards, WeightedSum, group_advantages,
    k3,
};
use malmoi_rlhf::rollout::{FnReward, RewardFunction, Rollout};
use malmoi_tensor::Tensor;
use malmoi_train::{Checkpoints, Session};

on_policy_tests!(Grpo);

/// GRPO with `config` against `reward`, as [`train_fresh`] trains it.
fn grpo(reward: &'static RuleReward, config: GrpoConfig) -> impl Train {
    move |generator, prompts, held_out| {
        Grpo::new(generator, reward, config.clone())?.train(prompts, held_out, Session::default())
    }
}

const TOLERANCE: f64 = 1e-5;

#[derive(Deserialize)]
struct Fixture {
    grpo_advantages: Vec<Advantages>,
    grpo_k3: K3,
    grpo_loss: Vec<LossCase>,
}

#[derive(Deserialize)]
struct Advantages {
    rewards: Vec<f32>,
    group_size: usize,
    scale_rewards: ScaleRewards,
    advantages: Vec<f64>,
}

#[derive(Deserialize)]
struct K3 {
    logprobs: Vec<f64>,
    reference: Vec<f64>,
    k3: Vec<f64>,
}

#[derive(Deserialize)]
struct LossCase {
    new_logprobs: Vec<Vec<f32>>,
    old_logprobs: Vec<Vec<f32>>,
    reference: Vec<Vec<f32>>,
    advantages: Vec<f32>,
    mask: Vec<Vec<f32>>,
    epsilon: f32,
    max_completion_length: usize,
    beta: f32,
    loss_type: LossType,
    loss: f64,
    clip_fraction: f64,
    kl: f64,
}

fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/formulas.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn matrix(rows: &[Vec<f32>]) -> Array2<f32> {
    Array2::from_shape_vec((rows.len(), rows[0].len()), rows.concat()).unwrap()
}

fn close(what: &str, got: f64, expected: f64) {
    assert!((got - expected).abs() <= TOLERANCE, "{what}: malmoi {got}, NumPy {expected}");
}

#[test]
fn group_advantages_match_the_fixture() {
    for f in fixture().grpo_advantages {
        let got = group_advantages(&f.rewards, f.group_size, f.scale_rewards).unwrap();
        assert_eq!(got.len(), f.advantages.len());
        for (i, (&g, &e)) in got.iter().zip(&f.advantages).enumerate() {
            close(&format!("advantage {i} ({:?})", f.scale_rewards), f64::from(g), e);
        }
        assert!(got[8..].iter().all(|&a| a == 0.0), "a tied group teaches nothing");
    }
}

#[test]
fn k3_matches_the_fixture() {
    let f = fixture().grpo_k3;
    for ((&p, &r), &e) in f.logprobs.iter().zip(&f.reference).zip(&f.k3) {
        close(&format!("k3({p}, {r})"), k3(p, r), e);
    }
}

#[test]
fn grpo_loss_clip_fraction_and_kl_match_the_fixture() {
    let cases = fixture().grpo_loss;
    assert_eq!(cases.len(), 9, "three β × three loss types");
    for f in cases {
        let objective = GrpoObjective {
            epsilon: f.epsilon,
            beta: f.beta,
            loss_type: f.loss_type,
            max_completion_length: f.max_completion_length,
        };
        let new = Tensor::constant(matrix(&f.new_logprobs).into_dyn());
        let (old, reference, mask) = (matrix(&f.old_logprobs), matrix(&f.reference), matrix(&f.mask));
        let got = objective.loss(&new, &old, Some(&reference), &f.advantages, &mask).unwrap();
        let what = format!("β {} {:?}", f.beta, f.loss_type);
        close(&format!("loss at {what}"), f64::from(got.loss.item().unwrap()), f.loss);
        close(&format!("clip fraction at {what}"), got.clip_fraction, f.clip_fraction);
        close(&format!("k3 at {what}"), got.kl.unwrap(), f.kl);
        assert!(f.clip_fraction > 0.0 && f.clip_fraction < 1.0, "the fixture exercises both branches");
        if f.beta == 0.0 {
            let without = objective.loss(&new, &old, None, &f.advantages, &mask).unwrap();
            assert_eq!((without.loss.item().unwrap(), without.kl), (got.loss.item().unwrap(), None));
        }
    }
}

#[test]
fn grpo_raises_a_rule_reward_at_a_bounded_kl() {
    let (mut generator, prompts) = fresh(1);
    let mut grpo = Grpo::new(&mut generator, &LOW_IDS, config(60)).unwrap();
    let (log, last_kl) = assert_the_reward_rises(&mut grpo, &prompts, &STEP_METRICS);
    assert!(last_kl > 0.0 && last_kl < 10.0, "KL {last_kl} nats per answer of 6 tokens");
    assert!(log.steps.iter().all(|step| metric(step, "kl_k3") >= 0.0));
    assert!(plotted(&log).contains("frac_reward_zero_std"));
}

/// A reward of a sum of parts, through the trainer as a trait object.
fn composed<'a>(length: &'a LengthReward) -> WeightedSum<'a> {
    WeightedSum::new().with(1.0, FnReward(share_of_low_ids)).with(0.5, length)
}

#[test]
fn same_seed_same_run_and_a_resumed_run_continues_exactly() {
    let length = LengthReward::tokens(4);
    let reward = composed(&length);
    let reward: &dyn RewardFunction = &reward;
    let [whole, first_half] = assert_resumes_exactly(|session| {
        let (mut generator, prompts) = fresh(2);
        let mut grpo = Grpo::new(&mut generator, reward, config(6)).unwrap();
        let log = grpo.train(&prompts, &prompts[..2], session).unwrap();
        drop(grpo);
        (log, weights(&generator.model))
    });
    assert_ne!(first_half.1, whole.1, "killed halfway, the policy is not the finished one");
}

#[test]
fn a_checkpoint_of_other_knobs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let session = || Session { checkpoints: Some(Checkpoints::new(dir.path())), ..Session::default() };
    let (mut generator, prompts) = fresh(2);
    Grpo::new(&mut generator, &LOW_IDS, config(2)).unwrap().train(&prompts, &[], session()).unwrap();
    let other = GrpoConfig { loss_type: LossType::Grpo, ..config(2) };
    let mut grpo = Grpo::new(&mut generator, &LOW_IDS, other).unwrap();
    let refused = grpo.train(&prompts, &[], session());
    assert!(matches!(refused, Err(Error::Train(malmoi_train::Error::Config(_)))), "{refused:?}");
}

#[test]
fn bad_knobs_and_a_reward_of_the_wrong_count_are_refused() {
    let mut generator = policy(4);
    for bad in [GrpoConfig { num_generations: 3, ..config(1) }, GrpoConfig { mini_batch_size: 9, ..config(1) }] {
        assert!(matches!(Grpo::new(&mut generator, &LOW_IDS, bad), Err(Error::Input(_))));
    }
    let short = FnReward(|_: &[Rollout]| Ok(vec![0.5]));
    let mut grpo = Grpo::new(&mut generator, &short, config(1)).unwrap();
    assert!(matches!(grpo.train(&prompts(&policy(4)), &[], Session::default()), Err(Error::Input(_))));
}

/// With β = 0 training makes no reference pass and logs no KL, yet held-out evaluation still
/// measures it; a strong β keeps the policy nearer the reference than none.
#[test]
fn beta_zero_skips_the_reference_and_a_strong_beta_keeps_the_kl_lower() {
    let run = |beta: f64| train_fresh(1, 6, grpo(&LOW_IDS, GrpoConfig { beta, ..config(40) }));
    let (free, leashed) = (run(0.0), run(1.0));
    assert!(free.steps.iter().all(|s| !s.metrics.contains_key("kl") && !s.metrics.contains_key("kl_k3")));
    let (free_kl, leashed_kl) = (free.first_and_last("val_kl").unwrap().1, leashed.first_and_last("val_kl").unwrap().1);
    assert!(leashed_kl < 0.5 * free_kl, "held-out KL with β = 1: {leashed_kl}, with β = 0: {free_kl}");
}

/// With one minibatch and one iteration the optimisation sees exactly the rollout's policy:
/// the ratio is 1 everywhere, so nothing is clipped.
#[test]
fn a_single_update_starts_from_the_rollout_policy() {
    let log = train_fresh(8, 0, grpo(&LOW_IDS, GrpoConfig { mini_batch_size: 8, num_iterations: 1, ..config(3) }));
    for step in &log.steps {
        assert_eq!(metric(step, "clip_fraction"), 0.0, "step {}", step.step);
        assert!(metric(step, "kl_k3") >= 0.0);
    }
}
