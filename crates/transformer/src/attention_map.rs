//! The lecture's attention figures: one heat map per head, queries down the side and keys
//! along the top, darker for more attention, written as SVG.

use std::path::Path;

use ndarray::ArrayView4;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use malmoi_tensor::checkpoint::write_atomically;

use crate::error::{Error, Result};

const CELL: i32 = 26;
const LABEL: i32 = 90;

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
    let panel_w = LABEL + CELL * tk as i32 + 20;
    let size = ((panel_w * heads as i32).max(200) as u32, (LABEL + 30 + CELL * tq as i32 + 10) as u32);
    let mut svg = String::new();
    draw(&mut svg, size, queries, keys, weights, title)
        .map_err(|e| Error::Plot { path: path.to_path_buf(), reason: e.to_string() })?;
    Ok(write_atomically(path, svg.as_bytes())?)
}

fn draw(
    svg: &mut String,
    size: (u32, u32),
    queries: &[String],
    keys: &[String],
    weights: ArrayView4<f32>,
    title: &str,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, size).into_drawing_area();
    root.fill(&WHITE)?;
    let font = ("sans-serif", 13).into_font();
    root.draw(&Text::new(title.to_string(), (10, 6), ("sans-serif", 16).into_font()))?;
    let panel_w = LABEL + CELL * keys.len() as i32 + 20;
    for head in 0..weights.dim().1 {
        let x0 = head as i32 * panel_w + LABEL;
        let y0 = LABEL + 30;
        root.draw(&Text::new(format!("head {head}"), (x0, 28), font.clone()))?;
        for (j, key) in keys.iter().enumerate() {
            let x = x0 + j as i32 * CELL + CELL / 2;
            let style = TextStyle::from(font.clone().transform(FontTransform::Rotate270))
                .pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(key.clone(), (x, y0 - 4), style))?;
        }
        for (i, query) in queries.iter().enumerate() {
            let y = y0 + i as i32 * CELL;
            let style = TextStyle::from(font.clone()).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(query.clone(), (x0 - 4, y + CELL / 2), style))?;
            for j in 0..keys.len() {
                let w = weights[[0, head, i, j]].clamp(0.0, 1.0) as f64;
                let shade = (255.0 * (1.0 - w)) as u8;
                let x = x0 + j as i32 * CELL;
                root.draw(&Rectangle::new([(x, y), (x + CELL, y + CELL)], RGBColor(shade, shade, 255).filled()))?;
                root.draw(&Rectangle::new([(x, y), (x + CELL, y + CELL)], RGBColor(220, 220, 220)))?;
            }
        }
    }
    root.present()?;
    Ok(())
}
