//! Seq2seq with attention on a toy task (reversing letter strings): it learns, beam width 1 is
//! greedy, attention is a distribution that ignores padding, saved models predict the same,
//! a killed run resumes to the uninterrupted result, and bad input gets typed errors.

use std::sync::OnceLock;

use malmoi_seq::seq2seq::{DecodeOptions, Limits, Padded, Seq2Seq, Seq2SeqError, TrainConfig, beam_search, greedy};
use malmoi_tensor::no_grad;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Distinct strings of 2–6 letters from `a`–`f`, each with its reversal.
fn reversal_pairs(count: usize, seed: u64) -> Vec<(String, String)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seen = std::collections::HashSet::new();
    let mut pairs = Vec::new();
    while pairs.len() < count {
        let len = rng.random_range(2..=6);
        let word: String = (0..len).map(|_| char::from(b'a' + rng.random_range(0..6u8))).collect();
        if seen.insert(word.clone()) {
            let reversed = word.chars().rev().collect();
            pairs.push((word, reversed));
        }
    }
    pairs
}

fn train_config(epochs: usize) -> TrainConfig {
    TrainConfig { epochs, batch_size: 32, learning_rate: 1e-2, validation_split: 0.1, ..TrainConfig::default() }
}

const LIMITS: Limits = Limits { max_source_len: 8, max_target_len: 10 };

/// One model trained on 1000 reversals (shared by the tests), and 200 pairs it never saw.
fn trained() -> &'static (Seq2Seq, Vec<(String, String)>) {
    static MODEL: OnceLock<(Seq2Seq, Vec<(String, String)>)> = OnceLock::new();
    MODEL.get_or_init(|| {
        let mut pairs = reversal_pairs(1200, 1);
        let held_out = pairs.split_off(1000);
        let (model, _) = Seq2Seq::trainer(16, 32).limits(LIMITS).config(train_config(40)).train(&pairs).unwrap();
        (model, held_out)
    })
}

#[test]
fn it_learns_to_reverse_unseen_strings() {
    let (model, held_out) = trained();
    let evaluation = model.evaluate(held_out).unwrap();
    assert!(evaluation.exact_match > 0.9, "held-out exact match {}", evaluation.exact_match);
    assert!(evaluation.bleu.score > 90.0, "held-out BLEU {}", evaluation.bleu.score);
}

#[test]
fn beam_width_one_is_greedy_and_wider_beams_are_no_less_likely() {
    let (model, held_out) = trained();
    for (source, _) in held_out.iter().take(40) {
        let ids = model.config().source_vocab.encode(source).0;
        let encoded = no_grad(|| model.model().encode(&Padded::new(&[ids], None, None))).unwrap();
        let greedy = greedy(model.model(), &encoded, LIMITS.max_target_len).unwrap().pop().unwrap();
        let one = DecodeOptions { beam_width: 1, length_penalty: 0.0 };
        let beam = beam_search(model.model(), &encoded, &one, LIMITS.max_target_len).unwrap();
        assert_eq!((&beam.ids, beam.finished), (&greedy.ids, greedy.finished), "{source}");
        assert!((beam.log_prob - greedy.log_prob).abs() < 1e-5, "{source}");
        assert!(beam.attention.iter().zip(&greedy.attention).all(|(a, b)| (a - b).abs() < 1e-5), "{source}");
        let wide = DecodeOptions { beam_width: 4, length_penalty: 0.0 };
        let best = beam_search(model.model(), &encoded, &wide, LIMITS.max_target_len).unwrap();
        assert!(best.log_prob >= greedy.log_prob - 1e-4 || !greedy.finished, "{source}");
    }
}

