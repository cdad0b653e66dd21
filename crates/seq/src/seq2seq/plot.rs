//! The attention matrix as an SVG heat map, drawn by the project's one heat-map writer
//! ([`malmoi_train::chart::heat_maps`]).

use std::path::Path;

use malmoi_train::chart::heat_maps;
use ndarray::Array2;

use crate::error::{Error, Result};

/// Writes `attention (target steps, source steps)` as an SVG heat map: one column per source
/// character (labelled on top), one row per output symbol (labelled on the left; the last row
/// is usually the end symbol, labelled `</s>`), darker for more weight.
///
/// # Errors
/// [`Error::InvalidArgument`] when the labels do not fit the matrix; [`Error::Train`] for a
/// failed drawing or write.
pub fn attention_svg(path: &Path, attention: &Array2<f32>, source: &[char], target: &[String]) -> Result<()> {
    let (rows, columns) = attention.dim();
    if columns != source.len() || rows != target.len() {
        return Err(Error::InvalidArgument(format!(
            "attention of {rows}×{columns} for {} output and {} source labels",
            target.len(),
            source.len()
        )));
    }
    let columns: Vec<String> = source.iter().map(char::to_string).collect();
    let title = format!("{} → {}", columns.concat(), target.concat());
    Ok(heat_maps(path, &title, target, &columns, &[("attention".into(), attention.view())])?)
}
