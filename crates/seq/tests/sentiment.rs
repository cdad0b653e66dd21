//! The sentiment pipeline on a small synthetic corpus: learning, saving, loading, resuming and
//! bad input.

use malmoi_seq::Error;
use malmoi_seq::nsmc::LabeledText;
use malmoi_seq::sentiment::{
    Caveat, CheckpointDir, MIN_KNOWN_TOKENS, ModelConfig, PreprocessConfig, Preprocessor, SentimentPipeline,
    TrainConfig,
};
use malmoi_tokenize::korean::Analyzer;

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
    TrainConfig {
        batch_size: 8,
        max_epochs: epochs,
        learning_rate: 0.01,
        progress: false,
        patience: 100,
        ..TrainConfig::default()
    }
}

fn train(epochs: usize, checkpoints: Option<&CheckpointDir>) -> SentimentPipeline {
    let preprocessor = Preprocessor::new(PreprocessConfig::default(), Analyzer::new().unwrap());
    let mut trainer =
        SentimentPipeline::trainer(preprocessor).model(small_model).min_count(1).config(train_config(epochs));
    if let Some(dir) = checkpoints {
        trainer = trainer.checkpoints(dir.clone());
    }
    trainer.train(&corpus()).unwrap().0
}

#[test]
fn learns_saves_and_loads() {
    let pipeline = train(12, None);
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
    let pipeline = train(1, None);
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
    let pipeline = train(1, None);
    let dir = tempfile::tempdir().unwrap();
    pipeline.save(dir.path()).unwrap();
    let config = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    std::fs::write(dir.path().join("config.json"), config.replace("\"format_version\": 1", "\"format_version\": 99"))
        .unwrap();
    let err = SentimentPipeline::load(dir.path(), Analyzer::new().unwrap()).unwrap_err();
    assert!(matches!(err, Error::ModelDir { .. }) && err.to_string().contains("format version 99"), "{err}");
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let err = SentimentPipeline::load(dir.path(), Analyzer::new().unwrap()).unwrap_err();
    assert!(matches!(err, Error::ModelDir { .. }), "{err}");
}

#[test]
fn an_interrupted_run_resumes_to_the_same_result() {
    let straight = tempfile::tempdir().unwrap();
    let reference = train(4, Some(&CheckpointDir(straight.path().into())));
    // The same run stopped after two epochs, then started again with the full budget.
    let interrupted = tempfile::tempdir().unwrap();
    let dir = CheckpointDir(interrupted.path().into());
    train(2, Some(&dir));
    let resumed = train(4, Some(&dir));
    for text in ["정말 최고의 영화", "지루하고 최악"] {
        assert_eq!(resumed.predict(text).unwrap(), reference.predict(text).unwrap(), "{text}");
    }
    let other = TrainConfig { learning_rate: 0.5, ..train_config(4) };
    let preprocessor = Preprocessor::new(PreprocessConfig::default(), Analyzer::new().unwrap());
    let trainer =
        SentimentPipeline::trainer(preprocessor).model(small_model).min_count(1).config(other).checkpoints(dir);
    let err = trainer.train(&corpus()).unwrap_err();
    assert!(err.to_string().contains("another configuration"), "{err}");
}

#[test]
fn pretrained_word_vectors_seed_the_embedding() {
    let words: Vec<String> = ["영화", "최고", "없는말"].iter().map(|s| s.to_string()).collect();
    let vectors = malmoi_embed::KeyedVectors::from_flat(words, 8, (0..24).map(|i| i as f32).collect()).unwrap();
    let preprocessor = Preprocessor::new(PreprocessConfig::default(), Analyzer::new().unwrap());
    let config = TrainConfig { max_epochs: 0, ..train_config(0) };
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
    let tokenizer = malmoi_tokenize::encoding::Tokenizer::load(dir.path().join("tokenizer.json")).unwrap();
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
    let files = |seed: u64| {
        let preprocessor = Preprocessor::new(PreprocessConfig::default(), Analyzer::new().unwrap());
        let config = TrainConfig { seed, ..train_config(3) };
        let (pipeline, _) = SentimentPipeline::trainer(preprocessor)
            .model(small_model)
            .min_count(1)
            .config(config)
            .train(&corpus())
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        pipeline.save(dir.path()).unwrap();
        ["config.json", "tokenizer.json", "model.safetensors"].map(|f| std::fs::read(dir.path().join(f)).unwrap())
    };
    let (first, second, other) = (files(5), files(5), files(6));
    assert!(first == second, "two runs with seed 5 wrote different files");
    assert!(first[2] != other[2], "the seed does not change the weights");
}
