//! Helpers shared by this crate's kernel, module and optimiser tests.
#![allow(dead_code)]

use ndarray::{ArrayD, IxDyn};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::SeedableRng;
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand_distr::Uniform;

/// Uniform noise in `[-scale, scale)` with an explicit seed.
pub fn random(shape: &[usize], scale: f32, seed: u64) -> ArrayD<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    ArrayD::random_using(IxDyn(shape), Uniform::new(-scale, scale).unwrap(), &mut rng)
}

/// Central-difference gradient of `f` with respect to `inputs[index]`.
pub fn numeric_grad(f: impl Fn(&[ArrayD<f32>]) -> f32, inputs: &[ArrayD<f32>], index: usize) -> ArrayD<f32> {
    let eps = 1e-2_f32;
    let mut inputs = inputs.to_vec();
    let mut grad = ArrayD::zeros(inputs[index].raw_dim());
    for k in 0..grad.len() {
        let original = inputs[index].as_slice().unwrap()[k];
        inputs[index].as_slice_mut().unwrap()[k] = original + eps;
        let plus = f(&inputs) as f64;
        inputs[index].as_slice_mut().unwrap()[k] = original - eps;
        let minus = f(&inputs) as f64;
        inputs[index].as_slice_mut().unwrap()[k] = original;
        grad.as_slice_mut().unwrap()[k] = ((plus - minus) / (2.0 * eps as f64)) as f32;
    }
    grad
}

/// Asserts `|a - b| <= tol · max(1, |b|)` elementwise, naming `what` on failure.
pub fn assert_close(a: &ArrayD<f32>, b: &ArrayD<f32>, tol: f32, what: &str) {
    assert_eq!(a.shape(), b.shape(), "{what}: shapes differ");
    for (k, (&x, &y)) in a.iter().zip(b.iter()).enumerate() {
        assert!((x - y).abs() <= tol * y.abs().max(1.0), "{what}: element {k}: {x} vs {y}");
    }
}
