//! The analyser on the real mecab-ko-dic (found or built on first use).
//!
//! Expected analyses are MeCab-ko's (python-mecab-ko on the same mecab-ko-dic
//! 2.1.1 source) and, for stems, KoNLPy Okt's `stem=True` output.

use std::sync::OnceLock;

use malmoi_tokenize::korean::{Analyzer, KoreanError, UserEntry};
use proptest::prelude::*;

fn analyzer() -> &'static Analyzer {
    static ANALYZER: OnceLock<Analyzer> = OnceLock::new();
    ANALYZER.get_or_init(|| Analyzer::new().expect("mecab-ko-dic must be found or built"))
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// The classic sentence: its morphs are the surfaces of its analysis, which gives Sejong tags
/// and compound tags of inflected forms.
#[test]
fn morphs_and_pos_of_the_classic_sentence() {
    let expected =
        [("아버지", "NNG"), ("가", "JKS"), ("방", "NNG"), ("에", "JKB"), ("들어가", "VV"), ("신다", "EP+EC")];
    let pos = analyzer().pos("아버지가방에들어가신다").unwrap();
    let expected_pos: Vec<(String, String)> = expected.iter().map(|(s, t)| (s.to_string(), t.to_string())).collect();
    assert_eq!(pos, expected_pos);
    let morphs = analyzer().morphs("아버지가방에들어가신다").unwrap();
    assert_eq!(morphs, ["아버지", "가", "방", "에", "들어가", "신다"]);
}

#[test]
fn nouns_keep_only_n_tags() {
    let nouns = analyzer().nouns("와 이런 것도 영화라고 차라리 뮤직비디오를 만드는 게 나을 뻔").unwrap();
    assert_eq!(nouns, ["것", "영화", "뮤직", "비디오", "게", "뻔"]);
}

#[test]
fn stems_restore_dictionary_forms() {
    let a = analyzer();
    assert_eq!(a.morphs_stem("만드는").unwrap(), ["만들다"]);
    assert_eq!(a.morphs_stem("어제 버스를 탔다").unwrap(), ["어제", "버스", "를", "타다"]);
    assert_eq!(a.morphs_stem("공부했다").unwrap(), ["공부", "하다"]);
    assert_eq!(a.morphs_stem("예뻤어요").unwrap(), ["예쁘다"]);
}

#[test]
fn stems_of_the_lecture_example() {
    // okt.morphs('와 이런 것도 영화라고 차라리 뮤직비디오를 만드는 게 나을 뻔', stem=True)
    // gives 와 이런 것 도 영화 라고 차라리 뮤직비디오 를 만들다 게 낫다 뻔; mecab-ko-dic
    // splits 뮤직비디오 in two, the predicates agree.
    let stems = analyzer().morphs_stem("와 이런 것도 영화라고 차라리 뮤직비디오를 만드는 게 나을 뻔").unwrap();
    let expected =
        ["와", "이런", "것", "도", "영화", "라고", "차라리", "뮤직", "비디오", "를", "만들다", "게", "낫다", "뻔"];
    assert_eq!(stems, expected);
}

#[test]
fn empty_and_whitespace_text_give_empty_results() {
    let a = analyzer();
    for text in ["", " ", "\n\t  \r\n", "\u{3000}"] {
        assert!(a.morphs(text).unwrap().is_empty(), "{text:?}");
        assert!(a.pos(text).unwrap().is_empty(), "{text:?}");
        assert!(a.nouns(text).unwrap().is_empty(), "{text:?}");
        assert!(a.morphs_stem(text).unwrap().is_empty(), "{text:?}");
    }
    let empty: [&str; 0] = [];
    assert!(a.batch_morphs(&empty, false).unwrap().is_empty());
}

#[test]
fn whitespace_separates_but_never_becomes_a_morpheme() {
    let morphs = analyzer().morphs("  영화\t재밌다 \n").unwrap();
    assert!(morphs.iter().all(|m| !m.trim().is_empty()));
    assert_eq!(morphs.concat(), "영화재밌다");
}

#[test]
fn batch_equals_sequential() {
    let texts = [
        "아버지가방에들어가신다",
        "",
        "와 이런 것도 영화라고 차라리 뮤직비디오를 만드는 게 나을 뻔",
        "진짜 재밌다 ㅋㅋㅋ 10점 만점에 10점!!",
        "Marvel 영화는 CG가 최고",
        "   ",
        "어제 버스를 탔다",
    ];
    let a = analyzer();
    for stem in [false, true] {
        let batch = a.batch_morphs(&texts, stem).unwrap();
        let sequential: Vec<Vec<String>> =
            texts.iter().map(|t| if stem { a.morphs_stem(t) } else { a.morphs(t) }.unwrap()).collect();
        assert_eq!(batch, sequential, "stem={stem}");
    }
}

#[test]
fn clones_share_the_dictionary_and_work_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Analyzer>();
    let a = analyzer().clone();
    let handle = std::thread::spawn(move || a.morphs("아버지가방에들어가신다").unwrap());
    assert_eq!(handle.join().unwrap().len(), 6);
}

