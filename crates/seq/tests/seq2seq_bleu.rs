//! Corpus BLEU equals sacrebleu 2.6.0's on the committed fixture
//! (benches/reference/seq2seq_bleu_fixture.py), for the 13a and character tokenizers.

use malmoi_seq::seq2seq::{BleuTokenizer, corpus_bleu};
use serde_json::Value;

#[test]
fn corpus_bleu_equals_sacrebleu() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seq2seq/bleu.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let strings =
        |v: &Value| -> Vec<String> { v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect() };
    for case in fixture["cases"].as_array().unwrap() {
        let (hypotheses, references) = (strings(&case["hypotheses"]), strings(&case["references"]));
        for (key, tokenizer) in [("13a", BleuTokenizer::Mteval13a), ("char", BleuTokenizer::Char)] {
            let expected = &case[key];
            let name = format!("{} ({key})", case["name"]);
            let bleu = corpus_bleu(&hypotheses, &references, tokenizer);
            assert!((bleu.score - expected["score"].as_f64().unwrap()).abs() < 1e-9, "{name}: {bleu:?}");
            assert!((bleu.brevity_penalty - expected["bp"].as_f64().unwrap()).abs() < 1e-12, "{name}");
            assert_eq!(bleu.hypothesis_length as u64, expected["sys_len"].as_u64().unwrap(), "{name}");
            assert_eq!(bleu.reference_length as u64, expected["ref_len"].as_u64().unwrap(), "{name}");
            for (ours, theirs) in bleu.precisions.iter().zip(expected["precisions"].as_array().unwrap()) {
                assert!((ours - theirs.as_f64().unwrap()).abs() < 1e-9, "{name}: precisions {:?}", bleu.precisions);
            }
        }
    }
}
