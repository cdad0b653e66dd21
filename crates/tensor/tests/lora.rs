//! LoRA adapters on a `Linear`: the update's formula, its gradients, the frozen base, the
//! switch, merging, PEFT's initialisation and configuration keys, and typed refusals.

use malmoi_tensor::nn::init;
use malmoi_tensor::nn::lora::{LoraAdapter, LoraConfig, LoraError, LoraInit, TargetModules};
use malmoi_tensor::nn::{Linear, Module};
use malmoi_tensor::{GradCheckOptions, Tensor, VarBuilder, check_gradients, no_grad};
use ndarray::{Array2, ArrayD, Ix2};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn uniform(shape: &[usize], seed: u64) -> ArrayD<f32> {
    init::uniform(shape, -1.0, 1.0, &mut StdRng::seed_from_u64(seed)).unwrap()
}

fn config(r: usize, alpha: f32) -> LoraConfig {
    LoraConfig { r, lora_alpha: alpha, ..LoraConfig::default() }
}

/// A `4 → 5` layer with a bias and a rank-2 adapter whose `B` is not zero.
fn adapted(lora: LoraConfig) -> Linear {
    let mut layer = Linear::from_weights(uniform(&[5, 4], 1), Some(uniform(&[5], 2))).unwrap();
    let lora = LoraConfig { init_lora_weights: LoraInit::Random, ..lora };
    layer.attach_lora(LoraAdapter::new("proj", 4, 5, lora, &VarBuilder::fresh(3)).unwrap()).unwrap();
    layer
}

