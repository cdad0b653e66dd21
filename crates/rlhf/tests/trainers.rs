//! SFT, the reward model and DPO on tiny models: each objective is the formula it claims, each
//! trainer moves its held-out metric the right way, and each resumes from a killed run to the
//! uninterrupted one's weights and log. The reward model also loads a checkpoint written by
//! `transformers` (fixture from `benches/reference/rlhf_rm_fixture.py`).

mod common;

use std::path::Path;

use std::cell::Cell;

use common::{sft_data, tiny_config, toy_pairs};
use malmoi_rlhf::batch::{ResponseBatch, Sequence};
use malmoi_rlhf::dpo::{Dpo, DpoExample, with_reference};
use malmoi_rlhf::fit::{FitConfig, Objective, fit};
use malmoi_rlhf::reward::{Preference, RewardModel, RewardTraining};
use malmoi_rlhf::sft::Sft;
use malmoi_rlhf::{Error, Result};
use malmoi_tensor::Tensor;
use malmoi_tensor::nn::Module;
use malmoi_tokenize::BpeTrainer;
use malmoi_train::{Checkpoints, Metrics, Session, TrainLog};
use malmoi_transformer::Gpt;
use malmoi_transformer::generation::Generator;
use ndarray::ArrayD;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rm-tiny");

fn tiny_gpt(seed: u64) -> Gpt {
    tiny_gpt_with_dropout(seed, 0.0)
}

fn tiny_gpt_with_dropout(seed: u64, dropout: f32) -> Gpt {
    let config = tiny_config(40, dropout);
    Gpt::new(config, seed).unwrap()
}

/// A reward model on a tiny trunk with a byte-level tokenizer.
fn tiny_reward_model(seed: u64, dropout: f32) -> RewardModel {
    let tokenizer =
        BpeTrainer::new().vocab_size(260).special_tokens(["<|endoftext|>"]).train(["abc abd", "bca"]).unwrap();
    let config = tiny_config(tokenizer.vocab_size(), dropout);
    RewardModel::from_generator(Generator::new(Gpt::new(config, seed).unwrap(), tokenizer).unwrap(), seed).unwrap()
}

fn fit_config(epochs: usize) -> FitConfig {
    FitConfig {
        epochs,
        batch_size: 4,
        learning_rate: 1e-2,
        warmup_steps: 2,
        eval_interval: 100,
        seed: 3,
        ..FitConfig::default()
    }
}

#[test]
fn the_sft_loss_is_the_mean_cross_entropy_of_the_response_tokens_only() {
    let mut model = tiny_gpt(1);
    model.set_training(false);
    let sequences = [Sequence::new(vec![1, 2, 3], vec![4, 5]).unwrap(), Sequence::new(vec![6], vec![7, 8, 9]).unwrap()];
    let (logits, _) = model.forward(&ndarray::array![[1, 2, 3, 4], [6, 7, 8, 0]], None).unwrap();
    let logits = logits.to_array();
    let nll = |b: usize, t: usize, target: usize| {
        let row = logits.slice(ndarray::s![b, t, ..]);
        let z: f32 = row.iter().map(|x| x.exp()).sum();
        z.ln() - row[target]
    };
    // targets: row 0 predicts 4, 5 at positions 2, 3; row 1 predicts 7, 8, 9 at 0, 1, 2
    let expected = (nll(0, 2, 4) + nll(0, 3, 5) + nll(1, 0, 7) + nll(1, 1, 8) + nll(1, 2, 9)) / 5.0;
    let sft = Sft::new(&mut model, 0);
    let loss = sft.loss(&sequences.iter().collect::<Vec<_>>()).unwrap().item().unwrap();
    approx::assert_abs_diff_eq!(loss, expected, epsilon = 1e-5);
}

#[test]
fn sft_lowers_the_held_out_loss() {
    let mut model = tiny_gpt(2);
    let data = sft_data();
    let log = fit(&mut Sft::new(&mut model, 0), &data[..12], &data[12..], &fit_config(30), Session::default()).unwrap();
    let (before, after) = log.first_and_last("val_loss").unwrap();
    assert!(after < 0.5 * before, "held-out loss {before} → {after}");
}

