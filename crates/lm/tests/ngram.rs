//! n-gram models against the reference fixture of benches/reference/ngram_kn.py (modified
//! Kneser-Ney from its definition, scored by Python `kenlm`), ARPA round trips and errors,
//! stupid backoff, OOV and empty sentences.

use approx::assert_abs_diff_eq;
use malmoi_lm::vocab::{BOS, UNK};
use malmoi_lm::{Error, LanguageModel, NgramBuilder, NgramModel, SENTENCE_END, Smoothing};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn corpus() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(format!("{FIXTURES}/kn_corpus.txt")).unwrap();
    text.lines().map(|line| line.split_whitespace().map(String::from).collect()).collect()
}

fn reference(order: usize) -> NgramModel {
    NgramModel::read_arpa(format!("{FIXTURES}/kn_order{order}.arpa")).unwrap()
}

/// kenlm's per-token log10 probabilities of the fixture's test sentences.
fn kenlm_scores(order: usize) -> Vec<(String, Vec<f64>)> {
    let text = std::fs::read_to_string(format!("{FIXTURES}/kn_order{order}_scores.tsv")).unwrap();
    text.lines()
        .map(|line| {
            let (sentence, scores) = line.split_once('\t').unwrap();
            (sentence.to_owned(), scores.split(' ').map(|s| s.parse().unwrap()).collect())
        })
        .collect()
}

#[test]
fn kneser_ney_matches_the_reference_model_entry_by_entry() {
    for order in [3, 4] {
        let ours = NgramBuilder::new(order).fit(&corpus()).unwrap();
        let theirs = reference(order);
        assert_eq!(ours.ngram_counts(), theirs.ngram_counts());
        let arpa = ours.to_arpa_string().unwrap();
        let mut checked = 0;
        for line in arpa.lines().filter(|line| line.contains('\t')) {
            let fields: Vec<&str> = line.split('\t').collect();
            let words: Vec<&str> = fields[1].split(' ').collect();
            let expected = theirs.entry(&words).unwrap_or_else(|| panic!("reference lacks {words:?}"));
            let entry = ours.entry(&words).unwrap();
            assert_abs_diff_eq!(entry.log10_prob, expected.log10_prob, epsilon = 1e-4);
            assert_abs_diff_eq!(entry.backoff, expected.backoff, epsilon = 1e-4);
            checked += 1;
        }
        assert_eq!(checked, theirs.ngram_counts().iter().sum::<usize>());
    }
}

#[test]
fn sentence_scores_match_kenlm_for_our_model_and_the_loaded_one() {
    for order in [3, 4] {
        let ours = NgramBuilder::new(order).fit(&corpus()).unwrap();
        let loaded = reference(order);
        for (sentence, expected) in kenlm_scores(order) {
            for model in [&ours, &loaded] {
                let score = model.score(&sentence).unwrap();
                assert_eq!(score.log10_probs.len(), expected.len(), "{sentence}");
                for (got, want) in score.log10_probs.iter().zip(&expected) {
                    assert_abs_diff_eq!(got, want, epsilon = 1e-4);
                }
                assert_abs_diff_eq!(score.log10_prob, expected.iter().sum::<f64>(), epsilon = 1e-4);
            }
        }
    }
}

#[test]
fn the_fixture_ranks_the_seen_verb_above_the_unseen_one() {
    let model = NgramBuilder::new(3).fit(&corpus()).unwrap();
    let rode = model.score("나 는 버스 를 탔다").unwrap();
    let carries = model.score("나 는 버스 를 태운다").unwrap();
    assert!(rode.log10_prob > carries.log10_prob);
    assert_eq!((rode.oov, carries.oov), (0, 1));
}

