//! Sinusoidal position encodings ("Attention Is All You Need", §3.5).

use ndarray::Array2;

/// The `(positions, dim)` table `PE[p, 2i] = sin(p / 10000^(2i/dim))`,
/// `PE[p, 2i+1] = cos(p / 10000^(2i/dim))` (`dim` even).
///
/// ```
/// let table = malmoi_transformer::position::sinusoidal(4, 6);
/// assert_eq!(table[[0, 0]], 0.0);
/// assert_eq!(table[[0, 1]], 1.0);
/// assert!((table[[1, 0]] - 1f32.sin()).abs() < 1e-6);
/// ```
pub fn sinusoidal(positions: usize, dim: usize) -> Array2<f32> {
    Array2::from_shape_fn((positions, dim), |(p, j)| {
        let pair = (j / 2) as f64;
        let angle = p as f64 / 10_000f64.powf(2.0 * pair / dim as f64);
        (if j % 2 == 0 { angle.sin() } else { angle.cos() }) as f32
    })
}