#[test]
fn attention_rows_are_distributions_and_batches_do_not_change_results() {
    let (model, held_out) = trained();
    let sources: Vec<&str> = held_out.iter().take(30).map(|(s, _)| s.as_str()).collect();
    let batch = model.translate_batch(&sources).unwrap();
    for (source, batched) in sources.iter().zip(batch) {
        let batched = batched.unwrap();
        let alone = model.translate(source, &DecodeOptions::default()).unwrap();
        assert_eq!(batched.text, alone.text, "{source}");
        assert_eq!(batched.attention.ncols(), source.chars().count(), "padding columns are dropped");
        for (a, b) in batched.attention.iter().zip(alone.attention.iter()) {
            assert!((a - b).abs() < 1e-5, "{source}: attention depends on the batch");
        }
        for row in batched.attention.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-5, "{source}: row sums to {}", row.sum());
        }
    }
}

#[test]
fn padded_source_steps_get_no_attention() {
    let (model, _) = trained();
    let vocab = &model.config().source_vocab;
    let rows = vec![vocab.encode("ab").0, vocab.encode("abcdef").0];
    let encoded = no_grad(|| model.model().encode(&Padded::new(&rows, None, None))).unwrap();
    let step = model.model().step(&encoded, &[malmoi_seq::seq2seq::BOS; 2], &encoded.state).unwrap();
    assert!(step.attention.row(0).iter().skip(2).all(|&w| w == 0.0));
    assert!((step.attention.row(0).sum() - 1.0).abs() < 1e-5);
}

#[test]
fn a_saved_model_loads_in_inference_mode_and_translates_identically() {
    let (model, held_out) = trained();
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let loaded = Seq2Seq::load(dir.path()).unwrap();
    let beam = DecodeOptions { beam_width: 3, length_penalty: 1.0 };
    for (source, _) in held_out.iter().take(20) {
        assert_eq!(loaded.translate(source, &beam).unwrap(), model.translate(source, &beam).unwrap());
    }
    std::fs::write(dir.path().join("model.safetensors"), b"not a checkpoint").unwrap();
    assert!(matches!(Seq2Seq::load(dir.path()), Err(Seq2SeqError::Seq(malmoi_seq::Error::ModelDir { .. }))));
}

/// A `config.json` that does not describe `model.safetensors` is refused naming the problem:
/// sizes claiming 10^12 weights before anything that size is allocated (it used to allocate
/// them; found by `tests/fuzz.rs`, `seq2seq_model_dir`), a width the stored tensors do not have
/// naming the first tensor that differs, attention without the stored key naming the tensor
/// left over; and so are length limits above [`Limits::MAX`], which would let one translation
/// decode for hours.
#[test]
fn configs_that_do_not_fit_the_weights_are_refused_naming_the_problem() {
    let pairs = reversal_pairs(8, 3);
    let tiny = |limits| Seq2Seq::trainer(2, 2).limits(limits).config(train_config(1)).train(&pairs);
    let (model, _) = tiny(LIMITS).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let path = dir.path().join("config.json");
    let original: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let refused = |section: &str, key: &str, value: serde_json::Value, expected: &str| {
        let mut config = original.clone();
        config[section][key] = value.clone();
        std::fs::write(&path, config.to_string()).unwrap();
        match Seq2Seq::load(dir.path()) {
            Err(Seq2SeqError::Seq(malmoi_seq::Error::ModelDir { reason, .. })) => {
                assert!(reason.contains(expected), "{key} = {value}: {reason}")
            }
            other => panic!("{key} = {value}: expected ModelDir, got {other:?}"),
        }
    };
    for (key, value) in [
        ("source_vocab", 1_000_000_000_000u64),
        ("target_vocab", 1_000_000_000_000),
        ("embedding_dim", 1_000_000_000_000),
        ("hidden_size", 1 << 40),
        ("hidden_size", u64::MAX), // twice this overflowed computing the decoder's width
    ] {
        refused("model", key, value.into(), "above the largest size");
    }
    refused("model", "embedding_dim", 3.into(), "\"source_embedding.weight\" has shape");
    refused("model", "hidden_size", 3.into(), "\"encoder.weight_ih_l0\" has shape");
    refused("model", "attention", "Dot".into(), "no place for stored \"attention_key.weight\"");
    for key in ["max_source_len", "max_target_len"] {
        refused("limits", key, 1_000_000_000_000u64.into(), "exceed");
    }
    let too_long = Limits { max_target_len: Limits::MAX + 1, ..LIMITS };
    assert!(matches!(tiny(too_long), Err(Seq2SeqError::Seq(malmoi_seq::Error::InvalidArgument(_)))));
}

