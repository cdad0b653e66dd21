//! Per-epoch training records and the training-curve image.

use std::path::Path;

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What one epoch of training measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Mean training loss over the epoch.
    pub loss: f64,
    /// Training accuracy over the epoch.
    pub accuracy: f64,
    /// Validation loss, when there is a validation set.
    pub val_loss: Option<f64>,
    /// Validation accuracy, when there is a validation set.
    pub val_accuracy: Option<f64>,
    /// Wall-clock seconds the epoch took.
    pub seconds: f64,
}

/// The records of every epoch so far, in order (Keras' `History`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per epoch.
    pub epochs: Vec<EpochRecord>,
}

impl History {
    /// Appends an epoch's record.
    pub fn push(&mut self, record: EpochRecord) {
        self.epochs.push(record);
    }

    /// Writes the training curves — loss on the left, accuracy on the right, training and
    /// validation as separate lines — as an SVG image.
    pub fn plot_svg(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let svg = self.render_svg().map_err(|e| Error::InvalidArgument(format!("plotting failed: {e}")))?;
        crate::io::write_atomic(path, svg.as_bytes())
    }

    fn render_svg(&self) -> std::result::Result<String, Box<dyn std::error::Error>> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (960, 400)).into_drawing_area();
            root.fill(&WHITE)?;
            let (left, right) = root.split_horizontally(480);
            let train_loss: Vec<f64> = self.epochs.iter().map(|e| e.loss).collect();
            let val_loss: Vec<f64> = self.epochs.iter().filter_map(|e| e.val_loss).collect();
            let train_acc: Vec<f64> = self.epochs.iter().map(|e| e.accuracy).collect();
            let val_acc: Vec<f64> = self.epochs.iter().filter_map(|e| e.val_accuracy).collect();
            draw_panel(&left, "loss", &[("train", &train_loss, BLUE), ("validation", &val_loss, RED)])?;
            draw_panel(&right, "accuracy", &[("train", &train_acc, BLUE), ("validation", &val_acc, RED)])?;
            root.present()?;
        }
        Ok(svg)
    }
}

type Series<'a> = (&'a str, &'a [f64], RGBColor);

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    series: &[Series<'_>],
) -> std::result::Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let values = series.iter().flat_map(|(_, v, _)| v.iter().copied()).filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.1).max(1e-3);
    let epochs = series.iter().map(|(_, v, _)| v.len()).max().unwrap_or(0).max(2);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(1f64..epochs as f64, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_labels(epochs.min(15))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .light_line_style(WHITE)
        .x_desc("epoch")
        .draw()?;
    for &(name, values, color) in series {
        let points = values.iter().enumerate().map(|(i, &v)| (i as f64 + 1.0, v));
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
        chart.draw_series(points.map(|p| Circle::new(p, 3, color.filled())))?;
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(loss: f64, accuracy: f64) -> EpochRecord {
        EpochRecord { loss, accuracy, val_loss: Some(loss + 0.05), val_accuracy: Some(accuracy - 0.02), seconds: 1.0 }
    }

    #[test]
    fn the_curve_is_an_svg_with_both_panels() {
        let mut history = History::default();
        for (loss, acc) in [(0.6, 0.7), (0.4, 0.8), (0.35, 0.85)] {
            history.push(record(loss, acc));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curve.svg");
        history.plot_svg(&path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"));
        for label in ["loss", "accuracy", "train", "validation"] {
            assert!(svg.contains(&format!("\n{label}\n")), "no {label} label");
        }
    }

    #[test]
    fn an_empty_history_still_plots() {
        let dir = tempfile::tempdir().unwrap();
        History::default().plot_svg(dir.path().join("empty.svg")).unwrap();
    }
}