fn max_diff(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn matrix(t: &Tensor) -> Array2<f32> {
    t.to_array().into_dimensionality::<Ix2>().unwrap()
}

#[test]
fn the_update_is_scale_times_b_a_x_with_plain_and_rs_scaling() {
    for (use_rslora, scale) in [(false, 6.0 / 2.0), (true, 6.0 / 2f32.sqrt())] {
        let layer = adapted(LoraConfig { use_rslora, ..config(2, 6.0) });
        let adapter = layer.lora().unwrap();
        assert_eq!(adapter.scale(), scale);
        let x = uniform(&[3, 4], 4).into_dimensionality::<Ix2>().unwrap();
        let (w, b) = (matrix(&layer.weight), layer.bias.as_ref().unwrap().to_array());
        let (a, bb) = (matrix(adapter.lora_a()), matrix(adapter.lora_b()));
        let expected = x.dot(&w.t()) + &b + x.dot(&a.t()).dot(&bb.t()) * scale;
        let y = layer.forward(&Tensor::constant(x.into_dyn())).unwrap().to_array();
        assert!(max_diff(&y, &expected.into_dyn()) < 1e-5);
    }
}

#[test]
fn an_adapted_layer_passes_gradcheck() {
    let inputs =
        [uniform(&[2, 3, 4], 5), uniform(&[5, 4], 6), uniform(&[5], 7), uniform(&[2, 4], 8), uniform(&[5, 2], 9)];
    let report = check_gradients(
        |t| {
            let mut layer = Linear::from_tensors(t[1].clone(), Some(t[2].clone()))?;
            let adapter = LoraAdapter::from_tensors("proj", t[3].clone(), t[4].clone(), config(2, 3.0)).unwrap();
            layer.attach_lora(adapter).unwrap();
            layer.set_frozen(false);
            layer.forward(&t[0])
        },
        &inputs,
        GradCheckOptions::default(),
    )
    .unwrap();
    assert_eq!(report.checked, inputs.iter().map(ArrayD::len).sum::<usize>());
}

#[test]
fn a_frozen_base_gets_no_gradient_while_input_and_adapter_pass_gradcheck() {
    let (weight, bias) = (Tensor::parameter(uniform(&[5, 4], 6)), Tensor::parameter(uniform(&[5], 7)));
    let inputs = [uniform(&[3, 4], 5), uniform(&[2, 4], 8), uniform(&[5, 2], 9)];
    check_gradients(
        |t| {
            let mut layer = Linear::from_tensors(weight.clone(), Some(bias.clone()))?;
            layer
                .attach_lora(LoraAdapter::from_tensors("proj", t[1].clone(), t[2].clone(), config(2, 3.0)).unwrap())
                .unwrap();
            assert!(layer.is_frozen());
            layer.forward(&t[0])
        },
        &inputs,
        GradCheckOptions::default(),
    )
    .unwrap();
    assert!(weight.grad().is_none() && bias.grad().is_none(), "a frozen base computes no dW, db");
}

#[test]
fn a_fresh_adapter_is_a_no_op_and_a_disabled_one_gives_the_base_exactly() {
    let mut layer = Linear::new(8, 6, true, VarBuilder::fresh(0)).unwrap();
    let x = Tensor::constant(uniform(&[4, 8], 1));
    let base = layer.forward(&x).unwrap().to_array();
    layer.attach_lora(LoraAdapter::new("proj", 8, 6, config(4, 8.0), &VarBuilder::fresh(1)).unwrap()).unwrap();
    assert_eq!(layer.forward(&x).unwrap().to_array(), base, "B starts at zero");

    let layer = adapted(config(2, 4.0));
    let x = Tensor::constant(uniform(&[4, 4], 2));
    let on = layer.forward(&x).unwrap().to_array();
    layer.set_lora_enabled(false);
    let off = layer.forward(&x).unwrap().to_array();
    let plain = Linear::from_tensors(layer.weight.clone(), layer.bias.clone()).unwrap();
    assert_eq!(off, plain.forward(&x).unwrap().to_array(), "bit for bit");
    assert!(max_diff(&on, &off) > 1e-2, "the adapter changes the output");
    layer.set_lora_enabled(true);
    assert_eq!(layer.forward(&x).unwrap().to_array(), on);
}

#[test]
fn merging_folds_the_update_into_the_weight_and_thaws_the_layer() {
    let mut layer = adapted(LoraConfig { use_rslora: true, ..config(2, 5.0) });
    let x = Tensor::constant(uniform(&[3, 4], 3));
    let adapted_out = layer.forward(&x).unwrap().to_array();
    let delta = layer.lora().unwrap().delta_weight();
    let before = layer.weight.to_array();
    layer.set_lora_enabled(false); // merged all the same
    assert!(layer.merge_lora());
    assert!(layer.lora().is_none() && !layer.is_frozen());
    assert_eq!(layer.weight.to_array(), &before + &delta);
    assert!(max_diff(&layer.forward(&x).unwrap().to_array(), &adapted_out) < 1e-5);
    assert!(!layer.merge_lora(), "nothing left to merge");
    assert_eq!(layer.named_parameters().len(), 2);

    let mut layer = adapted(config(2, 4.0));
    let weight = layer.weight.to_array();
    let adapter = layer.detach_lora().unwrap();
    assert_eq!((adapter.module(), adapter.rank()), ("proj", 2));
    assert_eq!(layer.weight.to_array(), weight, "unloading leaves the base as it was");
    assert!(!layer.is_frozen());
}

#[test]
fn fresh_adapters_follow_peft_initialisation() {
    let draw = |init: LoraInit| {
        let lora = LoraConfig { init_lora_weights: init, ..config(16, 16.0) };
        LoraAdapter::new("m", 256, 128, lora, &VarBuilder::fresh(0)).unwrap()
    };
    let kaiming = draw(LoraInit::Kaiming);
    let bound = 1.0 / 16.0; // 1/√in
    let a = kaiming.lora_a().to_array();
    assert!(a.iter().all(|v| v.abs() <= bound) && a.iter().any(|v| v.abs() > 0.9 * bound));
    assert!(kaiming.lora_b().to_array().iter().all(|&v| v == 0.0));
    let random = draw(LoraInit::Random).lora_b().to_array();
    assert!(random.iter().all(|v| v.abs() <= 0.25) && random.iter().any(|v| v.abs() > 0.2), "U(±1/√r)");
    let gaussian = draw(LoraInit::Gaussian).lora_a().to_array();
    let std = (gaussian.iter().map(|v| v * v).sum::<f32>() / gaussian.len() as f32).sqrt();
    assert!((std - 1.0 / 16.0).abs() < 0.005, "std 1/r, got {std}");
}

#[test]
fn adapter_dropout_acts_only_in_training_while_recording() {
    let lora = LoraConfig { lora_dropout: 0.5, ..config(2, 4.0) };
    let mut layer = adapted(lora);
    let x = Tensor::constant(uniform(&[64, 4], 4));
    let eval_like = no_grad(|| layer.forward(&x)).unwrap().to_array();
    let training = layer.forward(&x).unwrap().to_array();
    assert!(max_diff(&training, &eval_like) > 1e-3, "dropout in training mode");
    layer.set_training(false);
    assert_eq!(layer.forward(&x).unwrap().to_array(), eval_like);
    layer.set_training(true);
    layer.lora().unwrap().reseed(9);
    let first = layer.forward(&x).unwrap().to_array();
    layer.lora().unwrap().reseed(9);
    assert_eq!(layer.forward(&x).unwrap().to_array(), first, "reseeding repeats the masks");
}

#[test]
fn ranks_and_widths_are_checked() {
    let vb = VarBuilder::fresh(0);
    assert!(matches!(LoraAdapter::new("m", 4, 5, config(0, 1.0), &vb), Err(LoraError::ZeroRank)));
    let too_large = LoraAdapter::new("h.0.c_attn", 4, 12, config(5, 1.0), &vb).unwrap_err();
    assert!(
        matches!(&too_large, LoraError::RankTooLarge { module, r: 5, in_features: 4, out_features: 12 }
            if module == "h.0.c_attn"),
        "{too_large}"
    );
    assert!(matches!(config(0, 1.0).validate(), Err(LoraError::ZeroRank)));

    let mut layer = adapted(config(2, 4.0));
    let again = layer.attach_lora(LoraAdapter::new("proj", 4, 5, config(2, 4.0), &vb).unwrap()).unwrap_err();
    assert!(matches!(again, LoraError::AlreadyAdapted { module } if module == "proj"));
    let mut plain = Linear::new(3, 5, false, VarBuilder::fresh(1)).unwrap();
    let wrong = plain.attach_lora(LoraAdapter::new("other", 4, 5, config(2, 4.0), &vb).unwrap()).unwrap_err();
    assert!(matches!(&wrong, LoraError::Shape { name, .. } if name == "other.lora_A.weight"), "{wrong}");
    let mismatched = LoraAdapter::from_tensors(
        "m",
        Tensor::parameter(uniform(&[3, 4], 0)),
        Tensor::parameter(uniform(&[5, 3], 1)),
        config(2, 1.0),
    )
    .unwrap_err();
    assert!(matches!(mismatched, LoraError::Shape { .. }), "rank 3 tensors under r = 2");
}

/// What PEFT 0.21.2 writes for `LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"])`.
const PEFT_CONFIG: &str = r#"{
  "alora_invocation_tokens": null, "alpha_pattern": {}, "arrow_config": null, "auto_mapping": null,
  "base_model_name_or_path": "../hf_models/llama", "bias": "none", "corda_config": null,
  "ensure_weight_tying": false, "eva_config": null, "exclude_modules": null, "fan_in_fan_out": false,
  "inference_mode": true, "init_lora_weights": true, "kasa_config": null, "layer_replication": null,
  "layers_pattern": null, "layers_to_transform": null, "loftq_config": {}, "lora_alpha": 16,
  "lora_bias": false, "lora_dropout": 0.05, "lora_ga_config": null, "megatron_config": null,
  "megatron_core": "megatron.core", "modules_to_save": null, "monteclora_config": null, "peft_type": "LORA",
  "peft_version": "0.21.2", "qalora_group_size": 16, "r": 4, "rank_pattern": {}, "revision": null,
  "target_modules": ["v_proj", "q_proj"], "target_parameters": null, "task_type": "CAUSAL_LM",
  "trainable_token_indices": null, "use_bdlora": null, "use_dora": false, "use_qalora": false,
  "use_rslora": false, "velora_config": null
}"#;

