//! The lecture's four-sentence TF-IDF example: TF, DF, IDF (log base 10 of N / (df + 1)) and
//! TF-IDF tables, reproduced to the two decimals the lecture prints.

use malmoi_embed::{CountVectorizer, IdfWeight, Norm, TfidfOptions, TfidfVectorizer};
use ndarray::Array2;

const DOCS: [&str; 4] = ["배가 부르다", "배의 가격이 비싸다", "진짜 사과가 진짜 좋다", "아침엔 사과가 좋다"];
const TERMS: [&str; 9] = ["가격이", "배가", "배의", "부르다", "비싸다", "사과가", "아침엔", "좋다", "진짜"];

/// The lecture's TF table: how often each term (columns in `TERMS` order) occurs in each document.
const TF: [[f64; 9]; 4] = [
    [0., 1., 0., 1., 0., 0., 0., 0., 0.],
    [1., 0., 1., 0., 1., 0., 0., 0., 0.],
    [0., 0., 0., 0., 0., 1., 0., 1., 2.],
    [0., 0., 0., 0., 0., 1., 1., 1., 0.],
];
/// The lecture's TF-IDF table, to the two decimals it prints.
const TFIDF: [[f64; 9]; 4] = [
    [0.0, 0.30, 0.0, 0.30, 0.0, 0.0, 0.0, 0.0, 0.0],
    [0.30, 0.0, 0.30, 0.0, 0.30, 0.0, 0.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.12, 0.0, 0.12, 0.60],
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.12, 0.30, 0.12, 0.0],
];

fn whitespace(text: &str) -> Vec<String> {
    text.split_whitespace().map(String::from).collect()
}

fn lecture_vectorizer() -> TfidfVectorizer {
    let options = TfidfOptions { idf: IdfWeight::Lecture { base: 10.0 }, norm: Norm::None, ..Default::default() };
    TfidfVectorizer::new(Default::default(), options)
}

/// Asserts that every cell of `actual` shows as the lecture's `table` does, through `show`.
fn assert_table(actual: &Array2<f64>, table: &[[f64; 9]; 4], what: &str, show: fn(f64) -> String) {
    for (r, row) in table.iter().enumerate() {
        for (c, &want) in row.iter().enumerate() {
            assert_eq!(show(actual[[r, c]]), show(want), "{what} of {} in document {r}", TERMS[c]);
        }
    }
}

#[test]
fn tf_table() {
    let mut cv = CountVectorizer::new();
    let tf = cv.fit_transform_texts(&DOCS, whitespace).unwrap().to_dense();
    assert_eq!(cv.feature_names().unwrap(), TERMS);
    assert_table(&tf, &TF, "TF", |v| v.to_string());
}

#[test]
fn df_and_idf_tables() {
    let mut v = lecture_vectorizer();
    v.fit_transform_texts(&DOCS, whitespace).unwrap();
    assert_eq!(v.document_frequency().unwrap(), [1, 1, 1, 1, 1, 2, 1, 2, 1]);
    let expected = [0.30, 0.30, 0.30, 0.30, 0.30, 0.12, 0.30, 0.12, 0.30];
    for (c, (&idf, &want)) in v.idf().unwrap().iter().zip(&expected).enumerate() {
        assert!((idf - want).abs() < 0.01, "IDF of {}: {idf} vs {want}", TERMS[c]);
        assert_eq!(format!("{idf:.2}"), format!("{want:.2}"), "printed IDF of {}", TERMS[c]);
    }
}

#[test]
fn tfidf_table() {
    let mut v = lecture_vectorizer();
    let x = v.fit_transform_texts(&DOCS, whitespace).unwrap().to_dense();
    assert_table(&x, &TFIDF, "TF-IDF", |v| format!("{v:.2}"));
    // 진짜 occurs twice in document 2: 2 × log10(4 / 2).
    assert!((x[[2, 8]] - 2.0 * 2f64.log10()).abs() < 1e-12);
}
