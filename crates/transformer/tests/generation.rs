//! Generation knobs: each processor against `transformers`' (fixture), and each knob's
//! effect on a fixed model.

use std::ops::ControlFlow;
use std::path::PathBuf;

use malmoi_transformer::generation::{FinishReason, GenerationConfig, logits};
use malmoi_transformer::{Error, Gpt, GptConfig};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().map_or(f32::NEG_INFINITY, |f| f as f32)).collect()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| u32::try_from(x.as_u64().unwrap()).unwrap()).collect()
}

#[test]
fn processors_equal_transformers() {
    let text = std::fs::read_to_string(fixture("logits_processors.json")).unwrap();
    let spec: Value = serde_json::from_str(&text).unwrap();
    for case in spec["cases"].as_array().unwrap() {
        let (input, history) = (floats(&case["logits"]), ids(&case["input_ids"]));
        for result in case["results"].as_array().unwrap() {
            let p = &result["params"];
            let f = |key: &str| p[key].as_f64().unwrap() as f32;
            let mut out = input.clone();
            match result["processor"].as_str().unwrap() {
                "temperature" => logits::temperature(&mut out, f("temperature")),
                "top_k" => logits::top_k(&mut out, p["top_k"].as_u64().unwrap() as usize),
                "top_p" => logits::top_p(&mut out, f("top_p")),
                "repetition_penalty" => logits::repetition_penalty(&mut out, &history, f("penalty")),
                "no_repeat_ngram" => {
                    logits::no_repeat_ngram(&mut out, &history, p["ngram_size"].as_u64().unwrap() as usize)
                }
                "frequency_presence" => logits::frequency_presence_penalty(
                    &mut out,
                    &history,
                    f("frequency_penalty"),
                    f("presence_penalty"),
                ),
                "pipeline" => {
                    let config = GenerationConfig {
                        do_sample: true,
                        repetition_penalty: f("repetition_penalty"),
                        no_repeat_ngram_size: p["no_repeat_ngram_size"].as_u64().unwrap() as usize,
                        temperature: f("temperature"),
                        top_k: p["top_k"].as_u64().unwrap() as usize,
                        top_p: f("top_p"),
                        ..GenerationConfig::default()
                    };
                    logits::process(&mut out, &history, &[], &config);
                }
                other => panic!("unknown processor {other}"),
            }
            let want = floats(&result["output"]);
            let label = format!("{} {}", case["name"], result);
            for (o, w) in out.iter().zip(&want) {
                assert!(o == w || (o - w).abs() < 1e-5, "{label}: {out:?} vs {want:?}");
            }
            let probs = logits::softmax(&out);
            for (o, w) in probs.iter().zip(floats(&result["probs"])) {
                assert!((o - w).abs() < 1e-5, "{label}: probabilities {probs:?}");
            }
        }
    }
}

fn model() -> Gpt {
    let config =
        GptConfig { vocab_size: 40, block_size: 16, n_layer: 2, n_head: 2, n_embd: 16, ..GptConfig::default() };
    let model = Gpt::new(config, 11).unwrap();
    // Sharper logits than GPT-2's initialisation gives, so the knobs have visible effects.
    model.wte.weight.update_data(|w| w.mapv_inplace(|v| v * 40.0));
    model
}

fn run(model: &Gpt, prompt: &[u32], config: &GenerationConfig) -> Vec<u32> {
    model.generate_ids(prompt, config, |_| ControlFlow::Continue(())).unwrap().ids()
}

#[test]
fn top_k_one_and_zero_temperature_are_greedy() {
    let model = model();
    let greedy = run(&model, &[1, 2, 3], &GenerationConfig::greedy(12));
    let top1 = GenerationConfig { top_k: 1, ..GenerationConfig::sampling(12, 1.5, 7) };
    assert_eq!(run(&model, &[1, 2, 3], &top1), greedy);
    assert_eq!(run(&model, &[1, 2, 3], &GenerationConfig::sampling(12, 0.0, 7)), greedy);
    let beam1 = GenerationConfig { num_beams: 1, ..GenerationConfig::greedy(12) };
    assert_eq!(run(&model, &[1, 2, 3], &beam1), greedy);
}

#[test]
fn the_same_seed_gives_the_same_sample_and_another_seed_another() {
    let model = model();
    let a = run(&model, &[5], &GenerationConfig::sampling(14, 1.5, 1));
    assert_eq!(a, run(&model, &[5], &GenerationConfig::sampling(14, 1.5, 1)));
    let others: Vec<_> = (2..6).map(|seed| run(&model, &[5], &GenerationConfig::sampling(14, 1.5, seed))).collect();
    assert!(others.iter().any(|o| *o != a));
}