#[test]
fn bad_input_gets_typed_errors_and_unknown_characters_are_reported() {
    let (model, _) = trained();
    let options = DecodeOptions::default();
    assert!(matches!(model.translate("", &options), Err(Seq2SeqError::EmptyInput)));
    assert!(matches!(model.translate("abcabcabc", &options), Err(Seq2SeqError::InputTooLong { length: 9, max: 8 })));
    let translation = model.translate("abz", &options).unwrap();
    assert_eq!(translation.unknown, vec!['z']);
    let batch = model.translate_batch(&["", "abc"]).unwrap();
    assert!(matches!(batch[0], Err(Seq2SeqError::EmptyInput)));
    assert_eq!(batch[1].as_ref().unwrap().text, model.translate("abc", &options).unwrap().text);
    assert!(model.translate("abc", &DecodeOptions { beam_width: 0, length_penalty: 1.0 }).is_err());
}

/// 200 pairs, 20 held out, batches of 32: 6 steps per epoch. Killed mid-epoch twice, each
/// session with a fresh model and optimiser (dropout on: its masks follow the step) that only
/// the checkpoint folder connects, the run ends with the uninterrupted run's weights, step
/// losses and epoch metrics; another config is refused.
#[test]
fn a_killed_run_resumes_to_the_uninterrupted_result() {
    use malmoi_tensor::nn::Module;
    use malmoi_train::{Checkpoints, Session};
    let pairs = reversal_pairs(200, 7);
    let trainer = || Seq2Seq::trainer(8, 8).limits(LIMITS).config(train_config(3));
    let (whole, whole_log) = trainer().train(&pairs).unwrap();
    assert_eq!(whole_log.evals.iter().map(|e| e.step).collect::<Vec<_>>(), [6, 12, 18], "one per epoch");
    let dir = tempfile::tempdir().unwrap();
    let checkpointed = || Session { checkpoints: Some(Checkpoints::new(dir.path())), ..Session::default() };
    for stop in [4, 9] {
        let (_, log) = trainer().session(Session { stop_at_step: Some(stop), ..checkpointed() }).train(&pairs).unwrap();
        assert_eq!(log.steps.len(), stop);
    }
    let (resumed, log) = trainer().session(checkpointed()).train(&pairs).unwrap();
    let weights = |m: &Seq2Seq| m.model().parameters().iter().map(|t| t.to_array()).collect::<Vec<_>>();
    assert_eq!(weights(&resumed), weights(&whole));
    assert_eq!(log.steps, whole_log.steps, "every step's loss, accuracy and learning rate");
    let held_out = |log: &malmoi_train::TrainLog| -> Vec<(usize, f64, f64)> {
        let epochs = log.evals.iter().filter(|e| e.step % 6 == 0);
        epochs.map(|e| (e.step, e.metrics["val_loss"], e.metrics["val_accuracy"])).collect()
    };
    assert_eq!(held_out(&log), held_out(&whole_log));
    let other = TrainConfig { learning_rate: 0.5, ..train_config(3) };
    let err = trainer().config(other).session(checkpointed()).train(&pairs).unwrap_err();
    assert!(err.to_string().contains("another config"), "{err}");
}

