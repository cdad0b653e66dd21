//! KeyedVectors queries and the word2vec file formats, including files written by gensim.

use malmoi_embed::{EmbedError, KeyedVectors};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn table() -> KeyedVectors {
    let words = ["king", "queen", "man", "woman", "apple"].map(String::from).to_vec();
    #[rustfmt::skip]
    let v = vec![
        0.9, 0.8, 0.1,
        0.9, 0.1, 0.8,
        0.2, 0.9, 0.1,
        0.2, 0.1, 0.9,
        -0.5, 0.1, 0.1,
    ];
    KeyedVectors::from_flat(words, 3, v).unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (n(a) * n(b))
}

#[test]
fn similarity_is_cosine() {
    let kv = table();
    let s = kv.similarity("king", "queen").unwrap();
    let want = cosine(kv.get_vector("king").unwrap(), kv.get_vector("queen").unwrap());
    assert!((s - want).abs() < 1e-6);
    let unit = kv.get_unit_vector("apple").unwrap();
    assert!((unit.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-6);
}

#[test]
fn analogies_by_3cosadd_and_3cosmul() {
    let kv = table();
    assert_eq!(kv.analogy("man", "king", "woman", 1).unwrap()[0].0, "queen");
    assert_eq!(kv.analogy_cosmul("man", "king", "woman", 1).unwrap()[0].0, "queen");
    let ranked = kv.most_similar(&["king"], &[], 10).unwrap();
    assert_eq!(ranked.len(), 4, "the query word is excluded");
    assert!(ranked.windows(2).all(|w| w[0].1 >= w[1].1));
    // 3CosMul score by hand for the winner.
    let c = |a: &str, b: &str| (1.0 + kv.similarity(a, b).unwrap()) / 2.0;
    let score = c("queen", "king") * c("queen", "woman") / (c("queen", "man") + 1e-6);
    let got = kv.analogy_cosmul("man", "king", "woman", 1).unwrap()[0].1;
    assert!((got - score).abs() < 1e-5, "{got} vs {score}");
}

#[test]
fn doesnt_match_and_similar_by_vector() {
    let kv = table();
    assert_eq!(kv.doesnt_match(&["king", "queen", "man", "apple"]).unwrap(), "apple");
    let near = kv.similar_by_vector(&[-1.0, 0.0, 0.0], 1).unwrap();
    assert_eq!(near[0].0, "apple");
    assert!(matches!(kv.similar_by_vector(&[1.0], 1), Err(EmbedError::DimensionMismatch { .. })));
}

#[test]
fn unknown_words_are_named() {
    let kv = table();
    for result in [kv.most_similar(&["king", "prince"], &[], 3).map(|_| ()), kv.similarity("x", "king").map(|_| ())] {
        match result {
            Err(EmbedError::UnknownWord(w)) => assert!(w == "prince" || w == "x"),
            other => panic!("expected UnknownWord, got {other:?}"),
        }
    }
}

#[test]
fn reads_vectors_written_by_gensim() {
    // Written by benches/reference/gensim_w2v.py --fixture (gensim 4.4 save_word2vec_format).
    let text = KeyedVectors::load_word2vec_format(fixture("gensim_vectors.txt"), false).unwrap();
    let binary = KeyedVectors::load_word2vec_format(fixture("gensim_vectors.bin"), true).unwrap();
    assert_eq!(text.len(), binary.len());
    assert_eq!(text.index_to_key(), binary.index_to_key());
    for (a, b) in text.as_flat().iter().zip(binary.as_flat()) {
        assert!((a - b).abs() < 1e-6);
    }
    // gensim's own answers, saved next to the vectors.
    let expected = std::fs::read_to_string(fixture("gensim_similarities.tsv")).unwrap();
    for line in expected.lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        let (a, b, want): (&str, &str, f32) = (parts[0], parts[1], parts[2].parse().unwrap());
        let got = binary.similarity(a, b).unwrap();
        assert!((got - want).abs() < 1e-5, "{a} {b}: {got} vs gensim {want}");
    }
}

