//! Keras-compatibility tests for `encoding`. Expected values come from Keras
//! 3.15's legacy `KerasTokenizer` and `pad_sequences`, printed by
//! `benches/reference/keras_tokenizer_reference.py`.

mod support;

use malmoi_tokenize::encoding::{
    EncodingError, KerasTokenizer, PadOptions, Side, pad_sequences, text_to_word_sequence,
};
use support::scratch_file;

fn docs() -> Vec<Vec<&'static str>> {
    vec![
        vec!["영화", "정말", "재밌다", "배우", "연기", "최고"],
        vec!["영화", "별로", "지루하다", "연기", "별로"],
        vec!["정말", "최고", "영화", "Best"],
        vec!["배우", "best", "연기", "좋다"],
    ]
}

fn tests() -> Vec<Vec<&'static str>> {
    vec![vec!["영화", "꿀잼", "최고", "별로", "BEST", "지루하다"], vec![]]
}

const KERAS_ORDER: [&str; 10] = ["영화", "연기", "정말", "배우", "최고", "별로", "best", "재밌다", "지루하다", "좋다"];

fn fitted(tokenizer: KerasTokenizer) -> KerasTokenizer {
    let mut tokenizer = tokenizer;
    tokenizer.fit_on_texts(docs());
    tokenizer
}

fn back_to_text(tokenizer: &KerasTokenizer, mut seqs: Vec<Vec<u32>>) -> Vec<String> {
    seqs.push(vec![0, 3, 99]);
    tokenizer.sequences_to_texts(&seqs)
}

#[test]
fn vocabulary_is_ranked_like_keras() {
    let tokenizer = fitted(KerasTokenizer::new());
    let words: Vec<&str> = tokenizer.word_index().map(|(w, _)| w).collect();
    assert_eq!(words, KERAS_ORDER);
    assert_eq!(tokenizer.index_of("영화"), Some(1));
    assert_eq!(tokenizer.word_of(10), Some("좋다"));
    assert_eq!(tokenizer.word_of(0), None);
    assert_eq!(tokenizer.document_count(), 4);
    assert_eq!(tokenizer.word_docs().count("연기"), 3);
    assert_eq!(tokenizer.word_docs().count("별로"), 1);
    assert_eq!(tokenizer.word_counts().count("별로"), 2);
}

#[test]
fn plain_sequences_match_keras() {
    let tokenizer = fitted(KerasTokenizer::new());
    let seqs = tokenizer.texts_to_sequences(tests());
    assert_eq!(seqs, vec![vec![1, 5, 6, 7, 9], vec![]]);
    assert_eq!(back_to_text(&tokenizer, seqs), ["영화 최고 별로 best 지루하다", "", "정말"]);
    assert_eq!(tokenizer.vocab_size(), 11);
}

#[test]
fn oov_sequences_match_keras() {
    let tokenizer = fitted(KerasTokenizer::new().with_oov_token("<OOV>"));
    assert_eq!(tokenizer.index_of("<OOV>"), Some(1));
    assert_eq!(tokenizer.index_of("영화"), Some(2));
    let seqs = tokenizer.texts_to_sequences(tests());
    assert_eq!(seqs, vec![vec![2, 1, 6, 7, 8, 10], vec![]]);
    assert_eq!(back_to_text(&tokenizer, seqs), ["영화 <OOV> 최고 별로 best 지루하다", "", "<OOV> 연기 <OOV>"]);
}

#[test]
fn num_words_matches_keras() {
    let tokenizer = fitted(KerasTokenizer::new().with_num_words(5));
    let seqs = tokenizer.texts_to_sequences(tests());
    assert_eq!(seqs, vec![vec![1], vec![]]);
    assert_eq!(back_to_text(&tokenizer, seqs), ["영화", "", "정말"]);
    assert_eq!(tokenizer.vocab_size(), 5);

    let tokenizer = fitted(KerasTokenizer::new().with_num_words(5).with_oov_token("<OOV>"));
    let seqs = tokenizer.texts_to_sequences(tests());
    assert_eq!(seqs, vec![vec![2, 1, 1, 1, 1, 1], vec![]]);
    assert_eq!(back_to_text(&tokenizer, seqs), ["영화 <OOV> <OOV> <OOV> <OOV> <OOV>", "", "<OOV> 연기 <OOV>"]);
}

