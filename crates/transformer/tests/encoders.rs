//! ELECTRA, RoBERTa and XLM-R classifiers written by `transformers`
//! (benches/reference/hf_encoder_fixtures.py): our tokenization, hidden states, pooled output and
//! logits equal theirs, inference does not depend on the batch, saved folders load back (and in
//! `transformers`: set `MALMOI_ENCODER_ROUNDTRIP_DIR` and run the script's `--check`), and bad
//! folders are refused with typed errors.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use malmoi_tensor::nn::Module;
use malmoi_tokenize::tokenizer::Tokenizer;
use malmoi_transformer::auto::{EncoderFamily, SequenceClassifier, read_encoder_family};
use malmoi_transformer::bert::{BertInput, PositionIds};
use malmoi_transformer::electra::{ElectraForSequenceClassification, ElectraModel};
use malmoi_transformer::hf::{copy_tokenizer_files, read_tokenizer};
use malmoi_transformer::lora::{LoraConfig, LoraModel, TargetModules};
use malmoi_transformer::roberta::{
    RobertaForSequenceClassification, RobertaModel, XLMRobertaForSequenceClassification,
};
use malmoi_transformer::{Error, Gpt, GptConfig};
use ndarray::{Array2, ArrayD, Ix2};
use serde_json::Value;

const FIXTURES: [&str; 3] = ["electra", "roberta", "xlm_roberta"];
const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf_encoders").join(name)
}

fn expected_json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name).join("expected.json")).unwrap()).unwrap()
}

fn expected(name: &str) -> BTreeMap<String, ArrayD<f32>> {
    common::expected_tensors(fixture(name).join("expected.safetensors"))
}

fn texts(name: &str) -> Vec<String> {
    expected_json(name)["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect()
}

/// The fixture's texts encoded by `tokenizer` (special tokens added) and right-padded.
fn encode(tokenizer: &Tokenizer, texts: &[String], pad_id: u32) -> BertInput {
    BertInput::from_encodings(&tokenizer.encode_batch(texts, true).unwrap(), pad_id).unwrap()
}

/// The fixture's classifier with the batch of its texts, encoded by our tokenizer.
fn classifier_and_input(name: &str) -> (SequenceClassifier, BertInput) {
    let num_labels = expected_json(name)["num_labels"].as_u64().unwrap() as usize;
    let model = SequenceClassifier::from_pretrained(fixture(name), num_labels, 0).unwrap();
    let config = model.encoder().config();
    let tokenizer = read_tokenizer(fixture(name), config.vocab_size).unwrap();
    let input = encode(&tokenizer, &texts(name), config.pad_token_id);
    (model, input)
}

fn ids(a: &ArrayD<f32>) -> Array2<u32> {
    a.mapv(|v| v as u32).into_dimensionality::<Ix2>().unwrap()
}

/// Largest difference over the positions `mask` keeps (padding states are read by nothing).
fn max_diff_masked(ours: &ArrayD<f32>, theirs: &ArrayD<f32>, mask: &Array2<bool>) -> f32 {
    assert_eq!(ours.shape(), theirs.shape());
    let kept = ours.indexed_iter().zip(theirs.iter()).filter(|((index, _), _)| mask[[index[0], index[1]]]);
    kept.map(|((_, a), b)| (a - b).abs()).fold(0.0, f32::max)
}

fn max_diff(ours: &ArrayD<f32>, theirs: &ArrayD<f32>) -> f32 {
    assert_eq!(ours.shape(), theirs.shape());
    ours.iter().zip(theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
}

/// A copy of the fixture `name` (model and tokenizer files) that a test may alter.
fn copy_of(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture(name).join(file), dir.path().join(file)).unwrap();
    }
    copy_tokenizer_files(fixture(name), dir.path()).unwrap();
    dir
}

