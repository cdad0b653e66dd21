//! GRPO's formulas (Shao et al. 2024, DeepSeekMath; TRL's `GRPOTrainer`): group-normalised
//! advantages, the `k3` estimator of the KL to the reference, and the clipped objective with its
//! KL penalty, averaged over tokens as TRL's loss types do. `tests/grpo.rs` checks each against
//! a NumPy fixture (`benches/reference/rlhf_fixtures.py`).

use ndarray::Array2;

use malmoi_tensor::Tensor;

use super::config::{LossType, ScaleRewards};
use crate::error::{Error, Result};

/// The `eps` under the standard deviation of the advantages (TRL's `1e-4`).
pub const ADVANTAGE_EPS: f64 = 1e-4;

/// The unbiased standard deviation (PyTorch's `std`) of each consecutive group of `group_size`
/// rewards.
///
/// # Errors
/// [`Error::Input`] unless `group_size ≥ 2` divides the number of rewards.
pub fn group_std(rewards: &[f32], group_size: usize) -> Result<Vec<f64>> {
    if group_size < 2 || !rewards.len().is_multiple_of(group_size) {
        return Err(Error::Input(format!("{} rewards do not form groups of {group_size} (≥ 2)", rewards.len())));
    }
    Ok(rewards.chunks(group_size).map(unbiased_std).collect())
}

/// Each reward's advantage within its group of `group_size` consecutive rewards:
/// `A_i = (r_i − mean_group) / (std + 1e-4)`, with the group's unbiased standard deviation
/// ([`ScaleRewards::Group`]), the batch's ([`ScaleRewards::Batch`]) or no scaling
/// ([`ScaleRewards::None`]). A group whose answers all score the same has advantages 0.
///
/// # Errors
/// As [`group_std`].
pub fn group_advantages(rewards: &[f32], group_size: usize, scale: ScaleRewards) -> Result<Vec<f32>> {
    let stds = group_std(rewards, group_size)?;
    let batch_std = unbiased_std(rewards);
    let mut advantages = Vec::with_capacity(rewards.len());
    for (group, &std) in rewards.chunks(group_size).zip(&stds) {
        let mean = group.iter().map(|&r| f64::from(r)).sum::<f64>() / group_size as f64;
        let divisor = match scale {
            ScaleRewards::Group => std + ADVANTAGE_EPS,
            ScaleRewards::Batch => batch_std + ADVANTAGE_EPS,
            ScaleRewards::None => 1.0,
        };
        advantages.extend(group.iter().map(|&r| ((f64::from(r) - mean) / divisor) as f32));
    }
    Ok(advantages)
}

/// Schulman's `k3` estimator of `KL(π ‖ π_ref)` at one sampled token:
/// `exp(ref − logp) − (ref − logp) − 1`, never negative, unbiased, and low-variance.
pub fn k3(logprob: f64, reference: f64) -> f64 {
    let d = reference - logprob;
    d.exp() - d - 1.0
}

/// The objective's knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrpoObjective {
    /// ε: the ratio is clipped to `[1 − ε, 1 + ε]`.
    pub epsilon: f32,
    /// β: the weight of the per-token `k3` (0: no penalty, no reference needed).
    pub beta: f32,
    /// How the per-token losses are averaged.
    pub loss_type: LossType,
    /// The most tokens an answer may have ([`LossType::DrGrpo`]'s constant).
    pub max_completion_length: usize,
}

/// GRPO's loss of one minibatch, with what it measured.
#[derive(Debug)]
pub struct GrpoLoss {
    /// The loss to minimise.
    pub loss: Tensor,
    /// Share of response tokens in the clipped region (ratio below `1 − ε` with a negative
    /// advantage, or above `1 + ε` with a positive one: TRL's `clip_ratio`).
    pub clip_fraction: f64,
    /// Mean per-token `k3` over the response tokens, when a reference was given.
    pub kl: Option<f64>,
}