#[test]
fn rare_words_follow_the_lecture_recipe() {
    let tokenizer = fitted(KerasTokenizer::new());
    let rare = tokenizer.rare_words(2);
    assert_eq!((rare.total, rare.rare), (10, 3)); // 재밌다, 지루하다, 좋다
    assert_eq!((rare.total_freq, rare.rare_freq), (19, 3));
    assert_eq!(rare.vocab_size_without_rare(), 8);
    // A second tokenizer with that num_words encodes only the frequent words.
    let trimmed = fitted(KerasTokenizer::new().with_num_words(rare.vocab_size_without_rare()));
    assert_eq!(trimmed.texts_to_sequences(tests())[0], vec![1, 5, 6, 7]);
}

/// Written by Keras' `KerasTokenizer(oov_token="<OOV>").to_json()` on `docs()`.
const KERAS_JSON: &str = r##"{"class_name": "Tokenizer", "config": {"num_words": null, "filters": "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n", "lower": true, "split": " ", "char_level": false, "oov_token": "<OOV>", "document_count": 4, "word_counts": "{\"\\uc601\\ud654\": 3, \"\\uc815\\ub9d0\": 2, \"\\uc7ac\\ubc0c\\ub2e4\": 1, \"\\ubc30\\uc6b0\": 2, \"\\uc5f0\\uae30\": 3, \"\\ucd5c\\uace0\": 2, \"\\ubcc4\\ub85c\": 2, \"\\uc9c0\\ub8e8\\ud558\\ub2e4\": 1, \"best\": 2, \"\\uc88b\\ub2e4\": 1}", "word_docs": "{\"\\uc7ac\\ubc0c\\ub2e4\": 1, \"\\uc815\\ub9d0\": 2, \"\\ubc30\\uc6b0\": 2, \"\\uc601\\ud654\": 3, \"\\ucd5c\\uace0\": 2, \"\\uc5f0\\uae30\": 3, \"\\ubcc4\\ub85c\": 1, \"\\uc9c0\\ub8e8\\ud558\\ub2e4\": 1, \"best\": 2, \"\\uc88b\\ub2e4\": 1}", "index_docs": "{\"9\": 1, \"4\": 2, \"5\": 2, \"2\": 3, \"6\": 2, \"3\": 3, \"7\": 1, \"10\": 1, \"8\": 2, \"11\": 1}", "index_word": "{\"1\": \"<OOV>\", \"2\": \"\\uc601\\ud654\", \"3\": \"\\uc5f0\\uae30\", \"4\": \"\\uc815\\ub9d0\", \"5\": \"\\ubc30\\uc6b0\", \"6\": \"\\ucd5c\\uace0\", \"7\": \"\\ubcc4\\ub85c\", \"8\": \"best\", \"9\": \"\\uc7ac\\ubc0c\\ub2e4\", \"10\": \"\\uc9c0\\ub8e8\\ud558\\ub2e4\", \"11\": \"\\uc88b\\ub2e4\"}", "word_index": "{\"<OOV>\": 1, \"\\uc601\\ud654\": 2, \"\\uc5f0\\uae30\": 3, \"\\uc815\\ub9d0\": 4, \"\\ubc30\\uc6b0\": 5, \"\\ucd5c\\uace0\": 6, \"\\ubcc4\\ub85c\": 7, \"best\": 8, \"\\uc7ac\\ubc0c\\ub2e4\": 9, \"\\uc9c0\\ub8e8\\ud558\\ub2e4\": 10, \"\\uc88b\\ub2e4\": 11}"}}"##;

#[test]
fn loads_a_tokenizer_written_by_keras() {
    let loaded = KerasTokenizer::from_json(KERAS_JSON).unwrap();
    let ours = fitted(KerasTokenizer::new().with_oov_token("<OOV>"));
    assert_eq!(loaded.word_index().collect::<Vec<_>>(), ours.word_index().collect::<Vec<_>>());
    assert_eq!(loaded.texts_to_sequences(tests()), ours.texts_to_sequences(tests()));
    assert_eq!(loaded.word_counts(), ours.word_counts());
    assert_eq!(loaded.word_docs().count("연기"), 3);
    assert_eq!(loaded.document_count(), 4);
}