#[test]
fn user_entries_become_single_morphemes() {
    let dir = analyzer().dictionary_dir().unwrap().to_path_buf();
    let text = "챗GPT로 딥러닝을 공부했다";
    let plain = analyzer().morphs(text).unwrap();
    assert!(!plain.contains(&"챗GPT".to_string()), "{plain:?}");

    let with_user = Analyzer::builder()
        .dictionary_path(dir)
        .user_entries([UserEntry::new("챗GPT", "NNP"), UserEntry::new("딥러닝", "NNG")])
        .build()
        .unwrap();
    let pos = with_user.pos(text).unwrap();
    let expected = [
        ("챗GPT", "NNP"),
        ("로", "JKB"),
        ("딥러닝", "NNG"),
        ("을", "JKO"),
        ("공부", "NNG"),
        ("했", "XSV+EP"),
        ("다", "EC"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(s, t)| (s.to_string(), t.to_string())).collect();
    assert_eq!(pos, expected);
    assert_eq!(with_user.nouns(text).unwrap(), strings(&["챗GPT", "딥러닝", "공부"]));
}

#[test]
fn bad_user_entries_are_typed_errors() {
    let dir = analyzer().dictionary_dir().unwrap().to_path_buf();
    for (entry, needle) in [
        (UserEntry::new("챗GPT", "NOPE"), "unknown tag"),
        (UserEntry::new("  ", "NNG"), "empty"),
        (UserEntry::new("두 단어", "NNG"), "whitespace"),
    ] {
        let err = Analyzer::builder().dictionary_path(&dir).user_entries([entry]).build().unwrap_err();
        assert!(matches!(err, KoreanError::UserEntry { .. }), "{err}");
        assert!(err.to_string().contains(needle), "{err}");
    }
}

#[test]
fn odd_scripts_and_symbols_do_not_break_analysis() {
    let a = analyzer();
    for text in ["😀😀 좋아요", "ㅋㅋㅋㅋㅋ", "漢字 한자", "a,b\"c", "\u{0}\u{1}널", "ﾟ∀ﾟ"] {
        let morphs = a.morphs(text).unwrap();
        assert!(!morphs.is_empty(), "{text:?}");
        let joined: String = morphs.concat();
        let expected: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(joined, expected, "{text:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_string_analyses_without_panic(text in any::<String>()) {
        let a = analyzer();
        let morphs = a.morphs(&text).unwrap();
        prop_assert!(morphs.iter().all(|m| !m.is_empty()));
        a.pos(&text).unwrap();
        a.nouns(&text).unwrap();
        a.morphs_stem(&text).unwrap();
    }

    #[test]
    fn hangul_text_is_covered_by_its_morphemes(text in "[가-힣 ]{0,40}") {
        let morphs = analyzer().morphs(&text).unwrap();
        let expected: String = text.chars().filter(|c| *c != ' ').collect();
        prop_assert_eq!(morphs.concat(), expected);
    }
}

#[test]
fn lindera_engine_connects_through_whitespace_nodes() {
    // MeCab-ko connects 와 directly to 이런 and reads 와 as an interjection;
    // lindera's segmenter puts an SP node between them, which changes the
    // connection costs and makes 와 the verb 오다 + 아 (see docs/performance.md).
    use malmoi_tokenize::korean::Engine;
    let dir = analyzer().dictionary_dir().unwrap().to_path_buf();
    let lindera = Analyzer::builder().dictionary_path(dir).engine(Engine::Lindera).build().unwrap();
    let text = "와 이런";
    let tags = |a: &Analyzer| a.pos(text).unwrap().into_iter().map(|(_, t)| t).collect::<Vec<_>>();
    assert_eq!(tags(analyzer()), ["IC", "MM"]);
    assert_eq!(tags(&lindera), ["VV+EC", "MM"]);
    assert_eq!(lindera.morphs("아버지가방에들어가신다").unwrap(), analyzer().morphs("아버지가방에들어가신다").unwrap());
}

#[test]
fn long_texts_are_analysed_in_bounded_chunks() {
    let a = analyzer();
    let sentence = "아버지가방에들어가신다 ";
    let long = sentence.repeat(10_000);
    let morphs = a.morphs(&long).unwrap();
    assert_eq!(morphs.len(), 6 * 10_000);
    assert_eq!(&morphs[..6], a.morphs(sentence).unwrap().as_slice());

    let unbroken = "가나다라마바사".repeat(10_000);
    let morphs = a.morphs(&unbroken).unwrap();
    assert_eq!(morphs.concat(), unbroken);
}

/// Found by `crates/seq/tests/fuzz.rs`: grouping unknown words rescanned a run of one
/// character category from every position, so 40 000 `a` took 0.8 s and 60 000 lone jamo
/// 8 s. The scan is now bounded by the longest group MeCab would form: linear time.
#[test]
fn long_runs_of_one_category_are_linear() {
    let analyzer = Analyzer::new().unwrap();
    for unit in ["a", "\u{1161}\u{11A8}", "ㅋ"] {
        let text = unit.repeat(200_000 / unit.chars().count());
        let started = std::time::Instant::now();
        let pos = analyzer.pos(&text).unwrap();
        let took = started.elapsed();
        assert_eq!(pos.iter().map(|(surface, _)| surface.as_str()).collect::<String>(), text);
        assert!(took < std::time::Duration::from_secs(3), "{unit:?} × 200 000: {took:?}");
    }
}
