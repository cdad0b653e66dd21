//! Weight initialisers with PyTorch's (`torch.nn.init`) formulas.
//!
//! Every initialiser draws from a random generator the caller seeds
//! (`StdRng::seed_from_u64(seed)`), so a model built twice from one seed is
//! the same model. Fans follow PyTorch: for a weight of shape
//! `(out, in, k₁, k₂, …)`, `fan_in = in·k₁·k₂·…` and `fan_out = out·k₁·k₂·…`.
//!
//! ```
//! use malmoi_tensor::nn::init;
//! use rand::{SeedableRng, rngs::StdRng};
//!
//! let mut rng = StdRng::seed_from_u64(42);
//! let w = init::xavier_uniform(&[256, 128], 1.0, &mut rng)?;
//! let bound = (6.0_f32 / (256.0 + 128.0)).sqrt();
//! assert!(w.iter().all(|v| v.abs() <= bound));
//! # Ok::<(), malmoi_tensor::Error>(())
//! ```

use ndarray::{Array2, ArrayD, IxDyn};
use ndarray_rand::RandomExt;
use rand::Rng;
use rand_distr::{Normal, Uniform};

use crate::error::{Error, Result};

/// The activation a layer feeds, for the recommended gain
/// (`torch.nn.init.calculate_gain`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Nonlinearity {
    /// Identity (and sigmoid's gain of 1 in PyTorch's table).
    Linear,
    /// `tanh`: gain 5/3.
    Tanh,
    /// `relu`: gain √2.
    Relu,
    /// Leaky ReLU with the given negative slope: gain `√(2 / (1 + slope²))`.
    LeakyRelu(f32),
}

impl Nonlinearity {
    /// The recommended scale of the weights feeding this activation.
    pub fn gain(self) -> f32 {
        match self {
            Nonlinearity::Linear => 1.0,
            Nonlinearity::Tanh => 5.0 / 3.0,
            Nonlinearity::Relu => 2.0_f32.sqrt(),
            Nonlinearity::LeakyRelu(slope) => (2.0 / (1.0 + slope * slope)).sqrt(),
        }
    }
}

/// Which fan He/Kaiming initialisation preserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fan {
    /// Keep the variance of activations in the forward pass (PyTorch's default).
    In,
    /// Keep the variance of gradients in the backward pass.
    Out,
}

/// `(fan_in, fan_out)` of a weight shape with at least two dimensions.
///
/// # Errors
/// [`Error::Invalid`] for fewer than two dimensions.
pub fn fans(shape: &[usize]) -> Result<(usize, usize)> {
    if shape.len() < 2 {
        return Err(Error::Invalid { op: "init", reason: format!("fans need at least 2 dimensions, got {shape:?}") });
    }
    let receptive: usize = shape[2..].iter().product();
    Ok((shape[1] * receptive, shape[0] * receptive))
}

/// Values drawn uniformly from `[low, high)`.
///
/// # Errors
/// [`Error::Invalid`] unless `low < high` (both finite).
pub fn uniform(shape: &[usize], low: f32, high: f32, rng: &mut impl Rng) -> Result<ArrayD<f32>> {
    let distribution = Uniform::new(low, high)
        .map_err(|e| Error::Invalid { op: "init", reason: format!("uniform({low}, {high}): {e}") })?;
    Ok(ArrayD::random_using(IxDyn(shape), distribution, rng))
}

/// Values drawn from a normal distribution `N(mean, std²)`.
///
/// # Errors
/// [`Error::Invalid`] for a negative or non-finite `std`.
pub fn normal(shape: &[usize], mean: f32, std: f32, rng: &mut impl Rng) -> Result<ArrayD<f32>> {
    if !(std >= 0.0 && std.is_finite()) {
        return Err(Error::Invalid { op: "init", reason: format!("normal: std must be finite and >= 0, got {std}") });
    }
    let distribution = Normal::new(mean, std)
        .map_err(|e| Error::Invalid { op: "init", reason: format!("normal({mean}, {std}): {e}") })?;
    Ok(ArrayD::random_using(IxDyn(shape), distribution, rng))
}

