//! LoRA on GPT-2, the Llama-family decoder and BERT, in PEFT's layout both ways.
//!
//! The adapters under fixtures/peft were made by PEFT 0.21.2 (benches/reference/peft_fixtures.py)
//! on the tiny checkpoints of fixtures/hf_models: each loads here and gives PEFT's logits, before
//! and after merging. With `MALMOI_PEFT_ROUNDTRIP_DIR` set, `write_adapters_for_peft` writes
//! adapters made here for benches/reference/peft_roundtrip.py, which loads them into PEFT.

mod common;

use std::path::{Path, PathBuf};

use malmoi_tensor::nn::Module;
use malmoi_tensor::no_grad;
use malmoi_tensor::optim::{Adam, Optimizer};
use malmoi_transformer::decoder::Decoder;
use malmoi_transformer::lora::{LoraConfig, LoraError, LoraInit, LoraModel, TargetModules, read_adapter_config};
use malmoi_transformer::{Bert, BertInput, CausalLm, Error, Gpt, GptConfig};
use ndarray::{Array2, ArrayD, Ix2};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn peft(name: &str) -> PathBuf {
    fixtures().join("peft").join(name)
}

fn gpt2_base() -> PathBuf {
    fixtures().join("hf_models/gpt2_kogpt2_keys")
}

fn llama_base() -> PathBuf {
    fixtures().join("hf_models/llama")
}

