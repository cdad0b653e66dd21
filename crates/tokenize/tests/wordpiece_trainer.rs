//! WordPieceTrainer: deterministic vocabularies that cover their corpus, typed errors.

use malmoi_tokenize::wordpiece::{WordPieceError, WordPieceTrainer};

const CORPUS: [&str; 8] = [
    "이 영화 정말 재밌어요 최고의 영화",
    "영화가 너무 지루해서 졸았어요",
    "배우들의 연기가 정말 좋았다",
    "다시 보고 싶은 영화입니다",
    "The movie was really good, really!",
    "Worst movie ever... boring boring boring",
    "연기 최고 스토리 최고 영상미 최고",
    "재밌어요 재밌어요 ㅋㅋㅋ",
];

#[test]
fn same_corpus_same_vocabulary() {
    let trainer = WordPieceTrainer::new().vocab_size(120);
    let a = trainer.train(CORPUS).unwrap();
    let b = trainer.train(CORPUS.iter().rev()).unwrap();
    assert_eq!(a.to_json_string().unwrap(), b.to_json_string().unwrap());
    assert_eq!(a.vocab_size(), 120);
    assert_eq!((a.token_to_id("[PAD]"), a.token_to_id("[MASK]")), (Some(0), Some(4)));
    assert!(a.token_to_id("##요").is_some(), "continuing pieces carry ##");
}

#[test]
fn every_corpus_word_encodes_without_unk() {
    let tokenizer = WordPieceTrainer::new().vocab_size(100).train(CORPUS).unwrap();
    let unk = tokenizer.token_to_id("[UNK]").unwrap();
    for text in CORPUS {
        let encoding = tokenizer.encode(text, true).unwrap();
        assert!(!encoding.ids.contains(&unk), "{text}: {:?}", encoding.tokens);
        assert_eq!(
            tokenizer.decode(&encoding.ids, true).unwrap().replace(' ', ""),
            text.to_lowercase().replace(' ', "")
        );
    }
}

#[test]
fn frequent_words_become_single_tokens() {
    let tokenizer = WordPieceTrainer::new().vocab_size(200).train(CORPUS).unwrap();
    let encoding = tokenizer.encode("영화 최고", true).unwrap();
    assert_eq!(encoding.tokens, ["[CLS]", "영화", "최고", "[SEP]"]);
}

#[test]
fn limit_alphabet_drops_rare_characters() {
    let tokenizer = WordPieceTrainer::new().limit_alphabet(20).vocab_size(60).train(CORPUS).unwrap();
    let encoding = tokenizer.encode("졸았어요", true).unwrap();
    assert_eq!(encoding.tokens, ["[CLS]", "[UNK]", "[SEP]"]);
}

#[test]
fn trained_tokenizer_round_trips_through_tokenizer_json() {
    let tokenizer = WordPieceTrainer::new().vocab_size(90).train(CORPUS).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    tokenizer.save(&path).unwrap();
    let reloaded = malmoi_tokenize::tokenizer::Tokenizer::from_file(&path).unwrap();
    for text in CORPUS {
        assert_eq!(
            reloaded.encode_pair(text, "영화", true).unwrap(),
            tokenizer.encode_pair(text, "영화", true).unwrap()
        );
    }
}

#[test]
fn missing_special_tokens_are_errors() {
    let without_unk = WordPieceTrainer::new().special_tokens(["[CLS]", "[SEP]"]).train(CORPUS);
    assert!(matches!(without_unk, Err(WordPieceError::Config(message)) if message.contains("[UNK]")));
    let empty = WordPieceTrainer::new().special_tokens(["[UNK]", ""]).train(CORPUS);
    assert!(matches!(empty, Err(WordPieceError::Config(_))));
}

/// Trains on the first 20,000 NSMC training reviews (vocabulary 8,000) and saves the tokenizer,
/// for comparison with `tokenizers`' WordPieceTrainer (benches/reference/wordpiece_fixture.py --train):
/// `WORDPIECE_TRAIN_OUT=/tmp/ours.json cargo test --release -p malmoi-tokenize --test wordpiece_trainer -- --ignored`.
#[test]
#[ignore = "needs the NSMC data and an output path (see the doc comment)"]
fn nsmc_vocabulary_for_comparison() {
    let out = std::env::var("WORDPIECE_TRAIN_OUT").expect("WORDPIECE_TRAIN_OUT names the output file");
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/nsmc/ratings_train.txt");
    let text = std::fs::read_to_string(data).unwrap();
    let reviews: Vec<&str> = text.lines().skip(1).take(20_000).filter_map(|l| l.split('\t').nth(1)).collect();
    let started = std::time::Instant::now();
    let tokenizer = WordPieceTrainer::new().vocab_size(8000).train(&reviews).unwrap();
    println!("trained on {} reviews in {:.2?}", reviews.len(), started.elapsed());
    tokenizer.save(out).unwrap();
}
