//! The training loop: it learns, a resumed run equals an uninterrupted one, and a failing run
//! writes no checkpoint.

use malmoi_tensor::nn::Module;
use malmoi_transformer::train::{Checkpoints, RunOptions, TrainConfig, evaluate, train};
use malmoi_transformer::{Error, Gpt, GptConfig};

fn tiny() -> GptConfig {
    GptConfig { vocab_size: 12, block_size: 16, n_layer: 1, n_head: 2, n_embd: 16, ..GptConfig::default() }
}

/// A repeating pattern a small model learns quickly.
fn tokens(n: usize) -> Vec<u32> {
    (0..n).map(|i| [1, 2, 3, 4, 5, 3, 2, 7][i % 8]).collect()
}

fn config(max_steps: usize) -> TrainConfig {
    TrainConfig {
        batch_size: 8,
        block_size: 16,
        max_steps,
        learning_rate: 1e-2,
        warmup_steps: 2,
        eval_interval: 10,
        eval_windows: 8,
        ..TrainConfig::default()
    }
}

#[test]
fn validation_loss_falls() {
    let mut model = Gpt::new(tiny(), 0).unwrap();
    let data = tokens(2000);
    let before = evaluate(&mut model, &data[..400], 16, 8).unwrap();
    let log = train(&mut model, &data, &data[..400], &config(60), RunOptions::default()).unwrap();
    let after = log.evals.last().unwrap().val_loss;
    assert!(after < 0.3 * before, "{before} → {after}");
    assert!(!model.is_training(), "training leaves the model in inference mode");
    let dir = tempfile::tempdir().unwrap();
    log.plot(&dir.path().join("loss.svg")).unwrap();
}

#[test]
fn a_resumed_run_equals_an_uninterrupted_one() {
    let data = tokens(2000);
    let mut straight = Gpt::new(tiny(), 0).unwrap();
    let full_log = train(&mut straight, &data, &data[..400], &config(30), RunOptions::default()).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let checkpoints = Checkpoints::new(dir.path());
    let first_session = RunOptions { checkpoints: Some(&checkpoints), stop_at_step: Some(17), ..RunOptions::default() };
    let mut model = Gpt::new(tiny(), 0).unwrap();
    let partial = train(&mut model, &data, &data[..400], &config(30), first_session).unwrap();
    assert_eq!(partial.steps.len(), 17);
    assert!(checkpoints.latest().unwrap().unwrap().ends_with("step-17"));

    // A new process: another initialisation, which the checkpoint overrides.
    let mut resumed = Gpt::new(tiny(), 99).unwrap();
    let second_session = RunOptions { checkpoints: Some(&checkpoints), ..RunOptions::default() };
    let log = train(&mut resumed, &data, &data[..400], &config(30), second_session).unwrap();
    assert_eq!(log.steps, full_log.steps);
    // The resumed log also holds the validation at the interruption (step 17).
    let val_losses = |log: &malmoi_transformer::train::TrainLog| -> Vec<f64> {
        log.evals.iter().filter(|e| e.step != 17).map(|e| e.val_loss).collect()
    };
    assert_eq!(val_losses(&log), val_losses(&full_log));
    for ((name, a), (_, b)) in straight.named_parameters().iter().zip(resumed.named_parameters()) {
        assert_eq!(*a.data(), *b.data(), "{name}");
    }
    // Only the newest checkpoint is kept.
    let folders: Vec<_> = std::fs::read_dir(dir.path()).unwrap().filter_map(|e| e.ok()).filter(|e| e.path().is_dir()).collect();
    assert_eq!(folders.len(), 1);

    let other = TrainConfig { learning_rate: 5e-3, ..config(30) };
    let mut third = Gpt::new(tiny(), 0).unwrap();
    assert!(matches!(train(&mut third, &data, &data[..400], &other, second_session), Err(Error::Config(_))));
}

#[test]
fn a_nan_loss_stops_the_run_before_any_checkpoint() {
    let data = tokens(2000);
    let mut model = Gpt::new(tiny(), 0).unwrap();
    model.blocks[0].ln_1.weight.update_data(|w| w.fill(f32::NAN));
    let dir = tempfile::tempdir().unwrap();
    let checkpoints = Checkpoints::new(dir.path());
    let options = RunOptions { checkpoints: Some(&checkpoints), ..RunOptions::default() };
    assert!(matches!(train(&mut model, &data, &data[..400], &config(30), options), Err(Error::NonFinite(_))));
    assert!(checkpoints.latest().unwrap().is_none());
}

#[test]
fn bad_runs_are_refused() {
    let mut model = Gpt::new(tiny(), 0).unwrap();
    let too_long = TrainConfig { block_size: 32, ..config(5) };
    assert!(matches!(train(&mut model, &tokens(500), &tokens(100), &too_long, RunOptions::default()), Err(Error::Config(_))));
    assert!(matches!(train(&mut model, &tokens(10), &tokens(100), &config(5), RunOptions::default()), Err(Error::Input(_))));
    assert!(matches!(evaluate(&mut model, &tokens(10), 16, 4), Err(Error::Input(_))));
}

/// Same seeds → a byte-identical saved model directory after training; another
/// initialisation seed changes the weights. Runs on the default thread pool (all cores).
#[test]
fn same_seed_gives_byte_identical_model_files() {
    let data = tokens(2000);
    let files = |init_seed: u64| {
        let mut model = Gpt::new(tiny(), init_seed).unwrap();
        train(&mut model, &data, &data[..400], &config(20), RunOptions::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        model.save_pretrained(dir.path()).unwrap();
        ["config.json", "model.safetensors"].map(|f| std::fs::read(dir.path().join(f)).unwrap())
    };
    let (first, second, other) = (files(3), files(3), files(4));
    assert!(first == second, "two runs with the same seeds wrote different files");
    assert!(first[1] != other[1], "the initialisation seed does not change the weights");
}
