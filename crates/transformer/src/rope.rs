//! Rotary position embeddings (RoPE, Su et al. 2021): each pair of channels of a query or key
//! is rotated by an angle proportional to its position, so attention scores depend on the
//! distance between tokens. Llama, Qwen2 and GPT-NeoX use it instead of a position table.
//!
//! The frequencies follow `transformers`' `ROPE_INIT_FUNCTIONS`: `default`, `linear`
//! (positions divided by a factor), `dynamic` (NTK-aware base growing with the sequence),
//! `llama3` (Llama 3.1's smoothed per-frequency factors) and `yarn` (interpolation ramp plus an
//! attention temperature). Channels are rotated in two halves (`rotate_half`), as
//! `transformers` does for these models; with a partial rotary factor only the first channels
//! of each head rotate (GPT-NeoX's `rotary_pct`).
//!
//! ```
//! use malmoi_transformer::rope::{Rope, RopeScaling};
//! let rope = Rope::new(8, 8, 10_000.0, RopeScaling::Default, 2048)?;
//! let (cos, sin) = rope.cos_sin(0, 3);
//! assert_eq!(cos.dim(), (3, 8));
//! assert_eq!(cos[[0, 0]], 1.0); // position 0 is not rotated
//! assert_eq!(sin[[0, 0]], 0.0);
//! # Ok::<(), malmoi_transformer::Error>(())
//! ```

use ndarray::Array2;
use serde::Deserialize;
use serde_json::Value;

use malmoi_tensor::Tensor;

use crate::error::{Error, Result};

/// How the rotation frequencies are scaled for contexts longer than the training one.
#[derive(Debug, Clone, PartialEq)]
pub enum RopeScaling {
    /// Plain RoPE.
    Default,
    /// Position interpolation: every frequency divided by `factor`.
    Linear {
        /// The context extension factor.
        factor: f64,
    },
    /// Dynamic NTK scaling: the base grows once a sequence passes the trained context.
    Dynamic {
        /// The context extension factor.
        factor: f64,
    },
    /// Llama 3.1: low frequencies divided by `factor`, high ones kept, a smooth ramp between.
    Llama3 {
        /// The context extension factor.
        factor: f64,
        /// Wavelengths above `original / low_freq_factor` are scaled fully.
        low_freq_factor: f64,
        /// Wavelengths below `original / high_freq_factor` are kept.
        high_freq_factor: f64,
        /// The context the model was trained on.
        original_max_position_embeddings: f64,
    },
    /// YaRN: a ramp between interpolated and extrapolated frequencies, and cos/sin scaled by an
    /// attention factor.
    Yarn {
        /// The context extension factor.
        factor: f64,
        /// The context the model was trained on.
        original_max_position_embeddings: f64,
        /// Scales cos and sin (`0.1 ln(factor) + 1` unless given).
        attention_factor: f64,
        /// Rotations at which the ramp starts (32 by default).
        beta_fast: f64,
        /// Rotations at which it ends (1 by default).
        beta_slow: f64,
        /// Whether the ramp's ends are rounded to whole channels (true by default).
        truncate: bool,
    },
}

/// The rotary embedding of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Rope {
    head_dim: usize,
    rotary_dim: usize,
    base: f64,
    scaling: RopeScaling,
    max_position_embeddings: usize,
    /// `rotary_dim / 2` frequencies for sequences within the trained context.
    inv_freq: Vec<f64>,
    attention_factor: f64,
}

