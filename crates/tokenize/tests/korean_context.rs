//! The context engine: MeCab-ko's candidates in dictionary form, chosen by a
//! model learnt from unambiguous relatives in unlabelled text.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use malmoi_tokenize::korean::{Analyzer, ContextModel, ContextParams, Engine, KoreanError};
use proptest::prelude::*;

mod support;

fn plain() -> &'static Analyzer {
    static ANALYZER: OnceLock<Analyzer> = OnceLock::new();
    ANALYZER.get_or_init(|| Analyzer::builder().engine(Engine::Context).build().expect("mecab-ko-dic"))
}

fn has(pos: &[(String, String)], form: &str, tag: &str) -> bool {
    pos.iter().any(|(f, t)| f == form && t == tag)
}

/// Walking and hanging, each in forms only one verb can take (걸으며, 걷고 / 걸고, 걸면),
/// plus the ambiguous 걸었다 in both kinds of context, so 걷/VV and 걸/VV compete.
fn relatives_corpus() -> Vec<String> {
    let walk = [
        "공원을 천천히 걸으며 산책했다",
        "공원 산책로를 걷고 싶다",
        "공원에서 걷는 사람이 많다",
        "산책로를 따라 걷다가 쉬었다",
    ];
    let hang =
        ["벽에 그림을 걸고 나왔다", "벽에 시계를 걸면 좋겠다", "옷걸이에 외투를 걸고 앉았다", "그림을 벽에 걸지 마"];
    let ambiguous = ["공원 산책로를 걸었다", "벽에 그림을 걸었다"];
    let mut texts = Vec::new();
    for round in 0..30 {
        texts.extend(walk.iter().chain(&hang).map(|t| t.to_string()));
        texts.push(ambiguous[round % 2].to_string());
    }
    texts
}

/// Lets every confident reading through (a tiny corpus cannot calibrate the margin).
fn permissive() -> ContextParams {
    ContextParams { max_change: 1.0, ..ContextParams::default() }
}

fn trained() -> &'static (ContextModel, Analyzer) {
    static TRAINED: OnceLock<(ContextModel, Analyzer)> = OnceLock::new();
    TRAINED.get_or_init(|| {
        let (model, report) = ContextModel::train(plain(), &relatives_corpus(), permissive(), false).unwrap();
        assert!(report.examples > 100, "{report}");
        let analyzer = Analyzer::builder().engine(Engine::Context).context_model(model.clone()).build().unwrap();
        (model, analyzer)
    })
}

#[test]
fn without_a_model_the_engine_gives_mecab_lemmas() {
    let pos = plain().pos("고기를 구워 먹고 버스를 탔다").unwrap();
    for (form, tag) in [("굽", "VV"), ("어", "EC"), ("타", "VV"), ("았", "EP")] {
        assert!(has(&pos, form, tag), "{form}/{tag} missing from {pos:?}");
    }
    let mecab = Analyzer::new().unwrap().pos("고기를 구워 먹고 버스를 탔다").unwrap();
    assert!(has(&mecab, "탔", "VV+EP"), "Engine::Mecab keeps MeCab-ko's compound tags: {mecab:?}");
    assert_eq!(plain().morphs("아버지가방에들어가신다").unwrap()[..4], ["아버지", "가", "방", "에"]);
}

#[test]
fn the_irregular_stem_is_offered_and_context_chooses_it() {
    let (_, analyzer) = trained();
    let walked = analyzer.pos("공원 산책로를 한참 걸었다").unwrap();
    assert!(has(&walked, "걷", "VV"), "{walked:?}");
    let hung = analyzer.pos("벽에 그림을 다시 걸었다").unwrap();
    assert!(has(&hung, "걸", "VV"), "{hung:?}");
    // The lemma is not a guess from the dictionary's order: the same word gets both.
    assert!(!has(&walked, "걸", "VV") && !has(&hung, "걷", "VV"));
}

#[test]
fn a_saved_model_loads_to_the_same_decisions() {
    let (model, analyzer) = trained();
    let (_dir, path) = support::scratch_file("context.tsv", "");
    model.save(&path).unwrap();
    let loaded = ContextModel::load(&path).unwrap();
    assert_eq!(loaded.params(), model.params());
    let reloaded = Analyzer::builder().engine(Engine::Context).context_model(loaded).build().unwrap();
    for text in ["공원 산책로를 한참 걸었다", "벽에 그림을 다시 걸었다", "4km 구간을 걸었다."]
    {
        assert_eq!(reloaded.pos(text).unwrap(), analyzer.pos(text).unwrap(), "{text}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left beside the model");
}

#[test]
fn malformed_model_files_are_refused_by_line() {
    let cases = [
        ("not a model\n", 1, "header"),
        ("malmoi-context-model\t2\ntemperature\thot\n", 2, "not a number"),
        ("malmoi-context-model\t2\ntoken\t0\t걷/VV\nsmoothing\t3\n", 3, "unknown record"),
        ("malmoi-context-model\t2\ntoken\t0\t걷/VV\nlabel\t7\t3\t1\n", 3, "unknown token"),
        ("malmoi-context-model\t2\ntoken\t0\t걷/VV\nlabel\t0\t3\t2\n", 3, "gate"),
    ];
    for (contents, line, reason) in cases {
        let (_dir, path) = support::scratch_file("bad.tsv", contents);
        match ContextModel::load(&path) {
            Err(KoreanError::MalformedContextModel { line: got, reason: why, .. }) => {
                assert_eq!(got, line, "{contents:?}: {why}");
                assert!(why.contains(reason), "{contents:?}: {why}");
            }
            other => panic!("{contents:?}: expected a malformed-model error, got {other:?}"),
        }
    }
    assert!(matches!(ContextModel::load("/nonexistent/context.tsv"), Err(KoreanError::Io { .. })));
}

/// The NSMC data directory: `MALMOI_NSMC_DIR`, else `../shared/data/nsmc` beside the workspace.
fn nsmc_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MALMOI_NSMC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/nsmc"));
    dir.join("ratings_train.txt").is_file().then_some(dir)
}

