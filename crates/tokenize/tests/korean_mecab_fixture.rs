//! The default engine reproduces MeCab-ko exactly: analyses of sentences
//! written for this test, as python-mecab-ko gives them on the same
//! mecab-ko-dic 2.1.1 source (fixture written by
//! `benches/reference/mecab_fixture.py`).

use malmoi_tokenize::korean::Analyzer;

const FIXTURE: &str = include_str!("korean_mecab_fixture.tsv");

fn unescape(field: &str) -> String {
    field.replace("\\t", "\t").replace("\\\\", "\\")
}

#[test]
fn pos_matches_mecab_ko_on_every_fixture_sentence() {
    let analyzer = Analyzer::new().expect("mecab-ko-dic must be found or built");
    let mut checked = 0;
    for line in FIXTURE.lines() {
        let (sentence, expected) = line.split_once('\t').expect("sentence<TAB>analysis");
        let sentence = unescape(sentence);
        let ours: Vec<String> =
            analyzer.pos(&sentence).unwrap().into_iter().map(|(surface, tag)| format!("{surface}/{tag}")).collect();
        assert_eq!(ours.join(" "), expected, "sentence {sentence:?}");
        checked += 1;
    }
    assert_eq!(checked, 60);
}
