//! What a PPO run records: per-step statistics, held-out evaluations, and their curves.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Statistics of one PPO step (one batch of rollouts and its optimisation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PpoStep {
    /// Step number (1-based).
    pub step: usize,
    /// Mean score of the rollouts (the reward function's, before the KL penalty).
    pub reward: f64,
    /// Standard deviation of the scores.
    pub reward_std: f64,
    /// Mean KL(π ‖ π_ref) per response, `Σ_t log π − log π_ref` over its tokens (nats).
    pub kl: f64,
    /// β used for this batch.
    pub beta: f64,
    /// Mean entropy of the policy's next-token distribution over response tokens (nats).
    pub entropy: f64,
    /// Fraction of response tokens where the policy loss was clipped.
    pub clip_fraction: f64,
    /// Mean clipped policy loss over the minibatches.
    pub policy_loss: f64,
    /// Mean clipped value loss over the minibatches.
    pub value_loss: f64,
    /// Mean `½ (log π_new − log π_old)²`, how far the optimisation moved the policy.
    pub approx_kl: f64,
    /// Mean response length in tokens.
    pub response_length: f64,
}

/// One held-out evaluation: the policy answers fixed prompts with fixed seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PpoEval {
    /// After this many steps (0: the untuned policy).
    pub step: usize,
    /// Mean score.
    pub reward: f64,
    /// Mean KL per response to the reference.
    pub kl: f64,
    /// The first few `(prompt, response)` texts.
    pub samples: Vec<(String, String)>,
}

/// Everything a run logged, kept across resumes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PpoLog {
    /// Every step.
    pub steps: Vec<PpoStep>,
    /// Every evaluation.
    pub evals: Vec<PpoEval>,
}

impl PpoLog {
    /// The first and the last held-out evaluation.
    pub fn first_and_last(&self) -> Option<(&PpoEval, &PpoEval)> {
        Some((self.evals.first()?, self.evals.last()?))
    }

    /// Draws reward (rollouts and held-out), KL, β, entropy, clip fraction and value loss
    /// against the step as SVG panels.
    ///
    /// # Errors
    /// Drawing and write errors.
    pub fn plot(&self, path: &Path) -> Result<()> {
        let series =
            |f: fn(&PpoStep) -> f64| -> Vec<(f64, f64)> { self.steps.iter().map(|s| (s.step as f64, f(s))).collect() };
        let held_out =
            |f: fn(&PpoEval) -> f64| -> Vec<(f64, f64)> { self.evals.iter().map(|e| (e.step as f64, f(e))).collect() };
        let (reward, held_out_reward) = (series(|s| s.reward), held_out(|e| e.reward));
        let (kl, held_out_kl) = (series(|s| s.kl), held_out(|e| e.kl));
        let (beta, entropy) = (series(|s| s.beta), series(|s| s.entropy));
        let (clip, value) = (series(|s| s.clip_fraction), series(|s| s.value_loss));
        let panels = vec![
            ("reward", vec![("rollouts", reward.as_slice()), ("held-out", held_out_reward.as_slice())]),
            ("KL to the reference (nats)", vec![("rollouts", kl.as_slice()), ("held-out", held_out_kl.as_slice())]),
            ("beta", vec![("beta", beta.as_slice())]),
            ("entropy (nats)", vec![("entropy", entropy.as_slice())]),
            ("clip fraction", vec![("policy", clip.as_slice())]),
            ("value loss", vec![("value", value.as_slice())]),
        ];
        Ok(malmoi_transformer::plot::line_charts(path, "step", &panels)?)
    }
}
