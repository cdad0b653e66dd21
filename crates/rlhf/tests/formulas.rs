//! The RLHF formulas against a NumPy fixture (`benches/reference/rlhf_fixtures.py` writes
//! `tests/fixtures/formulas.json`): the reward model's pairwise loss, DPO's loss, PPO's clipped
//! policy and value losses with their clip fractions, GAE (against its closed form), the masked
//! mean, the SFT loss over response tokens only, and the preference pairs of a ranking.

use ndarray::{Array2, ArrayD};
use serde::Deserialize;

use malmoi_rlhf::data::{PreferencePair, RankingRecord};
use malmoi_rlhf::losses::{Clipped, dpo_loss, gae, masked_mean, pairwise_loss, ppo_policy_loss, ppo_value_loss};
use malmoi_tensor::Tensor;
use malmoi_transformer::IGNORE_INDEX;

const TOLERANCE: f64 = 1e-5;

#[derive(Deserialize)]
struct Fixture {
    pairwise: Pairwise,
    dpo: Vec<Dpo>,
    ppo_policy: ClippedCase<PolicyInputs>,
    ppo_value: ClippedCase<ValueInputs>,
    gae: Vec<Gae>,
    masked_mean: MaskedMean,
    sft_loss: SftLoss,
    pairs: Vec<Pairs>,
}

#[derive(Deserialize)]
struct Pairwise {
    chosen: Vec<f32>,
    rejected: Vec<f32>,
    loss: f64,
}

#[derive(Deserialize)]
struct Dpo {
    policy_chosen: Vec<f32>,
    policy_rejected: Vec<f32>,
    reference_chosen: Vec<f32>,
    reference_rejected: Vec<f32>,
    beta: f32,
    loss: f64,
}

/// A clipped PPO loss case: its own inputs, the mask and clip range, and the expected figures.
#[derive(Deserialize)]
struct ClippedCase<I> {
    #[serde(flatten)]
    inputs: I,
    mask: Vec<Vec<f32>>,
    clip: f32,
    loss: f64,
    clip_fraction: f64,
}

#[derive(Deserialize)]
struct PolicyInputs {
    new_logprobs: Vec<Vec<f32>>,
    old_logprobs: Vec<Vec<f32>>,
    advantages: Vec<Vec<f32>>,
}

#[derive(Deserialize)]
struct ValueInputs {
    values: Vec<Vec<f32>>,
    old_values: Vec<Vec<f32>>,
    returns: Vec<Vec<f32>>,
}

#[derive(Deserialize)]
struct Gae {
    rewards: Vec<f64>,
    values: Vec<f64>,
    gamma: f64,
    lambda: f64,
    advantages: Vec<f64>,
    returns: Vec<f64>,
}

#[derive(Deserialize)]
struct MaskedMean {
    x: Vec<Vec<f32>>,
    mask: Vec<Vec<f32>>,
    mean: f64,
}

#[derive(Deserialize)]
struct SftLoss {
    logits: Vec<Vec<Vec<f32>>>,
    targets: Vec<Vec<i64>>,
    ignore_index: i64,
    loss: f64,
    loss_without_mask: f64,
}

#[derive(Deserialize)]
struct Pairs {
    prompt: String,
    completions: Vec<String>,
    ranking: Vec<usize>,
    pairs: Vec<Pair>,
}

#[derive(Deserialize)]
struct Pair {
    chosen: String,
    rejected: String,
}

fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/formulas.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn vector(values: &[f32]) -> Tensor {
    Tensor::constant(ArrayD::from_shape_vec(vec![values.len()], values.to_vec()).unwrap())
}

fn matrix(rows: &[Vec<f32>]) -> Array2<f32> {
    let columns = rows[0].len();
    Array2::from_shape_vec((rows.len(), columns), rows.concat()).unwrap()
}

fn tensor(rows: &[Vec<f32>]) -> Tensor {
    Tensor::constant(matrix(rows).into_dyn())
}

fn close(what: &str, got: f64, expected: f64) {
    assert!((got - expected).abs() <= TOLERANCE, "{what}: malmoi {got}, NumPy {expected}");
}

#[test]
fn pairwise_loss_matches_the_fixture() {
    let f = fixture().pairwise;
    let loss = pairwise_loss(&vector(&f.chosen), &vector(&f.rejected)).unwrap();
    close("pairwise loss", loss.item().unwrap() as f64, f.loss);
}

#[test]
fn dpo_loss_matches_the_fixture() {
    for f in fixture().dpo {
        let loss = dpo_loss(
            &vector(&f.policy_chosen),
            &vector(&f.policy_rejected),
            &vector(&f.reference_chosen),
            &vector(&f.reference_rejected),
            f.beta,
        )
        .unwrap();
        close(&format!("DPO loss at beta {}", f.beta), loss.item().unwrap() as f64, f.loss);
    }
}