#[test]
fn the_reward_model_learns_the_rankings() {
    let mut model = tiny_reward_model(4, 0.0);
    let pairs = toy_pairs();
    let log = fit(&mut RewardTraining::new(&mut model), &pairs[..8], &pairs[8..], &fit_config(20), Session::default())
        .unwrap();
    let (_, after) = log.first_and_last("val_accuracy").unwrap();
    assert_eq!(after, 1.0);
    let (loss_before, loss_after) = log.first_and_last("val_loss").unwrap();
    assert!(loss_after < loss_before);
    // saved and loaded back: the same scores, alone or in a batch
    let dir = tempfile::tempdir().unwrap();
    model.save_pretrained(dir.path()).unwrap();
    let loaded = RewardModel::from_pretrained(dir.path()).unwrap();
    let sequences: Vec<Sequence> = pairs.iter().flat_map(|p| [p.chosen.clone(), p.rejected.clone()]).collect();
    let together = loaded.score(&sequences).unwrap();
    approx::assert_abs_diff_eq!(together.as_slice(), model.score(&sequences).unwrap().as_slice(), epsilon = 1e-5);
    let alone = loaded.score(&sequences[3..4]).unwrap();
    approx::assert_abs_diff_eq!(alone[0], together[3], epsilon = 1e-5);
    // a config claiming 10^12 weights is refused before the trunk is built
    let config_path = dir.path().join("config.json");
    let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["vocab_size"] = 1_000_000_000_000u64.into();
    std::fs::write(&config_path, config.to_string()).unwrap();
    let refused = RewardModel::from_pretrained(dir.path()).map(|_| ()).unwrap_err().to_string();
    assert!(refused.contains("transformer.wte.weight"), "{refused}");
}

#[test]
fn a_reward_model_from_transformers_scores_as_transformers_does() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(FIXTURE).join("expected.json")).unwrap()).unwrap();
    let rows: Vec<Vec<u32>> = serde_json::from_value(expected["rows"].clone()).unwrap();
    let scores: Vec<f32> = serde_json::from_value(expected["scores"].clone()).unwrap();
    let model = RewardModel::from_pretrained(FIXTURE).unwrap();
    assert_eq!(model.pad, 0);
    let sequences: Vec<Sequence> =
        rows.iter().map(|r| Sequence::new(r[..1].to_vec(), r[1..].to_vec()).unwrap()).collect();
    let ours = model.score(&sequences).unwrap();
    approx::assert_abs_diff_eq!(ours.as_slice(), scores.as_slice(), epsilon = 1e-4);
    let batch = ResponseBatch::new(&sequences, model.pad, model.trunk.config().block_size).unwrap();
    approx::assert_abs_diff_eq!(
        model.scores(&batch).unwrap().to_array().as_slice().unwrap(),
        scores.as_slice(),
        epsilon = 1e-4
    );
}

#[test]
fn dpo_learns_the_preferences_and_starts_at_chance() {
    let reference = tiny_gpt(5);
    let pairs = toy_pairs();
    let (train, test) = (
        with_reference(&reference, pairs[..8].to_vec(), 0).unwrap(),
        with_reference(&reference, pairs[8..].to_vec(), 0).unwrap(),
    );
    let mut policy = tiny_gpt(5);
    let log =
        fit(&mut Dpo::new(&mut policy, 0.5, 0).unwrap(), &train, &test, &fit_config(20), Session::default()).unwrap();
    let (before, after) = log.first_and_last("val_accuracy").unwrap();
    assert_eq!(before, 0.5, "the untuned policy is its reference: every pair a tie");
    assert_eq!(after, 1.0);
    assert!(Dpo::new(&mut policy, 0.0, 0).is_err());
}

/// Weights and log of one "process": a fresh model trained in `session`.
type Run = (Vec<ArrayD<f32>>, TrainLog);

fn weights(params: Vec<(String, Tensor)>) -> Vec<ArrayD<f32>> {
    params.iter().map(|(_, t)| t.to_array()).collect()
}

/// Runs a trainer uninterrupted, then killed after steps 2 and 7 (a new process each time, only
/// the checkpoint folder carries over) and resumed to the end: the same weights, step losses and
/// held-out metrics.
fn resumes_exactly(name: &str, run: impl Fn(Session) -> Run) {
    let (whole_weights, whole_log) = run(Session::default());
    assert_eq!(whole_log.steps.len(), 12, "{name}: 4 epochs of 3 batches");
    let dir = tempfile::tempdir().unwrap();
    let checkpointed = || Session { checkpoints: Some(Checkpoints::new(dir.path())), ..Session::default() };
    for stop in [2, 7] {
        let (_, log) = run(Session { stop_at_step: Some(stop), ..checkpointed() });
        assert_eq!(log.steps.len(), stop, "{name}");
    }
    let (weights, log) = run(checkpointed());
    assert_eq!(weights, whole_weights, "{name}: the weights");
    assert_eq!(log.without_times(), whole_log.without_times(), "{name}: every step and evaluation");
    let evals: Vec<usize> = log.evals.iter().map(|e| e.step).collect();
    assert_eq!(evals, [0, 5, 10, 12], "{name}: the stops only saved");
}

/// 4 epochs of 3 batches of 4, evaluated every 5 steps.
fn resume_config() -> FitConfig {
    FitConfig { eval_interval: 5, weight_decay: 0.1, ..fit_config(4) }
}

