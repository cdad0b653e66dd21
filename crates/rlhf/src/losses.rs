//! The objectives of RLHF as formulas: the reward model's pairwise loss, DPO's loss, PPO's
//! clipped policy and value losses, generalised advantage estimation and whitening.
//!
//! Each follows the reference implementation it names (TRL's `RewardTrainer`, `DPOTrainer`
//! and `PPOTrainer`, ColossalAI's `PPOTrainer`); `tests/formulas.rs` checks every one against a
//! NumPy fixture (`benches/reference/rlhf_fixtures.py`).

use ndarray::Array2;

use malmoi_tensor::Tensor;

use crate::error::Result;

/// Mean of `x` over the positions where `mask` is 1.
///
/// # Errors
/// Shape mismatches.
pub fn masked_mean(x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let count = mask.to_array().sum().max(1.0);
    Ok(x.mul(mask)?.sum().mul_scalar(1.0 / count))
}

/// `mean(−log σ(x))`, the loss of preferring what `x` scores positive.
fn prefer(x: &Tensor) -> Result<Tensor> {
    let ones = Tensor::constant(ndarray::ArrayD::ones(x.shape()));
    Ok(x.binary_cross_entropy_with_logits(&ones)?)
}

/// The reward model's loss over preference pairs, `mean(−log σ(r_chosen − r_rejected))`
/// (InstructGPT, eq. 1; TRL's `RewardTrainer`).
///
/// # Errors
/// Shape mismatches.
pub fn pairwise_loss(chosen: &Tensor, rejected: &Tensor) -> Result<Tensor> {
    prefer(&chosen.sub(rejected)?)
}

/// DPO's loss (Rafailov et al. 2023; TRL's `sigmoid` loss): with summed response
/// log-probabilities under the policy and the frozen reference,
/// `mean(−log σ(β · ((π_c − π_r) − (ref_c − ref_r))))`.
///
/// # Errors
/// Shape mismatches.
pub fn dpo_loss(
    policy_chosen: &Tensor,
    policy_rejected: &Tensor,
    reference_chosen: &Tensor,
    reference_rejected: &Tensor,
    beta: f32,
) -> Result<Tensor> {
    let policy = policy_chosen.sub(policy_rejected)?;
    let reference = reference_chosen.sub(reference_rejected)?;
    prefer(&policy.sub(&reference)?.mul_scalar(beta))
}

/// A clipped PPO loss and the fraction of positions where the clipped term was the one used.
#[derive(Debug)]
pub struct Clipped {
    /// The loss to minimise.
    pub loss: Tensor,
    /// Fraction of the masked positions where clipping changed the loss.
    pub clip_fraction: f64,
}

/// PPO's clipped surrogate: with `ratio = exp(log π_new − log π_old)`,
/// `mean(max(−A · ratio, −A · clip(ratio, 1 − ε, 1 + ε)))` over the masked positions.
///
/// # Errors
/// Shape mismatches.
pub fn ppo_policy_loss(
    logprobs: &Tensor,
    old_logprobs: &Array2<f32>,
    advantages: &Array2<f32>,
    mask: &Array2<f32>,
    clip: f32,
) -> Result<Clipped> {
    let ratio = logprobs.sub(&constant(old_logprobs))?.exp();
    let negative_advantages = constant(&advantages.mapv(|a| -a));
    let unclipped = ratio.mul(&negative_advantages)?;
    let clipped = ratio.clamp(1.0 - clip, 1.0 + clip)?.mul(&negative_advantages)?;
    let clip_fraction = fraction_greater(&clipped, &unclipped, mask);
    let loss = masked_mean(&unclipped.maximum(&clipped)?, &constant(mask))?;
    Ok(Clipped { loss, clip_fraction })
}

/// PPO's clipped value loss: the new values may move at most `clip` from the rollout's,
/// `0.5 · mean(max((V − R)², (V_clipped − R)²))` over the masked positions.
///
/// # Errors
/// Shape mismatches.
pub fn ppo_value_loss(
    values: &Tensor,
    old_values: &Array2<f32>,
    returns: &Array2<f32>,
    mask: &Array2<f32>,
    clip: f32,
) -> Result<Clipped> {
    let old = constant(old_values);
    let returns = constant(returns);
    let clipped_values = old.add(&values.sub(&old)?.clamp(-clip, clip)?)?;
    let squared = |v: &Tensor| -> Result<Tensor> {
        let error = v.sub(&returns)?;
        Ok(error.mul(&error)?)
    };
    let (unclipped, clipped) = (squared(values)?, squared(&clipped_values)?);
    let clip_fraction = fraction_greater(&clipped, &unclipped, mask);
    let loss = masked_mean(&unclipped.maximum(&clipped)?, &constant(mask))?.mul_scalar(0.5);
    Ok(Clipped { loss, clip_fraction })
}

