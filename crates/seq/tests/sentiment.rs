//! The sentiment pipeline on a small synthetic corpus: learning, saving, loading, a killed run
//! resuming to the uninterrupted result, early stopping and bad input.

use malmoi_fs::datasets::nsmc::LabeledText;
use malmoi_seq::Error;
use malmoi_seq::sentiment::{
    Caveat, MIN_KNOWN_TOKENS, ModelConfig, PreprocessConfig, Preprocessor, SentimentPipeline, TrainConfig,
};
use malmoi_tokenize::korean::Analyzer;
use malmoi_train::{Checkpoints, Session, TrainLog};

fn corpus() -> Vec<LabeledText> {
    let positive = ["정말 재밌는 영화", "최고의 영화 감동", "배우 연기 최고", "재밌고 감동적인 영화", "강력 추천 명작"];
    let negative =
        ["정말 지루한 영화", "최악의 영화 시간 낭비", "배우 연기 최악", "지루하고 재미없는 영화", "돈 아까운 졸작"];
    (0..8)
        .flat_map(|round| {
            positive.iter().map(|t| (t, 1)).chain(negative.iter().map(|t| (t, 0))).map(move |(t, label)| LabeledText {
                id: format!("{round}"),
                document: t.to_string(),
                label,
            })
        })
        .collect()
}

fn small_model(vocab_size: usize) -> ModelConfig {
    let mut config = ModelConfig::lecture(vocab_size);
    config.embedding_dim = 8;
    config.encoder.input_size = 8;
    config.encoder.hidden_size = 8;
    config
}

fn train_config(epochs: usize) -> TrainConfig {
    TrainConfig { batch_size: 8, max_epochs: epochs, learning_rate: 0.01, patience: 100, ..TrainConfig::default() }
}

/// Trains on `reviews` with `config`, running the engine as `session` says.
fn train_on(
    reviews: &[LabeledText],
    config: TrainConfig,
    session: Session,
) -> malmoi_seq::Result<(SentimentPipeline, TrainLog)> {
    let preprocessor = Preprocessor::new(PreprocessConfig::default(), Analyzer::new().unwrap());
    SentimentPipeline::trainer(preprocessor)
        .model(small_model)
        .min_count(1)
        .config(config)
        .session(session)
        .train(reviews)
}

/// Trains on the corpus with `config`, running the engine as `session` says.
fn train_with(config: TrainConfig, session: Session) -> malmoi_seq::Result<(SentimentPipeline, TrainLog)> {
    train_on(&corpus(), config, session)
}

fn train(epochs: usize) -> SentimentPipeline {
    train_with(train_config(epochs), Session::default()).unwrap().0
}

/// The bytes of the pipeline's saved files.
fn saved_files(pipeline: &SentimentPipeline) -> [Vec<u8>; 3] {
    let dir = tempfile::tempdir().unwrap();
    pipeline.save(dir.path()).unwrap();
    ["config.json", "tokenizer.json", "model.safetensors"].map(|f| std::fs::read(dir.path().join(f)).unwrap())
}

/// The held-out metrics of the evaluations after whole epochs of `steps` steps.
fn epoch_metrics(log: &TrainLog, steps: usize) -> Vec<(usize, f64, f64)> {
    log.evals
        .iter()
        .filter(|e| e.step % steps == 0)
        .map(|e| (e.step, e.metrics["val_loss"], e.metrics["val_accuracy"]))
        .collect()
}

#[test]
fn learns_saves_and_loads() {
    let pipeline = train(12);
    assert!(pipeline.evaluate(&corpus()).unwrap().accuracy() > 0.9);
    let good = pipeline.predict("정말 최고의 영화").unwrap().sentiment;
    let bad = pipeline.predict("지루하고 최악").unwrap().sentiment;
    assert!(good.is_positive() && !bad.is_positive(), "{good:?} {bad:?}");
    assert!(bad.to_string().ends_with("확률로 부정 리뷰입니다."), "{bad}");

    let dir = tempfile::tempdir().unwrap();
    pipeline.save(dir.path()).unwrap();
    let loaded = SentimentPipeline::load(dir.path(), Analyzer::new().unwrap()).unwrap();
    assert_eq!(loaded.predict("정말 최고의 영화").unwrap().sentiment, good);
    assert_eq!(loaded.config(), pipeline.config());

    let half = tempfile::tempdir().unwrap();
    pipeline.save_with(half.path(), malmoi_tensor::checkpoint::Precision::F16).unwrap();
    let loaded = SentimentPipeline::load(half.path(), Analyzer::new().unwrap()).unwrap();
    assert!((loaded.predict("정말 최고의 영화").unwrap().sentiment.positive - good.positive).abs() < 5e-3);
}