/// Share of the ambiguity set's rows whose expected (form, tag) the analyser outputs, by the
/// scorer's rule (benches/reference/ambiguity/score.py: NNBC counts as NNB).
fn ambiguity_score(analyzer: &Analyzer) -> f64 {
    let set = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches/reference/ambiguity/ambiguity_set.tsv");
    let text = std::fs::read_to_string(set).unwrap();
    let (mut right, mut rows) = (0, 0);
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (sentence, form, tag) = (fields[2], fields[4], fields[5]);
        let pos = analyzer.pos(sentence).unwrap();
        let normal = |t: &str| if t == "NNBC" { "NNB".to_string() } else { t.to_string() };
        right += usize::from(pos.iter().any(|(f, t)| f == form && normal(t) == tag));
        rows += 1;
    }
    right as f64 / rows as f64
}

/// Trained on NSMC's 150,000 training reviews, the model must beat MeCab-ko's own choices
/// (the engine without a model) on the ambiguity set.
#[test]
fn nsmc_relatives_beat_mecab_on_the_ambiguity_set() {
    let Some(dir) = nsmc_dir() else {
        eprintln!("skipped: no NSMC data (set MALMOI_NSMC_DIR or put it in ../shared/data/nsmc)");
        return;
    };
    let text = std::fs::read_to_string(dir.join("ratings_train.txt")).unwrap();
    let reviews: Vec<&str> = text.lines().skip(1).filter_map(|line| line.split('\t').nth(1)).collect();
    let (model, report) = ContextModel::train(plain(), &reviews, ContextParams::default(), false).unwrap();
    let analyzer = Analyzer::builder().engine(Engine::Context).context_model(model).build().unwrap();
    let (baseline, context) = (ambiguity_score(plain()), ambiguity_score(&analyzer));
    eprintln!("{report}\nambiguity set: MeCab-ko lemmas {baseline:.3}, context {context:.3}");
    assert!(context >= baseline + 0.01, "context {context:.3} vs MeCab-ko's choices {baseline:.3}");
}

#[test]
fn training_twice_writes_the_same_model() {
    let (model, _) = trained();
    let (again, _) = ContextModel::train(plain(), &relatives_corpus(), permissive(), false).unwrap();
    let (_dir, first) = support::scratch_file("first.tsv", "");
    let second = first.with_file_name("second.tsv");
    model.save(&first).unwrap();
    again.save(&second).unwrap();
    assert_eq!(std::fs::read(first).unwrap(), std::fs::read(second).unwrap());
}

#[test]
fn a_user_dictionary_word_is_never_redecided() {
    let (model, _) = trained();
    let user = Analyzer::builder()
        .engine(Engine::Context)
        .context_model(model.clone())
        .user_entries([malmoi_tokenize::korean::UserEntry::new("걸", "VV")])
        .build()
        .unwrap();
    // The model reads this context as 걷다 (see above); the user's 걸 stands.
    let pos = user.pos("공원 산책로를 한참 걸었다").unwrap();
    assert!(has(&pos, "걸", "VV") && !has(&pos, "걷", "VV"), "{pos:?}");
}

/// A text's analysis does not depend on the texts analysed with it.
#[test]
fn batches_give_each_text_its_own_analysis() {
    let (_, analyzer) = trained();
    let texts = ["공원 산책로를 한참 걸었다", "벽에 그림을 다시 걸었다", "", "   ", "종이 울렸다 ㅋㅋ 10점!!"];
    let batch = analyzer.batch_morphs(&texts, false).unwrap();
    let one_by_one: Vec<Vec<String>> = texts.iter().map(|t| analyzer.morphs(t).unwrap()).collect();
    assert_eq!(batch, one_by_one);
    let reversed: Vec<&str> = texts.iter().rev().copied().collect();
    let mut again = analyzer.batch_morphs(&reversed, false).unwrap();
    again.reverse();
    assert_eq!(again, one_by_one);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_string_analyses_without_panic(text in "[가-힣ㄱ-ㅎa-z0-9 .!?~]{0,40}") {
        let (_, analyzer) = trained();
        let pos = analyzer.pos(&text).unwrap();
        prop_assert!(pos.iter().all(|(form, tag)| !form.is_empty() && !tag.is_empty()));
        analyzer.morphs_stem(&text).unwrap();
        prop_assert_eq!(analyzer.morphs(&text).unwrap().len(), pos.len());
    }
}
