//! Fine-tuning every encoder family through `fine_tune` (the path of `sentiment --train
//! --encoder`): each fixture of `tests/fixtures/hf_encoders` (ELECTRA, RoBERTa, XLM-R, written by
//! `transformers`) and the tiny BERT learn a toy task from texts; a killed run resumes to the
//! uninterrupted run's weights; a LoRA run trains the adapters and the head only; the saved
//! folder reloads with the same logits and encodes as it was trained; verdicts do not depend on
//! the batch; bad input is refused with typed errors.
//!
//! `MALMOI_FINE_TUNE_ROUNDTRIP_DIR=DIR` keeps the saved folders with our logits
//! (`<family>/ours.json`) for a check in `transformers`.

use std::path::PathBuf;

use malmoi_tensor::Tensor;
use malmoi_tensor::nn::Module;
use malmoi_tokenize::tokenizer::Tokenizer;
use malmoi_train::{Checkpoints, LrSchedule, Session, TrainConfig, TrainLog, TrainStep, Trainer};
use malmoi_transformer::Error;
use malmoi_transformer::auto::SequenceClassifier;
use malmoi_transformer::bert::{Bert, BertForSequenceClassification, BertInput};
use malmoi_transformer::fine_tune::{
    ClassifierConfig, ClassifierTraining, Labeled, TextEncoder, read_labels, save_classifier,
};
use malmoi_transformer::lora::{LoraConfig, LoraModel};
use ndarray::{Array2, ArrayD};

const FAMILIES: [&str; 3] = ["electra", "roberta", "xlm_roberta"];
const LABELS: [&str; 2] = ["negative", "positive"];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn family(name: &str) -> PathBuf {
    fixture("hf_encoders").join(name)
}

/// The fixture's classifier (a fresh two-class head unless it stores one of that size; ELECTRA's
/// has three classes, of which the toy task uses two).
fn classifier(name: &str) -> SequenceClassifier {
    let labels = if name == "electra" { 3 } else { 2 };
    SequenceClassifier::from_pretrained(family(name), labels, 7).unwrap()
}

/// `n` reviews of filler words, positive (1) when they hold `최고`, negative when `최악`.
fn toy_texts(n: usize, offset: usize) -> Vec<(String, usize)> {
    const FILLER: [&str; 8] = ["영화", "배우", "스토리", "연기", "the", "movie", "음악", "장면"];
    (offset..offset + n)
        .map(|i| {
            let label = i % 2;
            let mut words: Vec<&str> = (0..3 + i % 4).map(|k| FILLER[(i * 7 + k * 3) % FILLER.len()]).collect();
            words.insert((i / 2) % words.len(), if label == 1 { "최고" } else { "최악" });
            (words.join(" "), label)
        })
        .collect()
}

fn encode(text: &TextEncoder, texts: &[(String, usize)]) -> Vec<Labeled> {
    let documents: Vec<&str> = texts.iter().map(|(t, _)| t.as_str()).collect();
    text.encode(&documents).unwrap().into_iter().zip(texts).map(|(e, (_, label))| e.labeled(*label)).collect()
}

fn run(max_steps: usize) -> TrainConfig {
    TrainConfig {
        max_steps,
        learning_rate: 3e-3,
        schedule: LrSchedule::Linear { warmup_steps: 3 },
        grad_clip: 1.0,
        eval_interval: 10,
        eval_at_start: true,
        seed: 11,
    }
}

/// Fine-tunes `model` on `train` under `trainer`, validated on `held_out`; returns the log and
/// every parameter's values.
fn fine_tune(
    model: &mut SequenceClassifier,
    train: &[Labeled],
    held_out: &[Labeled],
    trainer: &Trainer,
    lora: Option<LoraConfig>,
) -> (TrainLog, Vec<ArrayD<f32>>) {
    let config = ClassifierConfig { batch_size: 8, seed: 3, lora, ..ClassifierConfig::default() };
    let mut step = ClassifierTraining::new(model, train, held_out, config).unwrap();
    let mut optimizer = step.optimizer(trainer.config().learning_rate).unwrap();
    let log = trainer.fit(&mut step, &mut optimizer).unwrap();
    (log, values(step.model()))
}

