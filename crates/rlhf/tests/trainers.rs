//! SFT, the reward model and DPO on tiny models: each objective is the formula it claims, and
//! each trainer moves its held-out metric the right way. The reward model also loads a
//! checkpoint written by `transformers` (fixture from `benches/reference/rlhf_rm_fixture.py`).

use std::path::Path;

use malmoi_rlhf::batch::{ResponseBatch, Sequence};
use malmoi_rlhf::dpo::{Dpo, with_reference};
use malmoi_rlhf::fit::{FitConfig, Objective, fit};
use malmoi_rlhf::reward::{Preference, RewardModel, RewardTraining};
use malmoi_rlhf::sft::Sft;
use malmoi_tensor::nn::Module;
use malmoi_tokenize::BpeTrainer;
use malmoi_transformer::generation::Generator;
use malmoi_transformer::train::RunOptions;
use malmoi_transformer::{Gpt, GptConfig};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rm-tiny");

fn tiny_gpt(seed: u64) -> Gpt {
    let config = GptConfig {
        vocab_size: 40,
        block_size: 16,
        n_layer: 1,
        n_head: 2,
        n_embd: 16,
        dropout: 0.0,
        ..GptConfig::default()
    };
    Gpt::new(config, seed).unwrap()
}

/// Prompts `[p, p + 1]` for p in 1..=12, each with a "good" and a "bad" answer.
fn toy_pairs() -> Vec<Preference> {
    (1..=12)
        .map(|p| Preference {
            chosen: Sequence::new(vec![p, p + 1], vec![30, 31, 0]).unwrap(),
            rejected: Sequence::new(vec![p, p + 1], vec![20, 21, 0]).unwrap(),
        })
        .collect()
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
    let data: Vec<Sequence> = (1..=16).map(|p| Sequence::new(vec![p], vec![p + 20, 0]).unwrap()).collect();
    let log =
        fit(&mut Sft::new(&mut model, 0), &data[..12], &data[12..], &fit_config(30), RunOptions::default()).unwrap();
    let (before, after) = log.first_and_last("loss").unwrap();
    assert!(after < 0.5 * before, "held-out loss {before} → {after}");
}

#[test]
fn the_reward_model_learns_the_rankings() {
    let tokenizer =
        BpeTrainer::new().vocab_size(260).special_tokens(["<|endoftext|>"]).train(["abc abd", "bca"]).unwrap();
    let config = GptConfig {
        vocab_size: tokenizer.vocab_size(),
        block_size: 16,
        n_layer: 1,
        n_head: 2,
        n_embd: 16,
        dropout: 0.0,
        ..GptConfig::default()
    };
    let mut model =
        RewardModel::from_generator(Generator::new(Gpt::new(config, 4).unwrap(), tokenizer).unwrap(), 4).unwrap();
    let pairs = toy_pairs();
    let log =
        fit(&mut RewardTraining::new(&mut model), &pairs[..8], &pairs[8..], &fit_config(20), RunOptions::default())
            .unwrap();
    let (_, after) = log.first_and_last("accuracy").unwrap();
    assert_eq!(after, 1.0);
    let (loss_before, loss_after) = log.first_and_last("loss").unwrap();
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
    assert!(refused.contains("at least"), "{refused}");
}

#[test]
fn a_reward_model_from_transformers_scores_as_transformers_does() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(FIXTURE).join("expected.json")).unwrap()).unwrap();
    let rows: Vec<Vec<usize>> = serde_json::from_value(expected["rows"].clone()).unwrap();
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
    let log = fit(&mut Dpo::new(&mut policy, 0.5, 0).unwrap(), &train, &test, &fit_config(20), RunOptions::default())
        .unwrap();
    let (before, after) = log.first_and_last("accuracy").unwrap();
    assert_eq!(before, 0.5, "the untuned policy is its reference: every pair a tie");
    assert_eq!(after, 1.0);
    assert!(Dpo::new(&mut policy, 0.0, 0).is_err());
}
