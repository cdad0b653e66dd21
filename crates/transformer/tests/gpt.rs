//! GPT: gradients against finite differences, the key/value cache against the full pass,
//! batch independence, modes, save/load and bad input.

use malmoi_tensor::nn::Module;
use malmoi_tensor::{GradCheckOptions, Tensor, VarBuilder, check_gradients, no_grad};
use malmoi_transformer::block::{Block, Pass};
use malmoi_transformer::{Error, Gpt, GptConfig, IGNORE_INDEX, NormPlacement, Positions};
use ndarray::{Array2, ArrayD, IxDyn, array, s};
use rand::{SeedableRng, rngs::StdRng};

fn assert_close(a: &ArrayD<f32>, b: &ArrayD<f32>, tolerance: f32) {
    assert_eq!(a.shape(), b.shape());
    let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    assert!(worst < tolerance, "max difference {worst}");
}

fn tiny(positions: Positions, norm: NormPlacement, tied: bool) -> GptConfig {
    GptConfig {
        vocab_size: 23,
        block_size: 12,
        n_layer: 2,
        n_head: 2,
        n_embd: 8,
        n_inner: None,
        dropout: 0.0,
        bias: true,
        tie_word_embeddings: tied,
        layer_norm_epsilon: 1e-5,
        positions,
        norm,
    }
}

/// Every parameter's analytic gradient equals a central difference of the loss, checked on a
/// few entries of each tensor (tied embeddings, both norm placements, both position kinds).
#[test]
fn parameter_gradients_match_finite_differences() {
    for (positions, norm, tied) in
        [(Positions::Learned, NormPlacement::Pre, true), (Positions::Sinusoidal, NormPlacement::Post, false)]
    {
        let model = Gpt::new(tiny(positions, norm, tied), 3).unwrap();
        // Larger weights than GPT-2's 0.02 so every path carries a measurable gradient.
        let mut rng = StdRng::seed_from_u64(9);
        for (_, p) in model.named_parameters() {
            let noise = malmoi_tensor::nn::init::normal(&p.shape(), 0.0, 0.3, &mut rng).unwrap();
            p.update_data(|d| *d += &noise);
        }
        let ids = array![[1, 5, 7, 2, 9], [3, 3, 8, 0, 4]];
        let targets = array![[5, 7, 2, 9, 1], [3, 8, IGNORE_INDEX, 4, 6]];
        let loss = |m: &Gpt| m.forward(&ids, Some(&targets)).unwrap().1.unwrap();
        model.zero_grad();
        loss(&model).backward().unwrap();
        for (name, p) in model.named_parameters() {
            let grad = p.grad().unwrap_or_else(|| panic!("{name} has no gradient"));
            for index in [0, p.len() / 2, p.len() - 1] {
                let shift = |delta: f32| {
                    p.update_data(|d| d.as_slice_mut().unwrap()[index] += delta);
                };
                let eps = 1e-2;
                shift(eps);
                let up = no_grad(|| loss(&model).item().unwrap()) as f64;
                shift(-2.0 * eps);
                let down = no_grad(|| loss(&model).item().unwrap()) as f64;
                shift(eps);
                let numeric = (up - down) / (2.0 * eps as f64);
                let analytic = grad.as_slice().unwrap()[index] as f64;
                let tolerance = 2e-3 + 2e-2 * numeric.abs().max(analytic.abs());
                assert!(
                    (numeric - analytic).abs() < tolerance,
                    "{name}[{index}]: analytic {analytic} vs numeric {numeric}"
                );
            }
        }
    }
}

/// The gradient a block passes back to its input, against finite differences.
#[test]
fn block_input_gradient_matches_finite_differences() {
    for norm in [NormPlacement::Pre, NormPlacement::Post] {
        let config = GptConfig { n_embd: 8, n_head: 2, n_layer: 2, norm, ..GptConfig::default() };
        let block = Block::new(&config, VarBuilder::fresh(1)).unwrap();
        let x = malmoi_tensor::nn::init::normal(&[2, 4, 8], 0.0, 1.0, &mut StdRng::seed_from_u64(2)).unwrap();
        let identity = |t: &Tensor| Ok(t.clone());
        let report = check_gradients(
            |inputs| Ok(block.forward(&inputs[0], Pass { dropout: &identity, cache: None, weights: None }).unwrap()),
            &[x],
            GradCheckOptions::default(),
        )
        .unwrap();
        assert!(report.max_abs_error < 2e-3, "{norm:?}: {report:?}");
    }
}

/// Feeding a sequence token by token through the cache gives the logits of one full pass.
#[test]
fn kv_cache_equals_the_full_forward_pass() {
    for positions in [Positions::Learned, Positions::Sinusoidal] {
        let mut model = Gpt::new(tiny(positions, NormPlacement::Pre, true), 5).unwrap();
        model.set_training(false);
        let ids = array![[4, 9, 1, 1, 17, 3, 8]];
        let full = no_grad(|| model.forward(&ids, None).unwrap().0.to_array());
        let mut cache = model.new_cache(1);
        let first = model.forward_cached(&ids.slice(s![.., ..3]).to_owned(), &mut cache).unwrap();
        let mut pieces = vec![first.into_dyn()];
        for t in 3..7 {
            pieces.push(model.forward_cached(&ids.slice(s![.., t..t + 1]).to_owned(), &mut cache).unwrap().into_dyn());
        }
        let views: Vec<_> = pieces.iter().map(|p| p.view()).collect();
        let cached = ndarray::concatenate(ndarray::Axis(1), &views).unwrap();
        assert_eq!(cache.len(), 7);
        assert_close(&cached, &full, 1e-5);
    }
}

