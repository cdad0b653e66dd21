//! A guard on the model the repository ships (`models/sentiment/`): through the public
//! prediction path its accuracy on a fixed slice of NSMC's test file stays within
//! [`TOLERANCE`] of the figure its model card records, and its verdicts do not depend on the
//! batch. Reads `../shared/data/nsmc/ratings_test.txt` beside the clone, as CI has it.

use std::path::{Path, PathBuf};

use malmoi_fs::datasets::nsmc::read_labeled_tsv;
use malmoi_seq::sentiment::SentimentPipeline;
use malmoi_tokenize::korean::Analyzer;
use malmoi_train::metrics::ConfusionMatrix;

/// The slice: the first this many reviews of `ratings_test.txt`.
const SLICE: usize = 5_000;
/// Accuracy may fall at most this many percentage points below the model card's figure.
const TOLERANCE: f64 = 0.5;
/// The model card's line holding the slice's figure.
const CARD_LINE: &str = "first 5,000 reviews";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The percentage the model card states on its `CARD_LINE` row, e.g. `**87.12 %**`.
fn card_accuracy() -> f64 {
    let card = std::fs::read_to_string(repo().join("models/sentiment/README.md")).unwrap();
    let line = card.lines().find(|l| l.contains(CARD_LINE)).expect("the model card states the CI slice's accuracy");
    let figure = line.split("**").nth(1).expect("a bold figure on the line");
    figure.trim_end_matches('%').trim().parse().unwrap_or_else(|e| panic!("{figure:?}: {e}"))
}

#[test]
fn the_shipped_model_keeps_its_recorded_accuracy_through_predict_batch() {
    let test = repo().join("../shared/data/nsmc/ratings_test.txt");
    let mut reviews = read_labeled_tsv(&test).unwrap_or_else(|e| panic!("{e} (CI keeps NSMC beside the clone)"));
    reviews.truncate(SLICE);
    let pipeline = SentimentPipeline::load(repo().join("models/sentiment"), Analyzer::new().unwrap()).unwrap();
    let texts: Vec<&str> = reviews.iter().map(|r| r.document.as_str()).collect();
    let verdicts = pipeline.predict_batch(&texts).unwrap();
    let probabilities: Vec<f32> = verdicts.iter().map(|v| v.sentiment.positive).collect();
    let labels: Vec<u8> = reviews.iter().map(|r| r.label).collect();
    let matrix = ConfusionMatrix::from_probabilities(&probabilities, &labels);
    let (accuracy, recorded) = (100.0 * matrix.accuracy(), card_accuracy());
    assert!(
        accuracy >= recorded - TOLERANCE,
        "accuracy {accuracy:.2} % on the slice; the model card records {recorded:.2} %"
    );
    assert_eq!(matrix, pipeline.evaluate(&reviews).unwrap(), "predict_batch and evaluate agree");

    // The same reviews one at a time and in reverse order: identical probabilities.
    for (text, verdict) in texts.iter().zip(&verdicts).step_by(97) {
        let alone = pipeline.predict(text).unwrap().sentiment.positive;
        assert!(
            (alone - verdict.sentiment.positive).abs() <= 1e-6,
            "{text:?}: {alone} alone, {verdict:?} in the slice"
        );
    }
    let reversed: Vec<&str> = texts.iter().rev().take(1000).copied().collect();
    for (verdict, original) in pipeline.predict_batch(&reversed).unwrap().iter().zip(verdicts.iter().rev()) {
        assert!((verdict.sentiment.positive - original.sentiment.positive).abs() <= 1e-6);
    }
}
