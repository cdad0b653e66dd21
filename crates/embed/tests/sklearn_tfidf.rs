//! scikit-learn parity: `TfidfVectorizer` output on 320 documents, for several option sets,
//! equals scikit-learn 1.9's to 1e-6 (fixture: benches/reference/make_tfidf_fixture.py).

use malmoi_embed::{CountOptions, DocFrequency, IdfWeight, Norm, TfidfOptions, TfidfVectorizer};
use serde_json::Value;

fn load() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sklearn_tfidf.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn doc_frequency(v: &Value) -> DocFrequency {
    match v.as_u64() {
        Some(count) => DocFrequency::Count(count as usize),
        None => DocFrequency::Fraction(v.as_f64().unwrap()),
    }
}

/// scikit-learn keyword arguments → our options.
fn options(params: &Value) -> (CountOptions, TfidfOptions) {
    let mut count = CountOptions::default();
    let mut tfidf = TfidfOptions::default();
    for (key, value) in params.as_object().unwrap() {
        match key.as_str() {
            "ngram_range" => {
                count.ngram_range = (value[0].as_u64().unwrap() as usize, value[1].as_u64().unwrap() as usize)
            }
            "min_df" => count.min_df = doc_frequency(value),
            "max_df" => count.max_df = doc_frequency(value),
            "max_features" => count.max_features = Some(value.as_u64().unwrap() as usize),
            "binary" => count.binary = value.as_bool().unwrap(),
            "sublinear_tf" => tfidf.sublinear_tf = value.as_bool().unwrap(),
            "smooth_idf" if value == false => tfidf.idf = IdfWeight::Plain,
            "norm" => {
                tfidf.norm = match value.as_str() {
                    Some("l1") => Norm::L1,
                    Some("l2") => Norm::L2,
                    _ => Norm::None,
                }
            }
            other => panic!("unmapped scikit-learn parameter {other}"),
        }
    }
    (count, tfidf)
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn ints(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

#[test]
fn matches_scikit_learn_to_1e_6() {
    let fixture = load();
    let docs: Vec<Vec<&str>> = fixture["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().split_whitespace().collect())
        .collect();
    assert!(docs.len() >= 300);
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (count, tfidf) = options(&case["params"]);
        let mut vectorizer = TfidfVectorizer::new(count, tfidf);
        let x = vectorizer.fit_transform(&docs).unwrap();
        let vocabulary: Vec<&str> =
            case["vocabulary"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        assert_eq!(vectorizer.feature_names().unwrap(), vocabulary, "{name}: vocabulary");
        for (ours, theirs) in vectorizer.idf().unwrap().iter().zip(floats(&case["idf"])) {
            assert!((ours - theirs).abs() < 1e-6, "{name}: idf {ours} vs {theirs}");
        }
        assert_eq!(x.indptr(), ints(&case["indptr"]), "{name}: indptr");
        let indices: Vec<usize> = x.indices().iter().map(|&c| c as usize).collect();
        assert_eq!(indices, ints(&case["indices"]), "{name}: indices");
        for (k, (ours, theirs)) in x.data().iter().zip(floats(&case["data"])).enumerate() {
            assert!((ours - theirs).abs() < 1e-6, "{name}: value {k}: {ours} vs {theirs}");
        }
        // transform() on the fitted model gives the same matrix.
        assert_eq!(vectorizer.transform(&docs).unwrap(), x, "{name}: transform");
    }
}