#[test]
fn the_attention_map_is_an_svg_labelled_with_the_characters() {
    let (model, _) = trained();
    let translation = model.translate("abcd", &DecodeOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("attention.svg");
    translation.plot_attention(&path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg"));
    for label in ["a", "b", "c", "d", "&lt;/s&gt;"] {
        assert!(svg.contains(&format!(">{label}<")) || svg.contains(&format!("\n{label}\n")), "no label {label}");
    }
    assert!(svg.matches("<rect").count() >= 4 * 5);
}

#[test]
fn beam_search_of_an_uncertain_model_finds_outputs_at_least_as_likely_as_greedy() {
    // after 2 epochs many continuations are plausible, so low-probability hypotheses end early:
    // the search must not stop on them while a better one is still live
    let pairs = reversal_pairs(300, 3);
    let (model, _) = Seq2Seq::trainer(16, 32).limits(LIMITS).config(train_config(2)).train(&pairs).unwrap();
    let wide = DecodeOptions { beam_width: 4, length_penalty: 0.0 };
    let mut better = 0;
    for source in ["abcdef", "fedcba", "aabbcc", "cafe", "bead", "ddd", "efab", "acebdf"] {
        let ids = model.config().source_vocab.encode(source).0;
        let encoded = no_grad(|| model.model().encode(&Padded::new(&[ids], None, None))).unwrap();
        let greedy = greedy(model.model(), &encoded, LIMITS.max_target_len).unwrap().pop().unwrap();
        let best = beam_search(model.model(), &encoded, &wide, LIMITS.max_target_len).unwrap();
        if !greedy.finished {
            continue; // greedy ran into the length limit: nothing comparable
        }
        assert!(best.finished && best.log_prob >= greedy.log_prob - 1e-4, "{source}: {best:?} vs {greedy:?}");
        better += usize::from(best.log_prob > greedy.log_prob + 1e-4);
    }
    assert!(better > 0, "the model is too sure for this test to mean anything");
}

#[test]
fn attention_with_more_queries_than_keys_passes_the_gradient_check() {
    // the decoder attends with every target step (Tq = 5) over a shorter, padded source (Tk = 3)
    use malmoi_tensor::kernels::{AttentionMask, scaled_dot_product_attention};
    use malmoi_tensor::{GradCheckOptions, check_gradients};
    use ndarray::{Array2, ArrayD, IxDyn};
    let mut rng = StdRng::seed_from_u64(5);
    let mut draw = |shape: &[usize]| ArrayD::from_shape_fn(IxDyn(shape), |_| rng.random_range(-1.0f32..1.0));
    let (query, key, value) = (draw(&[2, 1, 5, 4]), draw(&[2, 1, 3, 4]), draw(&[2, 1, 3, 4]));
    let padding = Array2::from_shape_vec((2, 3), vec![false, false, false, false, false, true]).unwrap();
    let mask = AttentionMask { key_padding: Some(padding.view()), causal: false };
    let report = check_gradients(
        |t| scaled_dot_product_attention(&t[0], &t[1], &t[2], &mask, Some(1.0)),
        &[query, key, value],
        GradCheckOptions::default(),
    )
    .unwrap();
    assert_eq!(report.checked, 40 + 24 + 24);
}

#[test]
fn romanization_pairs_are_distinct_hangul_words_and_the_split_keeps_them_apart() {
    use malmoi_seq::seq2seq::data::{romanization_pairs, split};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reviews.txt");
    std::fs::write(&path, "신라 백마 신라 ok 10점 같이\n백마 좋고 아주아주아주긴단어입니다\n").unwrap();
    let pairs = romanization_pairs(&path, 8).unwrap();
    let words: Vec<(&str, &str)> = pairs.iter().map(|p| (p.source.as_str(), p.target.as_str())).collect();
    assert_eq!(words, [("신라", "silla"), ("백마", "baengma"), ("같이", "gachi"), ("좋고", "joko")]);
    let parts = split(pairs.clone(), 3, 1, 9).unwrap();
    assert_eq!((parts.train.len(), parts.held_out.len()), (3, 1));
    assert!(parts.train.iter().all(|p| p.source != parts.held_out[0].source));
    assert_eq!(split(pairs.clone(), 3, 1, 9).unwrap().held_out, parts.held_out, "seeded");
    assert!(split(pairs, 4, 1, 9).is_err(), "more words asked for than exist");
    assert!(romanization_pairs(&dir.path().join("missing.txt"), 8).is_err());
}