#[test]
fn texts_the_model_cannot_read_get_a_verdict_with_a_caveat() {
    let pipeline = train(1);
    let cases = [
        ("", Caveat::EmptyText),
        ("   ", Caveat::EmptyText),
        ("hello world", Caveat::NoKoreanWords),
        ("뷁뷁", Caveat::NoKnownTokens),
        ("최악", Caveat::FewKnownTokens(1)),
    ];
    for (text, caveat) in cases {
        let verdict = pipeline.predict(text).unwrap();
        assert_eq!(verdict.caveat, Some(caveat), "{text:?}: {verdict:?}");
        assert!((0.0..=1.0).contains(&verdict.sentiment.positive));
    }
    let verdict = pipeline.predict("지루하고 최악").unwrap();
    assert!(verdict.caveat.is_none() && verdict.known_tokens >= MIN_KNOWN_TOKENS, "{verdict:?}");
    assert_eq!(Caveat::FewKnownTokens(1).to_string(), "only 1 known token");
}

#[test]
fn broken_model_directories_are_typed_errors() {
    let pipeline = train(1);
    let dir = tempfile::tempdir().unwrap();
    pipeline.save(dir.path()).unwrap();
    let config = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    std::fs::write(dir.path().join("config.json"), config.replace("\"format_version\": 1", "\"format_version\": 99"))
        .unwrap();
    let err = SentimentPipeline::load(dir.path(), Analyzer::new().unwrap()).unwrap_err();
    assert!(matches!(err, Error::ModelDir { .. }) && err.to_string().contains("format version 99"), "{err}");
    let refused = |config: &str, expected: &str| {
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        let err = SentimentPipeline::load(dir.path(), Analyzer::new().unwrap()).unwrap_err();
        assert!(matches!(err, Error::ModelDir { .. }) && err.to_string().contains(expected), "{expected}: {err}");
    };
    // A width the stored tensors do not have names the first tensor that differs.
    refused(&config.replace("\"hidden_size\": 8", "\"hidden_size\": 9"), "\"encoder.weight_ih_l0\" has shape");
    // A stored tensor the configuration has no place for is named.
    let weights = dir.path().join("model.safetensors");
    let stored = malmoi_tensor::checkpoint::load(&weights).unwrap();
    let mut tensors: Vec<(String, ndarray::ArrayD<f32>)> =
        stored.names().into_iter().map(|name| (name.to_string(), stored.get(name).unwrap().clone())).collect();
    tensors.push(("extra.weight".into(), ndarray::ArrayD::zeros(ndarray::IxDyn(&[2]))));
    malmoi_tensor::checkpoint::save(&weights, tensors.iter().map(|(n, a)| (n.as_str(), a)), &Default::default())
        .unwrap();
    refused(&config, "no place for stored \"extra.weight\"");
    std::fs::remove_file(&weights).unwrap();
    refused(&config, "model.safetensors");
}

/// 80 reviews, 16 held out: 8 steps per epoch. Killed mid-epoch and at an epoch's end, each
/// session with a fresh model and optimiser that only the checkpoint folder connects, the run
/// ends with the uninterrupted run's files, step losses and epoch metrics; another config is
/// refused.
#[test]
fn a_killed_run_resumes_to_the_uninterrupted_result() {
    let (whole, whole_log) = train_with(train_config(4), Session::default()).unwrap();
    assert_eq!(whole_log.steps.len(), 32);
    assert_eq!(whole_log.evals.iter().map(|e| e.step).collect::<Vec<_>>(), [8, 16, 24, 32], "one per epoch");
    assert!(whole_log.evals[0].metrics.contains_key("accuracy"), "Keras-style epoch means");
    let dir = tempfile::tempdir().unwrap();
    let checkpointed = || Session { checkpoints: Some(Checkpoints::new(dir.path())), ..Session::default() };
    for stop in [12, 24] {
        let (_, log) = train_with(train_config(4), Session { stop_at_step: Some(stop), ..checkpointed() }).unwrap();
        assert_eq!(log.steps.len(), stop);
    }
    let (resumed, log) = train_with(train_config(4), checkpointed()).unwrap();
    assert!(saved_files(&resumed) == saved_files(&whole), "the resumed run saved other files");
    assert_eq!(log.steps, whole_log.steps, "every step's loss, accuracy and learning rate");
    assert_eq!(epoch_metrics(&log, 8), epoch_metrics(&whole_log, 8));
    let other = TrainConfig { learning_rate: 0.5, ..train_config(4) };
    let err = train_with(other, checkpointed()).unwrap_err();
    assert!(matches!(err, Error::Train(_)) && err.to_string().contains("another config"), "{err}");
    let other = TrainConfig { maxlen: 5, ..train_config(4) };
    let err = train_with(other, checkpointed()).unwrap_err();
    assert!(err.to_string().contains("another config"), "{err}");
}

