//! Inference is inference: a loaded pipeline with dropout in its configuration gives every text
//! the same probability alone, in any batch and in any order, and `predict_batch` agrees with
//! `evaluate`.

use malmoi_fs::datasets::nsmc::{LabeledText, read_labeled_tsv};
use malmoi_seq::sentiment::{ModelConfig, PreprocessConfig, Preprocessor, SentimentPipeline, TrainConfig};
use malmoi_tokenize::korean::Analyzer;
use malmoi_train::metrics::ConfusionMatrix;

const POSITIVE: [&str; 5] =
    ["정말 재밌는 영화", "최고의 영화 감동", "배우 연기 최고", "재밌고 감동적인 영화", "강력 추천 명작"];
const NEGATIVE: [&str; 5] =
    ["정말 지루한 영화", "최악의 영화 시간 낭비", "배우 연기 최악", "지루하고 재미없는 영화", "돈 아까운 졸작"];

fn corpus() -> Vec<LabeledText> {
    let labelled = POSITIVE.iter().map(|t| (t, 1)).chain(NEGATIVE.iter().map(|t| (t, 0)));
    let rows: Vec<(&&str, u8)> = labelled.collect();
    (0..6)
        .flat_map(|round| {
            rows.iter().map(move |&(t, label)| LabeledText { id: format!("{round}"), document: t.to_string(), label })
        })
        .collect()
}

/// A small BiLSTM with max pooling and dropout 0.5 (the shipped model's shape), trained, saved
/// and loaded again, as a user gets it.
fn loaded_pipeline(dir: &std::path::Path) -> SentimentPipeline {
    let model = |vocab_size| {
        let mut config = ModelConfig::lecture(vocab_size);
        (config.embedding_dim, config.encoder.input_size, config.encoder.hidden_size) = (8, 8, 8);
        config.encoder.bidirectional = true;
        config.pooling = malmoi_seq::sentiment::Pooling::MaxOverTime;
        config.dropout = 0.5;
        config
    };
    let config = TrainConfig { batch_size: 8, max_epochs: 3, learning_rate: 0.01, ..TrainConfig::default() };
    let preprocessor = Preprocessor::new(PreprocessConfig::default(), Analyzer::new().unwrap());
    let (pipeline, _) =
        SentimentPipeline::trainer(preprocessor).model(model).min_count(1).config(config).train(&corpus()).unwrap();
    pipeline.save(dir).unwrap();
    SentimentPipeline::load(dir, Analyzer::new().unwrap()).unwrap()
}

#[test]
fn a_texts_probability_does_not_depend_on_the_batch_or_its_order() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = loaded_pipeline(dir.path());
    let long = "정말 재밌는 영화 최고의 영화 감동 배우 연기 최고 ".repeat(8);
    let others = ["영화", "", "hello world", "   ", "ㅋㅋㅋ", long.as_str(), "-_- 이런영화가 존재하는게 신기.", "최악"];
    let probe = "지루하고 재미없는 영화";
    let alone = pipeline.predict(probe).unwrap().sentiment.positive;
    assert_eq!(pipeline.predict(probe).unwrap().sentiment.positive, alone, "repeatable");
    let mut batch: Vec<&str> = others.to_vec();
    for position in 0..=others.len() {
        batch.insert(position, probe);
        let verdicts = pipeline.predict_batch(&batch).unwrap();
        assert_eq!(verdicts.len(), batch.len());
        assert!((verdicts[position].sentiment.positive - alone).abs() <= 1e-6, "at {position}: {verdicts:?}");
        for (text, verdict) in batch.iter().zip(&verdicts) {
            let single = pipeline.predict(text).unwrap();
            assert!((verdict.sentiment.positive - single.sentiment.positive).abs() <= 1e-6, "{text:?}");
            assert_eq!((verdict.known_tokens, verdict.caveat), (single.known_tokens, single.caveat), "{text:?}");
        }
        batch.remove(position);
    }
    batch.reverse();
    batch.push(probe);
    let reversed = pipeline.predict_batch(&batch).unwrap();
    assert!((reversed.last().unwrap().sentiment.positive - alone).abs() <= 1e-6);
}

#[test]
fn accuracy_through_predict_batch_equals_evaluate_on_a_labelled_file() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = loaded_pipeline(dir.path());
    let mut tsv = String::from("id\tdocument\tlabel\n");
    let extra = [("", 1), ("hello world", 0), ("-_- 이런영화가 존재하는게 신기.", 0), ("재밌는데 지루한 영화", 1)];
    let rows = corpus().into_iter().map(|r| (r.document, r.label)).chain(extra.map(|(t, l)| (t.to_string(), l)));
    for (i, (document, label)) in rows.enumerate() {
        tsv.push_str(&format!("{i}\t{document}\t{label}\n"));
    }
    let path = dir.path().join("reviews.tsv");
    std::fs::write(&path, tsv).unwrap();
    let reviews = read_labeled_tsv(&path).unwrap();
    let texts: Vec<&str> = reviews.iter().map(|r| r.document.as_str()).collect();
    let probabilities: Vec<f32> =
        pipeline.predict_batch(&texts).unwrap().iter().map(|p| p.sentiment.positive).collect();
    let labels: Vec<u8> = reviews.iter().map(|r| r.label).collect();
    let through_predict = ConfusionMatrix::from_probabilities(&probabilities, &labels);
    assert_eq!(through_predict, pipeline.evaluate(&reviews).unwrap());
    assert_eq!(through_predict.total(), reviews.len());
}
