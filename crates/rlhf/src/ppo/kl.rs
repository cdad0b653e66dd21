//! The KL leash's strength β: fixed, or adapted towards a target KL (Ziegler et al. 2019,
//! TRL's `AdaptiveKLController`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How β, the weight of the per-token penalty `β · (log π − log π_ref)`, is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum KlControl {
    /// β stays `beta`.
    Fixed {
        /// The penalty weight.
        beta: f64,
    },
    /// β starts at `init_beta` and moves so the measured KL approaches `target`:
    /// `β ← β · (1 + clip(KL / target − 1, ±0.2) · n / horizon)` after each batch of `n`
    /// rollouts.
    Adaptive {
        /// The first β.
        init_beta: f64,
        /// The KL (nats per response) to aim at.
        target: f64,
        /// Rollouts over which β may change by about ±20 %.
        horizon: f64,
    },
}

impl Default for KlControl {
    /// TRL's defaults: adaptive, from 0.2 towards a KL of 6 over 10 000 rollouts.
    fn default() -> Self {
        KlControl::Adaptive { init_beta: 0.2, target: 6.0, horizon: 10_000.0 }
    }
}

impl KlControl {
    /// The β of the first batch.
    pub fn initial_beta(&self) -> f64 {
        match *self {
            KlControl::Fixed { beta } => beta,
            KlControl::Adaptive { init_beta, .. } => init_beta,
        }
    }

    /// The β of the next batch, after one of `rollouts` rollouts whose mean KL was `kl`.
    pub fn update(&self, beta: f64, kl: f64, rollouts: usize) -> f64 {
        match *self {
            KlControl::Fixed { beta } => beta,
            KlControl::Adaptive { target, horizon, .. } => {
                let error = (kl / target - 1.0).clamp(-0.2, 0.2);
                beta * (1.0 + error * rollouts as f64 / horizon)
            }
        }
    }

    /// Checks that every number is finite and positive (β may be 0 when fixed).
    ///
    /// # Errors
    /// [`Error::Input`] naming the bad value.
    pub fn validate(&self) -> Result<()> {
        let fine = match *self {
            KlControl::Fixed { beta } => beta.is_finite() && beta >= 0.0,
            KlControl::Adaptive { init_beta, target, horizon } => {
                [init_beta, target, horizon].iter().all(|v| v.is_finite() && *v > 0.0)
            }
        };
        if fine { Ok(()) } else { Err(Error::Input(format!("invalid KL control {self:?}"))) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_beta_grows_above_the_target_and_shrinks_below() {
        let control = KlControl::Adaptive { init_beta: 0.1, target: 2.0, horizon: 100.0 };
        approx::assert_abs_diff_eq!(control.update(0.1, 10.0, 10), 0.1 * (1.0 + 0.2 * 0.1), epsilon = 1e-12);
        approx::assert_abs_diff_eq!(control.update(0.1, 1.8, 10), 0.1 * (1.0 - 0.1 * 0.1), epsilon = 1e-12);
        assert_eq!(KlControl::Fixed { beta: 0.3 }.update(0.3, 100.0, 10), 0.3);
    }

    #[test]
    fn bad_controls_are_refused() {
        assert!(KlControl::Fixed { beta: f64::NAN }.validate().is_err());
        assert!(KlControl::Adaptive { init_beta: 0.1, target: 0.0, horizon: 1.0 }.validate().is_err());
        assert!(KlControl::default().validate().is_ok());
    }
}