#[test]
fn sft_reward_model_and_dpo_resume_exactly_from_a_killed_run() {
    // dropout on, so the masks must be redrawn per step as well
    let data = sft_data();
    resumes_exactly("SFT", |session| {
        let mut model = tiny_gpt_with_dropout(2, 0.2);
        let log = fit(&mut Sft::new(&mut model, 0), &data[..12], &data[12..], &resume_config(), session).unwrap();
        (weights(model.named_parameters()), log)
    });
    let pairs: Vec<Preference> = toy_pairs().into_iter().chain(toy_pairs().into_iter().take(4)).collect();
    resumes_exactly("reward model", |session| {
        let mut model = tiny_reward_model(4, 0.2);
        let mut training = RewardTraining::new(&mut model);
        let log = fit(&mut training, &pairs[..12], &pairs[12..], &resume_config(), session).unwrap();
        (weights(training.model().named_parameters()), log)
    });
    let reference = tiny_gpt(5);
    let examples: Vec<DpoExample> = with_reference(&reference, pairs.clone(), 0).unwrap();
    resumes_exactly("DPO", |session| {
        let mut policy = tiny_gpt_with_dropout(5, 0.2);
        let log = fit(
            &mut Dpo::new(&mut policy, 0.5, 0).unwrap(),
            &examples[..12],
            &examples[12..],
            &resume_config(),
            session,
        )
        .unwrap();
        (weights(policy.named_parameters()), log)
    });
}

#[test]
fn a_checkpoint_of_another_recipe_is_refused() {
    let data = sft_data();
    let dir = tempfile::tempdir().unwrap();
    let session =
        |stop| Session { checkpoints: Some(Checkpoints::new(dir.path())), stop_at_step: stop, ..Session::default() };
    let mut model = tiny_gpt(2);
    fit(&mut Sft::new(&mut model, 0), &data[..12], &data[12..], &resume_config(), session(Some(2))).unwrap();
    // the engine's schedule is the same; only the recipe's weight decay differs
    let other = FitConfig { weight_decay: 0.5, ..resume_config() };
    let err = fit(&mut Sft::new(&mut model, 0), &data[..12], &data[12..], &other, session(None)).unwrap_err();
    assert!(matches!(err, Error::Train(malmoi_train::Error::Config(ref m)) if m.contains("another config")), "{err}");
}

/// SFT whose loss turns NaN on its `poison_at`-th batch.
struct Poisoned<'a> {
    sft: Sft<'a>,
    calls: Cell<usize>,
    poison_at: usize,
}

impl Objective for Poisoned<'_> {
    type Example = Sequence;

    fn model(&mut self) -> &mut dyn Module {
        self.sft.model()
    }

    fn reseed(&self, seed: u64) {
        self.sft.reseed(seed);
    }

    fn length(&self, example: &Sequence) -> usize {
        self.sft.length(example)
    }

    fn loss(&self, batch: &[&Sequence]) -> Result<Tensor> {
        self.calls.set(self.calls.get() + 1);
        let loss = self.sft.loss(batch)?;
        Ok(if self.calls.get() == self.poison_at { loss.mul_scalar(f32::NAN) } else { loss })
    }

    fn evaluate(&self, examples: &[Sequence]) -> Result<Metrics> {
        self.sft.evaluate(examples)
    }
}

#[test]
fn a_nan_loss_stops_with_the_engines_error_and_keeps_the_last_checkpoint() {
    let data = sft_data();
    let dir = tempfile::tempdir().unwrap();
    let mut model = tiny_gpt(2);
    let mut poisoned = Poisoned { sft: Sft::new(&mut model, 0), calls: Cell::new(0), poison_at: 7 };
    let session = Session { checkpoints: Some(Checkpoints::new(dir.path())), ..Session::default() };
    let err = fit(&mut poisoned, &data[..12], &data[12..], &resume_config(), session).unwrap_err();
    assert!(matches!(err, Error::Train(malmoi_train::Error::NonFinite { step: 7, .. })), "{err}");
    assert!(Checkpoints::new(dir.path()).latest().unwrap().unwrap().ends_with("step-5"));
}

#[test]
fn nothing_to_train_is_refused() {
    let data = sft_data();
    let mut model = tiny_gpt(2);
    for config in [FitConfig { batch_size: 0, ..fit_config(1) }, FitConfig { epochs: 0, ..fit_config(1) }] {
        let result = fit(&mut Sft::new(&mut model, 0), &data, &[], &config, Session::default());
        assert!(matches!(result, Err(Error::Input(_))));
    }
    let result = fit(&mut Sft::new(&mut model, 0), &[], &data, &fit_config(1), Session::default());
    assert!(matches!(result, Err(Error::Input(_))));
}