impl Rope {
    /// RoPE over the first `rotary_dim` of `head_dim` channels with base `theta`.
    /// `max_position_embeddings` is the context the config declares (dynamic scaling starts
    /// past it).
    ///
    /// # Errors
    /// [`Error::Config`] for an odd or oversized `rotary_dim`, a base or factor that is not
    /// positive and finite.
    pub fn new(
        head_dim: usize,
        rotary_dim: usize,
        theta: f64,
        scaling: RopeScaling,
        max_position_embeddings: usize,
    ) -> Result<Self> {
        if rotary_dim == 0 || rotary_dim % 2 == 1 || rotary_dim > head_dim {
            return Err(Error::Config(format!("rotary dimension {rotary_dim} of a head of {head_dim}")));
        }
        if !(theta.is_finite() && theta > 0.0) {
            return Err(Error::Config(format!("rope_theta {theta} is not a positive number")));
        }
        scaling.validate()?;
        let mut rope = Rope {
            head_dim,
            rotary_dim,
            base: theta,
            scaling,
            max_position_embeddings,
            inv_freq: Vec::new(),
            attention_factor: 1.0,
        };
        (rope.inv_freq, rope.attention_factor) = rope.frequencies(max_position_embeddings);
        Ok(rope)
    }

    /// The context the config declares (dynamic scaling grows the base past it).
    pub fn max_position_embeddings(&self) -> usize {
        self.max_position_embeddings
    }

    /// Channels of each head that rotate.
    pub fn rotary_dim(&self) -> usize {
        self.rotary_dim
    }

    /// The frequency scaling.
    pub fn scaling(&self) -> &RopeScaling {
        &self.scaling
    }

    /// `cos` and `sin` tables `(len, rotary_dim)` for positions `start..start + len`, as
    /// `transformers` computes them for a sequence of `start + len` tokens (the halves repeat:
    /// channel `i` and `i + rotary_dim/2` share a frequency).
    pub fn cos_sin(&self, start: usize, len: usize) -> (Array2<f32>, Array2<f32>) {
        let total = start + len;
        let dynamic_grows = matches!(self.scaling, RopeScaling::Dynamic { .. }) && total > self.max_position_embeddings;
        let (inv_freq, factor) =
            if dynamic_grows { self.frequencies(total) } else { (self.inv_freq.clone(), self.attention_factor) };
        let half = self.rotary_dim / 2;
        let mut cos = Array2::zeros((len, self.rotary_dim));
        let mut sin = Array2::zeros((len, self.rotary_dim));
        for t in 0..len {
            let position = (start + t) as f32;
            for (i, &f) in inv_freq.iter().enumerate() {
                // transformers multiplies in f32: positions (f32) × inv_freq (f32).
                let angle = (position * f as f32) as f64;
                let (s, c) = angle.sin_cos();
                for j in [i, i + half] {
                    cos[[t, j]] = (c * factor) as f32;
                    sin[[t, j]] = (s * factor) as f32;
                }
            }
        }
        (cos, sin)
    }

    /// The rotation of positions `start..start + len`, computed once per forward pass and
    /// applied to the queries and keys of every layer.
    pub fn rotation(&self, start: usize, len: usize) -> Rotation {
        let (cos, sin) = self.cos_sin(start, len);
        Rotation { cos: Tensor::constant(cos.into_dyn()), sin: Tensor::constant(sin.into_dyn()), rope: self.clone() }
    }
}

/// [`Rope`]'s cos and sin tables for one span of positions.
#[derive(Debug, Clone)]
pub struct Rotation {
    cos: Tensor,
    sin: Tensor,
    rope: Rope,
}

impl Rotation {
    /// Rotates `x (B, heads, T, head_dim)`, `T` the span's length.
    ///
    /// # Errors
    /// [`Error::Input`] for another shape.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let shape = x.shape();
        let (cos, sin, rope) = (&self.cos, &self.sin, &self.rope);
        let span = cos.shape()[0];
        let [_, _, t, d] = shape[..] else {
            return Err(Error::Input(format!("RoPE expects (B, heads, T, hs), got {shape:?}")));
        };
        if d != rope.head_dim || t != span {
            return Err(Error::Input(format!(
                "RoPE for {span} positions of heads of {}, got {shape:?}",
                rope.head_dim
            )));
        }
        let rotary_dim = rope.rotary_dim;
        let rotary = if rotary_dim == d { x.clone() } else { x.narrow(-1, 0, rotary_dim)? };
        let rotated = rotary.mul(cos)?.add(&rotate_half(&rotary)?.mul(sin)?)?;
        if rotary_dim == d {
            return Ok(rotated);
        }
        Ok(Tensor::cat(&[rotated, x.narrow(-1, rotary_dim, d - rotary_dim)?], -1)?)
    }
}

