//! A GPT-2 checkpoint written by `transformers` (benches/reference/hf_fixtures.py): our
//! logits, hidden states, loss and generations equal theirs.

mod common;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;

use malmoi_tensor::checkpoint;
use malmoi_transformer::generation::GenerationConfig;
use malmoi_transformer::{Gpt, IGNORE_INDEX};
use ndarray::{Array2, ArrayD, Ix2, s};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The fixture's tensors, floats and integer ids alike, as f32.
fn expected() -> BTreeMap<String, ArrayD<f32>> {
    common::expected_tensors(fixture("gpt2-tiny/expected.safetensors"))
}

fn max_diff(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn ids(a: &ArrayD<f32>) -> Array2<u32> {
    a.mapv(|v| v as u32).into_dimensionality::<Ix2>().unwrap()
}

/// Row 0 is a full sequence; row 1 is left-padded in the fixture, so its valid positions must
/// equal our pass over the same tokens alone.
#[test]
fn logits_and_hidden_states_equal_transformers() {
    let model = Gpt::from_pretrained(fixture("gpt2-tiny")).unwrap();
    let expected = expected();
    let input = ids(&expected["input_ids"]);
    let full = input.slice(s![0..1, ..]).to_owned();
    let (logits, _) = model.forward(&full, None).unwrap();
    let want = expected["logits"].slice(s![0..1, .., ..]).to_owned().into_dyn();
    assert!(max_diff(&logits.to_array(), &want) < 1e-4);
    let hidden = model.hidden_states(&full).unwrap().to_array();
    let want = expected["last_hidden_state"].slice(s![0..1, .., ..]).to_owned().into_dyn();
    assert!(max_diff(&hidden, &want) < 1e-4);

    let valid = input.slice(s![1..2, 3..]).to_owned();
    let (logits, _) = model.forward(&valid, None).unwrap();
    let want = expected["logits"].slice(s![1..2, 3.., ..]).to_owned().into_dyn();
    assert!(max_diff(&logits.to_array(), &want) < 1e-4);
}

/// Our loss equals the next-token cross-entropy computed from `transformers`' logits (row 0;
/// the fixture's batch loss also counts a left-padding position, which has no counterpart
/// here).
#[test]
fn loss_equals_cross_entropy_of_transformers_logits() {
    let model = Gpt::from_pretrained(fixture("gpt2-tiny")).unwrap();
    let expected = expected();
    let x = ids(&expected["input_ids"]).slice(s![0..1, ..]).to_owned();
    let mut y = Array2::from_elem(x.dim(), IGNORE_INDEX);
    y.slice_mut(s![.., ..7]).assign(&x.slice(s![.., 1..]));
    let ours = model.forward(&x, Some(&y)).unwrap().1.unwrap().item().unwrap() as f64;
    let logits = &expected["logits"];
    let want: f64 = (0..7)
        .map(|t| {
            let row: Vec<f64> = (0..300).map(|v| logits[[0, t, v]] as f64).collect();
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = row.iter().map(|l| (l - max).exp()).sum::<f64>().ln() + max;
            log_sum - row[x[[0, t + 1]] as usize]
        })
        .sum::<f64>()
        / 7.0;
    assert!((ours - want).abs() < 1e-4, "{ours} vs {want}");
}

/// Greedy decoding, with a repetition penalty and with no-repeat n-grams, and beam search with
/// every length penalty and stopping rule, give `generate`'s sequences.
#[test]
fn generations_equal_transformers() {
    let model = Gpt::from_pretrained(fixture("gpt2-tiny")).unwrap();
    let text = std::fs::read_to_string(fixture("gpt2-tiny/generation.json")).unwrap();
    let spec: Value = serde_json::from_str(&text).unwrap();
    let prompt: Vec<u32> = spec["prompt"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
    for run in spec["runs"].as_array().unwrap() {
        let params = &run["params"];
        let config = GenerationConfig {
            max_new_tokens: spec["max_new_tokens"].as_u64().unwrap() as usize,
            eos_token_id: params["eos_token_id"].as_u64().map(|id| id as u32).into_iter().collect(),
            repetition_penalty: params["repetition_penalty"].as_f64().unwrap_or(1.0) as f32,
            no_repeat_ngram_size: params["no_repeat_ngram_size"].as_u64().unwrap_or(0) as usize,
            num_beams: params["num_beams"].as_u64().unwrap_or(1) as usize,
            length_penalty: params["length_penalty"].as_f64().unwrap_or(1.0) as f32,
            early_stopping: params["early_stopping"].as_bool().unwrap_or(false),
            ..GenerationConfig::default()
        };
        let out = model.generate_ids(&prompt, &config, |_| ControlFlow::Continue(())).unwrap();
        let best: Vec<u32> =
            run["sequences"][0].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let mut ours = prompt.clone();
        ours.extend(out.ids());
        assert_eq!(ours, best[..ours.len()], "{}", run["name"]);
        if let Some(sum) = run["sum_logprobs"].get(0).and_then(Value::as_f64) {
            let ours: f64 = out.tokens.iter().map(|t| t.logprob).sum();
            assert!((ours - sum).abs() < 1e-3, "{}: sum of log-probabilities {ours} vs {sum}", run["name"]);
        }
    }
}

/// A model saved by us has the names and layouts `transformers` reads: the weights we write
/// equal the fixture's tensors byte for byte after a load/save round trip.
#[test]
fn save_writes_the_transformers_layout() {
    let model = Gpt::from_pretrained(fixture("gpt2-tiny")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save_pretrained(dir.path()).unwrap();
    let ours = checkpoint::load(dir.path().join("model.safetensors")).unwrap();
    let theirs = checkpoint::load(fixture("gpt2-tiny/model.safetensors")).unwrap();
    let theirs_names: Vec<&str> = theirs.names().into_iter().filter(|n| !n.ends_with(".attn.bias")).collect();
    assert_eq!(ours.names(), theirs_names);
    for name in ours.names() {
        assert_eq!(ours.get(name).unwrap(), theirs.get(name).unwrap(), "{name}");
    }
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model_type"], "gpt2");
    assert_eq!(config["architectures"][0], "GPT2LMHeadModel");
    assert_eq!(config["n_positions"], 64);
}