fn max_diff(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// The LoRA refusal a call gave (as this crate's [`Error::Lora`]).
fn lora_error<T: std::fmt::Debug>(result: Result<T, Error>) -> LoraError {
    match result {
        Err(Error::Lora(error)) => error,
        other => panic!("expected a LoRA error, got {other:?}"),
    }
}

/// Logits `(B, T, vocab)` through the cached inference path.
fn logits(model: &dyn CausalLm, ids: &Array2<u32>) -> ArrayD<f32> {
    model.forward_cached(ids, &mut model.new_cache(ids.nrows())).unwrap().into_dyn()
}

/// The input ids and PEFT's logits (with the adapter, and merged) of a fixture.
fn expected(name: &str) -> (Array2<u32>, ArrayD<f32>, ArrayD<f32>) {
    let tensors = common::expected_tensors(peft(name).join("expected.safetensors"));
    let ids = tensors["input_ids"].mapv(|v| v as u32).into_dimensionality::<Ix2>().unwrap();
    (ids, tensors["logits"].clone(), tensors["merged_logits"].clone())
}

/// Loads PEFT's adapter `name` onto `model`, checks PEFT's logits, merges, checks again.
fn check_fixture<M: LoraModel + CausalLm>(mut model: M, name: &str, adapted: usize) {
    let (ids, with_adapter, merged) = expected(name);
    let base = logits(&model, &ids);
    let modules = model.load_adapter(peft(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(modules.len(), adapted, "{name}: {modules:?}");
    let ours = logits(&model, &ids);
    let diff = max_diff(&ours, &with_adapter);
    assert!(diff < 1e-4, "{name}: max |Δ| = {diff} against PEFT");
    assert!(max_diff(&ours, &base) > 1e-2, "{name}: the adapter changes the logits");
    assert_eq!(model.with_adapters_disabled(|m| logits(m, &ids)), base, "{name}: adapters off give the base");
    assert_eq!(model.merge_and_unload(), modules);
    let diff = max_diff(&logits(&model, &ids), &merged);
    assert!(diff < 1e-4, "{name}: merged max |Δ| = {diff} against PEFT's merge_and_unload");
    assert!(model.trainable_parameters().is_empty());
}

#[test]
fn peft_gpt2_adapters_give_pefts_logits() {
    check_fixture(Gpt::from_pretrained(gpt2_base()).unwrap(), "gpt2_qkv", 2);
    check_fixture(Gpt::from_pretrained(gpt2_base()).unwrap(), "gpt2_all_rslora", 8);
}

#[test]
fn peft_llama_adapters_give_pefts_logits() {
    check_fixture(Decoder::from_pretrained(llama_base()).unwrap(), "llama_qv", 4);
    check_fixture(Decoder::from_pretrained(llama_base()).unwrap(), "llama_mlp_regex", 3);
}

#[test]
fn saved_adapters_reload_here_bit_for_bit_under_pefts_names() {
    let mut model = Decoder::from_pretrained(llama_base()).unwrap();
    model.load_adapter(peft("llama_qv")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save_adapter(dir.path()).unwrap();

    let ours = common::expected_tensors(dir.path().join("adapter_model.safetensors"));
    let pefts = common::expected_tensors(peft("llama_qv").join("adapter_model.safetensors"));
    assert_eq!(ours, pefts, "PEFT's tensor names, values unchanged");
    let config = read_adapter_config(dir.path()).unwrap();
    assert_eq!((config.r, config.lora_alpha, config.task_type.as_deref()), (4, 16.0, Some("CAUSAL_LM")));
    assert_eq!(config.peft_type, "LORA");

    let mut reloaded = Decoder::from_pretrained(llama_base()).unwrap();
    reloaded.load_adapter(dir.path()).unwrap();
    let (ids, _, _) = expected("llama_qv");
    assert_eq!(logits(&reloaded, &ids), logits(&model, &ids));
    assert_eq!(reloaded.lora_config().unwrap(), model.lora_config().unwrap());
}

fn tiny_gpt_config() -> GptConfig {
    GptConfig {
        vocab_size: 30,
        block_size: 16,
        n_layer: 2,
        n_head: 2,
        n_embd: 16,
        dropout: 0.0,
        ..GptConfig::default()
    }
}

#[test]
fn lora_training_moves_only_the_adapters() {
    let mut model = Gpt::new(tiny_gpt_config(), 0).unwrap();
    let base: Vec<(String, ArrayD<f32>)> =
        model.named_parameters().into_iter().map(|(name, p)| (name, p.to_array())).collect();
    let lora = LoraConfig {
        r: 4,
        lora_alpha: 8.0,
        lora_dropout: 0.1,
        target_modules: Some(TargetModules::names(["c_attn", "c_proj"])),
        ..LoraConfig::default()
    };
    assert_eq!(model.add_lora(&lora, 7).unwrap().len(), 6, "c_proj is attn.c_proj and mlp.c_proj");
    let trainable = model.trainable_parameters();
    assert_eq!(trainable.len(), 12);
    let names: Vec<String> = model.named_parameters().into_iter().map(|(name, _)| name).collect();
    assert!(trainable.iter().all(|(name, _)| names.contains(name)), "the model's own parameter names");

    let mut optimizer = Adam::new(trainable, 1e-2).unwrap();
    let ids = Array2::from_shape_fn((4, 12), |(b, t)| ((b * 7 + t * 3) % 30) as u32);
    let targets = Array2::from_shape_fn((4, 12), |(b, t)| ((b * 7 + t * 3 + 3) % 30) as u32);
    let mut losses = Vec::new();
    for step in 0..20 {
        model.reseed(step);
        model.zero_grad();
        let (_, loss) = model.forward(&ids, Some(&targets)).unwrap();
        let loss = loss.unwrap();
        losses.push(loss.item().unwrap());
        loss.backward().unwrap();
        for (module, linear) in model.linears() {
            assert!(linear.weight.grad().is_none(), "{module}: the frozen base computes no dW");
        }
        let trained: Vec<String> = model.trainable_parameters().into_iter().map(|(name, _)| name).collect();
        for (name, tensor) in model.named_parameters().into_iter().filter(|(name, _)| !trained.contains(name)) {
            assert!(tensor.grad().is_none(), "{name}: embeddings and norms of the base are frozen too");
        }
        optimizer.step().unwrap();
    }
    assert!(losses[19] < losses[0] - 0.1, "loss drops: {losses:?}");
    for (name, before) in &base {
        let now = model.named_parameters().into_iter().find(|(n, _)| n == name).unwrap().1.to_array();
        assert_eq!(&now, before, "{name} moved");
    }
    let a = &model.trainable_parameters()[1].1;
    assert!(a.to_array().iter().any(|&v| v != 0.0), "B left zero");
}

#[test]
fn adapters_off_give_the_base_model_exactly() {
    let random = |targets: TargetModules| LoraConfig {
        r: 4,
        lora_alpha: 8.0,
        init_lora_weights: LoraInit::Random,
        target_modules: Some(targets),
        ..LoraConfig::default()
    };
    let ids = ndarray::array![[1u32, 5, 9, 2, 7]];
    let mut gpt = Gpt::new(tiny_gpt_config(), 0).unwrap();
    let base = gpt.forward(&ids, None).unwrap().0.to_array();
    gpt.add_lora(&random(TargetModules::Pattern("all-linear".into())), 1).unwrap();
    let on = gpt.forward(&ids, None).unwrap().0.to_array();
    assert!(max_diff(&on, &base) > 1e-2);
    let off = gpt.with_adapters_disabled(|m| m.forward(&ids, None).unwrap().0.to_array());
    assert_eq!(off, base, "the reference model, bit for bit");
    assert_eq!(gpt.forward(&ids, None).unwrap().0.to_array(), on, "switched back on");
    gpt.set_adapters_enabled(false);
    assert_eq!(gpt.forward(&ids, None).unwrap().0.to_array(), base);

    let mut llama = Decoder::from_pretrained(llama_base()).unwrap();
    let base = logits(&llama, &ids);
    let modules = llama.add_lora(&random(TargetModules::Pattern("all-linear".into())), 2).unwrap();
    assert_eq!(modules.len(), 14, "7 per layer, lm_head left out: {modules:?}");
    assert!(max_diff(&logits(&llama, &ids), &base) > 1e-2);
    assert_eq!(llama.with_adapters_disabled(|m| logits(m, &ids)), base);

    let mut bert = Bert::from_pretrained(fixtures().join("bert-tiny")).unwrap();
    let input = BertInput::pad(&[(vec![2, 17, 9, 3], vec![0, 0, 1, 1]), (vec![2, 5, 3], vec![0; 3])], 0).unwrap();
    let hidden = |m: &Bert| no_grad(|| m.forward(&input)).unwrap().last_hidden_state.to_array();
    let base = hidden(&bert);
    let modules = bert.add_lora(&random(TargetModules::names(["query", "value", "intermediate.dense"])), 3).unwrap();
    assert_eq!(
        modules[..3],
        [
            "encoder.layer.0.attention.self.query",
            "encoder.layer.0.attention.self.value",
            "encoder.layer.0.intermediate.dense"
        ]
    );
    assert!(max_diff(&hidden(&bert), &base) > 1e-2);
    assert_eq!(bert.with_adapters_disabled(hidden), base);
}

#[test]
fn default_targets_are_pefts() {
    let lora = LoraConfig { r: 2, ..LoraConfig::default() };
    let mut gpt = Gpt::new(tiny_gpt_config(), 0).unwrap();
    assert_eq!(gpt.add_lora(&lora, 0).unwrap(), ["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"]);
    let config = gpt.lora_config().unwrap().unwrap();
    assert!(config.fan_in_fan_out, "GPT-2's Conv1D layout, as PEFT expects it");
    let mut llama = Decoder::from_pretrained(llama_base()).unwrap();
    let modules = llama.add_lora(&lora, 0).unwrap();
    assert_eq!(modules[..2], ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj"]);
    let mut bert = Bert::from_pretrained(fixtures().join("bert-tiny")).unwrap();
    assert_eq!(bert.add_lora(&lora, 0).unwrap().len(), 4);
    assert_eq!(bert.lora_config().unwrap().unwrap().task_type.as_deref(), Some("FEATURE_EXTRACTION"));
    let excluded = LoraConfig {
        target_modules: Some(TargetModules::names(["q_proj", "v_proj"])),
        exclude_modules: Some(TargetModules::Pattern(r"model\.layers\.0\..*".into())),
        ..lora.clone()
    };
    let mut llama = Decoder::from_pretrained(llama_base()).unwrap();
    assert_eq!(
        llama.add_lora(&excluded, 0).unwrap(),
        ["model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"]
    );
    let neox = || Decoder::from_pretrained(fixtures().join("hf_models/gpt_neox_parallel")).unwrap();
    let modules = neox().add_lora(&lora, 0).unwrap();
    assert_eq!(modules[0], "gpt_neox.layers.0.attention.query_key_value");
    assert!(modules.iter().all(|m| m.ends_with("attention.query_key_value")));
    let all = LoraConfig { target_modules: Some(TargetModules::Pattern("all-linear".into())), ..lora };
    let modules = neox().add_lora(&all, 0).unwrap();
    assert!(modules.contains(&"gpt_neox.layers.0.mlp.dense_4h_to_h".to_string()));
    assert!(!modules.contains(&"embed_out".to_string()), "the output layer is left out");
}

#[test]
fn bad_targets_and_ranks_are_typed_errors() {
    let mut gpt = Gpt::new(tiny_gpt_config(), 0).unwrap();
    let with =
        |targets: TargetModules, r: usize| LoraConfig { r, target_modules: Some(targets), ..LoraConfig::default() };
    let typo = lora_error(gpt.add_lora(&with(TargetModules::names(["c_attn", "q_prj"]), 2), 0));
    assert!(matches!(&typo, LoraError::NoMatch { pattern } if pattern == "q_prj"), "{typo}");
    let regex = lora_error(gpt.add_lora(&with(TargetModules::Pattern(r".*\.q_proj".into()), 2), 0));
    assert!(matches!(&regex, LoraError::NoMatch { pattern } if pattern == r".*\.q_proj"), "{regex}");
    assert!(matches!(lora_error(gpt.add_lora(&with(TargetModules::names(["c_fc"]), 0), 0)), LoraError::ZeroRank));
    let wide = lora_error(gpt.add_lora(&with(TargetModules::names(["c_fc"]), 17), 0));
    assert!(
        matches!(&wide, LoraError::RankTooLarge { module, r: 17, .. } if module == "transformer.h.0.mlp.c_fc"),
        "{wide}"
    );
    assert!(gpt.adapted_modules().is_empty(), "failed calls leave the model unchanged");
    gpt.add_lora(&with(TargetModules::names(["c_fc"]), 2), 0).unwrap();
    let twice = lora_error(gpt.add_lora(&with(TargetModules::names(["c_attn"]), 2), 0));
    assert!(matches!(&twice, LoraError::AlreadyAdapted { module } if module == "transformer.h.0.mlp.c_fc"));
    let unload = gpt.unload();
    assert_eq!(unload.len(), 2);
    assert!(matches!(lora_error(gpt.save_adapter(tempfile::tempdir().unwrap().path())), LoraError::NoAdapters));
}

/// A configuration from JSON (the tensor crate's `LoraResult`) and the adapters (this crate's
/// `Result`): one `?` each.
fn adapt_c_fc(model: &mut Gpt, json: &str) -> malmoi_transformer::Result<Vec<String>> {
    let config = LoraConfig::from_json(json)?;
    model.add_lora(&LoraConfig { target_modules: Some(TargetModules::names(["c_fc"])), ..config }, 0)
}

#[test]
fn lora_errors_convert_into_the_crates_error() {
    let mut gpt = Gpt::new(tiny_gpt_config(), 0).unwrap();
    let zero = adapt_c_fc(&mut gpt, r#"{"r": 0}"#).unwrap_err();
    assert!(matches!(zero, Error::Lora(LoraError::ZeroRank)), "{zero}");
    assert_eq!(zero.to_string(), LoraError::ZeroRank.to_string(), "shown as the LoRA error itself");
    let wide = adapt_c_fc(&mut gpt, r#"{"r": 17}"#).unwrap_err();
    assert!(matches!(wide, Error::Lora(LoraError::RankTooLarge { r: 17, .. })), "{wide}");
    assert_eq!(adapt_c_fc(&mut gpt, r#"{"r": 2}"#).unwrap().len(), 2);
}

#[test]
fn adapters_for_another_base_are_refused_naming_the_tensor() {
    let mut llama = Decoder::from_pretrained(llama_base()).unwrap();
    let gpt2 = lora_error(llama.load_adapter(peft("gpt2_qkv")));
    let LoraError::UnexpectedTensor { name, .. } = &gpt2 else { panic!("{gpt2}") };
    assert_eq!(name, "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight");
    let mut gpt = Gpt::from_pretrained(gpt2_base()).unwrap();
    assert!(matches!(lora_error(gpt.load_adapter(peft("llama_qv"))), LoraError::UnexpectedTensor { .. }));

    // the same names on a narrower model: the width shows in the shapes
    let narrow = Decoder::new(
        malmoi_transformer::decoder::DecoderConfig { hidden_size: 16, ..llama.config().clone() },
        malmoi_transformer::llama::NAMES,
        0,
    );
    let mut narrow = narrow.unwrap();
    let shape = lora_error(narrow.load_adapter(peft("llama_qv")));
    let LoraError::Shape { name, expected, got } = &shape else { panic!("{shape}") };
    assert_eq!(name, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
    assert_eq!((&expected[..], &got[..]), (&[4, 16][..], &[4, 32][..]));

    // another vocabulary shows in an adapted output layer
    let lora = LoraConfig { r: 2, target_modules: Some(TargetModules::names(["lm_head"])), ..LoraConfig::default() };
    llama.add_lora(&lora, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    llama.save_adapter(dir.path()).unwrap();
    let config = malmoi_transformer::decoder::DecoderConfig { vocab_size: 500, ..llama.config().clone() };
    let mut other_vocabulary = Decoder::new(config, malmoi_transformer::llama::NAMES, 0).unwrap();
    let vocabulary = lora_error(other_vocabulary.load_adapter(dir.path()));
    let LoraError::Shape { name, expected, got } = &vocabulary else { panic!("{vocabulary}") };
    assert_eq!(name, "base_model.model.lm_head.lora_B.weight");
    assert_eq!((&expected[..], &got[..]), (&[500, 2][..], &[512, 2][..]));
    assert!(other_vocabulary.adapted_modules().is_empty(), "a failed load leaves the model unchanged");
}

/// Copies a fixture adapter to a temporary folder, with its config and weights edited.
fn edited(name: &str, config: impl Fn(&mut serde_json::Value), keep: impl Fn(&str) -> bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(peft(name).join("adapter_config.json")).unwrap()).unwrap();
    config(&mut json);
    std::fs::write(dir.path().join("adapter_config.json"), json.to_string()).unwrap();
    let tensors = common::expected_tensors(peft(name).join("adapter_model.safetensors"));
    let kept: Vec<(&String, &ArrayD<f32>)> = tensors.iter().filter(|(n, _)| keep(n)).collect();
    malmoi_tensor::checkpoint::save(
        dir.path().join("adapter_model.safetensors"),
        kept.iter().map(|(n, a)| (n.as_str(), *a)),
        &Default::default(),
    )
    .unwrap();
    dir
}

#[test]
fn broken_adapter_folders_are_typed_errors() {
    let model = || Decoder::from_pretrained(llama_base()).unwrap();
    let missing = edited("llama_qv", |_| {}, |n| !n.contains("layers.1.self_attn.v_proj.lora_B"));
    let error = lora_error(model().load_adapter(missing.path()));
    let LoraError::MissingTensor { name } = &error else { panic!("{error}") };
    assert_eq!(name, "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight");
    let untargeted = edited("llama_qv", |json| json["target_modules"] = serde_json::json!(["q_proj"]), |_| true);
    let error = lora_error(model().load_adapter(untargeted.path()));
    assert!(matches!(&error, LoraError::UnexpectedTensor { name, .. } if name.contains("v_proj")), "{error}");
    let dora = edited("llama_qv", |json| json["use_dora"] = true.into(), |_| true);
    let error = lora_error(model().load_adapter(dora.path()));
    assert!(matches!(&error, LoraError::UnsupportedKey { key, .. } if key == "use_dora"), "{error}");
    let rank = edited("llama_qv", |json| json["r"] = 8.into(), |_| true);
    let rank = lora_error(model().load_adapter(rank.path()));
    assert!(matches!(rank, LoraError::Shape { .. }), "r 8 against rank-4 tensors: {rank}");
    let empty = tempfile::tempdir().unwrap();
    let missing = model().load_adapter(empty.path()).unwrap_err();
    assert!(matches!(&missing, Error::Io { path, .. } if path.ends_with("adapter_config.json")), "{missing}");
    std::fs::copy(peft("llama_qv").join("adapter_config.json"), empty.path().join("adapter_config.json")).unwrap();
    let missing = model().load_adapter(empty.path()).unwrap_err();
    assert!(matches!(&missing, Error::Io { path, .. } if path.ends_with("adapter_model.safetensors")), "{missing}");
}

#[test]
fn half_precision_adapter_files_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(peft("llama_qv").join("adapter_config.json"), dir.path().join("adapter_config.json")).unwrap();
    let tensors = common::expected_tensors(peft("llama_qv").join("adapter_model.safetensors"));
    let named = tensors.iter().map(|(n, a)| (n.as_str(), a));
    let path = dir.path().join("adapter_model.safetensors");
    malmoi_tensor::checkpoint::save_with(path, named, &Default::default(), malmoi_tensor::checkpoint::Precision::F16)
        .unwrap();
    let mut model = Decoder::from_pretrained(llama_base()).unwrap();
    model.load_adapter(dir.path()).unwrap();
    let (ids, with_adapter, _) = expected("llama_qv");
    let diff = max_diff(&logits(&model, &ids), &with_adapter);
    assert!(diff < 2e-2, "f16 adapter weights: max |Δ| = {diff}");
}

#[test]
fn adapted_models_save_only_after_merging() {
    let mut gpt = Gpt::from_pretrained(gpt2_base()).unwrap();
    gpt.load_adapter(peft("gpt2_qkv")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(gpt.save_pretrained(dir.path()), Err(Error::Config(_))));
    gpt.merge_and_unload();
    gpt.save_pretrained(dir.path()).unwrap();
    let (ids, _, merged) = expected("gpt2_qkv");
    assert!(max_diff(&logits(&Gpt::from_pretrained(dir.path()).unwrap(), &ids), &merged) < 1e-4);
}

/// Writes adapters made here, with the inputs and our outputs, for
/// benches/reference/peft_roundtrip.py: `MALMOI_PEFT_ROUNDTRIP_DIR=dir cargo test -p
/// malmoi-transformer --test lora write_adapters_for_peft`, then `python3
/// benches/reference/peft_roundtrip.py dir`.
#[test]
fn write_adapters_for_peft() {
    let Some(out) = std::env::var_os("MALMOI_PEFT_ROUNDTRIP_DIR").map(PathBuf::from) else { return };
    let lora = |targets: TargetModules, use_rslora: bool| LoraConfig {
        r: 4,
        lora_alpha: 8.0,
        use_rslora,
        init_lora_weights: LoraInit::Random,
        target_modules: Some(targets),
        ..LoraConfig::default()
    };
    let ids = ndarray::array![[1u32, 5, 9, 2, 7, 11, 3], [4, 8, 15, 16, 23, 42, 0]];

    let mut gpt = Gpt::from_pretrained(gpt2_base()).unwrap();
    gpt.add_lora(&lora(TargetModules::names(["c_attn", "c_proj", "c_fc"]), true), 1).unwrap();
    write_causal_case(&out.join("gpt2"), &gpt2_base(), &gpt, &ids);
    let mut llama = Decoder::from_pretrained(llama_base()).unwrap();
    llama.add_lora(&lora(TargetModules::Pattern("all-linear".into()), false), 2).unwrap();
    write_causal_case(&out.join("llama"), &llama_base(), &llama, &ids);

    let mut bert = Bert::from_pretrained(fixtures().join("bert-tiny")).unwrap();
    bert.add_lora(&lora(TargetModules::names(["query", "value", "dense"]), false), 3).unwrap();
    let input = BertInput::pad(&[(vec![2, 17, 9, 3, 5], vec![0, 0, 1, 1, 1]), (vec![2, 5, 3], vec![0; 3])], 0).unwrap();
    let hidden = no_grad(|| bert.forward(&input)).unwrap().last_hidden_state.to_array();
    let tensors = [
        ("input_ids", input.input_ids.mapv(|v| v as f32).into_dyn()),
        ("token_type_ids", input.token_type_ids.mapv(|v| v as f32).into_dyn()),
        ("attention_mask", input.attention_mask.mapv(|v| f32::from(u8::from(v))).into_dyn()),
        ("output", hidden),
    ];
    write_case(&out.join("bert"), &fixtures().join("bert-tiny"), "bert", &bert, &tensors);
}

/// [`write_case`] for a causal LM: the ids in, the logits out.
fn write_causal_case<M: LoraModel + CausalLm>(dir: &Path, base: &Path, model: &M, ids: &Array2<u32>) {
    let tensors = [("input_ids", ids.mapv(|v| v as f32).into_dyn()), ("output", logits(model, ids))];
    write_case(dir, base, "causal_lm", model, &tensors);
}

/// One folder for the reference script: the adapter, `case.json` (the base folder and kind)
/// and `malmoi.safetensors` (the inputs, as f32, and our `output`).
fn write_case<M: LoraModel>(dir: &Path, base: &Path, kind: &str, model: &M, tensors: &[(&str, ArrayD<f32>)]) {
    model.save_adapter(dir).unwrap();
    let case = serde_json::json!({ "base": base.canonicalize().unwrap(), "kind": kind });
    std::fs::write(dir.join("case.json"), case.to_string()).unwrap();
    let named = tensors.iter().map(|(name, tensor)| (*name, tensor));
    malmoi_tensor::checkpoint::save(dir.join("malmoi.safetensors"), named, &Default::default()).unwrap();
}