#[test]
fn peft_configs_parse_and_round_trip() {
    let config = LoraConfig::from_json(PEFT_CONFIG).unwrap();
    assert_eq!((config.r, config.lora_alpha, config.lora_dropout), (4, 16.0, 0.05));
    assert_eq!(config.target_modules, Some(TargetModules::names(["v_proj", "q_proj"])));
    assert_eq!(config.task_type.as_deref(), Some("CAUSAL_LM"));
    assert_eq!(config.scale(), 4.0);
    assert_eq!(LoraConfig::from_json(&config.to_json()).unwrap(), config);
    let regex = LoraConfig::from_json(r#"{"target_modules": ".*layers\\.1\\.mlp\\.(gate|up|down)_proj"}"#).unwrap();
    assert!(matches!(regex.target_modules, Some(TargetModules::Pattern(_))));
    assert_eq!(LoraConfig::from_json("{}").unwrap(), LoraConfig::default());
    let gaussian = LoraConfig::from_json(r#"{"init_lora_weights": "gaussian"}"#).unwrap();
    assert_eq!(gaussian.init_lora_weights, LoraInit::Gaussian);
}

#[test]
fn keys_that_change_the_computation_are_refused_by_name() {
    let refused = |patch: &str, key: &str| {
        let mut json: serde_json::Value = serde_json::from_str(PEFT_CONFIG).unwrap();
        let patch: serde_json::Value = serde_json::from_str(patch).unwrap();
        json.as_object_mut().unwrap().extend(patch.as_object().unwrap().clone());
        match LoraConfig::from_json(&json.to_string()) {
            Err(LoraError::UnsupportedKey { key: refused, .. }) => assert_eq!(refused, key),
            other => panic!("{patch}: {other:?}"),
        }
    };
    refused(r#"{"use_dora": true}"#, "use_dora");
    refused(r#"{"bias": "all"}"#, "bias");
    refused(r#"{"bias": "lora_only"}"#, "bias");
    refused(r#"{"rank_pattern": {"q_proj": 8}}"#, "rank_pattern");
    refused(r#"{"alpha_pattern": {"q_proj": 8}}"#, "alpha_pattern");
    refused(r#"{"layers_to_transform": [0]}"#, "layers_to_transform");
    refused(r#"{"modules_to_save": ["classifier"]}"#, "modules_to_save");
    refused(r#"{"init_lora_weights": "pissa"}"#, "init_lora_weights");
    refused(r#"{"lora_bias": true}"#, "lora_bias");
    refused(r#"{"peft_type": "IA3"}"#, "peft_type");
    refused(r#"{"a_future_option": 3}"#, "a_future_option");
    let lenient = LoraConfig::from_json(r#"{"a_future_flag": null, "peft_version": "9.9", "inference_mode": false}"#);
    assert!(lenient.is_ok(), "metadata and options left off are accepted");

    let invalid = LoraConfig::from_json(r#"{"lora_dropout": 1.0}"#).unwrap_err();
    assert!(matches!(invalid, LoraError::InvalidValue { key, .. } if key == "lora_dropout"));
    let pattern = LoraConfig::from_json(r#"{"target_modules": "(?=q)q_proj"}"#).unwrap_err();
    assert!(matches!(pattern, LoraError::Pattern { .. }), "{pattern}");
    let typed = LoraConfig::from_json(r#"{"r": "eight"}"#).unwrap_err();
    assert!(matches!(typed, LoraError::Json(_)), "{typed}");
}