impl GrpoObjective {
    /// With `ratio = exp(logp − logp_old)` per token, the per-token loss
    /// `ℓ = −min(ratio · A, clip(ratio, 1 − ε, 1 + ε) · A) + β · k3(logp, ref)`, averaged over
    /// the masked positions as [`LossType`] says. `logprobs` `(B, T)` carries the gradient;
    /// `old_logprobs`, `reference` and `mask` are `(B, T)` constants; `advantages` holds one
    /// value per row.
    ///
    /// # Errors
    /// [`Error::Input`] for shapes that differ or β > 0 without a reference; tensor errors.
    pub fn loss(
        &self,
        logprobs: &Tensor,
        old_logprobs: &Array2<f32>,
        reference: Option<&Array2<f32>>,
        advantages: &[f32],
        mask: &Array2<f32>,
    ) -> Result<GrpoLoss> {
        self.check(&logprobs.shape(), old_logprobs.dim(), reference.map(Array2::dim), advantages.len(), mask.dim())?;
        let advantages = Array2::from_shape_fn(mask.dim(), |(b, _)| advantages[b]);
        let a = constant(&advantages);
        let ratio = logprobs.sub(&constant(old_logprobs))?.exp();
        let clipped = ratio.clamp(1.0 - self.epsilon, 1.0 + self.epsilon)?;
        let mut per_token = ratio.mul(&a)?.minimum(&clipped.mul(&a)?)?.neg();
        let clip_fraction = self.clip_fraction(&ratio.to_array(), &advantages, mask);
        let mut kl = None;
        if let Some(reference) = reference {
            let d = constant(reference).sub(logprobs)?;
            let k3 = d.exp().sub(&d)?.add_scalar(-1.0);
            kl = Some(masked_mean(&k3.to_array(), mask));
            if self.beta > 0.0 {
                per_token = per_token.add(&k3.mul_scalar(self.beta))?;
            }
        }
        let loss = per_token.mul(&constant(&self.weights(mask)))?.sum();
        Ok(GrpoLoss { loss, clip_fraction, kl })
    }

    /// The shapes [`loss`](Self::loss) takes: `(B, T)` everywhere, one advantage per row.
    fn check(
        &self,
        logprobs: &[usize],
        old: (usize, usize),
        reference: Option<(usize, usize)>,
        advantages: usize,
        mask: (usize, usize),
    ) -> Result<()> {
        let fits =
            logprobs == [mask.0, mask.1] && old == mask && reference.is_none_or(|r| r == mask) && advantages == mask.0;
        if !fits {
            return Err(Error::Input(format!(
                "GRPO's loss needs (B, T) log-probabilities and mask and one advantage per row: mask {mask:?}, log-probabilities {logprobs:?}, {advantages} advantages"
            )));
        }
        if self.beta > 0.0 && reference.is_none() {
            return Err(Error::Input("β > 0 needs the reference's log-probabilities".into()));
        }
        Ok(())
    }

    /// The weight of each position in the average: the mask over the token count
    /// ([`LossType::Dapo`]), over `rows × |o_i|` ([`LossType::Grpo`]) or over
    /// `rows × max_completion_length` ([`LossType::DrGrpo`]).
    fn weights(&self, mask: &Array2<f32>) -> Array2<f32> {
        let rows = mask.nrows().max(1) as f32;
        match self.loss_type {
            LossType::Dapo => mask / mask.sum().max(1.0),
            LossType::Grpo => {
                let lengths = mask.sum_axis(ndarray::Axis(1)).mapv(|n| n.max(1.0) * rows);
                Array2::from_shape_fn(mask.dim(), |(b, t)| mask[[b, t]] / lengths[b])
            }
            LossType::DrGrpo => mask / (rows * self.max_completion_length.max(1) as f32),
        }
    }

    fn clip_fraction(&self, ratio: &ndarray::ArrayD<f32>, advantages: &Array2<f32>, mask: &Array2<f32>) -> f64 {
        let (low, high) = (1.0 - self.epsilon, 1.0 + self.epsilon);
        let clipped = ratio
            .iter()
            .zip(advantages)
            .map(|(&r, &a)| if (r < low && a < 0.0) || (r > high && a > 0.0) { 1.0 } else { 0.0 });
        let clipped = Array2::from_shape_vec(mask.dim(), clipped.collect()).expect("the shapes were checked");
        masked_mean(&clipped.into_dyn(), mask)
    }
}