impl Rope {
    /// `(inv_freq, attention_factor)` for a sequence of `seq_len` tokens.
    fn frequencies(&self, seq_len: usize) -> (Vec<f64>, f64) {
        let dim = self.rotary_dim as f64;
        let plain = |base: f64| -> Vec<f64> {
            (0..self.rotary_dim).step_by(2).map(|i| 1.0 / (base as f32).powf(i as f32 / dim as f32) as f64).collect()
        };
        match self.scaling {
            RopeScaling::Default => (plain(self.base), 1.0),
            RopeScaling::Linear { factor } => (plain(self.base).into_iter().map(|f| f / factor).collect(), 1.0),
            RopeScaling::Dynamic { factor } => {
                let max = self.max_position_embeddings as f64;
                let seq = (seq_len as f64).max(max);
                let base = self.base * ((factor * seq / max) - (factor - 1.0)).powf(dim / (dim - 2.0));
                (plain(base), 1.0)
            }
            RopeScaling::Llama3 { factor, low_freq_factor, high_freq_factor, original_max_position_embeddings } => {
                let low_wavelen = original_max_position_embeddings / low_freq_factor;
                let high_wavelen = original_max_position_embeddings / high_freq_factor;
                let scaled = plain(self.base).into_iter().map(|f| {
                    let wavelen = 2.0 * std::f64::consts::PI / f;
                    if wavelen < high_wavelen {
                        f
                    } else if wavelen > low_wavelen {
                        f / factor
                    } else {
                        let smooth = (original_max_position_embeddings / wavelen - low_freq_factor)
                            / (high_freq_factor - low_freq_factor);
                        (1.0 - smooth) * f / factor + smooth * f
                    }
                });
                (scaled.collect(), 1.0)
            }
            RopeScaling::Yarn {
                factor,
                original_max_position_embeddings,
                attention_factor,
                beta_fast,
                beta_slow,
                truncate,
            } => {
                let correction = |rotations: f64| {
                    dim * (original_max_position_embeddings / (rotations * 2.0 * std::f64::consts::PI)).ln()
                        / (2.0 * self.base.ln())
                };
                let (mut low, mut high) = (correction(beta_fast), correction(beta_slow));
                if truncate {
                    (low, high) = (low.floor(), high.ceil());
                }
                let (low, mut high) = (low.max(0.0), high.min(dim - 1.0));
                if low == high {
                    high += 0.001;
                }
                let inv = (0..self.rotary_dim / 2).map(|i| {
                    let pos_freq = (self.base as f32).powf((2 * i) as f32 / dim as f32) as f64;
                    let ramp = ((i as f64 - low) / (high - low)).clamp(0.0, 1.0);
                    let extrapolation = 1.0 - ramp;
                    (1.0 / (factor * pos_freq)) * (1.0 - extrapolation) + (1.0 / pos_freq) * extrapolation
                });
                (inv.collect(), attention_factor)
            }
        }
    }
}

impl RopeScaling {
    fn validate(&self) -> Result<()> {
        let factor = match self {
            RopeScaling::Default => return Ok(()),
            RopeScaling::Linear { factor } | RopeScaling::Dynamic { factor } => *factor,
            RopeScaling::Llama3 { factor, low_freq_factor, high_freq_factor, .. } => {
                if high_freq_factor.partial_cmp(low_freq_factor) != Some(std::cmp::Ordering::Greater) {
                    return Err(Error::Config("rope_scaling: high_freq_factor must exceed low_freq_factor".into()));
                }
                *factor
            }
            RopeScaling::Yarn { factor, .. } => *factor,
        };
        if !(factor.is_finite() && factor >= 1.0) {
            return Err(Error::Config(format!("rope_scaling factor {factor} must be at least 1")));
        }
        Ok(())
    }