/// The inputs of one of PPO's clipped losses, evaluated by malmoi.
trait ClippedInputs {
    fn malmoi(&self, mask: &Array2<f32>, clip: f32) -> Clipped;
}

impl ClippedInputs for PolicyInputs {
    fn malmoi(&self, mask: &Array2<f32>, clip: f32) -> Clipped {
        let (old, advantages) = (matrix(&self.old_logprobs), matrix(&self.advantages));
        ppo_policy_loss(&tensor(&self.new_logprobs), &old, &advantages, mask, clip).unwrap()
    }
}

impl ClippedInputs for ValueInputs {
    fn malmoi(&self, mask: &Array2<f32>, clip: f32) -> Clipped {
        ppo_value_loss(&tensor(&self.values), &matrix(&self.old_values), &matrix(&self.returns), mask, clip).unwrap()
    }
}

fn check_clipped<I: ClippedInputs>(what: &str, case: &ClippedCase<I>) {
    let clipped = case.inputs.malmoi(&matrix(&case.mask), case.clip);
    close(&format!("{what} loss"), clipped.loss.item().unwrap() as f64, case.loss);
    close(&format!("{what} clip fraction"), clipped.clip_fraction, case.clip_fraction);
    assert!(case.clip_fraction > 0.0 && case.clip_fraction < 1.0, "the {what} fixture exercises both branches");
}

#[test]
fn ppo_policy_loss_and_clip_fraction_match_the_fixture() {
    check_clipped("PPO policy", &fixture().ppo_policy);
}

#[test]
fn ppo_value_loss_and_clip_fraction_match_the_fixture() {
    check_clipped("PPO value", &fixture().ppo_value);
}

#[test]
fn gae_matches_the_closed_form() {
    for f in fixture().gae {
        let (advantages, returns) = gae(&f.rewards, &f.values, f.gamma, f.lambda);
        assert_eq!((advantages.len(), returns.len()), (f.advantages.len(), f.returns.len()));
        for t in 0..advantages.len() {
            let at = format!("(gamma {}, lambda {}) at t = {t}", f.gamma, f.lambda);
            close(&format!("advantage {at}"), advantages[t], f.advantages[t]);
            close(&format!("return {at}"), returns[t], f.returns[t]);
        }
    }
}

#[test]
fn masked_mean_matches_the_fixture() {
    let f = fixture().masked_mean;
    let mean = masked_mean(&tensor(&f.x), &tensor(&f.mask)).unwrap();
    close("masked mean", mean.item().unwrap() as f64, f.mean);
}

/// The SFT loss is the GPT's cross-entropy with prompt and padding targets set to
/// [`IGNORE_INDEX`]: the mean over the response tokens only.
#[test]
fn sft_loss_covers_only_the_response_tokens() {
    let f = fixture().sft_loss;
    let (rows, columns, classes) = (f.logits.len(), f.logits[0].len(), f.logits[0][0].len());
    let flat: Vec<f32> = f.logits.iter().flatten().flatten().copied().collect();
    let logits = Tensor::constant(ArrayD::from_shape_vec(vec![rows, columns, classes], flat).unwrap());
    // the tensor op's class indices, as the GPT turns its `u32` targets into them
    let ignore = IGNORE_INDEX as usize;
    let targets = |ignored: usize| {
        let ids: Vec<usize> =
            f.targets.iter().flatten().map(|&t| if t == f.ignore_index { ignored } else { t as usize }).collect();
        ArrayD::from_shape_vec(vec![rows, columns], ids).unwrap()
    };
    let loss = logits.cross_entropy(&targets(ignore), Some(ignore)).unwrap();
    close("SFT loss over response tokens", loss.item().unwrap() as f64, f.loss);
    // the mask matters: counting the ignored positions (as class 2) gives the other figure
    let unmasked = logits.cross_entropy(&targets(2), Some(ignore)).unwrap();
    close("SFT loss over every token", unmasked.item().unwrap() as f64, f.loss_without_mask);
    assert!((f.loss - f.loss_without_mask).abs() > 100.0 * TOLERANCE);
}

#[test]
fn ranking_pairs_match_the_fixture() {
    for f in fixture().pairs {
        let record = RankingRecord::new(f.prompt.clone(), f.completions, f.ranking.clone()).unwrap();
        let expected: Vec<PreferencePair> = f
            .pairs
            .into_iter()
            .map(|p| PreferencePair { prompt: f.prompt.clone(), chosen: p.chosen, rejected: p.rejected })
            .collect();
        assert_eq!(record.pairs(), expected, "ranking {:?}", f.ranking);
    }
}
