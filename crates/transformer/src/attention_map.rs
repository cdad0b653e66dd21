//! The lecture's attention figures: one heat map per head, queries down the side and keys
//! along the top, darker for more attention, written as SVG.

use std::path::Path;

use ndarray::{ArrayView4, s};

use malmoi_train::chart::heat_maps;

use crate::error::{Error, Result};

/// Draws `weights (1, nh, Tq, Tk)` for the query tokens `queries` and key tokens `keys` as one
/// panel per head, side by side, and writes the SVG atomically.
///
/// ```
/// use ndarray::Array4;
/// let weights = Array4::from_shape_fn((1, 2, 3, 3), |(_, _, i, j)| if j <= i { 1.0 / (i + 1) as f32 } else { 0.0 });
/// let tokens: Vec<String> = ["영화", "가", "좋다"].iter().map(|s| s.to_string()).collect();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("attention.svg");
/// malmoi_transformer::attention_map::attention_svg(&path, &tokens, &tokens, weights.view(), "layer 0")?;
/// assert!(std::fs::read_to_string(&path).unwrap().contains("좋다"));
/// # Ok::<(), malmoi_transformer::Error>(())
/// ```
///
/// # Errors
/// [`Error::Input`] if the token counts do not match the weights; drawing and write errors.
pub fn attention_svg(
    path: &Path,
    queries: &[String],
    keys: &[String],
    weights: ArrayView4<f32>,
    title: &str,
) -> Result<()> {
    let (_, heads, tq, tk) = weights.dim();
    if queries.len() != tq || keys.len() != tk {
        return Err(Error::Input(format!(
            "{} queries and {} keys for weights {:?}",
            queries.len(),
            keys.len(),
            weights.shape()
        )));
    }
    let panels: Vec<_> = (0..heads).map(|h| (format!("head {h}"), weights.slice(s![0, h, .., ..]))).collect();
    Ok(heat_maps(path, title, queries, keys, &panels)?)
}
