//! Recurrent layers (`nn::RnnCell`, `Rnn`, `Lstm`, `Gru`, `Recurrent`): equality with PyTorch,
//! the layer as the cell unrolled, masking, gradients, initialisation and errors.

use malmoi_tensor::checkpoint::{self, Checkpoint};
use malmoi_tensor::gradcheck::{GradCheckOptions, check_gradients};
use malmoi_tensor::nn::{
    CellKind, Gru, Lstm, Module, Recurrent, RecurrentConfig, RecurrentInit, RecurrentState, Rnn, RnnCell, prefixed,
};
use malmoi_tensor::{Error, Tensor, VarBuilder, no_grad};
use ndarray::{ArrayD, Axis, s};
use rand::{SeedableRng, rngs::StdRng};

/// Made by `benches/reference/seq_torch_fixtures.py`.
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/recurrent_torch.safetensors");

const KINDS: [CellKind; 3] = [CellKind::Rnn, CellKind::Lstm, CellKind::Gru];

fn bidirectional(kind: CellKind, input: usize, hidden: usize, layers: usize) -> Recurrent {
    let config =
        RecurrentConfig { num_layers: layers, bidirectional: true, ..RecurrentConfig::new(kind, input, hidden) };
    Recurrent::new(config, VarBuilder::fresh(7)).unwrap()
}

fn assert_close(ours: &ArrayD<f32>, theirs: &ArrayD<f32>, what: &str) {
    assert_eq!(ours.shape(), theirs.shape(), "{what}: shape");
    let worst = ours.iter().zip(theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(worst < 1e-5, "{what}: max difference {worst}");
}

fn random_input(shape: &[usize], seed: u64) -> ArrayD<f32> {
    malmoi_tensor::nn::init::normal(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed)).unwrap()
}

/// The tensors of `states` stacked along a new first axis, as PyTorch returns `h_n` / `c_n`.
fn stacked(states: impl Iterator<Item = Tensor>) -> ArrayD<f32> {
    let arrays: Vec<ArrayD<f32>> = states.map(|t| t.to_array()).collect();
    ndarray::stack(Axis(0), &arrays.iter().map(|a| a.view()).collect::<Vec<_>>()).unwrap()
}

#[test]
fn bidirectional_stacks_match_pytorch_packed_sequences() {
    let fixture = checkpoint::load(FIXTURE).unwrap();
    let x = Tensor::constant(fixture.get("x").unwrap().clone());
    let lengths: Vec<usize> = fixture.get("lengths").unwrap().iter().map(|&l| l as usize).collect();
    for (name, kind) in [("rnn", CellKind::Rnn), ("lstm", CellKind::Lstm), ("gru", CellKind::Gru)] {
        let layer = bidirectional(kind, 5, 4, 2);
        fixture.load_into(&prefixed(name, layer.named_parameters())).unwrap();
        let out = layer.predict(&x, Some(&lengths)).unwrap();
        assert_close(&out.output.to_array(), fixture.get(&format!("{name}.output")).unwrap(), name);
        let h_n = stacked(out.states.iter().map(|s| s.h.clone()));
        assert_close(&h_n, fixture.get(&format!("{name}.h_n")).unwrap(), &format!("{name} h_n"));
        if kind == CellKind::Lstm {
            let c_n = stacked(out.states.iter().map(|s| s.c.clone().unwrap()));
            assert_close(&c_n, fixture.get("lstm.c_n").unwrap(), "lstm c_n");
        }
    }
}

fn fixture_cell(fixture: &Checkpoint) -> RnnCell {
    let cell = RnnCell::new(5, 4, VarBuilder::fresh(0)).unwrap();
    fixture.load_into(&prefixed("rnn_cell", cell.named_parameters())).unwrap();
    cell
}

#[test]
fn rnn_cell_matches_pytorch() {
    let fixture = checkpoint::load(FIXTURE).unwrap();
    let cell = fixture_cell(&fixture);
    let x = Tensor::constant(fixture.get("rnn_cell.x").unwrap().clone());
    let h = Tensor::constant(fixture.get("rnn_cell.h").unwrap().clone());
    let next = cell.forward(&x, Some(&h)).unwrap();
    assert_close(&next.to_array(), fixture.get("rnn_cell.h_next").unwrap(), "RNNCell");
    assert_eq!((cell.input_size(), cell.hidden_size()), (5, 4));
}

