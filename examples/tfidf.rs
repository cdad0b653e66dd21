//! Prints the lecture's TF-IDF example: TF, DF, IDF (`log10(N / (df + 1))`) and TF-IDF tables
//! for 배가 부르다 / 배의 가격이 비싸다 / 진짜 사과가 진짜 좋다 / 아침엔 사과가 좋다, then the same
//! documents with scikit-learn's defaults (smooth IDF, l2 norm).
//!
//! ```text
//! cargo run --release --example tfidf
//! ```

use malmoi::embed::{CountVectorizer, CsrMatrix, IdfWeight, Norm, TfidfOptions, TfidfVectorizer};

const DOCS: [&str; 4] = ["배가 부르다", "배의 가격이 비싸다", "진짜 사과가 진짜 좋다", "아침엔 사과가 좋다"];

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(String::from).collect()
}

/// Spaces that fill `text` up to `width` terminal columns (Hangul is two columns wide).
fn fill(text: &str, width: usize) -> String {
    let used: usize = text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    " ".repeat(width.saturating_sub(used))
}

fn print_header(title: &str, terms: &[String]) {
    println!("\n{title}");
    println!("{:<8}{}", "", terms.iter().map(|t| fill(t, 9) + t).collect::<String>());
}

fn print_row(label: &str, values: impl Iterator<Item = f64>, decimals: usize) {
    let cells: String = values.map(|v| format!("{v:>9.decimals$}")).collect();
    println!("{label}{}{cells}", fill(label, 8));
}

fn print_matrix(title: &str, terms: &[String], m: &CsrMatrix, decimals: usize) {
    print_header(title, terms);
    for (r, row) in m.to_dense().rows().into_iter().enumerate() {
        print_row(&format!("문서{}", r + 1), row.iter().copied(), decimals);
    }
}

fn main() -> Result<(), malmoi::embed::EmbedError> {
    let mut counts = CountVectorizer::new();
    let tf = counts.fit_transform_texts(&DOCS, words)?;
    let terms = counts.feature_names()?.to_vec();
    print_matrix("TF", &terms, &tf, 0);

    let lecture = TfidfOptions { idf: IdfWeight::Lecture { base: 10.0 }, norm: Norm::None, ..Default::default() };
    let mut tfidf = TfidfVectorizer::new(Default::default(), lecture);
    let x = tfidf.fit_transform_texts(&DOCS, words)?;
    print_header("DF / IDF = log10(4 / (DF + 1))", &terms);
    let df = tfidf.document_frequency().unwrap_or_default();
    print_row("DF", df.iter().map(|&d| d as f64), 0);
    print_row("IDF", tfidf.idf().unwrap_or_default().iter().copied(), 2);
    print_matrix("TF-IDF = TF × IDF", &terms, &x, 2);

    let mut sklearn = TfidfVectorizer::default();
    let x = sklearn.fit_transform_texts(&DOCS, words)?;
    print_matrix("scikit-learn defaults (idf = ln((1 + N) / (1 + DF)) + 1, l2 norm)", &terms, &x, 2);
    Ok(())
}
