//! The attention matrix as an SVG heat map.

use std::path::Path;

use ndarray::Array2;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};
use crate::io::write_atomic;

const CELL: i32 = 28;
const MARGIN: i32 = 48;

/// Writes `attention (target steps, source steps)` as an SVG heat map: one column per source
/// character (labelled on top), one row per output symbol (labelled on the left; the last row
/// is usually the end symbol, labelled `</s>`), darker for more weight.
pub fn attention_svg(path: &Path, attention: &Array2<f32>, source: &[char], target: &[String]) -> Result<()> {
    let (rows, columns) = attention.dim();
    if columns != source.len() || rows != target.len() {
        return Err(Error::InvalidArgument(format!(
            "attention of {rows}×{columns} for {} output and {} source labels",
            target.len(),
            source.len()
        )));
    }
    let svg = render(attention, source, target).map_err(|e| Error::InvalidArgument(format!("plotting failed: {e}")))?;
    write_atomic(path, svg.as_bytes())
}

fn render(
    attention: &Array2<f32>,
    source: &[char],
    target: &[String],
) -> std::result::Result<String, Box<dyn std::error::Error>> {
    let (rows, columns) = attention.dim();
    let size = ((2 * MARGIN + CELL * columns as i32) as u32, (2 * MARGIN + CELL * rows as i32) as u32);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        let font = ("sans-serif", 16).into_font().color(&BLACK);
        let centered = font.clone().pos(Pos::new(HPos::Center, VPos::Center));
        let right = font.pos(Pos::new(HPos::Right, VPos::Center));
        for (column, c) in source.iter().enumerate() {
            let x = MARGIN + CELL * column as i32 + CELL / 2;
            root.draw(&Text::new(c.to_string(), (x, MARGIN - CELL / 2), centered.clone()))?;
        }
        for (row, label) in target.iter().enumerate() {
            let y = MARGIN + CELL * row as i32;
            root.draw(&Text::new(label.clone(), (MARGIN - 6, y + CELL / 2), right.clone()))?;
            for column in 0..columns {
                let x = MARGIN + CELL * column as i32;
                let weight = attention[[row, column]].clamp(0.0, 1.0);
                let shade = (255.0 * (1.0 - weight)) as u8;
                let color = RGBColor(shade, shade, 255);
                root.draw(&Rectangle::new([(x, y), (x + CELL, y + CELL)], color.filled()))?;
            }
        }
        root.present()?;
    }
    Ok(svg)
}
