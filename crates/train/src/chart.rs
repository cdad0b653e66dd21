//! The project's pictures as SVG: line charts of logged series (losses, rewards, KL,
//! accuracy) and heat maps (attention weights).

use std::path::Path;

use ndarray::ArrayView2;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use malmoi_tensor::checkpoint::write_atomically;

use crate::error::{Error, Result};

/// One named series of `(x, y)` points.
pub type Series<'a> = (&'a str, &'a [(f64, f64)]);

/// One panel: a title and its series.
pub type Panel<'a> = (&'a str, Vec<Series<'a>>);

const COLORS: [RGBColor; 6] = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];

/// Panels per row; more wrap to the next row.
const MAX_COLUMNS: usize = 3;

/// Draws one panel per `(title, series…)`, three to a row, and writes the SVG atomically.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let train = [(0.0, 5.0), (100.0, 3.5), (200.0, 3.1)];
/// let path = dir.path().join("loss.svg");
/// malmoi_train::chart::line_charts(&path, "step", &[("loss", vec![("train", &train[..])])])?;
/// assert!(std::fs::read_to_string(&path).unwrap().contains("<svg"));
/// # Ok::<(), malmoi_train::Error>(())
/// ```
///
/// # Errors
/// [`Error::Plot`] if drawing fails; write errors.
pub fn line_charts(path: &Path, x_label: &str, panels: &[Panel<'_>]) -> Result<()> {
    let mut svg = String::new();
    draw(&mut svg, x_label, panels).map_err(|e| Error::Plot { path: path.to_path_buf(), reason: e.to_string() })?;
    Ok(write_atomically(path, svg.as_bytes())?)
}

fn draw(svg: &mut String, x_label: &str, panels: &[Panel<'_>]) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let columns = panels.len().clamp(1, MAX_COLUMNS);
    let rows = panels.len().div_ceil(columns).max(1);
    let root = SVGBackend::with_string(svg, (480 * columns as u32, 360 * rows as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    for (area, (title, series)) in root.split_evenly((rows, columns)).iter().zip(panels) {
        let (x0, x1, y0, y1) = bounds(series);
        let pad = ((y1 - y0) * 0.08).max(1e-3);
        let mut chart = ChartBuilder::on(area)
            .caption(*title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(48)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))?;
        chart.configure_mesh().x_desc(x_label).draw()?;
        for ((name, points), color) in series.iter().zip(COLORS.iter().cycle()) {
            let color = *color;
            let finite = points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite());
            chart
                .draw_series(LineSeries::new(finite, color.stroke_width(2)))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
    }
    root.present()?;
    Ok(())
}

/// The finite points' `(x0, x1, y0, y1)`, or the unit square when there are none.
fn bounds(series: &[Series<'_>]) -> (f64, f64, f64, f64) {
    let points = series.iter().flat_map(|(_, s)| s.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
    let (x0, x1, y0, y1) = points
        .fold((f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY), |b, &(x, y)| {
            (b.0.min(x), b.1.max(x), b.2.min(y), b.3.max(y))
        });
    if x0.is_finite() { (x0, x1.max(x0 + 1.0), y0, y1) } else { (0.0, 1.0, 0.0, 1.0) }
}

/// One heat-map panel: its title and a `(rows, columns)` matrix of values in `[0, 1]`.
pub type HeatPanel<'a> = (String, ArrayView2<'a, f32>);

const CELL: i32 = 26;
const LABEL: i32 = 90;

/// Draws heat maps side by side — rows labelled down the left, columns along the top, darker
/// for larger values — under `title`, and writes the SVG atomically. Every panel has
/// `row_labels.len()` rows and `column_labels.len()` columns (attention: queries × keys, one
/// panel per head).
///
/// ```
/// use ndarray::array;
/// let weights = array![[1.0_f32, 0.0], [0.3, 0.7]];
/// let labels: Vec<String> = ["영화", "좋다"].iter().map(|s| s.to_string()).collect();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("attention.svg");
/// malmoi_train::chart::heat_maps(&path, "layer 0", &labels, &labels, &[("head 0".into(), weights.view())])?;
/// assert!(std::fs::read_to_string(&path).unwrap().contains("좋다"));
/// # Ok::<(), malmoi_train::Error>(())
/// ```
///
/// # Errors
/// [`Error::Plot`] for a panel whose shape is not the labels' or a failed drawing; write errors.
pub fn heat_maps(
    path: &Path,
    title: &str,
    row_labels: &[String],
    column_labels: &[String],
    panels: &[HeatPanel<'_>],
) -> Result<()> {
    let plot_error = |reason: String| Error::Plot { path: path.to_path_buf(), reason };
    let expected = (row_labels.len(), column_labels.len());
    if let Some((name, panel)) = panels.iter().find(|(_, p)| p.dim() != expected) {
        return Err(plot_error(format!("panel {name:?} is {:?}, the labels {expected:?}", panel.dim())));
    }
    let mut svg = String::new();
    draw_heat_maps(&mut svg, title, row_labels, column_labels, panels).map_err(|e| plot_error(e.to_string()))?;
    Ok(write_atomically(path, svg.as_bytes())?)
}

fn draw_heat_maps(
    svg: &mut String,
    title: &str,
    row_labels: &[String],
    column_labels: &[String],
    panels: &[HeatPanel<'_>],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let panel_w = LABEL + CELL * column_labels.len() as i32 + 20;
    let size = ((panel_w * panels.len() as i32).max(200) as u32, (LABEL + 40 + CELL * row_labels.len() as i32) as u32);
    let root = SVGBackend::with_string(svg, size).into_drawing_area();
    root.fill(&WHITE)?;
    let font = ("sans-serif", 13).into_font();
    root.draw(&Text::new(title.to_string(), (10, 6), ("sans-serif", 16).into_font()))?;
    let (y0, left, above) = (LABEL + 30, Pos::new(HPos::Right, VPos::Center), Pos::new(HPos::Left, VPos::Center));
    for (index, (name, values)) in panels.iter().enumerate() {
        let x0 = index as i32 * panel_w + LABEL;
        root.draw(&Text::new(name.clone(), (x0, 28), font.clone()))?;
        for (j, label) in column_labels.iter().enumerate() {
            let style = TextStyle::from(font.clone().transform(FontTransform::Rotate270)).pos(above);
            root.draw(&Text::new(label.clone(), (x0 + j as i32 * CELL + CELL / 2, y0 - 4), style))?;
        }
        for (i, label) in row_labels.iter().enumerate() {
            let y = y0 + i as i32 * CELL;
            root.draw(&Text::new(label.clone(), (x0 - 4, y + CELL / 2), TextStyle::from(font.clone()).pos(left)))?;
            for (j, &value) in values.row(i).iter().enumerate() {
                let shade = (255.0 * (1.0 - value.clamp(0.0, 1.0))) as u8;
                let cell = [(x0 + j as i32 * CELL, y), (x0 + (j as i32 + 1) * CELL, y + CELL)];
                root.draw(&Rectangle::new(cell, RGBColor(shade, shade, 255).filled()))?;
                root.draw(&Rectangle::new(cell, RGBColor(220, 220, 220)))?;
            }
        }
    }
    root.present()?;
    Ok(())
}