#[test]
fn malformed_files_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("2 3\n가 1 2 3\n나 1 2\n", 3),
        ("2 3\n가 1 2 3\n나 1 x 3\n", 3),
        ("2 three\n", 1),
        ("3 2\n가 1 2\n나 3 4\n", 4),
    ];
    for (content, line) in cases {
        let path = dir.path().join("bad.txt");
        std::fs::write(&path, content).unwrap();
        match KeyedVectors::load_word2vec_format(&path, false) {
            Err(EmbedError::MalformedVectorFile { line: l, .. }) => assert_eq!(l, line, "{content:?}"),
            other => panic!("{content:?}: expected MalformedVectorFile, got {other:?}"),
        }
    }
    let path = dir.path().join("bad.bin");
    std::fs::write(&path, b"1 4\nword \x00\x00\x80\x3f").unwrap();
    assert!(matches!(
        KeyedVectors::load_word2vec_format(&path, true),
        Err(EmbedError::MalformedVectorFile { line: 2, .. })
    ));
}

#[test]
fn queries_match_gensim() {
    // gensim's most_similar, most_similar_cosmul and doesnt_match on its own vectors.
    let kv = KeyedVectors::load_word2vec_format(fixture("gensim_vectors.bin"), true).unwrap();
    let expected = std::fs::read_to_string(fixture("gensim_queries.tsv")).unwrap();
    for line in expected.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let positive: Vec<&str> = fields[1].split_whitespace().collect();
        let negative: Vec<&str> = fields[2].split_whitespace().collect();
        let want: Vec<(&str, f32)> = fields[3]
            .split(' ')
            .map(|p| {
                let (w, s) = p.rsplit_once(':').unwrap();
                (w, s.parse().unwrap())
            })
            .collect();
        let got: Vec<(String, f32)> = match fields[0] {
            "most_similar" => kv.most_similar(&positive, &negative, 3).unwrap(),
            "most_similar_cosmul" => kv.most_similar_cosmul(&positive, &negative, 3).unwrap(),
            "doesnt_match" => vec![(kv.doesnt_match(&positive).unwrap(), 0.0)],
            other => panic!("unknown query {other}"),
        };
        assert_eq!(got.len(), want.len(), "{line}");
        for ((gw, gs), (ww, ws)) in got.iter().zip(&want) {
            assert_eq!(gw, ww, "{line}");
            assert!((gs - ws).abs() < 1e-5, "{line}: {gs} vs {ws}");
        }
    }
}

/// Found by `crates/seq/tests/fuzz.rs`: a header claiming 10^12 dimensions made the reader
/// reserve 4 TB up front and abort; it must fail with a typed error at the first entry.
#[test]
fn headers_claiming_more_than_the_file_holds_are_malformed() {
    let dir = tempfile::tempdir().unwrap();
    for (binary, content) in [
        (false, &b"1 1000000000000\nword 1 2\n"[..]),
        (true, &b"1 1000000000000\nword \x00\x00\x80\x3f"[..]),
        (false, &b"1000000000000 1000000000000\n"[..]),
        (true, &b"1000000000000 3\n"[..]),
    ] {
        let path = dir.path().join("huge");
        std::fs::write(&path, content).unwrap();
        match KeyedVectors::load_word2vec_format(&path, binary) {
            Err(EmbedError::MalformedVectorFile { line: 2, .. }) => {}
            other => panic!("{content:?}: expected MalformedVectorFile at line 2, got {other:?}"),
        }
    }
}

/// Found by `crates/seq/tests/fuzz.rs`: `"0 1000000000000\n"` is a valid empty table, and
/// `most_similar` on it allocated the 10^12-float mean before finding the word unknown.
#[test]
fn queries_on_an_empty_table_with_a_huge_dimension_fail_without_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.txt");
    std::fs::write(&path, "0 1000000000000\n").unwrap();
    let kv = KeyedVectors::load_word2vec_format(&path, false).unwrap();
    assert!(matches!(kv.most_similar(&["배"], &[], 2), Err(EmbedError::UnknownWord(_))));
    assert!(KeyedVectors::from_flat(vec!["a".into(), "b".into()], usize::MAX, Vec::new()).is_err());
}