#[test]
fn penalties_lower_repetition() {
    let model = model();
    let repeats = |ids: &[u32]| ids.len() - ids.iter().collect::<std::collections::BTreeSet<_>>().len();
    let base = run(&model, &[1], &GenerationConfig::greedy(15));
    assert!(repeats(&base) > 0, "the fixed model repeats itself greedily: {base:?}");
    for config in [
        GenerationConfig { presence_penalty: 100.0, ..GenerationConfig::greedy(15) },
        GenerationConfig { frequency_penalty: 100.0, ..GenerationConfig::greedy(15) },
        GenerationConfig { repetition_penalty: 1e6, ..GenerationConfig::greedy(15) },
    ] {
        let out = run(&model, &[1], &config);
        assert!(repeats(&out) < repeats(&base), "{config:?}: {out:?} vs {base:?}");
    }
    let no_bigram = run(&model, &[1], &GenerationConfig { no_repeat_ngram_size: 2, ..GenerationConfig::greedy(15) });
    let context: Vec<u32> = std::iter::once(1).chain(no_bigram.iter().copied()).collect();
    let bigrams: Vec<_> = context.windows(2).collect();
    assert_eq!(bigrams.len(), bigrams.iter().collect::<std::collections::BTreeSet<_>>().len());
}

#[test]
fn temperature_and_top_p_narrow_the_distribution() {
    let model = model();
    let distinct = |config: GenerationConfig| {
        let firsts: std::collections::BTreeSet<u32> = (0..40)
            .map(|seed| run(&model, &[3, 4], &GenerationConfig { seed, max_new_tokens: 1, ..config.clone() })[0])
            .collect();
        firsts.len()
    };
    let hot = distinct(GenerationConfig::sampling(1, 5.0, 0));
    assert!(distinct(GenerationConfig::sampling(1, 0.05, 0)) < hot);
    assert!(distinct(GenerationConfig { top_p: 0.3, ..GenerationConfig::sampling(1, 5.0, 0) }) < hot);
    assert!(distinct(GenerationConfig { top_k: 2, ..GenerationConfig::sampling(1, 5.0, 0) }) <= 2);
}

#[test]
fn eos_max_tokens_and_cancel_end_the_output() {
    let model = model();
    let greedy = run(&model, &[1, 2], &GenerationConfig::greedy(10));
    let eos = greedy[3];
    let config = GenerationConfig { eos_token_id: vec![eos], ..GenerationConfig::greedy(10) };
    let out = model.generate_ids(&[1, 2], &config, |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(out.finish_reason, FinishReason::Eos);
    assert_eq!(out.ids(), greedy[..=greedy.iter().position(|&t| t == eos).unwrap()]);
    let mut seen = 0;
    let out = model
        .generate_ids(&[1, 2], &GenerationConfig::greedy(10), |_| {
            seen += 1;
            if seen == 4 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .unwrap();
    assert_eq!((out.tokens.len(), out.finish_reason), (4, FinishReason::Cancelled));
    assert_eq!(run(&model, &[1, 2], &GenerationConfig::greedy(0)), Vec::<u32>::new());
}

#[test]
fn long_prompts_are_truncated_from_the_left_and_generation_slides() {
    let model = model();
    let long: Vec<u32> = (0..30).map(|i| i % 40).collect();
    let out = run(&model, &long, &GenerationConfig::greedy(20));
    assert_eq!(out.len(), 20);
    assert_eq!(run(&model, &long[14..], &GenerationConfig::greedy(20)), out);
    let beams = run(&model, &long, &GenerationConfig { num_beams: 3, ..GenerationConfig::greedy(20) });
    assert_eq!(beams.len(), 20);
}

#[test]
fn top_logprobs_rank_the_alternatives() {
    let model = model();
    let config = GenerationConfig { top_logprobs: 5, ..GenerationConfig::greedy(3) };
    let out = model.generate_ids(&[7], &config, |_| ControlFlow::Continue(())).unwrap();
    for token in &out.tokens {
        assert_eq!(token.top_logprobs.len(), 5);
        assert_eq!(token.top_logprobs[0], (token.id, token.logprob));
        assert!(token.top_logprobs.windows(2).all(|w| w[0].1 >= w[1].1));
        let total: f64 = token.top_logprobs.iter().map(|(_, lp)| lp.exp()).sum();
        assert!(total <= 1.0 + 1e-9);
    }
}

#[test]
fn bad_requests_are_refused() {
    let model = model();
    let nothing = |_: &_| ControlFlow::Continue(());
    assert!(matches!(model.generate_ids(&[], &GenerationConfig::greedy(3), nothing), Err(Error::Input(_))));
    assert!(matches!(model.generate_ids(&[99], &GenerationConfig::greedy(3), nothing), Err(Error::Input(_))));
    for bad in [
        GenerationConfig { temperature: -1.0, ..GenerationConfig::default() },
        GenerationConfig { top_p: 0.0, ..GenerationConfig::default() },
        GenerationConfig { num_beams: 0, ..GenerationConfig::default() },
        GenerationConfig { num_beams: 2, do_sample: true, ..GenerationConfig::default() },
        GenerationConfig { stop: vec![String::new()], ..GenerationConfig::default() },
        // Knobs that multiply work are bounded before any work starts (10,000 beams once grew past 6 GB).
        GenerationConfig { num_beams: 10_000, ..GenerationConfig::default() },
        GenerationConfig { max_new_tokens: usize::MAX, ..GenerationConfig::default() },
        GenerationConfig { top_logprobs: 1000, ..GenerationConfig::default() },
        GenerationConfig { stop: vec!["x".into(); 100], ..GenerationConfig::default() },
    ] {
        assert!(matches!(model.generate_ids(&[1], &bad, nothing), Err(Error::Config(_))), "{bad:?}");
    }
}