/// Zeros (biases).
pub fn zeros(shape: &[usize]) -> ArrayD<f32> {
    ArrayD::zeros(IxDyn(shape))
}

/// Glorot/Xavier uniform: `U(−a, a)` with `a = gain·√(6 / (fan_in + fan_out))`
/// (Keras' default for `Dense` and recurrent input kernels).
///
/// # Errors
/// [`Error::Invalid`] for fewer than two dimensions or a non-positive bound.
pub fn xavier_uniform(shape: &[usize], gain: f32, rng: &mut impl Rng) -> Result<ArrayD<f32>> {
    let (fan_in, fan_out) = fans(shape)?;
    let bound = gain * (6.0 / (fan_in + fan_out) as f32).sqrt();
    uniform(shape, -bound, bound, rng)
}

/// Glorot/Xavier normal: `N(0, σ²)` with `σ = gain·√(2 / (fan_in + fan_out))`.
///
/// # Errors
/// [`Error::Invalid`] for fewer than two dimensions.
pub fn xavier_normal(shape: &[usize], gain: f32, rng: &mut impl Rng) -> Result<ArrayD<f32>> {
    let (fan_in, fan_out) = fans(shape)?;
    normal(shape, 0.0, gain * (2.0 / (fan_in + fan_out) as f32).sqrt(), rng)
}

/// He/Kaiming uniform: `U(−b, b)` with `b = gain·√(3 / fan)`.
///
/// `Nonlinearity::Relu` with `Fan::In` is He et al.'s rule;
/// `Nonlinearity::LeakyRelu(√5)` with `Fan::In` is PyTorch's default for
/// `nn.Linear` weights (`b = 1/√fan_in`).
///
/// # Errors
/// [`Error::Invalid`] for fewer than two dimensions.
pub fn kaiming_uniform(
    shape: &[usize],
    fan: Fan,
    nonlinearity: Nonlinearity,
    rng: &mut impl Rng,
) -> Result<ArrayD<f32>> {
    let bound = nonlinearity.gain() * (3.0 / chosen_fan(shape, fan)? as f32).sqrt();
    uniform(shape, -bound, bound, rng)
}

/// He/Kaiming normal: `N(0, σ²)` with `σ = gain / √fan`.
///
/// # Errors
/// [`Error::Invalid`] for fewer than two dimensions.
pub fn kaiming_normal(
    shape: &[usize],
    fan: Fan,
    nonlinearity: Nonlinearity,
    rng: &mut impl Rng,
) -> Result<ArrayD<f32>> {
    normal(shape, 0.0, nonlinearity.gain() / (chosen_fan(shape, fan)? as f32).sqrt(), rng)
}

fn chosen_fan(shape: &[usize], fan: Fan) -> Result<usize> {
    let (fan_in, fan_out) = fans(shape)?;
    Ok(match fan {
        Fan::In => fan_in,
        Fan::Out => fan_out,
    })
}

/// A (semi-)orthogonal matrix times `gain` (Saxe et al.; Keras' default for
/// recurrent kernels): the shape is flattened to `(shape[0], rest)`, and the
/// rows (if fewer) or columns are orthonormal.
///
/// Like PyTorch, this orthonormalises a standard normal matrix by a QR
/// decomposition whose `R` has a positive diagonal (here modified
/// Gram-Schmidt in `f64`).
///
/// # Errors
/// [`Error::Invalid`] for fewer than two dimensions or an empty shape.
pub fn orthogonal(shape: &[usize], gain: f32, rng: &mut impl Rng) -> Result<ArrayD<f32>> {
    if shape.len() < 2 || shape.contains(&0) {
        return Err(Error::Invalid {
            op: "init",
            reason: format!("orthogonal needs a non-empty matrix, got {shape:?}"),
        });
    }
    let rows = shape[0];
    let cols = shape[1..].iter().product::<usize>();
    let flat = normal(&[rows, cols], 0.0, 1.0, rng)?.mapv(f64::from);
    let flat = flat.into_shape_with_order((rows, cols)).expect("2-D");
    // orthonormalise the columns of a tall matrix
    let tall = if rows < cols { flat.t().to_owned() } else { flat };
    let q = orthonormal_columns(tall);
    let q = if rows < cols { q.t().to_owned() } else { q };
    let values = q.mapv(|v| v as f32 * gain);
    Ok(values.into_shape_with_order(IxDyn(shape)).expect("same element count"))
}