fn edit_config(dir: &Path, edit: impl FnOnce(&mut Value)) {
    let path = dir.join("config.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(path, config.to_string()).unwrap();
}

#[test]
fn tokenizers_and_logits_equal_transformers() {
    for name in FIXTURES {
        let expected = expected(name);
        let (model, input) = classifier_and_input(name);
        assert_eq!(input.input_ids, ids(&expected["input_ids"]), "{name}: WordPiece / Unigram ids");
        assert_eq!(input.token_type_ids, ids(&expected["token_type_ids"]), "{name}");
        assert_eq!(input.attention_mask, ids(&expected["attention_mask"]).mapv(|m| m == 1), "{name}");
        let logits = model.forward(&input).unwrap().to_array();
        let worst = max_diff(&logits, &expected["logits"]);
        assert!(worst < TOLERANCE, "{name}: logits differ by {worst}");
    }
}

#[test]
fn hidden_states_and_pooled_output_equal_transformers() {
    let (electra, input) = classifier_and_input("electra");
    let SequenceClassifier::Electra(electra) = electra else { panic!("an ELECTRA classifier") };
    let encoder = &electra.model.encoder;
    assert_eq!(encoder.embeddings_project.as_ref().map(|p| (p.in_features(), p.out_features())), Some((16, 32)));
    let out = electra.model.forward(&input).unwrap();
    assert!(out.pooler_output.is_none());
    let expected_electra = expected("electra");
    let worst = max_diff_masked(
        &out.last_hidden_state.to_array(),
        &expected_electra["last_hidden_state"],
        &input.attention_mask,
    );
    assert!(worst < TOLERANCE, "electra hidden states differ by {worst}");

    for name in ["roberta", "xlm_roberta"] {
        let expected = expected(name);
        let model = RobertaModel::from_pretrained(fixture(name)).unwrap();
        assert_eq!(model.encoder.positions(), PositionIds::AfterPadding { padding_idx: 1 });
        let input = classifier_and_input(name).1;
        let out = model.forward(&input).unwrap();
        let worst =
            max_diff_masked(&out.last_hidden_state.to_array(), &expected["last_hidden_state"], &input.attention_mask);
        assert!(worst < TOLERANCE, "{name} hidden states differ by {worst}");
        // roberta's folder stores a pooler, as roberta-base does; xlm_roberta's classifier none
        match expected.get("pooler_output") {
            Some(theirs) => assert!(max_diff(&out.pooler_output.unwrap().to_array(), theirs) < TOLERANCE, "{name}"),
            None => assert!(out.pooler_output.is_none(), "{name}"),
        }
    }
}

/// A text's probabilities are the same alone and in a padded batch, even in training mode.
#[test]
fn inference_does_not_depend_on_the_batch() {
    for name in FIXTURES {
        let (mut model, batch) = classifier_and_input(name);
        model.set_training(true);
        let batched = model.predict_proba(&batch).unwrap();
        let pad = model.encoder().config().pad_token_id;
        let tokenizer = read_tokenizer(fixture(name), model.encoder().config().vocab_size).unwrap();
        for (row, text) in texts(name).iter().enumerate() {
            let alone = model.predict_proba(&encode(&tokenizer, std::slice::from_ref(text), pad)).unwrap();
            let worst = alone.row(0).iter().zip(batched.row(row)).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(worst < 1e-5, "{name}, text {row}: {worst}");
        }
    }
}

#[test]
fn saved_classifiers_reload_equal() {
    for (name, model_type, architecture) in [
        ("electra", "electra", "ElectraForSequenceClassification"),
        ("roberta", "roberta", "RobertaForSequenceClassification"),
        ("xlm_roberta", "xlm-roberta", "XLMRobertaForSequenceClassification"),
    ] {
        let (model, input) = classifier_and_input(name);
        let dir = tempfile::tempdir().unwrap();
        model.save_pretrained(dir.path()).unwrap();
        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap()).unwrap();
        assert_eq!(
            (config["model_type"].as_str(), config["architectures"][0].as_str()),
            (Some(model_type), Some(architecture))
        );
        assert_eq!(config["id2label"].as_object().unwrap().len(), model.num_labels());
        let loaded = SequenceClassifier::from_pretrained(dir.path(), model.num_labels(), 1).unwrap();
        assert_eq!(loaded.family(), model.family());
        for ((ours, a), (theirs, b)) in model.named_parameters().iter().zip(loaded.named_parameters()) {
            assert_eq!(ours, &theirs);
            assert_eq!(*a.data(), *b.data(), "{name}: {ours}");
        }
        assert_eq!(loaded.forward(&input).unwrap().to_array(), model.forward(&input).unwrap().to_array(), "{name}");
    }
    // the base models too: ELECTRA's projection, RoBERTa's pooler
    let roberta = RobertaModel::from_pretrained(fixture("roberta")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    roberta.save_pretrained(dir.path()).unwrap();
    let again = RobertaModel::from_pretrained(dir.path()).unwrap();
    assert!(again.encoder.pooler.is_some());
    assert_eq!(again.num_parameters(), roberta.num_parameters());
    let electra = ElectraModel::from_pretrained(fixture("electra")).unwrap();
    electra.save_pretrained(dir.path()).unwrap();
    assert_eq!(ElectraModel::from_pretrained(dir.path()).unwrap().num_parameters(), electra.num_parameters());
}

/// Each encoder with a fresh 2-label head, saved with its tokenizer where `transformers` can
/// load it: `MALMOI_ENCODER_ROUNDTRIP_DIR=DIR` keeps the folders and our logits
/// (`DIR/<name>.safetensors`) for `hf_encoder_fixtures.py --check DIR`.
#[test]
fn new_heads_save_for_transformers() {
    let kept = std::env::var_os("MALMOI_ENCODER_ROUNDTRIP_DIR").map(PathBuf::from);
    let temporary = tempfile::tempdir().unwrap();
    let root = kept.clone().unwrap_or_else(|| temporary.path().to_path_buf());
    for (seed, name) in FIXTURES.iter().enumerate() {
        let dir = root.join(name);
        let model = match read_encoder_family(fixture(name)).unwrap() {
            EncoderFamily::Electra => SequenceClassifier::Electra(
                ElectraForSequenceClassification::new(
                    ElectraModel::from_pretrained(fixture(name)).unwrap(),
                    2,
                    seed as u64,
                )
                .unwrap(),
            ),
            EncoderFamily::Roberta => SequenceClassifier::Roberta(
                RobertaForSequenceClassification::new(
                    RobertaModel::from_pretrained(fixture(name)).unwrap(),
                    2,
                    seed as u64,
                )
                .unwrap(),
            ),
            EncoderFamily::Bert => unreachable!("no BERT fixture here"),
        };
        assert!(model.encoder().pooler.is_none(), "{name}: the classifier reads <s>, not the pooler");
        model.save_pretrained(&dir).unwrap();
        assert!(copy_tokenizer_files(fixture(name), &dir).unwrap().contains(&"tokenizer.json".to_string()));
        let tokenizer = read_tokenizer(&dir, model.encoder().config().vocab_size).unwrap();
        let input = encode(&tokenizer, &texts(name), model.encoder().config().pad_token_id);
        let logits = model.forward(&input).unwrap().to_array();
        let reloaded = SequenceClassifier::from_pretrained(&dir, 2, 7).unwrap();
        assert_eq!(reloaded.forward(&input).unwrap().to_array(), logits, "{name}: the stored head, not a fresh one");
        let as_f32 = |a: &Array2<u32>| a.mapv(|v| v as f32).into_dyn();
        let tensors = [
            ("input_ids", as_f32(&input.input_ids)),
            ("token_type_ids", as_f32(&input.token_type_ids)),
            ("attention_mask", input.attention_mask.mapv(|m| f32::from(u8::from(m))).into_dyn()),
            ("logits", logits),
        ];
        let path = root.join(format!("{name}.safetensors"));
        malmoi_tensor::checkpoint::save(path, tensors.iter().map(|(n, a)| (*n, a)), &Default::default()).unwrap();
    }
    if let Some(dir) = kept {
        eprintln!("run: python3 benches/reference/hf_encoder_fixtures.py --check {}", dir.display());
    }
}

/// A pre-trained encoder folder (no head) becomes a classifier with a fresh head drawn from
/// the seed; the same seed draws the same head.
#[test]
fn a_headless_folder_gets_a_seeded_head() {
    let dir = tempfile::tempdir().unwrap();
    XLMRobertaForSequenceClassification::from_pretrained(fixture("xlm_roberta"), 2)
        .unwrap()
        .model
        .save_pretrained(dir.path())
        .unwrap();
    let input = classifier_and_input("xlm_roberta").1;
    let first = SequenceClassifier::from_pretrained(dir.path(), 3, 5).unwrap();
    let again = SequenceClassifier::from_pretrained(dir.path(), 3, 5).unwrap();
    let other = SequenceClassifier::from_pretrained(dir.path(), 3, 6).unwrap();
    assert_eq!(first.num_labels(), 3);
    let logits = |model: &SequenceClassifier| model.forward(&input).unwrap().to_array();
    assert_eq!(logits(&first), logits(&again));
    assert_ne!(logits(&first), logits(&other));
}

#[test]
fn a_head_of_another_number_of_labels_is_refused() {
    let refused = |result: Result<(), Error>, stored: usize, asked: usize| matches!(result, Err(Error::Config(reason)) if reason.contains(&format!("{stored} labels, {asked} asked")));
    assert!(refused(ElectraForSequenceClassification::from_pretrained(fixture("electra"), 2).map(|_| ()), 3, 2));
    assert!(refused(SequenceClassifier::from_pretrained(fixture("roberta"), 3, 0).map(|_| ()), 2, 3));
    assert!(refused(RobertaForSequenceClassification::from_pretrained(fixture("xlm_roberta"), 5).map(|_| ()), 2, 5));
    let zero = ElectraForSequenceClassification::from_pretrained(fixture("electra"), 0);
    assert!(matches!(zero, Err(Error::Config(reason)) if reason.contains("at least one label")));
    let model = ElectraModel::from_pretrained(fixture("electra")).unwrap();
    assert!(matches!(ElectraForSequenceClassification::new(model, 0, 0), Err(Error::Config(_))));
}

/// A tokenizer with ids past the model's embedding table (another checkpoint's) is refused.
#[test]
fn a_tokenizer_larger_than_the_vocabulary_is_refused() {
    let dir = copy_of("xlm_roberta");
    let other = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tokenize/tests/fixtures/hf_tokenizers/xlmr_unigram");
    std::fs::copy(other.join("tokenizer.json"), dir.path().join("tokenizer.json")).unwrap();
    let model = SequenceClassifier::from_pretrained(dir.path(), 2, 0).unwrap();
    let vocab_size = model.encoder().config().vocab_size;
    let result = read_tokenizer(dir.path(), vocab_size);
    assert!(
        matches!(result, Err(Error::Config(reason)) if reason.contains("ids up to 2999") && reason.contains("vocab_size"))
    );
    assert!(read_tokenizer(fixture("xlm_roberta"), vocab_size).is_ok());
    assert!(matches!(read_tokenizer(fixture("xlm_roberta"), vocab_size - 1), Err(Error::Config(_))));
    assert!(matches!(read_tokenizer(tempfile::tempdir().unwrap().path(), vocab_size), Err(Error::Tokenizer(_))));
}

#[test]
fn keys_that_change_the_computation_are_refused_by_name() {
    let cases: [(&str, &str, Value); 5] = [
        ("electra", "position_embedding_type", "relative_key".into()),
        ("electra", "is_decoder", true.into()),
        ("roberta", "rope_scaling", serde_json::json!({"type": "linear", "factor": 2.0})),
        ("xlm_roberta", "embedding_size", 16.into()),
        ("xlm_roberta", "model_type", "bert".into()),
    ];
    for (name, key, value) in cases {
        let dir = copy_of(name);
        edit_config(dir.path(), |config| config[key] = value.clone());
        let refused =
            |result: Result<(), Error>| matches!(result, Err(Error::UnsupportedConfigKey { key: k, .. }) if k == key);
        let classifier = match name {
            "electra" => ElectraForSequenceClassification::from_pretrained(dir.path(), 3).map(|_| ()),
            _ => RobertaForSequenceClassification::from_pretrained(dir.path(), 2).map(|_| ()),
        };
        assert!(refused(classifier), "{name}: {key} = {value}");
        if key != "model_type" {
            assert!(refused(SequenceClassifier::from_pretrained(dir.path(), 2, 0).map(|_| ())), "{name}: {key}");
        }
    }
    // metadata and ELECTRA's multiple-choice keys change nothing here
    let dir = copy_of("electra");
    edit_config(dir.path(), |config| {
        config["author"] = "someone".into();
        config["summary_type"] = "last".into();
        config["position_embedding_type"] = "absolute".into();
    });
    assert!(ElectraForSequenceClassification::from_pretrained(dir.path(), 3).is_ok());
    // a decoder is not an encoder
    let gpt = tempfile::tempdir().unwrap();
    let config = GptConfig { vocab_size: 20, block_size: 8, n_layer: 1, n_head: 2, n_embd: 8, ..GptConfig::default() };
    Gpt::new(config, 0).unwrap().save_pretrained(gpt.path()).unwrap();
    let not_an_encoder = SequenceClassifier::from_pretrained(gpt.path(), 2, 0);
    assert!(matches!(not_an_encoder, Err(Error::UnsupportedConfigKey { key, .. }) if key == "model_type"));
}

/// RoBERTa's 66 positions take 64 tokens: positions start after the padding id 1.
#[test]
fn roberta_inputs_longer_than_its_positions_are_refused() {
    let model = RobertaForSequenceClassification::from_pretrained(fixture("roberta"), 2).unwrap();
    let input = |len: usize| BertInput::pad(&[(vec![5; len], vec![0; len])], 1).unwrap();
    assert!(model.forward(&input(64)).is_ok());
    assert!(matches!(model.forward(&input(65)), Err(Error::Input(reason)) if reason.contains("64 positions")));
}

/// LoRA adapters go on the encoder under the base model's names (ELECTRA's projection too); a
/// fresh adapter changes nothing until trained.
#[test]
fn lora_adapts_the_family_encoders() {
    let (model, input) = classifier_and_input("electra");
    let SequenceClassifier::Electra(mut model) = model else { panic!("an ELECTRA classifier") };
    let before = model.forward(&input).unwrap().to_array();
    let targets = Some(TargetModules::names(["embeddings_project", "query", "value"]));
    let adapted =
        model.model.add_lora(&LoraConfig { r: 2, target_modules: targets, ..LoraConfig::default() }, 0).unwrap();
    assert_eq!(adapted[..2], ["embeddings_project", "encoder.layer.0.attention.self.query"]);
    assert_eq!(adapted.len(), 5);
    assert_eq!(model.forward(&input).unwrap().to_array(), before);
    let roberta = RobertaModel::from_pretrained(fixture("roberta")).unwrap();
    assert_eq!(roberta.default_target_modules(), TargetModules::names(["query", "value"]));
}
