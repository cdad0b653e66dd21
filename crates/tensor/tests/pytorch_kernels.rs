//! Forward values and gradients against PyTorch on fixed weights: nn.LSTM /
//! nn.GRU over packed (length-masked) batches,
//! F.scaled_dot_product_attention with padding and causal masks, and a
//! composite Embedding → LSTM → Linear → BCE model. Fixtures come from
//! benches/reference/torch_fixtures.py.

use std::path::Path;

use malmoi_tensor::checkpoint::{Checkpoint, load};
use malmoi_tensor::kernels::{AttentionMask, RecurrentParams, gru, lstm, scaled_dot_product_attention};
use malmoi_tensor::nn::{Embedding, Linear, Module, named_children};
use malmoi_tensor::{Result, Tensor};
use ndarray::{ArrayD, Ix2};

fn fixture(name: &str) -> Checkpoint {
    load(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(format!("{name}.safetensors"))).unwrap()
}

/// Asserts `|a − b| ≤ 1e-5 + 1e-4·|b|` elementwise.
fn assert_matches(actual: &ArrayD<f32>, expected: &ArrayD<f32>, what: &str) {
    assert_eq!(actual.shape(), expected.shape(), "{what}: shape");
    for (k, (&a, &b)) in actual.iter().zip(expected.iter()).enumerate() {
        assert!((a - b).abs() <= 1e-5 + 1e-4 * b.abs(), "{what}[{k}]: {a} vs PyTorch {b}");
    }
}

fn param(f: &Checkpoint, name: &str) -> Tensor {
    Tensor::parameter(f.get(name).unwrap().clone())
}

/// `Σ probe ⊙ value`.
fn probe_loss(value: &Tensor, probe: &ArrayD<f32>) -> Result<Tensor> {
    Ok(value.mul(&Tensor::constant(probe.clone()))?.sum())
}

fn lengths(f: &Checkpoint) -> Vec<usize> {
    f.get("lengths").unwrap().iter().map(|&l| l as usize).collect()
}

/// PyTorch's names of a recurrent layer's parameters, in parent order.
const NAMES: [&str; 4] = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"];

struct Recurrent {
    weights: [Tensor; 4],
}

impl Recurrent {
    /// The layer whose parameters the fixture stores under `prefix` + PyTorch's names.
    fn from_fixture(f: &Checkpoint, prefix: &str) -> Self {
        Recurrent { weights: NAMES.map(|n| param(f, &format!("{prefix}{n}"))) }
    }

    fn params(&self) -> RecurrentParams<'_> {
        let [weight_ih, weight_hh, bias_ih, bias_hh] = &self.weights;
        RecurrentParams { weight_ih, weight_hh, bias_ih, bias_hh }
    }

    fn assert_grads(&self, f: &Checkpoint) {
        for (name, w) in self.named_parameters() {
            assert_matches(&w.grad().unwrap(), f.get(&format!("grad.{name}")).unwrap(), &name);
        }
    }
}

impl Module for Recurrent {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        NAMES.iter().zip(&self.weights).map(|(name, w)| (name.to_string(), w.clone())).collect()
    }
}

#[test]
fn lstm_matches_torch_nn_lstm_on_a_packed_batch() {
    let f = fixture("lstm");
    let layer = Recurrent::from_fixture(&f, "");
    let (x, h0, c0) = (param(&f, "x"), param(&f, "h0"), param(&f, "c0"));
    let (output, (h_n, c_n)) = lstm(&x, layer.params(), Some(&lengths(&f)), Some((&h0, &c0))).unwrap();
    assert_matches(&output.to_array(), f.get("output").unwrap(), "output");
    assert_matches(&h_n.to_array(), f.get("h_n").unwrap(), "h_n");
    assert_matches(&c_n.to_array(), f.get("c_n").unwrap(), "c_n");

    let loss = probe_loss(&output, f.get("probe.output").unwrap()).unwrap();
    let loss = loss.add(&probe_loss(&h_n, f.get("probe.h_n").unwrap()).unwrap()).unwrap();
    let loss = loss.add(&probe_loss(&c_n, f.get("probe.c_n").unwrap()).unwrap()).unwrap();
    loss.backward().unwrap();
    layer.assert_grads(&f);
    assert_matches(&x.grad().unwrap(), f.get("grad.x").unwrap(), "grad x");
    assert_matches(&h0.grad().unwrap(), f.get("grad.h0").unwrap(), "grad h0");
    assert_matches(&c0.grad().unwrap(), f.get("grad.c0").unwrap(), "grad c0");
}

