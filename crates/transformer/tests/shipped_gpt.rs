//! The GPT this repository ships (`models/gpt`, trained by `cargo run --release --example gpt
//! -- --train --half`): it loads, its logits equal what `transformers.GPT2LMHeadModel` computes
//! from the same directory (fixture written by `benches/reference/gpt_roundtrip.py`), and it
//! generates text.

use std::path::PathBuf;

use malmoi_lm::LanguageModel;
use malmoi_transformer::generation::{FinishReason, GenerationConfig, Generator};
use ndarray::Array2;
use serde_json::Value;

fn shipped() -> Generator {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/gpt");
    Generator::from_dir(dir).unwrap()
}

#[test]
fn logits_equal_transformers_on_the_shipped_model() {
    let generator = shipped();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shipped_gpt_logits.json");
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for case in spec["cases"].as_array().unwrap() {
        let ids: Vec<u32> = case["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(generator.prompt_ids(case["text"].as_str().unwrap()).unwrap(), ids[1..], "tokenization");
        let row = Array2::from_shape_vec((1, ids.len()), ids.clone()).unwrap();
        let logits = generator.model.forward(&row, None).unwrap().0.to_array();
        let theirs = case["last_logits"].as_array().unwrap();
        for (v, want) in theirs.iter().enumerate() {
            let ours = logits[[0, ids.len() - 1, v]];
            assert!((ours - want.as_f64().unwrap() as f32).abs() < 1e-3, "{}: logit {v}", case["text"]);
        }
    }
}

#[test]
fn the_shipped_model_writes_and_scores_korean() {
    let generator = shipped();
    let config = GenerationConfig { top_k: 50, top_p: 0.95, ..GenerationConfig::sampling(30, 0.9, 0) };
    let out = generator.generate("영화가", &config).unwrap();
    assert!(!out.tokens.is_empty());
    assert!(out.text.chars().any(|c| ('가'..='힣').contains(&c)), "{:?}", out.text);
    assert!(matches!(out.finish_reason, FinishReason::Length | FinishReason::Eos));
    // The lecture's pair: the natural sentence is the more probable one.
    let natural = generator.score("나는 버스를 탔다").unwrap().log10_prob;
    let odd = generator.score("나는 버스를 태운다").unwrap().log10_prob;
    assert!(natural > odd, "{natural} vs {odd}");
}