fn values(model: &dyn Module) -> Vec<ArrayD<f32>> {
    model.named_parameters().iter().map(|(_, t)| t.to_array()).collect()
}

/// Logits of `examples` in inference mode.
fn logits(model: &mut SequenceClassifier, examples: &[Labeled]) -> Array2<f32> {
    model.set_training(false);
    let sequences: Vec<(Vec<u32>, Vec<u32>)> = examples.iter().map(|e| (e.ids.clone(), e.types.clone())).collect();
    let input = BertInput::pad(&sequences, model.encoder().config().pad_token_id).unwrap();
    let logits = malmoi_tensor::no_grad(|| model.forward(&input)).unwrap();
    logits.to_array().into_dimensionality().unwrap()
}

/// Where a test saves a classifier folder: a temporary one, or `name` under
/// `MALMOI_FINE_TUNE_ROUNDTRIP_DIR` when it is set (kept for the check in `transformers`).
enum SavedDir {
    Temporary(tempfile::TempDir),
    Kept(PathBuf),
}

impl SavedDir {
    fn path(&self) -> &std::path::Path {
        match self {
            SavedDir::Temporary(dir) => dir.path(),
            SavedDir::Kept(dir) => dir,
        }
    }
}

fn saved_dir(name: &str) -> SavedDir {
    match std::env::var_os("MALMOI_FINE_TUNE_ROUNDTRIP_DIR") {
        Some(root) => SavedDir::Kept(PathBuf::from(root).join(name)),
        None => SavedDir::Temporary(tempfile::tempdir().unwrap()),
    }
}

/// Writes the ids of `examples` and our `logits` of them as `ours.json` beside a kept folder.
fn keep_logits(dir: &SavedDir, examples: &[Labeled], logits: &Array2<f32>) {
    if let SavedDir::Kept(dir) = dir {
        let ids: Vec<&Vec<u32>> = examples.iter().map(|e| &e.ids).collect();
        let rows: Vec<Vec<f32>> = logits.outer_iter().map(|row| row.to_vec()).collect();
        let json = serde_json::json!({ "ids": ids, "logits": rows });
        std::fs::write(dir.join("ours.json"), json.to_string()).unwrap();
    }
}

/// `negative`, `positive`, then `other_i` up to `n` names.
fn label_names(n: usize) -> Vec<String> {
    (0..n).map(|i| LABELS.get(i).map_or_else(|| format!("other_{i}"), |name| name.to_string())).collect()
}