#[test]
fn gru_matches_torch_nn_gru_on_a_packed_batch() {
    let f = fixture("gru");
    let layer = Recurrent::from_fixture(&f, "");
    let (x, h0) = (param(&f, "x"), param(&f, "h0"));
    let (output, h_n) = gru(&x, layer.params(), Some(&lengths(&f)), Some(&h0)).unwrap();
    assert_matches(&output.to_array(), f.get("output").unwrap(), "output");
    assert_matches(&h_n.to_array(), f.get("h_n").unwrap(), "h_n");

    let loss = probe_loss(&output, f.get("probe.output").unwrap()).unwrap();
    let loss = loss.add(&probe_loss(&h_n, f.get("probe.h_n").unwrap()).unwrap()).unwrap();
    loss.backward().unwrap();
    layer.assert_grads(&f);
    assert_matches(&x.grad().unwrap(), f.get("grad.x").unwrap(), "grad x");
    assert_matches(&h0.grad().unwrap(), f.get("grad.h0").unwrap(), "grad h0");
}

#[test]
fn attention_matches_torch_sdpa_with_padding_and_causal_masks() {
    let f = fixture("attention");
    let (q, k, v) = (param(&f, "q"), param(&f, "k"), param(&f, "v"));
    let padding = f.get("key_padding").unwrap().mapv(|m| m != 0.0).into_dimensionality::<Ix2>().unwrap();
    let mask = AttentionMask { key_padding: Some(padding.view()), causal: true };
    let output = scaled_dot_product_attention(&q, &k, &v, &mask, None).unwrap();
    assert_matches(&output.to_array(), f.get("output").unwrap(), "output");
    probe_loss(&output, f.get("probe").unwrap()).unwrap().backward().unwrap();
    for (name, t) in [("q", &q), ("k", &k), ("v", &v)] {
        assert_matches(&t.grad().unwrap(), f.get(&format!("grad.{name}")).unwrap(), name);
    }
}

/// Embedding(padding_idx = 0) → LSTM over the non-padding lengths → Linear
/// on the final hidden state, the lecture's sentiment model in miniature.
struct SentimentModel {
    embedding: Embedding,
    lstm: Recurrent,
    head: Linear,
}

impl Module for SentimentModel {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        named_children(&[("embedding", &self.embedding), ("lstm", &self.lstm), ("head", &self.head)])
    }
}

impl SentimentModel {
    fn logits(&self, ids: &ArrayD<u32>) -> Result<Tensor> {
        let lengths: Vec<usize> = ids.outer_iter().map(|row| row.iter().filter(|&&id| id != 0).count()).collect();
        let embedded = self.embedding.forward(ids)?;
        let (_, (h_n, _)) = lstm(&embedded, self.lstm.params(), Some(&lengths), None)?;
        let batch = lengths.len();
        self.head.forward(&h_n)?.reshape(&[batch])
    }
}

#[test]
fn embedding_lstm_linear_bce_matches_pytorch_loss_and_gradients() {
    let f = fixture("composite");
    let model = SentimentModel {
        embedding: Embedding::from_weights(f.get("embedding.weight").unwrap().clone(), Some(0)).unwrap(),
        lstm: Recurrent::from_fixture(&f, "lstm."),
        head: Linear::from_weights(f.get("head.weight").unwrap().clone(), Some(f.get("head.bias").unwrap().clone()))
            .unwrap(),
    };
    let ids = f.get("ids").unwrap().mapv(|id| id as u32);
    let logits = model.logits(&ids).unwrap();
    assert_matches(&logits.to_array(), f.get("logits").unwrap(), "logits");
    let loss = logits.binary_cross_entropy_with_logits(&Tensor::constant(f.get("targets").unwrap().clone())).unwrap();
    assert_matches(&loss.to_array(), f.get("loss").unwrap(), "loss");
    loss.backward().unwrap();
    for (name, p) in model.named_parameters() {
        assert_matches(&p.grad().unwrap(), f.get(&format!("grad.{name}")).unwrap(), &name);
    }
}