/// `tanh(W_ih x + b_ih + W_hh h + b_hh)` worked by hand for one row.
#[test]
fn rnn_cell_computes_the_lectures_formula() {
    let cell = RnnCell::from_weights(
        ndarray::array![[1.0_f32, 0.0], [0.5, -1.0]].into_dyn(),
        ndarray::array![[2.0_f32, 0.0], [0.0, 1.0]].into_dyn(),
        ndarray::array![0.1_f32, 0.0].into_dyn(),
        ndarray::array![0.0_f32, -0.2].into_dyn(),
    )
    .unwrap();
    let x = Tensor::constant(ndarray::array![[0.3_f32, 0.4]].into_dyn());
    let h = Tensor::constant(ndarray::array![[0.1_f32, -0.5]].into_dyn());
    let next = cell.forward(&x, Some(&h)).unwrap().to_array();
    let expected = [(0.3_f32 + 0.1 + 0.2).tanh(), (0.15_f32 - 0.4 - 0.2 - 0.5).tanh()];
    assert_close(&next, &ndarray::arr2(&[expected]).into_dyn(), "hand-computed step");
    let from_zeros = cell.forward(&x, None).unwrap().to_array();
    let zero_state = cell.forward(&x, Some(&Tensor::zeros(&[1, 2]))).unwrap().to_array();
    assert_eq!(from_zeros, zero_state, "no state means zeros");
}

/// Gradients of every input of a step: `x`, `h` and the four parameters.
#[test]
fn rnn_cell_passes_gradient_check() {
    let inputs = [
        random_input(&[2, 3], 1),
        random_input(&[2, 4], 2),
        random_input(&[4, 3], 3),
        random_input(&[4, 4], 4),
        random_input(&[4], 5),
        random_input(&[4], 6),
    ];
    let report = check_gradients(
        |t| {
            let cell = RnnCell {
                weight_ih: t[2].clone(),
                weight_hh: t[3].clone(),
                bias_ih: t[4].clone(),
                bias_hh: t[5].clone(),
            };
            cell.forward(&t[0], Some(&t[1]))
        },
        &inputs,
        GradCheckOptions::default(),
    )
    .unwrap();
    assert_eq!(report.checked, 6 + 8 + 12 + 16 + 4 + 4);
}

/// The `Rnn` layer is the `RnnCell` applied step after step with the same weights.
#[test]
fn rnn_layer_is_the_cell_unrolled() {
    let layer = Rnn::new(3, 4, VarBuilder::fresh(2)).unwrap();
    let weights: Vec<ArrayD<f32>> = layer.named_parameters().iter().map(|(_, p)| p.to_array()).collect();
    let [weight_ih, weight_hh, bias_ih, bias_hh] = <[ArrayD<f32>; 4]>::try_from(weights).unwrap();
    let cell = RnnCell::from_weights(weight_ih, weight_hh, bias_ih, bias_hh).unwrap();
    let x = random_input(&[2, 5, 3], 9);
    let out = layer.predict(&Tensor::constant(x.clone()), None).unwrap();
    let mut h: Option<Tensor> = None;
    for step in 0..5 {
        let x_t = Tensor::constant(x.slice(s![.., step, ..]).to_owned().into_dyn());
        let next = cell.forward(&x_t, h.as_ref()).unwrap();
        let from_layer = out.output.to_array().slice(s![.., step, ..]).to_owned().into_dyn();
        assert_close(&next.to_array(), &from_layer, &format!("step {step}"));
        h = Some(next);
    }
    assert_close(&h.unwrap().to_array(), &out.states[0].h.to_array(), "final state");
}

#[test]
fn padding_never_influences_outputs_or_gradients() {
    let lengths = [5, 2, 3];
    for kind in KINDS {
        let layer = bidirectional(kind, 3, 4, 2);
        let clean = random_input(&[3, 5, 3], 1);
        let mut noisy = clean.clone();
        noisy.slice_mut(s![1, 2.., ..]).fill(100.0);
        noisy.slice_mut(s![2, 3.., ..]).fill(-7.0);
        let run =
            |x: &ArrayD<f32>| no_grad(|| layer.forward(&Tensor::constant(x.clone()), Some(&lengths), None)).unwrap();
        let (a, b) = (run(&clean), run(&noisy));
        assert_close(&a.output.to_array(), &b.output.to_array(), &format!("{kind:?} outputs"));
        assert!(
            a.output.to_array().slice(s![1, 2.., ..]).iter().all(|&v| v == 0.0),
            "{kind:?}: padded outputs are zero"
        );
        let input = Tensor::parameter(noisy);
        let out = layer.forward(&input, Some(&lengths), None).unwrap();
        out.output.sum().add(&out.last_hidden(2).unwrap().sum()).unwrap().backward().unwrap();
        let grad = input.grad().unwrap();
        assert!(grad.slice(s![1, 2.., ..]).iter().all(|&g| g == 0.0), "{kind:?}: no gradient into padding");
        assert!(grad.slice(s![1, ..2, ..]).iter().any(|&g| g != 0.0), "{kind:?}: gradient into valid steps");
    }
}

