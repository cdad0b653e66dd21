//! Count / TF-IDF options, bad input and one-hot encoding.

use malmoi_embed::{
    CountOptions, CountVectorizer, DocFrequency, EmbedError, IdfWeight, Norm, OneHotEncoder, TfWeight, TfidfOptions,
    TfidfVectorizer,
};

fn docs() -> Vec<Vec<&'static str>> {
    vec![vec!["a", "b", "a", "c"], vec!["b", "c"], vec![], vec!["a", "a", "a", "d"]]
}

#[test]
fn ngrams_join_tokens_with_a_space() {
    let mut cv = CountVectorizer::with_options(CountOptions { ngram_range: (1, 2), ..Default::default() });
    let x = cv.fit_transform(&docs()).unwrap();
    let names = cv.feature_names().unwrap();
    assert_eq!(names, ["a", "a a", "a b", "a c", "a d", "b", "b a", "b c", "c", "d"]);
    let aa = cv.vocabulary().unwrap().index("a a").unwrap();
    assert_eq!(x.get(3, aa), 2.0);
    assert_eq!(x.row(2).0.len(), 0, "the empty document gives an empty row");
}

#[test]
fn four_grams_and_transform_agree_with_fit() {
    let opts = CountOptions { ngram_range: (3, 4), ..Default::default() };
    let mut cv = CountVectorizer::with_options(opts);
    let x = cv.fit_transform(&docs()).unwrap();
    assert_eq!(cv.feature_names().unwrap(), ["a a a", "a a a d", "a a d", "a b a", "a b a c", "b a c"]);
    assert_eq!(cv.transform(&docs()).unwrap(), x);
}

#[test]
fn min_df_max_df_and_max_features() {
    let opts = CountOptions { min_df: DocFrequency::Count(2), ..Default::default() };
    let mut cv = CountVectorizer::with_options(opts);
    cv.fit(&docs()).unwrap();
    assert_eq!(cv.feature_names().unwrap(), ["a", "b", "c"]);

    let opts = CountOptions { max_df: DocFrequency::Fraction(0.3), ..Default::default() };
    let mut cv = CountVectorizer::with_options(opts);
    cv.fit(&docs()).unwrap();
    assert_eq!(cv.feature_names().unwrap(), ["d"]);

    let opts = CountOptions { max_features: Some(2), ..Default::default() };
    let mut cv = CountVectorizer::with_options(opts);
    cv.fit(&docs()).unwrap();
    // total counts: a 5, b 2, c 2, d 1 → a, then b (tie with c broken by term order)
    assert_eq!(cv.feature_names().unwrap(), ["a", "b"]);
}

#[test]
fn transform_ignores_unknown_terms() {
    let mut cv = CountVectorizer::new();
    cv.fit(&docs()).unwrap();
    let x = cv.transform(&[vec!["z", "a", "z", "d", "a"]]).unwrap();
    assert_eq!(x.shape(), (1, 4));
    assert_eq!(x.row(0), (&[0u32, 3][..], &[2.0, 1.0][..]));
}

#[test]
fn empty_input_is_a_typed_error() {
    let empty: Vec<Vec<String>> = vec![vec![], vec![]];
    assert!(matches!(CountVectorizer::new().fit_transform(&empty), Err(EmbedError::EmptyVocabulary(_))));
    let none: Vec<Vec<String>> = vec![];
    assert!(matches!(TfidfVectorizer::default().fit_transform(&none), Err(EmbedError::EmptyVocabulary(_))));
    let opts = CountOptions { min_df: DocFrequency::Count(3), ..Default::default() };
    assert!(matches!(CountVectorizer::with_options(opts).fit_transform(&docs()), Err(EmbedError::EmptyVocabulary(_))));
    assert!(matches!(CountVectorizer::new().transform(&docs()), Err(EmbedError::NotFitted)));
    for ngram_range in [(2, 1), (0, 1), (1, 5)] {
        let bad = CountOptions { ngram_range, ..Default::default() };
        assert!(matches!(CountVectorizer::with_options(bad).fit(&docs()), Err(EmbedError::InvalidParameter(_))));
    }
}

/// A corpus too small for `min_df` is told as such, not as a clash with a `max_df` nobody set
/// (issue 26: `tfidf` on one document reported "max_df corresponds to fewer documents than
/// min_df"); limits that do clash name both and the document counts they mean.
#[test]
fn df_limits_errors_say_what_is_wrong() {
    let one = vec![vec!["hello", "world"]];
    let bigrams = CountOptions { ngram_range: (1, 2), min_df: DocFrequency::Count(2), ..Default::default() };
    let error = TfidfVectorizer::new(bigrams, Default::default()).fit_transform(&one).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, EmbedError::EmptyVocabulary(_)), "{message}");
    assert!(message.contains("the corpus has 1 document, too few for min_df = 2"), "{message}");
    assert!(!message.contains("max_df"), "{message}");

    let clash =
        CountOptions { min_df: DocFrequency::Count(2), max_df: DocFrequency::Fraction(0.25), ..Default::default() };
    let message = CountVectorizer::with_options(clash).fit(&docs()).unwrap_err().to_string();
    assert!(message.contains("max_df = 0.25 allows at most 1 of the 4 documents"), "{message}");
    assert!(message.contains("min_df = 2 requires (2)"), "{message}");
}

fn weigh(tf: TfWeight, sublinear_tf: bool, norm: Norm) -> Vec<f64> {
    let options = TfidfOptions { tf, sublinear_tf, idf: IdfWeight::None, norm };
    let mut v = TfidfVectorizer::new(Default::default(), options);
    let x = v.fit_transform(&docs()).unwrap();
    x.to_dense().row(0).to_vec() // counts a 2, b 1, c 1, d 0
}