/// With the held-out reviews' labels flipped, the better the model fits the training reviews
/// the worse its validation loss: the run ends before its epoch budget, and the model holds the
/// best epoch's weights, also when the run was killed and resumed on the way.
#[test]
fn early_stopping_ends_the_run_with_the_best_epochs_weights() {
    let mut reviews = corpus();
    reviews[64..].iter_mut().for_each(|r| r.label = 1 - r.label);
    let config = TrainConfig { patience: 2, ..train_config(30) };
    let (pipeline, log) = train_on(&reviews, config.clone(), Session::default()).unwrap();
    let last = log.steps.last().unwrap().step;
    assert!(last < 30 * 8, "stopped early, after {last} steps");
    let best = log.series("val_loss").iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    assert!(log.last_eval().unwrap().metrics["val_loss"] > best, "stopped after worse epochs");
    let restored = pipeline.evaluate(&reviews[64..]).unwrap().accuracy();
    let best_accuracy = log.evals.iter().find(|e| e.metrics["val_loss"] == best).unwrap().metrics["val_accuracy"];
    assert_eq!(restored, best_accuracy, "the best epoch's weights are in the model");
    let dir = tempfile::tempdir().unwrap();
    let checkpointed = || Session { checkpoints: Some(Checkpoints::new(dir.path())), ..Session::default() };
    train_on(&reviews, config.clone(), Session { stop_at_step: Some(16), ..checkpointed() }).unwrap();
    let (resumed, resumed_log) = train_on(&reviews, config, checkpointed()).unwrap();
    assert_eq!(resumed_log.steps, log.steps);
    assert!(saved_files(&resumed) == saved_files(&pipeline), "other best weights after a resume");
}

#[test]
fn pretrained_word_vectors_seed_the_embedding() {
    let words: Vec<String> = ["영화", "최고", "없는말"].iter().map(|s| s.to_string()).collect();
    let vectors = malmoi_embed::KeyedVectors::from_flat(words, 8, (0..24).map(|i| i as f32).collect()).unwrap();
    let preprocessor = Preprocessor::new(PreprocessConfig::default(), Analyzer::new().unwrap());
    let config = train_config(0);
    let (pipeline, _) = SentimentPipeline::trainer(preprocessor)
        .model(small_model)
        .min_count(1)
        .config(config)
        .pretrained_embeddings(&vectors)
        .train(&corpus())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    pipeline.save(dir.path()).unwrap();
    let weights = malmoi_tensor::checkpoint::load(dir.path().join("model.safetensors")).unwrap();
    let table = weights.get("embedding.weight").unwrap();
    let tokenizer = malmoi_tokenize::encoding::KerasTokenizer::load(dir.path().join("tokenizer.json")).unwrap();
    let row = tokenizer.index_of("영화").unwrap() as usize;
    assert_eq!(
        table.index_axis(ndarray::Axis(0), row).iter().copied().collect::<Vec<f32>>(),
        (0..8).map(|i| i as f32).collect::<Vec<_>>()
    );
}

/// Same seed → byte-identical `config.json`, `tokenizer.json` and `model.safetensors`; another
/// seed changes the weights. Runs on the default thread pool (all cores).
#[test]
fn same_seed_gives_byte_identical_model_files() {
    let files =
        |seed: u64| saved_files(&train_with(TrainConfig { seed, ..train_config(3) }, Session::default()).unwrap().0);
    let (first, second, other) = (files(5), files(5), files(6));
    assert!(first == second, "two runs with seed 5 wrote different files");
    assert!(first[2] != other[2], "the seed does not change the weights");
}
