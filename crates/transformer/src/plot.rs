//! Images of training: line charts of logged series (losses, rewards, KL) as SVG.

use std::path::Path;

use plotters::prelude::*;

use malmoi_tensor::checkpoint::write_atomically;

use crate::error::{Error, Result};

/// One named series of `(x, y)` points.
pub type Series<'a> = (&'a str, &'a [(f64, f64)]);

const COLORS: [RGBColor; 6] = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];

/// Draws one panel per `(title, series…)` side by side and writes the SVG atomically.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let train = [(0.0, 5.0), (100.0, 3.5), (200.0, 3.1)];
/// let path = dir.path().join("loss.svg");
/// malmoi_transformer::plot::line_charts(&path, "step", &[("loss", vec![("train", &train[..])])])?;
/// assert!(std::fs::read_to_string(&path).unwrap().contains("<svg"));
/// # Ok::<(), malmoi_transformer::Error>(())
/// ```
///
/// # Errors
/// [`Error::Plot`] if drawing fails; write errors.
pub fn line_charts(path: &Path, x_label: &str, panels: &[(&str, Vec<Series<'_>>)]) -> Result<()> {
    let mut svg = String::new();
    draw(&mut svg, x_label, panels).map_err(|e| Error::Plot { path: path.to_path_buf(), reason: e.to_string() })?;
    Ok(write_atomically(path, svg.as_bytes())?)
}

fn draw(
    svg: &mut String,
    x_label: &str,
    panels: &[(&str, Vec<Series<'_>>)],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let width = 480 * panels.len().max(1) as u32;
    let root = SVGBackend::with_string(svg, (width, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    for (area, (title, series)) in root.split_evenly((1, panels.len().max(1))).iter().zip(panels) {
        let points = series.iter().flat_map(|(_, s)| s.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
        let (x0, x1, y0, y1) = points
            .fold((f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY), |b, &(x, y)| {
                (b.0.min(x), b.1.max(x), b.2.min(y), b.3.max(y))
            });
        let (x0, x1, y0, y1) = if x0.is_finite() { (x0, x1.max(x0 + 1.0), y0, y1) } else { (0.0, 1.0, 0.0, 1.0) };
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
            chart
                .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
    }
    root.present()?;
    Ok(())
}