#[test]
fn tf_variants() {
    assert_eq!(weigh(TfWeight::Raw, false, Norm::None), [2.0, 1.0, 1.0, 0.0]);
    assert_eq!(weigh(TfWeight::Boolean, false, Norm::None), [1.0, 1.0, 1.0, 0.0]);
    let log = weigh(TfWeight::Log, false, Norm::None);
    assert!((log[0] - 3f64.ln()).abs() < 1e-12 && (log[1] - 2f64.ln()).abs() < 1e-12);
    assert_eq!(weigh(TfWeight::Augmented, false, Norm::None), [1.0, 0.75, 0.75, 0.0]);
    let sub = weigh(TfWeight::Raw, true, Norm::None);
    assert!((sub[0] - (1.0 + 2f64.ln())).abs() < 1e-12 && sub[1] == 1.0);
    let l1 = weigh(TfWeight::Raw, false, Norm::L1);
    assert_eq!(l1, [0.5, 0.25, 0.25, 0.0]);
    let l2 = weigh(TfWeight::Raw, false, Norm::L2);
    assert!((l2.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-12);
}

#[test]
fn idf_variants() {
    let idf = |idf| {
        let mut v = TfidfVectorizer::new(Default::default(), TfidfOptions { idf, ..Default::default() });
        v.fit(&docs()).unwrap();
        v.idf().unwrap().to_vec()
    };
    // N = 4; df: a 2, b 2, c 2, d 1
    let smooth = idf(IdfWeight::Smooth);
    assert!((smooth[3] - ((5.0f64 / 2.0).ln() + 1.0)).abs() < 1e-12);
    let plain = idf(IdfWeight::Plain);
    assert!((plain[0] - (2f64.ln() + 1.0)).abs() < 1e-12);
    let lecture = idf(IdfWeight::Lecture { base: 2.0 });
    assert!((lecture[3] - 1.0).abs() < 1e-12);
}

#[test]
fn one_hot_sparse_and_dense_agree() {
    let enc = OneHotEncoder::fit("나는 오늘 영화 를 보 았 다 영화".split(' ')).unwrap();
    assert_eq!(enc.dim(), 7);
    let words = ["영화", "나는"];
    let sparse = enc.encode_sequence(&words).unwrap();
    let dense = enc.encode_sequence_dense(&words).unwrap();
    assert_eq!(sparse.to_dense().mapv(|v| v as f32), dense);
    assert_eq!(enc.decode(enc.index("영화").unwrap()), Some("영화"));
    match enc.encode_sequence(&["외계어"]) {
        Err(EmbedError::UnknownWord(w)) => assert_eq!(w, "외계어"),
        other => panic!("expected UnknownWord, got {other:?}"),
    }
    assert!(OneHotEncoder::fit(Vec::<String>::new()).is_err());
}

/// 3,000 documents of 0–11 tokens over a 60-word vocabulary, reproducible without an RNG.
fn corpus() -> Vec<Vec<String>> {
    (0..3000u64)
        .map(|d| {
            let len = (d * 7 % 12) as usize;
            (0..len as u64).map(|t| format!("w{}", (d * 31 + t * t * 17 + t * 5) % 60)).collect()
        })
        .collect()
}

/// The counts by definition: every n-gram of every document joined by spaces, in a map.
fn counts_by_definition(
    docs: &[Vec<String>],
    (lo, hi): (usize, usize),
) -> Vec<std::collections::BTreeMap<String, f64>> {
    let mut rows = Vec::new();
    for doc in docs {
        let mut row = std::collections::BTreeMap::new();
        for n in lo..=hi {
            for window in doc.windows(n) {
                *row.entry(window.join(" ")).or_insert(0.0) += 1.0;
            }
        }
        rows.push(row);
    }
    rows
}

#[test]
fn counts_equal_the_definition_on_any_number_of_threads() {
    for ngram_range in [(1, 1), (1, 3), (2, 3)] {
        counts_equal_the_definition(ngram_range);
    }
}

fn counts_equal_the_definition(ngram_range: (usize, usize)) {
    let docs = corpus();
    let options = CountOptions { ngram_range, min_df: DocFrequency::Count(2), ..Default::default() };
    let expected = counts_by_definition(&docs, options.ngram_range);
    let mut df = std::collections::BTreeMap::<&str, usize>::new();
    for row in &expected {
        for term in row.keys() {
            *df.entry(term).or_default() += 1;
        }
    }
    let kept: Vec<&str> = df.iter().filter(|(_, d)| **d >= 2).map(|(t, _)| *t).collect();
    let mut first = None;
    for threads in [1, 2, 3, 4] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut cv = CountVectorizer::with_options(options.clone());
        let x = pool.install(|| cv.fit_transform(&docs)).unwrap();
        let names = cv.feature_names().unwrap().to_vec();
        assert_eq!(names, kept, "{ngram_range:?}, {threads} threads: the terms with df >= 2, sorted");
        for (r, row) in expected.iter().enumerate() {
            let (columns, values) = x.row(r);
            let got: Vec<(&str, f64)> =
                columns.iter().zip(values).map(|(&c, &v)| (names[c as usize].as_str(), v)).collect();
            let want: Vec<(&str, f64)> =
                row.iter().filter(|(t, _)| df[t.as_str()] >= 2).map(|(t, &v)| (t.as_str(), v)).collect();
            assert_eq!(got, want, "{ngram_range:?}, {threads} threads, document {r}");
        }
        let parts = (x.indptr().to_vec(), x.indices().to_vec(), x.data().to_vec());
        assert_eq!(first.get_or_insert(parts.clone()), &parts, "{threads} threads give the same matrix");
    }
}