/// `Q` of the thin QR decomposition of a tall matrix with `R`'s diagonal
/// positive, by modified Gram-Schmidt.
fn orthonormal_columns(mut a: Array2<f64>) -> Array2<f64> {
    for j in 0..a.ncols() {
        for k in 0..j {
            let projection = a.column(j).dot(&a.column(k));
            let basis = a.column(k).to_owned();
            a.column_mut(j).scaled_add(-projection, &basis);
        }
        let norm = a.column(j).dot(&a.column(j)).sqrt();
        a.column_mut(j).mapv_inplace(|v| v / norm);
    }
    a
}

/// How a fresh tensor is drawn: what a [`VarBuilder`](crate::VarBuilder) that initialises
/// (instead of loading) makes of a name, and what one that loads ignores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// All zeros (biases, LayerNorm shifts).
    Zeros,
    /// All ones (LayerNorm scales).
    Ones,
    /// [`uniform`] in `[low, high)`.
    Uniform {
        /// Lower bound.
        low: f32,
        /// Upper bound.
        high: f32,
    },
    /// [`normal`] `N(mean, std²)`.
    Normal {
        /// Mean.
        mean: f32,
        /// Standard deviation.
        std: f32,
    },
    /// [`xavier_uniform`] with a gain.
    XavierUniform {
        /// Scale (see [`Nonlinearity::gain`]).
        gain: f32,
    },
    /// [`kaiming_uniform`] for a fan and activation.
    KaimingUniform {
        /// Which fan to preserve.
        fan: Fan,
        /// The activation fed.
        nonlinearity: Nonlinearity,
    },
}

impl Init {
    /// PyTorch's default `nn.Linear` weight: Kaiming-uniform with a leaky-ReLU slope of `√5`,
    /// i.e. `U(±1/√fan_in)`.
    pub fn pytorch_linear() -> Init {
        Init::KaimingUniform { fan: Fan::In, nonlinearity: Nonlinearity::LeakyRelu(5f32.sqrt()) }
    }

    /// `U(±bound)`.
    pub fn symmetric_uniform(bound: f32) -> Init {
        Init::Uniform { low: -bound, high: bound }
    }

    /// Draws a tensor of `shape` (zeros and ones draw nothing from `rng`).
    ///
    /// # Errors
    /// [`Error::Invalid`] for bounds, a deviation or a shape the chosen rule refuses.
    pub fn draw(self, shape: &[usize], rng: &mut impl Rng) -> Result<ArrayD<f32>> {
        match self {
            Init::Zeros => Ok(zeros(shape)),
            Init::Ones => Ok(ArrayD::ones(IxDyn(shape))),
            Init::Uniform { low, high } => uniform(shape, low, high, rng),
            Init::Normal { mean, std } => normal(shape, mean, std, rng),
            Init::XavierUniform { gain } => xavier_uniform(shape, gain, rng),
            Init::KaimingUniform { fan, nonlinearity } => kaiming_uniform(shape, fan, nonlinearity, rng),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn orthogonal_rows_or_columns_are_orthonormal() {
        let mut rng = StdRng::seed_from_u64(3);
        for shape in [[6, 4], [4, 6], [5, 5]] {
            let w = orthogonal(&shape, 2.0, &mut rng).unwrap().into_dimensionality::<ndarray::Ix2>().unwrap();
            let gram = if shape[0] >= shape[1] { w.t().dot(&w) } else { w.dot(&w.t()) };
            for ((i, j), &v) in gram.indexed_iter() {
                let expected = if i == j { 4.0 } else { 0.0 };
                assert!((v - expected).abs() < 1e-4, "{shape:?} gram[{i},{j}] = {v}");
            }
        }
    }

    #[test]
    fn same_seed_same_weights() {
        let draw = |seed| xavier_normal(&[3, 4], 1.0, &mut StdRng::seed_from_u64(seed)).unwrap();
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }
}
