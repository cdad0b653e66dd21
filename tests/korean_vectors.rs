//! The layers together: the Korean analyzer feeding the TF-IDF vectorizer and the count
//! vectorizer, as a KoNLPy + scikit-learn user would combine them.

use malmoi::embed::{CountOptions, TfidfOptions, TfidfVectorizer};
use malmoi::tokenize::Analyzer;

#[test]
fn the_korean_analyzer_plugs_into_the_tfidf_vectorizer() {
    let analyzer = Analyzer::new().unwrap();
    let texts = ["배가 부르다", "배의 가격이 비싸다", "진짜 사과가 진짜 좋다", "아침엔 사과가 좋다"];
    let mut vectorizer = TfidfVectorizer::new(CountOptions::default(), TfidfOptions::default());
    let nouns = |text: &str| analyzer.nouns(text).unwrap();
    let matrix = vectorizer.fit_transform_texts(&texts, nouns).unwrap();
    let terms = vectorizer.feature_names().unwrap();
    assert_eq!(matrix.shape(), (4, terms.len()));
    for noun in ["배", "가격", "사과", "아침"] {
        assert!(terms.iter().any(|t| t == noun), "{noun} in {terms:?}");
    }
    // 진짜 is an adverb, not a noun: the analyzer decides what the vectorizer counts.
    assert!(!terms.iter().any(|t| t == "진짜"));
    let apple = terms.iter().position(|t| t == "사과").unwrap();
    assert!(matrix.get(2, apple) > 0.0 && matrix.get(0, apple) == 0.0);
}
