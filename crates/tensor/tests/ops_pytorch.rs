//! Composite graphs compared with PyTorch: loss and every input gradient.
//! Fixture: `tests/fixtures/torch_composite.json`, written by
//! `benches/reference/tensor_torch_fixture.py`.

use std::collections::HashMap;

use malmoi_tensor::{Result, Tensor};
use ndarray::{ArrayD, IxDyn, array};
use serde_json::Value;

/// One fixture case: its inputs as parameters, PyTorch's loss and gradients.
struct Case {
    params: HashMap<String, Tensor>,
    loss: f32,
    grads: HashMap<String, Vec<f32>>,
}

fn floats(value: &Value) -> Vec<f32> {
    value.as_array().expect("array").iter().map(|v| v.as_f64().expect("number") as f32).collect()
}

fn load(name: &str) -> Case {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/torch_composite.json"))
        .expect("fixture exists");
    let root: Value = serde_json::from_str(&text).expect("valid json");
    let case = &root["cases"][name];
    let params = case["inputs"]
        .as_object()
        .expect("inputs")
        .iter()
        .map(|(key, input)| {
            let shape: Vec<usize> =
                input["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
            let data = ArrayD::from_shape_vec(IxDyn(&shape), floats(&input["values"])).expect("shape fits");
            (key.clone(), Tensor::parameter(data))
        })
        .collect();
    let grads = case["grads"].as_object().expect("grads").iter().map(|(k, g)| (k.clone(), floats(g))).collect();
    Case { params, loss: case["loss"].as_f64().expect("loss") as f32, grads }
}

/// Runs `graph` on the case's inputs and compares loss and gradients.
fn compare(name: &str, graph: impl Fn(&HashMap<String, Tensor>) -> Result<Tensor>) {
    let case = load(name);
    let loss = graph(&case.params).unwrap();
    let close = |got: f32, want: f32| (got - want).abs() <= 1e-5 + 1e-4 * want.abs();
    assert!(close(loss.item().unwrap(), case.loss), "{name}: loss {} vs torch {}", loss.item().unwrap(), case.loss);
    loss.backward().unwrap();
    for (key, want) in &case.grads {
        let got = case.params[key].grad().expect("every input gets a gradient");
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(close(g, w), "{name}: d/d{key}[{i}] = {g} vs torch {w}");
        }
    }
}

#[test]
fn mlp_block_matches_pytorch() {
    compare("mlp_block", |p| {
        let h = p["x"].matmul(&p["w1"])?.add(&p["b1"])?.gelu();
        let h = h.layer_norm(Some(&p["ln_w"]), Some(&p["ln_b"]), 1e-5)?;
        let logits = h.matmul(&p["w2"])?.add(&p["b2"])?;
        logits.cross_entropy(&array![0_usize, 2, 1, 2].into_dyn(), Some(2))
    });
}

#[test]
fn causal_attention_matches_pytorch() {
    compare("causal_attention", |p| {
        let scores = p["q"].matmul(&p["k"].transpose(-1, -2)?)?.mul_scalar(0.5);
        let future = ArrayD::from_shape_fn(IxDyn(&[3, 3]), |i| i[1] > i[0]);
        let attention = scores.masked_fill(&future, f32::NEG_INFINITY)?.softmax(-1)?;
        attention.matmul(&p["v"])?.gelu_tanh().mse_loss(&p["target"])
    });
}

#[test]
fn gates_and_logits_match_pytorch() {
    compare("gates_and_logits", |p| {
        let (a, b) = (&p["a"], &p["b"]);
        let gate = a.sigmoid().mul(&b.tanh())?.add(&a.sub(b)?.relu())?;
        let joined = Tensor::cat(&[gate, a.exp().sqrt()], 1)?;
        let scores = joined.log_softmax(-1)?.max_axis(1, false)?.add(&joined.powf(2.0).mean_axes(&[1], false)?)?;
        scores.binary_cross_entropy_with_logits(&p["labels"])
    });
}