/// A longer context keeps the old model's logits on texts that fitted the old one, and its new
/// positions start as copies of the trained ones.
#[test]
fn a_longer_context_keeps_short_texts_exact() {
    for positions in [Positions::Learned, Positions::Sinusoidal] {
        let mut model = Gpt::new(tiny(positions, NormPlacement::Pre, false), 8).unwrap();
        model.set_training(false);
        let longer = model.with_block_size(30).unwrap();
        assert!(!longer.is_training());
        let ids = array![[4, 9, 1, 1, 17, 3, 8, 2, 2, 5, 6, 7]];
        let before = model.forward(&ids, None).unwrap().0.to_array();
        let after = longer.forward(&ids, None).unwrap().0.to_array();
        assert_close(&after, &before, 1e-6);
        let long_ids = Array2::from_shape_fn((1, 30), |(_, t)| (t % 23) as u32);
        assert_eq!(longer.forward(&long_ids, None).unwrap().0.shape(), vec![1, 30, 23]);
        if let (Some(old), Some(new)) = (&model.wpe, &longer.wpe) {
            assert_eq!(new.weight.to_array().slice(s![12..24, ..]).into_dyn(), old.weight.to_array().view());
        }
    }
}

/// A row's logits do not depend on the other rows or on right padding after it.
#[test]
fn predictions_do_not_depend_on_the_batch() {
    let mut model = Gpt::new(tiny(Positions::Learned, NormPlacement::Pre, true), 6).unwrap();
    model.set_training(false);
    let alone = model.forward(&array![[7, 2, 11]], None).unwrap().0.to_array();
    let batch = array![[7, 2, 11, 0, 0, 0], [1, 2, 3, 4, 5, 6]];
    let together = model.forward(&batch, None).unwrap().0.to_array();
    assert_close(&together.slice(s![0..1, ..3, ..]).into_dyn().to_owned(), &alone, 1e-5);
}

#[test]
fn dropout_acts_only_in_training_mode() {
    let config = GptConfig { dropout: 0.5, ..tiny(Positions::Learned, NormPlacement::Pre, true) };
    let mut model = Gpt::new(config, 1).unwrap();
    let ids = array![[1, 2, 3, 4]];
    let a = model.forward(&ids, None).unwrap().0.to_array();
    let b = model.forward(&ids, None).unwrap().0.to_array();
    assert_ne!(a, b, "training mode draws new masks");
    model.set_training(false);
    let c = model.forward(&ids, None).unwrap().0.to_array();
    assert_eq!(c, model.forward(&ids, None).unwrap().0.to_array());
    // The cached (generation) path never drops, whatever the mode.
    model.set_training(true);
    let cached = model.forward_cached(&ids, &mut model.new_cache(1)).unwrap().into_dyn();
    assert_close(&cached, &c, 1e-5);
}

#[test]
fn attention_weights_are_causal_distributions() {
    let model = Gpt::new(tiny(Positions::Learned, NormPlacement::Pre, true), 2).unwrap();
    let (_, weights) = model.attention_weights(&[3, 1, 4, 1, 5]).unwrap();
    assert_eq!(weights.len(), 2);
    for w in &weights {
        assert_eq!(w.shape(), &[1, 2, 5, 5]);
        for ((_, _, i, j), &p) in w.indexed_iter() {
            if j > i {
                assert_eq!(p, 0.0);
            }
        }
        for row in w.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-5);
        }
    }
}

#[test]
fn save_and_load_round_trip_every_shape() {
    for (positions, norm, tied) in [
        (Positions::Learned, NormPlacement::Pre, true),
        (Positions::Learned, NormPlacement::Pre, false),
        (Positions::Sinusoidal, NormPlacement::Post, true),
    ] {
        let model = Gpt::new(tiny(positions, norm, tied), 4).unwrap();
        let dir = tempfile::tempdir().unwrap();
        model.save_pretrained(dir.path()).unwrap();
        let loaded = Gpt::from_pretrained(dir.path()).unwrap();
        assert_eq!(loaded.config(), model.config());
        assert!(!loaded.is_training(), "a loaded model predicts in inference mode");
        let ids = array![[1, 2, 3]];
        let expected = no_grad(|| model.forward(&ids, None).unwrap().0.to_array());
        assert_eq!(loaded.forward(&ids, None).unwrap().0.to_array(), expected);
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap()).unwrap();
        let is_gpt2 = positions == Positions::Learned && norm == NormPlacement::Pre;
        assert_eq!(config["model_type"], if is_gpt2 { "gpt2" } else { "malmoi-gpt" });
    }
}

