//! Learning-rate schedules.

use crate::error::{Error, Result};

/// A learning-rate multiplier as a function of the step, with Hugging Face
/// `transformers`' formulas (`get_constant_schedule`,
/// `get_constant_schedule_with_warmup`, `get_linear_schedule_with_warmup`,
/// `get_cosine_schedule_with_warmup`).
///
/// Warm-up rises linearly from 0 at step 0 to 1 at `warmup_steps`; then the
/// factor decays to its floor at `total_steps` and stays there.
///
/// ```
/// use malmoi_tensor::optim::Schedule;
///
/// let schedule = Schedule::warmup_linear(10, 110)?;
/// assert_eq!(schedule.factor(5), 0.5);
/// assert_eq!(schedule.factor(10), 1.0);
/// assert_eq!(schedule.factor(60), 0.5);
/// assert_eq!(schedule.learning_rate(3e-4, 200), 0.0);
/// # Ok::<(), malmoi_tensor::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// Always 1.
    Constant,
    /// Linear warm-up, then 1.
    WarmupConstant {
        /// Steps of warm-up.
        warmup_steps: usize,
    },
    /// Linear warm-up, then linear decay to 0.
    WarmupLinear {
        /// Steps of warm-up.
        warmup_steps: usize,
        /// Step at which the factor reaches 0.
        total_steps: usize,
    },
    /// Linear warm-up, then half a cosine down to `min_factor`.
    WarmupCosine {
        /// Steps of warm-up.
        warmup_steps: usize,
        /// Step at which the factor reaches `min_factor`.
        total_steps: usize,
        /// The floor (0 in Hugging Face; nanoGPT uses 0.1).
        min_factor: f32,
    },
}

impl Schedule {
    /// Linear warm-up over `warmup_steps` of a run of `total_steps`, then 1.
    ///
    /// # Errors
    /// [`Error::Invalid`] if `warmup_steps > total_steps`.
    pub fn warmup_constant(warmup_steps: usize, total_steps: usize) -> Result<Self> {
        check_steps(warmup_steps, total_steps)?;
        Ok(Schedule::WarmupConstant { warmup_steps })
    }

    /// Linear warm-up over `warmup_steps`, then linear decay to 0 at `total_steps`.
    ///
    /// # Errors
    /// [`Error::Invalid`] if `warmup_steps > total_steps`.
    pub fn warmup_linear(warmup_steps: usize, total_steps: usize) -> Result<Self> {
        check_steps(warmup_steps, total_steps)?;
        Ok(Schedule::WarmupLinear { warmup_steps, total_steps })
    }

    /// Linear warm-up, then cosine decay to `min_factor` at `total_steps`.
    ///
    /// # Errors
    /// [`Error::Invalid`] if `warmup_steps > total_steps` or `min_factor` is
    /// outside `[0, 1]`.
    pub fn warmup_cosine(warmup_steps: usize, total_steps: usize, min_factor: f32) -> Result<Self> {
        check_steps(warmup_steps, total_steps)?;
        if !(0.0..=1.0).contains(&min_factor) {
            return Err(Error::Invalid { op: "schedule", reason: format!("min_factor {min_factor} outside [0, 1]") });
        }
        Ok(Schedule::WarmupCosine { warmup_steps, total_steps, min_factor })
    }

    /// The multiplier at `step` (counting from 0).
    pub fn factor(&self, step: usize) -> f32 {
        match *self {
            Schedule::Constant => 1.0,
            Schedule::WarmupConstant { warmup_steps } => warm_up(step, warmup_steps).unwrap_or(1.0),
            Schedule::WarmupLinear { warmup_steps, total_steps } => match warm_up(step, warmup_steps) {
                Some(rising) => rising,
                None => (total_steps.saturating_sub(step)) as f32 / (total_steps - warmup_steps).max(1) as f32,
            },
            Schedule::WarmupCosine { warmup_steps, total_steps, min_factor } => match warm_up(step, warmup_steps) {
                Some(rising) => rising,
                None => {
                    let progress = ((step - warmup_steps) as f32 / (total_steps - warmup_steps).max(1) as f32).min(1.0);
                    min_factor + (1.0 - min_factor) * 0.5 * (1.0 + (std::f32::consts::PI * progress).cos())
                }
            },
        }
    }

    /// `base_learning_rate × factor(step)`.
    pub fn learning_rate(&self, base_learning_rate: f32, step: usize) -> f32 {
        base_learning_rate * self.factor(step)
    }
}

/// The warm-up factor `step / warmup_steps`, or `None` once warm-up is over.
fn warm_up(step: usize, warmup_steps: usize) -> Option<f32> {
    (step < warmup_steps).then(|| step as f32 / warmup_steps as f32)
}

fn check_steps(warmup_steps: usize, total_steps: usize) -> Result<()> {
    if warmup_steps > total_steps {
        return Err(Error::Invalid {
            op: "schedule",
            reason: format!("warm-up {warmup_steps} exceeds total {total_steps} steps"),
        });
    }
    Ok(())
}