fn unbiased_std(values: &[f32]) -> f64 {
    let n = values.len() as f64;
    if values.len() < 2 {
        return 0.0;
    }
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    (values.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

fn masked_mean(values: &ndarray::ArrayD<f32>, mask: &Array2<f32>) -> f64 {
    let count: f64 = mask.iter().map(|&m| f64::from(m)).sum();
    let total: f64 = values.iter().zip(mask).map(|(&v, &m)| f64::from(v * m)).sum();
    if count == 0.0 { 0.0 } else { total / count }
}

fn constant(values: &Array2<f32>) -> Tensor {
    Tensor::constant(values.clone().into_dyn())
}

#[cfg(test)]
mod tests {
    use super::*;
    use malmoi_tensor::{GradCheckOptions, check_gradients};
    use ndarray::array;

    fn objective(loss_type: LossType, beta: f32) -> GrpoObjective {
        GrpoObjective { epsilon: 0.2, beta, loss_type, max_completion_length: 4 }
    }

    #[test]
    fn advantages_are_centred_per_group_and_zero_for_a_tied_group() {
        let advantages = group_advantages(&[1.0, 0.0, 0.5, 0.5, 0.2, 0.2], 2, ScaleRewards::Group).unwrap();
        let expected = 0.5 / (0.5_f64.sqrt() + ADVANTAGE_EPS);
        approx::assert_abs_diff_eq!(advantages[0] as f64, expected, epsilon = 1e-6);
        approx::assert_abs_diff_eq!(advantages[1] as f64, -expected, epsilon = 1e-6);
        assert_eq!(&advantages[2..], &[0.0; 4]);
        let centred = group_advantages(&[1.0, 0.0, 3.0, 3.0], 2, ScaleRewards::None).unwrap();
        assert_eq!(centred, vec![0.5, -0.5, 0.0, 0.0]);
        assert!(group_advantages(&[1.0, 2.0, 3.0], 2, ScaleRewards::Group).is_err());
        assert!(group_advantages(&[1.0, 2.0], 1, ScaleRewards::Group).is_err());
    }

    #[test]
    fn k3_is_zero_at_the_reference_and_positive_elsewhere() {
        assert_eq!(k3(-1.5, -1.5), 0.0);
        assert!(k3(-1.0, -2.0) > 0.0 && k3(-2.0, -1.0) > 0.0);
    }

    /// At the rollout's policy the ratio is 1: nothing is clipped, and with β = 0 the loss is
    /// minus the weighted mean advantage.
    #[test]
    fn at_the_old_policy_the_loss_is_minus_the_mean_advantage() {
        let mask = array![[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]];
        let logprobs = array![[-1.0, -2.0, 0.0], [-0.5, -0.7, -3.0]];
        let new = Tensor::constant(logprobs.clone().into_dyn());
        let got = objective(LossType::Dapo, 0.0).loss(&new, &logprobs, None, &[1.0, -2.0], &mask).unwrap();
        approx::assert_abs_diff_eq!(got.loss.item().unwrap(), -(2.0 - 6.0) / 5.0, epsilon = 1e-6);
        assert_eq!((got.clip_fraction, got.kl), (0.0, None));
        let per_row = objective(LossType::Grpo, 0.0).loss(&new, &logprobs, None, &[1.0, -2.0], &mask).unwrap();
        approx::assert_abs_diff_eq!(per_row.loss.item().unwrap(), -(1.0 - 2.0) / 2.0, epsilon = 1e-6);
        let constant = objective(LossType::DrGrpo, 0.0).loss(&new, &logprobs, None, &[1.0, -2.0], &mask).unwrap();
        approx::assert_abs_diff_eq!(constant.loss.item().unwrap(), -(2.0 - 6.0) / 8.0, epsilon = 1e-6);
        let needs_reference = objective(LossType::Dapo, 0.1).loss(&new, &logprobs, None, &[1.0, -2.0], &mask);
        assert!(matches!(needs_reference, Err(Error::Input(_))));
        assert!(objective(LossType::Dapo, 0.0).loss(&new, &logprobs, None, &[1.0], &mask).is_err());
    }

    /// The objective is a composition of checked ops; its gradient is checked as a whole,
    /// away from the kinks of the clipping.
    #[test]
    fn the_objective_has_finite_difference_gradients() {
        let mask = array![[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]];
        let old = array![[-1.0, -2.0, -0.5], [-0.7, -1.5, -3.0]];
        let reference = array![[-1.2, -1.8, -0.5], [-0.6, -1.4, -2.5]];
        let new = array![[-0.9, -2.5, -0.4], [-0.75, -1.45, -2.0]].into_dyn();
        for loss_type in [LossType::Dapo, LossType::Grpo, LossType::DrGrpo] {
            let loss = |p: &[Tensor]| {
                Ok(objective(loss_type, 0.3).loss(&p[0], &old, Some(&reference), &[0.8, -1.1], &mask).unwrap().loss)
            };
            check_gradients(loss, std::slice::from_ref(&new), GradCheckOptions::default()).unwrap();
        }
    }
}
