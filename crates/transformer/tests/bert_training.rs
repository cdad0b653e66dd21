//! BERT pre-training (masked LM + next sentence) and fine-tuning on the shared engine: each
//! learns, and a killed run resumes to the uninterrupted run's weights and log.

use malmoi_train::{Checkpoints, LrSchedule, Session, TrainConfig, TrainLog, TrainStep, Trainer};
use malmoi_transformer::SequenceClassifier;
use malmoi_transformer::bert::{Bert, BertConfig, BertForPreTraining, BertForSequenceClassification};
use malmoi_transformer::fine_tune::{ClassifierConfig, ClassifierTraining, Labeled};
use malmoi_transformer::mlm::{PreTraining, PreTrainingConfig};
use malmoi_transformer::nsp::SpecialIds;

const SPECIAL: SpecialIds = SpecialIds { pad: 0, cls: 1, sep: 2, mask: 3 };

fn bert_config(vocab_size: usize) -> BertConfig {
    let json = format!(
        r#"{{"vocab_size": {vocab_size}, "hidden_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 48, "max_position_embeddings": 20}}"#
    );
    serde_json::from_str(&json).unwrap()
}

/// Sentences whose tokens follow from their position (and the sentence's parity), past the
/// specials: a masked token can be told from its place.
fn sentences(n: usize) -> Vec<Vec<u32>> {
    (0..n).map(|i| (0..6).map(|t| 4 + (2 * t + i % 2) as u32).collect()).collect()
}

fn run(max_steps: usize) -> TrainConfig {
    TrainConfig {
        max_steps,
        learning_rate: 3e-3,
        schedule: LrSchedule::Linear { warmup_steps: 2 },
        grad_clip: 1.0,
        eval_interval: 8,
        eval_at_start: true,
        seed: 5,
    }
}

fn pretrain(data: &[Vec<u32>], trainer: &Trainer, init: u64) -> (TrainLog, Vec<ndarray::ArrayD<f32>>) {
    let mut model = BertForPreTraining::new(Bert::new(bert_config(24), init).unwrap(), init).unwrap();
    let config = PreTrainingConfig { batch_size: 8, max_len: 16, eval_batches: 2, ..PreTrainingConfig::default() };
    let mut step = PreTraining::new(&mut model, data, &data[..12], SPECIAL, config).unwrap();
    let mut optimizer = step.optimizer(trainer.config().learning_rate).unwrap();
    let log = trainer.fit(&mut step, &mut optimizer).unwrap();
    (log, step.model().named_parameters().iter().map(|(_, t)| t.to_array()).collect())
}

#[test]
fn pre_training_learns_and_resumes_exactly() {
    let data = sentences(60);
    let run = |steps| TrainConfig { eval_interval: 20, ..run(steps) };
    let (whole_log, whole) = pretrain(&data, &Trainer::new(run(120)), 0);
    let (first, last) = whole_log.first_and_last("val_mlm_loss").unwrap();
    assert!(last < first / 2.0, "masked LM learns: {first} → {last}");

    let dir = tempfile::tempdir().unwrap();
    let session = Session { checkpoints: Some(Checkpoints::new(dir.path())), ..Session::default() };
    let stop = Session { stop_at_step: Some(53), ..session.clone() };
    pretrain(&data, &Trainer::new(run(120)).with_session(stop), 0);
    let (log, resumed) = pretrain(&data, &Trainer::new(run(120)).with_session(session), 7);
    assert_eq!(resumed, whole, "dropout included, the resumed weights equal the uninterrupted ones");
    assert_eq!(log.steps, whole_log.steps);
}

fn classified(n: usize) -> Vec<Labeled> {
    // positive when the sequence holds token 9
    (0..n)
        .map(|i| {
            let label = i % 2;
            let t = i as u32;
            let body = [4 + (t % 5), if label == 1 { 9 } else { 10 + t % 3 }, 5 + (t % 4)];
            let ids = [vec![1], body.to_vec(), vec![2]].concat();
            Labeled { types: vec![0; ids.len()], ids, label }
        })
        .collect()
}

fn fine_tune(data: &[Labeled], trainer: &Trainer, init: u64) -> (TrainLog, Vec<ndarray::ArrayD<f32>>) {
    let bert = Bert::new(bert_config(16), init).unwrap();
    let mut model = SequenceClassifier::Bert(BertForSequenceClassification::new(bert, 2, init).unwrap());
    let config = ClassifierConfig { batch_size: 8, seed: 5, ..ClassifierConfig::default() };
    let mut step = ClassifierTraining::new(&mut model, data, &data[..20], config).unwrap();
    let mut optimizer = step.optimizer(3e-3).unwrap();
    let log = trainer.fit(&mut step, &mut optimizer).unwrap();
    (log, step.model().named_parameters().iter().map(|(_, t)| t.to_array()).collect())
}

#[test]
fn fine_tuning_learns_and_resumes_exactly() {
    let data = classified(80);
    let (whole_log, whole) = fine_tune(&data, &Trainer::new(run(40)), 0);
    let (first, last) = whole_log.first_and_last("val_accuracy").unwrap();
    assert!(last >= 0.95 && first < 0.8, "fine-tuning learns: {first} → {last}");

    let dir = tempfile::tempdir().unwrap();
    let session = Session { checkpoints: Some(Checkpoints::new(dir.path())), ..Session::default() };
    fine_tune(&data, &Trainer::new(run(40)).with_session(Session { stop_at_step: Some(21), ..session.clone() }), 0);
    let (log, resumed) = fine_tune(&data, &Trainer::new(run(40)).with_session(session), 3);
    assert_eq!(resumed, whole);
    assert_eq!(log.steps, whole_log.steps);
}

#[test]
fn bad_training_input_is_refused() {
    let mut model = BertForPreTraining::new(Bert::new(bert_config(24), 0).unwrap(), 0).unwrap();
    let one = sentences(1);
    let two = sentences(4);
    let config = PreTrainingConfig { max_len: 16, ..PreTrainingConfig::default() };
    assert!(PreTraining::new(&mut model, &one, &two, SPECIAL, config.clone()).is_err());
    let too_long = PreTrainingConfig { max_len: 64, ..config };
    assert!(PreTraining::new(&mut model, &two, &two, SPECIAL, too_long).is_err());
    let bert = Bert::new(bert_config(16), 0).unwrap();
    let mut classifier = SequenceClassifier::Bert(BertForSequenceClassification::new(bert, 2, 0).unwrap());
    let three_classes = vec![Labeled { ids: vec![1, 2], types: vec![0, 0], label: 2 }];
    let config = ClassifierConfig { batch_size: 4, weight_decay: 0.0, ..ClassifierConfig::default() };
    assert!(ClassifierTraining::new(&mut classifier, &three_classes, &[], config).is_err());
}