    /// The longest sequence a model trained on `trained` positions takes with this scaling:
    /// dynamic NTK scaling exists to run past the trained context (by its factor); the other
    /// kinds already describe the extended context in `max_position_embeddings`.
    pub fn context_for(&self, trained: usize) -> usize {
        match self {
            RopeScaling::Dynamic { factor } => (trained as f64 * factor) as usize,
            _ => trained,
        }
    }

    /// Reads `rope_scaling` (transformers 4) or `rope_parameters` (transformers 5) as a config
    /// holds it; `None` or a missing `rope_type` is plain RoPE. `max_position_embeddings` is
    /// the config's, the default for YaRN's original context.
    ///
    /// # Errors
    /// [`Error::UnsupportedConfigKey`] naming `rope_scaling` for a type this crate does not
    /// implement (`longrope`, …) or a malformed value.
    pub fn from_config(value: Option<&Value>, max_position_embeddings: usize) -> Result<Self> {
        #[derive(Deserialize)]
        struct Raw {
            rope_type: Option<String>,
            #[serde(rename = "type")]
            legacy_type: Option<String>,
            factor: Option<f64>,
            low_freq_factor: Option<f64>,
            high_freq_factor: Option<f64>,
            original_max_position_embeddings: Option<f64>,
            attention_factor: Option<f64>,
            beta_fast: Option<f64>,
            beta_slow: Option<f64>,
            mscale: Option<f64>,
            mscale_all_dim: Option<f64>,
            truncate: Option<bool>,
        }
        let refuse = |reason: String| Error::UnsupportedConfigKey { key: "rope_scaling".into(), reason };
        let Some(value) = value.filter(|v| !v.is_null()) else { return Ok(RopeScaling::Default) };
        let raw: Raw = serde_json::from_value(value.clone()).map_err(|e| refuse(e.to_string()))?;
        let kind = raw.rope_type.or(raw.legacy_type).unwrap_or_else(|| "default".into());
        let factor = || raw.factor.ok_or_else(|| refuse(format!("{kind} scaling needs a factor")));
        Ok(match kind.as_str() {
            "default" => RopeScaling::Default,
            "linear" => RopeScaling::Linear { factor: factor()? },
            "dynamic" => RopeScaling::Dynamic { factor: factor()? },
            "llama3" => RopeScaling::Llama3 {
                factor: factor()?,
                low_freq_factor: raw.low_freq_factor.ok_or_else(|| refuse("llama3 needs low_freq_factor".into()))?,
                high_freq_factor: raw.high_freq_factor.ok_or_else(|| refuse("llama3 needs high_freq_factor".into()))?,
                original_max_position_embeddings: raw
                    .original_max_position_embeddings
                    .ok_or_else(|| refuse("llama3 needs original_max_position_embeddings".into()))?,
            },
            "yarn" => {
                let factor = factor()?;
                let mscale = |scale: f64, m: f64| if scale <= 1.0 { 1.0 } else { 0.1 * m * scale.ln() + 1.0 };
                let attention_factor = match (raw.attention_factor, raw.mscale, raw.mscale_all_dim) {
                    (Some(a), _, _) => a,
                    (None, Some(m), Some(all)) if m != 0.0 && all != 0.0 => mscale(factor, m) / mscale(factor, all),
                    _ => mscale(factor, 1.0),
                };
                RopeScaling::Yarn {
                    factor,
                    original_max_position_embeddings: raw
                        .original_max_position_embeddings
                        .unwrap_or(max_position_embeddings as f64),
                    attention_factor,
                    beta_fast: raw.beta_fast.unwrap_or(32.0),
                    beta_slow: raw.beta_slow.unwrap_or(1.0),
                    truncate: raw.truncate.unwrap_or(true),
                }
            }
            other => return Err(refuse(format!("rope type {other:?} is not implemented"))),
        })
    }
}

/// `(x1, x2) → (−x2, x1)` over the two halves of the last axis.
fn rotate_half(x: &Tensor) -> Result<Tensor> {
    let d = *x.shape().last().expect("4-D");
    let (first, second) = (x.narrow(-1, 0, d / 2)?, x.narrow(-1, d / 2, d / 2)?);
    Ok(Tensor::cat(&[second.neg(), first], -1)?)
}