#[test]
fn bad_checkpoints_get_typed_errors() {
    let model = Gpt::new(tiny(Positions::Learned, NormPlacement::Pre, true), 4).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save_pretrained(dir.path()).unwrap();
    let config_path = dir.path().join("config.json");
    let original = std::fs::read_to_string(&config_path).unwrap();

    let with_key = original.replacen('{', "{\"rotary_dim\": 64,", 1);
    std::fs::write(&config_path, with_key).unwrap();
    assert!(
        matches!(Gpt::from_pretrained(dir.path()), Err(Error::UnsupportedConfigKey { key, .. }) if key == "rotary_dim")
    );

    let two_layers = original.replace("\"n_layer\": 2", "\"n_layer\": 3");
    std::fs::write(&config_path, two_layers).unwrap();
    assert!(
        matches!(Gpt::from_pretrained(dir.path()), Err(Error::MissingTensor { name, .. }) if name == "transformer.h.2.ln_1.weight")
    );

    std::fs::write(&config_path, &original).unwrap();
    let weights = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(Gpt::from_pretrained(dir.path()), Err(Error::Tensor(_))));
}

/// A `config.json` claiming 10^12 parameters is refused at its first misshapen or missing
/// tensor, before anything that size is allocated (it used to allocate them), and a huge
/// `n_embd` beside `n_inner` no longer overflows.
#[test]
fn configs_claiming_more_weights_than_the_file_holds_are_refused() {
    let model = Gpt::new(tiny(Positions::Learned, NormPlacement::Pre, true), 4).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save_pretrained(dir.path()).unwrap();
    let config_path = dir.path().join("config.json");
    let original: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    for (key, value) in [
        ("vocab_size", 1_000_000_000_000u64),
        ("n_layer", 1 << 40),
        ("n_embd", 1 << 20),
        ("n_positions", 1_000_000_000),
    ] {
        let mut config = original.clone();
        config[key] = value.into();
        std::fs::write(&config_path, config.to_string()).unwrap();
        match Gpt::from_pretrained(dir.path()) {
            Err(Error::Tensor(malmoi_tensor::Error::CheckpointShape { .. }) | Error::MissingTensor { .. }) => {}
            other => panic!("{key} = {value}: expected a misshapen or missing tensor, got {:?}", other.map(|_| ())),
        }
    }
    let sinusoidal = Gpt::new(tiny(Positions::Sinusoidal, NormPlacement::Pre, true), 4).unwrap();
    let sinusoidal_dir = tempfile::tempdir().unwrap();
    sinusoidal.save_pretrained(sinusoidal_dir.path()).unwrap();
    let sinusoidal_config = sinusoidal_dir.path().join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sinusoidal_config).unwrap()).unwrap();
    config["n_positions"] = 1_000_000_000u64.into();
    std::fs::write(&sinusoidal_config, config.to_string()).unwrap();
    match Gpt::from_pretrained(sinusoidal_dir.path()) {
        Err(Error::Config(reason)) => assert!(reason.contains("sinusoidal position table"), "{reason}"),
        other => panic!("a 10^9-position sinusoidal table: expected a config error, got {:?}", other.map(|_| ())),
    }
    let mut config = original.clone();
    config["n_embd"] = (usize::MAX / 2).into();
    config["n_inner"] = 8.into();
    std::fs::write(&config_path, config.to_string()).unwrap();
    assert!(matches!(Gpt::from_pretrained(dir.path()), Err(Error::Config(_))));
}

#[test]
fn bad_input_is_refused() {
    let model = Gpt::new(tiny(Positions::Learned, NormPlacement::Pre, true), 4).unwrap();
    let too_long = Array2::from_elem((1, 13), 1);
    assert!(matches!(model.forward(&too_long, None), Err(Error::Input(_))));
    assert!(matches!(model.forward(&Array2::zeros((1, 0)), None), Err(Error::Input(_))));
    assert!(matches!(model.forward(&array![[1, 99]], None), Err(Error::Tensor(_))));
    assert!(matches!(model.forward(&array![[1, 2]], Some(&array![[1]])), Err(Error::Input(_))));
    let bad = GptConfig { n_embd: 9, ..tiny(Positions::Learned, NormPlacement::Pre, true) };
    assert!(matches!(Gpt::new(bad, 0), Err(Error::Config(_))));
    let mut cache = model.new_cache(1);
    model.forward_cached(&Array2::from_elem((1, 12), 1), &mut cache).unwrap();
    assert!(matches!(model.forward_cached(&array![[1]], &mut cache), Err(Error::Input(_))));
}

#[test]
fn a_nan_loss_is_an_error() {
    let model = Gpt::new(tiny(Positions::Learned, NormPlacement::Pre, true), 4).unwrap();
    model.wte.weight.set_data(ArrayD::from_elem(IxDyn(&[23, 8]), f32::NAN)).unwrap();
    assert!(matches!(
        model.forward(&array![[1, 2]], Some(&array![[2, 3]])),
        Err(Error::Tensor(malmoi_tensor::Error::NonFinite { .. }))
    ));
}