#[test]
fn next_words_form_the_distribution_and_are_sorted() {
    let model = NgramBuilder::new(3).fit(&corpus()).unwrap();
    let all = model.next_words("나 는", usize::MAX).unwrap();
    assert_eq!(all.len(), model.vocab().len() - 2, "every word but <unk> and <s>");
    let history = [BOS, model.vocab().get("나").unwrap(), model.vocab().get("는").unwrap()];
    let unk = 10f64.powf(model.log10_prob_id(&history, UNK));
    assert_abs_diff_eq!(all.iter().map(|w| w.prob).sum::<f64>() + unk, 1.0, epsilon = 1e-9);
    assert!(all.windows(2).all(|w| w[0].prob >= w[1].prob));
    let top = model.next_words("나 는", 3).unwrap();
    assert_eq!(top, all[..3]);
    let after_bos = model.next_words("", 1).unwrap();
    assert_ne!(after_bos[0].word, SENTENCE_END);
}

#[test]
fn arpa_round_trip_keeps_every_estimate() {
    let model = NgramBuilder::new(3).fit(&corpus()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.arpa");
    model.write_arpa(&path).unwrap();
    let loaded = NgramModel::read_arpa(&path).unwrap();
    assert_eq!(loaded.ngram_counts(), model.ngram_counts());
    assert_eq!(loaded.to_arpa_string().unwrap(), model.to_arpa_string().unwrap());
    for (sentence, _) in kenlm_scores(3) {
        let (a, b) = (model.score(&sentence).unwrap(), loaded.score(&sentence).unwrap());
        assert_abs_diff_eq!(a.log10_prob, b.log10_prob, epsilon = 1e-5);
    }
}

const SMALL: &str = "\\data\\\nngram 1=4\nngram 2=2\n\n\\1-grams:\n-1.0\t<unk>\n-99\t<s>\t-0.5\n-0.5\t</s>\n-0.3\ta\t-0.2\n\n\\2-grams:\n-0.1\t<s> a\n-0.2\ta </s>\n\n\\end\\\n";

fn arpa_error(text: &str) -> (usize, String) {
    match NgramModel::from_arpa_str(text) {
        Err(Error::Arpa { line, reason }) => (line, reason),
        other => panic!("expected an ARPA error, got {other:?}"),
    }
}

#[test]
fn a_small_arpa_file_is_queried_with_backoff() {
    let model = NgramModel::from_arpa_str(SMALL).unwrap();
    let score = model.score("a a").unwrap();
    // p(a|<s>) = -0.1; p(a|a) backs off: bo(a) + p(a) = -0.2 - 0.3; p(</s>|a) = -0.2.
    for (got, want) in score.log10_probs.iter().zip([-0.1, -0.5, -0.2]) {
        assert_abs_diff_eq!(*got, want, epsilon = 1e-12);
    }
    let unknown = model.score("b").unwrap();
    assert_eq!(unknown.oov, 1);
    // p(<unk>|<s>) = bo(<s>) + p(<unk>) ; p(</s>|<unk>) = p(</s>).
    assert_abs_diff_eq!(unknown.log10_prob, -0.5 - 1.0 - 0.5, epsilon = 1e-12);
}

#[test]
fn wrong_counts_and_bad_lines_name_the_line() {
    let (line, reason) = arpa_error(&SMALL.replace("ngram 2=2", "ngram 2=3"));
    assert_eq!(line, 3, "{reason}");
    assert!(reason.contains("declares 3 2-grams but the section has 2"), "{reason}");
    let (line, reason) = arpa_error(&SMALL.replace("ngram 1=4", "ngram 1=3"));
    assert_eq!((line, reason.contains("has more (line 9)")), (2, true), "{reason}");
    let (line, reason) = arpa_error(&SMALL.replace("-0.3\ta", "-0.3x\ta"));
    assert_eq!((line, reason.as_str()), (9, "bad log10 probability `-0.3x`"));
    let (line, reason) = arpa_error(&SMALL.replace("-0.2\ta </s>", "-0.2\ta"));
    assert_eq!(line, 13, "{reason}");
    let (line, reason) = arpa_error(&SMALL.replace("-0.1\t<s> a", "-0.1\t<s> b"));
    assert!(line == 12 && reason.contains("not among the 1-grams"), "{reason}");
    let (line, reason) = arpa_error(&SMALL.replace("\t-0.2\n", "\tnan\n"));
    assert_eq!((line, reason.as_str()), (9, "bad backoff `nan`"));
    let (line, _) = arpa_error(&SMALL.replace("ngram 2=2", "ngram 2=two"));
    assert_eq!(line, 3);
    let (_, reason) = arpa_error(&SMALL.replace("\\end\\\n", ""));
    assert!(reason.contains("without `\\end\\`"), "{reason}");
    let (_, reason) = arpa_error("no data here\n");
    assert!(reason.contains("no \\data\\"), "{reason}");
    let (_, reason) = arpa_error(&SMALL.replace("-0.5\t</s>\n", "").replace("ngram 1=4", "ngram 1=3"));
    assert!(reason.contains("lack </s>"), "{reason}");
}

#[test]
fn empty_sentences_score_the_sentence_end_and_train_the_start_end_bigram() {
    let sentences: Vec<Vec<&str>> = vec![vec![], vec!["a"], vec![], vec!["a", "b"]];
    let model = NgramBuilder::new(2).discount_fallback([0.5, 1.0, 1.5]).fit(&sentences).unwrap();
    let empty = model.score("").unwrap();
    assert_eq!(empty.tokens, [SENTENCE_END]);
    assert!(model.entry(&["<s>", "</s>"]).is_some());
    assert_abs_diff_eq!(empty.log10_prob, model.entry(&["<s>", "</s>"]).unwrap().log10_prob, epsilon = 1e-12);
    assert!(empty.perplexity >= 1.0);
}

#[test]
fn tiny_data_needs_fallback_discounts_and_bad_arguments_are_typed_errors() {
    let sentences = [vec!["a", "b"]];
    assert!(matches!(NgramBuilder::new(3).fit(&sentences), Err(Error::Discount { order: 1, .. })));
    assert!(NgramBuilder::new(3).discount_fallback([0.5, 1.0, 1.5]).fit(&sentences).is_ok());
    assert!(matches!(NgramBuilder::new(0).fit(&sentences), Err(Error::InvalidArgument(_))));
    let empty: [Vec<&str>; 0] = [];
    assert!(matches!(NgramBuilder::new(3).fit(&empty), Err(Error::EmptyModel)));
    assert!(matches!(NgramBuilder::new(2).fit(&[vec!["a", "</s>"]]), Err(Error::InvalidArgument(_))));
    let sb = Smoothing::StupidBackoff { alpha: 1.5 };
    assert!(matches!(NgramBuilder::new(2).smoothing(sb).fit(&sentences), Err(Error::InvalidArgument(_))));
}

#[test]
fn stupid_backoff_is_relative_frequency_times_alpha_per_step() {
    let sentences = [vec!["a", "b"], vec!["a", "c"], vec!["b"]];
    let model = NgramBuilder::new(2).smoothing(Smoothing::StupidBackoff { alpha: 0.4 }).fit(&sentences).unwrap();
    let score = model.score("a b c").unwrap();
    // c(<s> a)/c(<s>) = 2/3; c(a b)/c(a) = 1/2; "b c" unseen: 0.4 · c(c)/N with N = 8 tokens
    // (5 words, 3 </s>); c(c </s>)/c(c) = 1.
    let expected = [2.0 / 3.0, 0.5, 0.4 * 1.0 / 8.0, 1.0];
    for (got, want) in score.log10_probs.iter().zip(expected) {
        assert_abs_diff_eq!(*got, f64::log10(want), epsilon = 1e-12);
    }
    let oov = model.score("z").unwrap();
    assert_eq!(oov.oov, 1);
    assert_abs_diff_eq!(oov.log10_probs[0], f64::log10(0.4 / 8.0), epsilon = 1e-12);
    assert_eq!(model.next_words("a", 2).unwrap().iter().map(|w| w.word.as_str()).collect::<Vec<_>>(), ["b", "c"]);
    assert!(matches!(model.to_arpa_string(), Err(Error::InvalidArgument(_))));
}
