//! GPT as a `LanguageModel`: scores and suggestions agree with each other and with the
//! model's own probabilities.

use malmoi_lm::{LanguageModel, SENTENCE_END, corpus_score};
use malmoi_tokenize::BpeTrainer;
use malmoi_transformer::generation::Generator;
use malmoi_transformer::{Gpt, GptConfig};

fn generator() -> Generator {
    let texts = ["나는 버스를 탔다", "나는 버스를 태운다", "영화가 정말 재밌다", "영화가 지루하다"];
    let tokenizer =
        BpeTrainer::new().vocab_size(300).special_tokens(["<|endoftext|>"]).train(texts.iter().copied()).unwrap();
    let config = GptConfig {
        vocab_size: tokenizer.vocab_size(),
        block_size: 32,
        n_layer: 1,
        n_head: 2,
        n_embd: 16,
        ..GptConfig::default()
    };
    let mut model = Gpt::new(config, 0).unwrap();
    malmoi_tensor::nn::Module::set_training(&mut model, false);
    Generator::new(model, tokenizer).unwrap()
}

#[test]
fn score_ends_with_the_sentence_end_and_matches_next_words() {
    let generator = generator();
    let score = generator.score("나는 버스를 탔다").unwrap();
    assert_eq!(score.tokens.last().unwrap(), SENTENCE_END);
    assert_eq!(score.tokens.concat().trim_end_matches(SENTENCE_END), "나는 버스를 탔다");
    assert!((score.log10_prob - score.log10_probs.iter().sum::<f64>()).abs() < 1e-12);
    assert_eq!(score.oov, 0);
    // The first token's probability is what next_words("") gives it.
    let all = generator.next_words("", generator.tokenizer.vocab_size()).unwrap();
    assert!(all.iter().any(|w| (w.prob.log10() - score.log10_probs[0]).abs() < 1e-6));
    let total: f64 = all.iter().map(|w| w.prob).sum();
    assert!((total - 1.0).abs() < 1e-4, "suggestions over the whole vocabulary sum to {total}");
    assert!(all.windows(2).all(|w| w[0].prob >= w[1].prob));
}

#[test]
fn empty_text_scores_the_sentence_end_and_long_text_is_refused() {
    let generator = generator();
    let empty = generator.score("").unwrap();
    assert_eq!(empty.tokens, [SENTENCE_END]);
    // Longer than the context: a sliding window scores every token.
    let long = "나는 버스를 탔다 ".repeat(40);
    let score = generator.score(&long).unwrap();
    assert_eq!(score.tokens.concat().trim_end_matches(SENTENCE_END), long);
    assert!(score.log10_probs.iter().all(|lp| lp.is_finite() && *lp < 0.0));
    // Within the context the window changes nothing.
    let short = generator.score("영화가 정말 재밌다").unwrap();
    assert_eq!(short.log10_probs.len(), short.tokens.len());
    let corpus = corpus_score(&generator, ["나는 버스를 탔다", "영화가 지루하다"]).unwrap();
    assert!(corpus.perplexity > 1.0);
    assert_eq!(generator.next_words("영화가", 3).unwrap().len(), 3);
}