/// Input gradients through a whole stack (two layers, both directions, reversal, concatenation
/// and length masks); the kernels' weight gradients are checked in `kernels_autograd.rs`.
#[test]
fn stacks_pass_gradient_checks() {
    for kind in KINDS {
        let layer = bidirectional(kind, 3, 2, 2);
        let report = check_gradients(
            |tensors| {
                let out = layer.forward(&tensors[0], Some(&[4, 2]), None)?;
                out.output.mul(&out.output)?.sum().add(&out.last_hidden(2)?.sum())
            },
            &[random_input(&[2, 4, 3], 3)],
            GradCheckOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(report.checked, 24, "{kind:?}");
    }
}

#[test]
fn initial_states_are_used_and_checked() {
    let layer = Lstm::new(3, 4, VarBuilder::fresh(0)).unwrap();
    let x = Tensor::constant(random_input(&[2, 3, 3], 5));
    let zeros = RecurrentState { h: Tensor::zeros(&[2, 4]), c: Some(Tensor::zeros(&[2, 4])) };
    let ones = RecurrentState { h: Tensor::constant(ArrayD::ones(&[2, 4][..])), c: Some(Tensor::zeros(&[2, 4])) };
    let default = layer.predict(&x, None).unwrap().output.to_array();
    let from_zeros = no_grad(|| layer.forward(&x, None, Some(&[zeros]))).unwrap().output.to_array();
    let from_ones = no_grad(|| layer.forward(&x, None, Some(&[ones]))).unwrap().output.to_array();
    assert_close(&default, &from_zeros, "zero initial state");
    assert!(default.iter().zip(&from_ones).any(|(a, b)| (a - b).abs() > 1e-3));
    let gru_state = RecurrentState { h: Tensor::zeros(&[2, 4]), c: None };
    assert!(matches!(layer.forward(&x, None, Some(&[gru_state])), Err(Error::Invalid { .. })), "LSTM needs a cell");
    let rnn = Rnn::new(3, 4, VarBuilder::fresh(0)).unwrap();
    let broadcastable = RecurrentState { h: Tensor::zeros(&[1, 4]), c: None };
    assert!(
        matches!(rnn.forward(&x, None, Some(&[broadcastable])), Err(Error::Shape { .. })),
        "a state of another batch is refused, not broadcast"
    );
}

#[test]
fn bad_shapes_and_configurations_are_errors() {
    let layer = bidirectional(CellKind::Gru, 3, 4, 1);
    let x = Tensor::constant(ArrayD::zeros(&[2, 5, 3][..]));
    assert!(layer.forward(&Tensor::constant(ArrayD::zeros(&[2, 5, 4][..])), None, None).is_err());
    assert!(layer.forward(&Tensor::constant(ArrayD::zeros(&[5, 3][..])), None, None).is_err());
    assert!(layer.forward(&x, Some(&[5, 6]), None).is_err());
    assert!(layer.forward(&x, Some(&[5]), None).is_err());
    assert!(layer.forward(&x, None, Some(&[])).is_err());
    assert!(layer.predict(&x, None).unwrap().last_hidden(3).is_err(), "more directions than states");
    assert!(Gru::new(0, 4, VarBuilder::fresh(0)).is_err());
    assert!(Lstm::from_config(RecurrentConfig { num_layers: 0, ..Lstm::config(3, 4) }, VarBuilder::fresh(0)).is_err());
    assert!(Lstm::from_config(RecurrentConfig { dropout: 1.5, ..Lstm::config(3, 4) }, VarBuilder::fresh(0)).is_err());
    assert!(Lstm::from_config(Gru::config(3, 4), VarBuilder::fresh(0)).is_err(), "a GRU configuration is not an LSTM");
}

#[test]
fn bad_cells_and_steps_are_errors() {
    assert!(RnnCell::new(3, 0, VarBuilder::fresh(0)).is_err());
    let [w_ih, w_hh, b] = [&[4, 3][..], &[4, 4], &[4]].map(ArrayD::<f32>::zeros);
    assert!(
        RnnCell::from_weights(w_ih.clone(), w_hh.clone(), ArrayD::zeros(&[3][..]), ArrayD::zeros(&[4][..])).is_err()
    );
    assert!(RnnCell::from_weights(w_ih.clone(), ArrayD::zeros(&[4, 3][..]), b.clone(), b.clone()).is_err());
    assert!(RnnCell::from_weights(ArrayD::zeros(&[4][..]), w_hh.clone(), b.clone(), b.clone()).is_err());
    let cell = RnnCell::from_weights(w_ih, w_hh, b.clone(), b).unwrap();
    let x = Tensor::zeros(&[2, 3]);
    assert!(matches!(cell.forward(&Tensor::zeros(&[2, 4]), None), Err(Error::Shape { .. })), "input width");
    assert!(matches!(cell.forward(&Tensor::zeros(&[2, 1, 3]), None), Err(Error::Shape { .. })), "one step only");
    assert!(matches!(cell.forward(&x, Some(&Tensor::zeros(&[1, 4]))), Err(Error::Shape { .. })), "state batch");
    assert_eq!(cell.forward(&x, None).unwrap().shape(), vec![2, 4]);
}

/// `predict` is inference even on a stack left in training mode: no dropout between layers.
#[test]
fn predict_never_drops_out() {
    let config = RecurrentConfig { num_layers: 2, dropout: 0.5, ..Lstm::config(3, 4) };
    let mut stack = Lstm::from_config(config, VarBuilder::fresh(1)).unwrap();
    let x = Tensor::constant(random_input(&[2, 5, 3], 2));
    let first = stack.predict(&x, None).unwrap().output.to_array();
    assert_eq!(first, stack.predict(&x, None).unwrap().output.to_array());
    stack.set_training(false);
    assert_eq!(first, no_grad(|| stack.forward(&x, None, None)).unwrap().output.to_array());
    stack.set_training(true);
    assert_ne!(first, no_grad(|| stack.forward(&x, None, None)).unwrap().output.to_array(), "training mode drops");
}

/// `Lstm`, `Gru` and `Rnn` are the shared stack with the kind fixed: same seed, same weights
/// under the same names as `Recurrent` built from the same configuration.
#[test]
fn named_layers_are_the_shared_stack() {
    let typed: [(Box<dyn Module>, CellKind); 3] = [
        (Box::new(Rnn::new(3, 4, VarBuilder::fresh(5)).unwrap()), CellKind::Rnn),
        (Box::new(Lstm::new(3, 4, VarBuilder::fresh(5)).unwrap()), CellKind::Lstm),
        (Box::new(Gru::new(3, 4, VarBuilder::fresh(5)).unwrap()), CellKind::Gru),
    ];
    for (layer, kind) in typed {
        let stack = Recurrent::new(RecurrentConfig::new(kind, 3, 4), VarBuilder::fresh(5)).unwrap();
        let names =
            |m: &dyn Module| m.named_parameters().into_iter().map(|(n, p)| (n, p.to_array())).collect::<Vec<_>>();
        assert_eq!(names(layer.as_ref()), names(&stack), "{kind:?}");
        assert_eq!(stack.named_parameters()[0].1.shape(), vec![kind.gates() * 4, 3], "{kind:?}: PyTorch layout");
    }
    let lstm = Lstm::new(3, 4, VarBuilder::fresh(5)).unwrap();
    assert_eq!(lstm.as_recurrent().config().kind, CellKind::Lstm);
    assert_eq!(Recurrent::from(lstm).config().output_size(), 4);
}

/// Keras' initialisation: zero biases but an LSTM forget-gate bias of 1, orthogonal recurrent
/// blocks.
#[test]
fn keras_initialisation_sets_the_forget_bias_and_orthogonal_blocks() {
    let config = RecurrentConfig { initialization: RecurrentInit::Keras, ..Lstm::config(3, 4) };
    let lstm = Lstm::from_config(config, VarBuilder::fresh(3)).unwrap();
    let params: Vec<ArrayD<f32>> = lstm.named_parameters().iter().map(|(_, p)| p.to_array()).collect();
    let expected_bias: Vec<f32> = (0..16).map(|i| if (4..8).contains(&i) { 1.0 } else { 0.0 }).collect();
    assert_eq!(params[2].as_slice().unwrap(), expected_bias.as_slice(), "bias_ih: forget gate at 1");
    assert!(params[3].iter().all(|&b| b == 0.0), "bias_hh zero");
    let weight_hh = params[1].view().into_dimensionality::<ndarray::Ix2>().unwrap();
    for gate in 0..4 {
        let block = weight_hh.slice(s![gate * 4..(gate + 1) * 4, ..]);
        let gram = block.dot(&block.t());
        for ((i, j), &v) in gram.indexed_iter() {
            assert!((v - f32::from(u8::from(i == j))).abs() < 1e-4, "gate {gate}: gram[{i},{j}] = {v}");
        }
    }
}
