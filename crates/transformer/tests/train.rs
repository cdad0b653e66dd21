//! GPT training on the shared engine: it learns, a killed run (with dropout) resumes to the
//! uninterrupted run's weights, and a failing run writes no checkpoint.

use malmoi_tensor::nn::Module;
use malmoi_train::{Checkpoints, LrSchedule, Session, TrainConfig, Trainer};
use malmoi_transformer::train::{LmConfig, evaluate, train};
use malmoi_transformer::{Error, Gpt, GptConfig};

fn tiny() -> GptConfig {
    GptConfig {
        vocab_size: 12,
        block_size: 16,
        n_layer: 1,
        n_head: 2,
        n_embd: 16,
        dropout: 0.1,
        ..GptConfig::default()
    }
}

/// A repeating pattern a small model learns quickly.
fn tokens(n: usize) -> Vec<u32> {
    (0..n).map(|i| [1, 2, 3, 4, 5, 3, 2, 7][i % 8]).collect()
}

fn run(max_steps: usize) -> TrainConfig {
    TrainConfig {
        max_steps,
        learning_rate: 1e-2,
        schedule: LrSchedule::Cosine { warmup_steps: 2, min_factor: 0.1 },
        grad_clip: 1.0,
        eval_interval: 10,
        ..TrainConfig::default()
    }
}

fn lm() -> LmConfig {
    LmConfig { batch_size: 8, block_size: 16, eval_windows: 8, weight_decay: 0.1 }
}

#[test]
fn validation_loss_falls() {
    let mut model = Gpt::new(tiny(), 0).unwrap();
    let data = tokens(2000);
    let before = evaluate(&mut model, &data[..400], 16, 8).unwrap();
    let log = train(&mut model, &data, &data[..400], &lm(), &Trainer::new(run(60))).unwrap();
    let after = log.last_eval().unwrap().metrics["val_loss"];
    assert!(after < 0.3 * before, "{before} → {after}");
    assert!(!model.is_training(), "training leaves the model in inference mode");
    let dir = tempfile::tempdir().unwrap();
    log.plot(&dir.path().join("loss.svg"), 50).unwrap();
}

#[test]
fn a_killed_run_with_dropout_resumes_exactly() {
    let data = tokens(2000);
    let mut straight = Gpt::new(tiny(), 0).unwrap();
    let full_log = train(&mut straight, &data, &data[..400], &lm(), &Trainer::new(run(30))).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let session = Session { checkpoints: Some(Checkpoints::new(dir.path())), ..Session::default() };
    let trainer = Trainer::new(run(30)).with_session(session.clone());
    let mut model = Gpt::new(tiny(), 0).unwrap();
    let first = trainer.clone().with_session(Session { stop_at_step: Some(17), ..session });
    let partial = train(&mut model, &data, &data[..400], &lm(), &first).unwrap();
    assert_eq!(partial.steps.len(), 17);

    // A new process: another initialisation, which the checkpoint overrides.
    let mut resumed = Gpt::new(tiny(), 99).unwrap();
    let log = train(&mut resumed, &data, &data[..400], &lm(), &trainer).unwrap();
    assert_eq!(log.steps, full_log.steps);
    assert_eq!(log.without_times(), full_log.without_times());
    for ((name, a), (_, b)) in straight.named_parameters().iter().zip(resumed.named_parameters()) {
        assert_eq!(*a.data(), *b.data(), "{name}");
    }

    let other = LmConfig { batch_size: 4, ..lm() };
    let mut third = Gpt::new(tiny(), 0).unwrap();
    let refused = train(&mut third, &data, &data[..400], &other, &trainer);
    assert!(matches!(refused, Err(Error::Train(malmoi_train::Error::Config(_)))), "{refused:?}");
}

#[test]
fn a_nan_loss_stops_the_run_before_any_checkpoint() {
    let data = tokens(2000);
    let mut model = Gpt::new(tiny(), 0).unwrap();
    model.blocks[0].ln_1.weight.update_data(|w| w.fill(f32::NAN));
    let dir = tempfile::tempdir().unwrap();
    let session = Session { checkpoints: Some(Checkpoints::new(dir.path())), ..Session::default() };
    let trainer = Trainer::new(run(30)).with_session(session);
    assert!(matches!(
        train(&mut model, &data, &data[..400], &lm(), &trainer),
        Err(Error::Tensor(malmoi_tensor::Error::NonFinite { .. }))
    ));
    assert!(Checkpoints::new(dir.path()).latest().unwrap().is_none());
}

#[test]
fn bad_runs_are_refused() {
    let mut model = Gpt::new(tiny(), 0).unwrap();
    let too_long = LmConfig { block_size: 32, ..lm() };
    let trainer = Trainer::new(run(5));
    assert!(matches!(train(&mut model, &tokens(500), &tokens(100), &too_long, &trainer), Err(Error::Config(_))));
    assert!(matches!(train(&mut model, &tokens(10), &tokens(100), &lm(), &trainer), Err(Error::Input(_))));
    assert!(matches!(evaluate(&mut model, &tokens(10), 16, 4), Err(Error::Input(_))));
}

/// Same seeds → a byte-identical saved model directory after training; another
/// initialisation seed changes the weights. Runs on the default thread pool (all cores).
#[test]
fn same_seed_gives_byte_identical_model_files() {
    let data = tokens(2000);
    let files = |init_seed: u64| {
        let mut model = Gpt::new(tiny(), init_seed).unwrap();
        train(&mut model, &data, &data[..400], &lm(), &Trainer::new(run(20))).unwrap();
        let dir = tempfile::tempdir().unwrap();
        model.save_pretrained(dir.path()).unwrap();
        ["config.json", "model.safetensors"].map(|f| std::fs::read(dir.path().join(f)).unwrap())
    };
    let (first, second, other) = (files(3), files(3), files(4));
    assert!(first == second, "two runs with the same seeds wrote different files");
    assert!(first[1] != other[1], "the initialisation seed does not change the weights");
}