#[test]
fn save_and_load_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    let tokenizer = fitted(KerasTokenizer::new().with_oov_token("<OOV>").with_num_words(6));
    tokenizer.save(&path).unwrap();
    let loaded = KerasTokenizer::load(&path).unwrap();
    assert_eq!(loaded, tokenizer);
    // Continued fitting after a reload ranks ties exactly as before.
    let (mut a, mut b) = (tokenizer, loaded);
    a.fit_on_texts([["새", "새", "별로"]]);
    b.fit_on_texts([["새", "새", "별로"]]);
    assert_eq!(a, b);
}

#[test]
fn malformed_files_name_the_file_and_the_problem() {
    let (dir, path) = scratch_file("broken.json", "{ not json");
    let err = KerasTokenizer::load(&path).unwrap_err();
    assert!(matches!(err, EncodingError::Malformed { .. }));
    assert!(err.to_string().contains("broken.json"), "{err}");

    let gap = KERAS_JSON.replace(r#"\"\\uc88b\\ub2e4\": 11"#, r#"\"\\uc88b\\ub2e4\": 12"#);
    let err = KerasTokenizer::from_json(&gap).unwrap_err().to_string();
    assert!(err.contains("without gaps"), "{err}");

    let other = KERAS_JSON.replace(r#""class_name": "Tokenizer""#, r#""class_name": "Vocab""#);
    assert!(KerasTokenizer::from_json(&other).unwrap_err().to_string().contains("class_name"));

    let missing = KerasTokenizer::load(dir.path().join("absent.json")).unwrap_err();
    assert!(matches!(missing, EncodingError::Io { .. }));
    assert!(missing.to_string().contains("absent.json"));
}

#[test]
fn empty_input_gives_empty_results() {
    let mut tokenizer = KerasTokenizer::new();
    tokenizer.fit_on_texts(Vec::<Vec<String>>::new());
    assert!(tokenizer.is_empty());
    assert_eq!(tokenizer.texts_to_sequences([["x"]]), vec![Vec::<u32>::new()]);
    tokenizer.fit_on_texts([Vec::<&str>::new()]);
    assert_eq!(tokenizer.document_count(), 1);
    assert_eq!(KerasTokenizer::from_json(&tokenizer.to_json()).unwrap(), tokenizer);
    assert!(text_to_word_sequence("  ,.! ").is_empty());
}

#[test]
fn pad_sequences_matches_keras() {
    let s = vec![vec![1], vec![2, 3], vec![4, 5, 6]];
    let pad = |maxlen, padding, truncating, value| {
        pad_sequences(&s, PadOptions { maxlen, padding, truncating }, value).to_vecs()
    };
    use Side::{Post, Pre};
    assert_eq!(pad(None, Pre, Pre, 0), [[0, 0, 1], [0, 2, 3], [4, 5, 6]]);
    assert_eq!(pad(Some(2), Pre, Pre, 0), [[0, 1], [2, 3], [5, 6]]);
    assert_eq!(pad(Some(2), Post, Post, 0), [[1, 0], [2, 3], [4, 5]]);
    assert_eq!(pad(Some(4), Post, Pre, 9), [[1, 9, 9, 9], [2, 3, 9, 9], [4, 5, 6, 9]]);
    assert_eq!(pad(Some(2), Pre, Post, 0), [[0, 1], [2, 3], [4, 5]]);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn corpus() -> impl Strategy<Value = Vec<Vec<String>>> {
        let token = prop_oneof!["[a-cA-C가나]{1,2}", "\\PC{0,4}"];
        prop::collection::vec(prop::collection::vec(token, 0..8), 0..8)
    }

    proptest! {
        #[test]
        fn json_round_trip_and_decoding_for_any_tokens(
            docs in corpus(),
            num_words in 0usize..6,
            oov in any::<bool>(),
        ) {
            let mut tokenizer = KerasTokenizer::new().with_num_words(num_words);
            if oov {
                tokenizer = tokenizer.with_oov_token("<OOV>");
            }
            tokenizer.fit_on_texts(&docs);
            prop_assert_eq!(KerasTokenizer::from_json(&tokenizer.to_json()).unwrap(), tokenizer.clone());

            let seqs = tokenizer.texts_to_sequences(&docs);
            let limit = tokenizer.vocab_size() as u32;
            prop_assert!(seqs.iter().flatten().all(|&i| i >= 1 && i < limit));
            if num_words == 0 && !oov {
                // Without a limit every fitted token comes back (lower-cased).
                for (doc, seq) in docs.iter().zip(&seqs) {
                    prop_assert_eq!(seq.len(), doc.len());
                    let words: Vec<String> = doc.iter().map(|t| t.to_lowercase()).collect();
                    prop_assert_eq!(tokenizer.sequence_to_text(seq), words.join(" "));
                }
            }
        }
    }
}

/// A title-case letter is lower-cased though it is not upper-case (U+1FCC → U+1FC3), as
/// Keras' `str.lower` does; the property test above found it.
#[test]
fn title_case_letters_are_lower_cased() {
    let mut tokenizer = KerasTokenizer::new();
    tokenizer.fit_on_texts([vec!["ῌ".to_string()]]);
    assert_eq!(tokenizer.sequence_to_text(&tokenizer.texts_to_sequences([vec!["ῌ".to_string()]])[0]), "ῃ");
    assert_eq!(tokenizer.texts_to_sequences([vec!["ῃ".to_string()]]), [vec![1]]);
}

/// The lecture's NSMC preprocessing end to end, against python-mecab-ko and
/// Keras (`benches/reference/keras_lecture_pipeline.py`): clean, morphs,
/// stopwords, fit, rare-word count, `num_words`, sequences, padding.
#[test]
fn lecture_pipeline_matches_mecab_and_keras() {
    use malmoi_tokenize::korean::Analyzer;
    use malmoi_tokenize::text::{Stopwords, clean_hangul};

    let nsmc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/nsmc");
    let documents = |file: &str, n: usize| -> Vec<String> {
        let path = nsmc.join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("NSMC data expected at {}: {e}", path.display()));
        text.lines().skip(1).take(n).map(|row| row.split('\t').nth(1).unwrap_or("").to_owned()).collect()
    };
    let analyzer = Analyzer::new().expect("mecab-ko-dic must be found or built");
    let stopwords = Stopwords::korean();
    let preprocess = |doc: &String| stopwords.filter(analyzer.morphs(&clean_hangul(doc)).unwrap());
    let train: Vec<Vec<String>> = documents("ratings_train.txt", 2000).iter().map(preprocess).collect();
    let test: Vec<Vec<String>> = documents("ratings_test.txt", 5).iter().map(preprocess).collect();

    let mut tokenizer = KerasTokenizer::new();
    tokenizer.fit_on_texts(&train);
    let rare = tokenizer.rare_words(3);
    assert_eq!((rare.total, rare.rare, rare.total_freq, rare.rare_freq), (5302, 3941, 27315, 4717));
    assert_eq!(rare.vocab_size_without_rare(), 1362);

    let mut tokenizer = KerasTokenizer::new().with_num_words(rare.vocab_size_without_rare());
    tokenizer.fit_on_texts(&train);
    let top: Vec<&str> = tokenizer.word_index().take(10).map(|(w, _)| w).collect();
    assert_eq!(top, ["영화", "다", "하", "고", "을", "보", "게", "지", "없", "있"]);
    let padded =
        pad_sequences(&tokenizer.texts_to_sequences(&test), PadOptions { maxlen: Some(30), ..Default::default() }, 0);
    let mut keras = vec![vec![0u32; 30]; 5];
    keras[0][27..].copy_from_slice(&[101, 318, 2]);
    keras[1][23..].copy_from_slice(&[40, 454, 261, 277, 7, 70, 81]);
    keras[2] = vec![
        64, 128, 3, 4, 97, 196, 4, 57, 101, 47, 293, 25, 209, 6, 189, 268, 126, 1271, 140, 3, 8, 1, 521, 38, 13, 7, 69,
        28, 2, 139,
    ];
    keras[3][11..].copy_from_slice(&[82, 491, 58, 1342, 5, 23, 210, 255, 3, 2, 138, 4, 10, 24, 86, 47, 175, 82, 89]);
    keras[4][10..]
        .copy_from_slice(&[40, 1224, 1174, 9, 58, 432, 72, 675, 40, 33, 4, 10, 67, 315, 3, 373, 46, 11, 3, 8]);
    assert_eq!(padded.to_vecs(), keras);
}