/// Generalised advantage estimation (Schulman et al. 2016) over one response: with
/// `δ_t = r_t + γ V_{t+1} − V_t` and `V` zero after the last token,
/// `A_t = δ_t + γ λ A_{t+1}`; returns `(advantages, returns = A + V)`.
pub fn gae(rewards: &[f64], values: &[f64], gamma: f64, lambda: f64) -> (Vec<f64>, Vec<f64>) {
    let n = rewards.len().min(values.len());
    let mut advantages = vec![0.0; n];
    let mut next_advantage = 0.0;
    for t in (0..n).rev() {
        let next_value = if t + 1 < n { values[t + 1] } else { 0.0 };
        let delta = rewards[t] + gamma * next_value - values[t];
        next_advantage = delta + gamma * lambda * next_advantage;
        advantages[t] = next_advantage;
    }
    let returns = advantages.iter().zip(values).map(|(a, v)| a + v).collect();
    (advantages, returns)
}

/// `(x − mean) / sqrt(var + 1e-8)` with the unbiased variance (TRL's `masked_whiten`).
/// Fewer than two values are only centred.
pub fn whiten(values: &[f64]) -> Vec<f64> {
    let n = values.len() as f64;
    if values.is_empty() {
        return Vec::new();
    }
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return values.iter().map(|v| v - mean).collect();
    }
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let scale = (variance + 1e-8).sqrt();
    values.iter().map(|v| (v - mean) / scale).collect()
}

fn constant(values: &Array2<f32>) -> Tensor {
    Tensor::constant(values.clone().into_dyn())
}

fn fraction_greater(a: &Tensor, b: &Tensor, mask: &Array2<f32>) -> f64 {
    let (a, b) = (a.to_array(), b.to_array());
    let count: f64 = mask.iter().map(|&m| m as f64).sum();
    let greater: f64 = a.iter().zip(b.iter()).zip(mask).filter(|((x, y), m)| **m > 0.0 && x > y).count() as f64;
    if count == 0.0 { 0.0 } else { greater / count }
}

#[cfg(test)]
mod tests {
    use super::*;
    use malmoi_tensor::{GradCheckOptions, check_gradients};
    use ndarray::array;

    #[test]
    fn gae_with_lambda_one_and_gamma_one_is_reward_to_go_minus_value() {
        let (advantages, returns) = gae(&[1.0, 0.0, 2.0], &[0.5, 0.25, 1.0], 1.0, 1.0);
        assert_eq!(returns, vec![3.0, 2.0, 2.0]);
        assert_eq!(advantages, vec![2.5, 1.75, 1.0]);
    }

    #[test]
    fn whitened_values_have_zero_mean_and_unit_variance() {
        let w = whiten(&[1.0, 2.0, 4.0, 7.0]);
        approx::assert_abs_diff_eq!(w.iter().sum::<f64>(), 0.0, epsilon = 1e-12);
        approx::assert_abs_diff_eq!(w.iter().map(|x| x * x).sum::<f64>() / 3.0, 1.0, epsilon = 1e-6);
        assert_eq!(whiten(&[3.0]), vec![0.0]);
    }

    /// The clipped losses are compositions of checked ops; their gradients are checked here
    /// as a whole, away from the kinks of the clipping.
    #[test]
    fn clipped_losses_have_finite_difference_gradients() {
        let mask = array![[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]];
        let old = array![[-1.0, -2.0, -0.5], [-0.7, -1.5, -3.0]];
        let advantages = array![[0.5, -1.0, 2.0], [1.5, -0.3, 0.8]];
        let new = array![[-0.9, -2.5, -0.4], [-0.75, -1.45, -2.0]].into_dyn();
        let options = GradCheckOptions::default();
        let policy = |p: &[Tensor]| Ok(ppo_policy_loss(&p[0], &old, &advantages, &mask, 0.2).unwrap().loss);
        check_gradients(policy, &[new], options).unwrap();
        let values = array![[0.1, 0.9, 0.0], [0.5, -0.6, 1.3]].into_dyn();
        let returns = array![[1.0, 0.0, 0.0], [0.2, 0.3, 0.9]];
        let old_values = array![[0.0, 0.5, 0.0], [0.4, 0.0, 1.0]];
        let value = |p: &[Tensor]| Ok(ppo_value_loss(&p[0], &old_values, &returns, &mask, 0.2).unwrap().loss);
        check_gradients(value, &[values], options).unwrap();
    }
}