fn max_diff(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn every_family_learns_and_its_saved_folder_reloads_equal() {
    for name in FAMILIES {
        let mut model = classifier(name);
        let text = TextEncoder::for_classifier(family(name), &model, Some(12)).unwrap();
        let (train, held_out) = (encode(&text, &toy_texts(64, 0)), encode(&text, &toy_texts(24, 64)));
        let (log, _) = fine_tune(&mut model, &train, &held_out, &Trainer::new(run(40)), None);
        let (first_loss, last_loss) = log.first_and_last("val_loss").unwrap();
        let (first, last) = log.first_and_last("val_accuracy").unwrap();
        assert!(
            last_loss < first_loss - 0.1 && last >= 0.9,
            "{name}: val loss {first_loss} → {last_loss}, accuracy {first} → {last}"
        );

        let (dir, labels) = (saved_dir(name), label_names(model.num_labels()));
        let saved = dir.path();
        save_classifier(&mut model, &text, family(name), &labels, saved).unwrap();
        let mut reloaded = SequenceClassifier::from_pretrained(saved, labels.len(), 0).unwrap();
        let ours = logits(&mut model, &held_out);
        assert_eq!(ours, logits(&mut reloaded, &held_out), "{name}: the saved folder gives the same logits");
        assert_eq!(read_labels(saved, labels.len()).unwrap(), labels);
        let text_again = TextEncoder::for_classifier(saved, &reloaded, None).unwrap();
        assert_eq!(text_again.max_len(), 12, "{name}: the folder keeps the maximum length");
        assert_eq!(encode(&text_again, &toy_texts(24, 64)), held_out);
        keep_logits(&dir, &held_out, &ours);
    }
}

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_weights() {
    let model = || classifier("roberta");
    let text = TextEncoder::for_classifier(family("roberta"), &model(), Some(12)).unwrap();
    let (train, held_out) = (encode(&text, &toy_texts(40, 0)), encode(&text, &toy_texts(8, 40)));
    let (whole_log, whole) = fine_tune(&mut model(), &train, &held_out, &Trainer::new(run(20)), None);

    let dir = tempfile::tempdir().unwrap();
    let session = Session { checkpoints: Some(Checkpoints::new(dir.path())), ..Session::default() };
    let killed = Trainer::new(run(20)).with_session(Session { stop_at_step: Some(13), ..session.clone() });
    let (partial, _) = fine_tune(&mut model(), &train, &held_out, &killed, None);
    assert_eq!(partial.steps.len(), 13);
    let (log, resumed) = fine_tune(&mut model(), &train, &held_out, &Trainer::new(run(20)).with_session(session), None);
    assert_eq!(resumed, whole, "dropout included, the resumed weights equal the uninterrupted ones");
    assert_eq!(log.steps, whole_log.steps);
}

/// Parameter names of the head (what trains fully in a LoRA run besides the adapters).
fn is_head(name: &str) -> bool {
    name.starts_with("classifier.")
}

#[test]
fn a_lora_run_trains_the_adapters_and_the_head_only() {
    // ELECTRA (a two-layer head over an embedding projection) and BERT (a linear head over the
    // pooler, which belongs to the frozen base)
    let bert = || {
        let bert = Bert::from_pretrained(fixture("bert-tiny")).unwrap();
        SequenceClassifier::Bert(BertForSequenceClassification::new(bert, 2, 5).unwrap())
    };
    let electra_text = TextEncoder::for_classifier(family("electra"), &classifier("electra"), Some(12)).unwrap();
    let bert_examples = |n: usize, offset: usize| -> Vec<Labeled> {
        toy_texts(n, offset)
            .into_iter()
            .map(|(text, label)| {
                let body = text.bytes().map(|b| 4 + u32::from(b) % 250);
                let ids: Vec<u32> = std::iter::once(1).chain(body.take(30)).chain([2]).collect();
                Labeled { types: vec![0; ids.len()], ids, label }
            })
            .collect()
    };
    let no_files = tempfile::tempdir().unwrap();
    let bert_text = TextEncoder::new(bare_tokenizer(), Some(12), 64).unwrap();
    let electra = (encode(&electra_text, &toy_texts(48, 0)), encode(&electra_text, &toy_texts(16, 48)));
    let cases = [
        ("electra", classifier("electra"), electra, &electra_text, family("electra")),
        ("bert", bert(), (bert_examples(48, 0), bert_examples(16, 48)), &bert_text, no_files.path().to_path_buf()),
    ];
    for (name, mut model, (train, held_out), text, tokenizer_dir) in cases {
        let before: Vec<(String, ArrayD<f32>)> =
            model.named_parameters().into_iter().map(|(n, t)| (n, t.to_array())).collect();
        let lora = LoraConfig { r: 4, lora_alpha: 8.0, ..LoraConfig::default() };
        let (log, _) = fine_tune(&mut model, &train, &held_out, &Trainer::new(run(30)), Some(lora));
        let (first, last) = log.first_and_last("val_loss").unwrap();
        assert!(last < first, "{name}: the held-out loss moves with LoRA: {first} → {last}");
        let after: Vec<(String, Tensor)> = model.named_parameters();
        let adapters: Vec<&String> = after.iter().map(|(n, _)| n).filter(|n| n.contains(".lora_")).collect();
        assert!(!adapters.is_empty() && adapters.iter().all(|n| n.contains("query") || n.contains("value")));
        for (name_after, tensor) in &after {
            let old = before.iter().find(|(n, _)| n == name_after).map(|(_, v)| v);
            match old {
                // a base weight (embeddings, norms, linear layers, BERT's pooler): untouched
                Some(old) if !is_head(name_after) => {
                    assert_eq!(&tensor.to_array(), old, "{name}: {name_after} is frozen");
                    assert!(!tensor.requires_grad());
                }
                Some(old) => assert_ne!(&tensor.to_array(), old, "{name}: the head {name_after} trains"),
                None => assert!(name_after.contains(".lora_"), "{name}: {name_after}"),
            }
        }
        let lora_b = after.iter().find(|(n, _)| n.ends_with("lora_B.weight")).unwrap();
        assert!(lora_b.1.to_array().iter().any(|v| *v != 0.0), "{name}: the adapters train (B starts at zero)");

        // merged at saving, the folder computes what the adapted model computed
        let adapted = logits(&mut model, &held_out);
        let (dir, labels) = (saved_dir(&format!("{name}_lora")), label_names(model.num_labels()));
        save_classifier(&mut model, text, &tokenizer_dir, &labels, dir.path()).unwrap();
        assert!(model.encoder().adapted_modules().is_empty());
        let mut reloaded = SequenceClassifier::from_pretrained(dir.path(), labels.len(), 0).unwrap();
        let merged = logits(&mut reloaded, &held_out);
        let diff = max_diff(&adapted, &merged);
        assert!(diff < 1e-5, "{name}: merged and saved, the logits move by {diff}");
        keep_logits(&dir, &held_out, &merged);
    }
}

#[test]
fn verdicts_do_not_depend_on_the_batch_or_the_mode() {
    for name in FAMILIES {
        let mut model = classifier(name);
        let text = TextEncoder::for_classifier(family(name), &model, None).unwrap();
        let examples = encode(&text, &toy_texts(6, 0));
        let sequences: Vec<(Vec<u32>, Vec<u32>)> = examples.iter().map(|e| (e.ids.clone(), e.types.clone())).collect();
        let pad_id = model.encoder().config().pad_token_id;
        model.set_training(true);
        let batch = model.predict_proba(&BertInput::pad(&sequences, pad_id).unwrap()).unwrap();
        assert_eq!(
            batch,
            model.predict_proba(&BertInput::pad(&sequences, pad_id).unwrap()).unwrap(),
            "{name}: no dropout"
        );
        for (row, sequence) in sequences.iter().enumerate() {
            let alone = model.predict_proba(&BertInput::pad(std::slice::from_ref(sequence), pad_id).unwrap()).unwrap();
            let diff = alone.row(0).iter().zip(batch.row(row)).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(diff < 1e-6, "{name}: sequence {row} alone and in the batch differ by {diff}");
        }
        assert!(model.encoder().is_training(), "{name}: the mode is restored");
    }
}

/// A word-level tokenizer without a post-processor, as `examples/bert.rs`'s BPE is.
fn bare_tokenizer() -> Tokenizer {
    let json = r#"{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [
        {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
        {"id": 1, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
        {"id": 2, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": {"[PAD]": 0, "[CLS]": 1, "[SEP]": 2, "[UNK]": 3, "good": 4, "bad": 5},
        "unk_token": "[UNK]"}}"#;
    Tokenizer::from_json_str(json).unwrap()
}

#[test]
fn long_texts_are_cut_and_counted() {
    // a tokenizer's post-processor frames the text ([CLS] … [SEP] for ELECTRA's WordPiece)
    let model = classifier("electra");
    let text = TextEncoder::for_classifier(family("electra"), &model, Some(6)).unwrap();
    let encoded = text.encode(&["영화 배우 스토리 연기 음악 장면 최고", "최고"]).unwrap();
    let (cls, sep) = (encoded[1].ids[0], *encoded[1].ids.last().unwrap());
    assert!(encoded[0].truncated && !encoded[1].truncated);
    assert_eq!(encoded[0].ids.len(), 6);
    assert_eq!((encoded[0].ids[0], encoded[0].ids[5]), (cls, sep), "the closing token is kept");
    // without one, [CLS] and [SEP] are put around it
    let bare = TextEncoder::new(bare_tokenizer(), Some(4), 10).unwrap();
    let encoded = bare.encode(&["good bad good", "bad", ""]).unwrap();
    assert_eq!(encoded[0].ids, [1, 4, 5, 2]);
    assert!(encoded[0].truncated);
    assert_eq!((encoded[1].ids.as_slice(), encoded[1].truncated), ([1, 5, 2].as_slice(), false));
    assert_eq!(encoded[2].ids, [1, 2], "an empty text is the special tokens alone");
    // saved with a classifier, the tokenizer frames texts itself and keeps the maximum length
    let config: malmoi_transformer::BertConfig = serde_json::from_str(
        r#"{"vocab_size": 6, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 16, "max_position_embeddings": 10}"#,
    )
    .unwrap();
    let mut model =
        SequenceClassifier::Bert(BertForSequenceClassification::new(Bert::new(config, 0).unwrap(), 2, 0).unwrap());
    let (no_files, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    save_classifier(&mut model, &bare, no_files.path(), &LABELS, dir.path()).unwrap();
    let reloaded = SequenceClassifier::from_pretrained(dir.path(), 2, 0).unwrap();
    let again = TextEncoder::for_classifier(dir.path(), &reloaded, None).unwrap();
    assert_eq!(again.max_len(), 4);
    assert_eq!(again.encode(&["good bad good", "bad", ""]).unwrap(), encoded);
    assert_eq!(again.tokenizer().encode_ids("bad", true).unwrap(), [1, 5, 2], "the post-processor frames it");
}

#[test]
fn bad_input_is_refused_with_typed_errors() {
    // a stored head of another number of classes
    let three = SequenceClassifier::from_pretrained(family("electra"), 2, 0).unwrap_err();
    assert!(matches!(&three, Error::Config(m) if m.contains("3 labels, 2 asked")), "{three}");
    // a tokenizer with ids the model has no embedding for
    let small: malmoi_transformer::BertConfig = serde_json::from_str(
        r#"{"vocab_size": 100, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 16, "max_position_embeddings": 16}"#,
    )
    .unwrap();
    let small =
        SequenceClassifier::Bert(BertForSequenceClassification::new(Bert::new(small, 0).unwrap(), 2, 0).unwrap());
    let mismatch = TextEncoder::for_classifier(family("electra"), &small, None).unwrap_err();
    assert!(matches!(&mismatch, Error::Config(m) if m.contains("vocab_size")), "{mismatch}");
    // maximum lengths the model cannot take or that leave no room for text
    assert!(matches!(TextEncoder::new(bare_tokenizer(), Some(11), 10), Err(Error::Config(_))));
    assert!(matches!(TextEncoder::new(bare_tokenizer(), Some(2), 10), Err(Error::Config(_))));
    // examples longer than the positions, or labelled outside the head
    let mut model = classifier("roberta");
    let long = vec![Labeled { ids: vec![5; 65], types: vec![0; 65], label: 0 }];
    let config = ClassifierConfig::default();
    assert!(matches!(ClassifierTraining::new(&mut model, &long, &[], config.clone()), Err(Error::Input(_))));
    let third = vec![Labeled { ids: vec![0, 5, 2], types: vec![0; 3], label: 2 }];
    assert!(matches!(ClassifierTraining::new(&mut model, &third, &[], config), Err(Error::Input(_))));
    // label names that do not match the head
    let text = TextEncoder::for_classifier(family("roberta"), &model, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let names = save_classifier(&mut model, &text, family("roberta"), &["only one"], dir.path()).unwrap_err();
    assert!(matches!(names, Error::Config(_)));
}
