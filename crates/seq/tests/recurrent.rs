//! Recurrent layers: equality with PyTorch, masking, gradients and errors.

use malmoi_seq::recurrent::{CellKind, Recurrent, RecurrentConfig, State};
use malmoi_tensor::checkpoint;
use malmoi_tensor::gradcheck::{GradCheckOptions, check_gradients};
use malmoi_tensor::nn::{Module, prefixed};
use malmoi_tensor::{Tensor, no_grad};
use ndarray::{ArrayD, Axis, s};
use rand::{SeedableRng, rngs::StdRng};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/recurrent_torch.safetensors");

fn bidirectional(kind: CellKind, input: usize, hidden: usize, layers: usize) -> Recurrent {
    let config =
        RecurrentConfig { num_layers: layers, bidirectional: true, ..RecurrentConfig::new(kind, input, hidden) };
    Recurrent::new(config, &mut StdRng::seed_from_u64(7)).unwrap()
}

fn assert_close(ours: &ArrayD<f32>, theirs: &ArrayD<f32>, what: &str) {
    assert_eq!(ours.shape(), theirs.shape(), "{what}: shape");
    let worst = ours.iter().zip(theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(worst < 1e-5, "{what}: max difference {worst}");
}

#[test]
fn bidirectional_stacks_match_pytorch_packed_sequences() {
    let fixture = checkpoint::load(FIXTURE).unwrap();
    let x = Tensor::constant(fixture.get("x").unwrap().clone());
    let lengths: Vec<usize> = fixture.get("lengths").unwrap().iter().map(|&l| l as usize).collect();
    for (name, kind) in [("lstm", CellKind::Lstm), ("gru", CellKind::Gru)] {
        let layer = bidirectional(kind, 5, 4, 2);
        fixture.load_into(&prefixed(name, layer.named_parameters())).unwrap();
        let out = layer.predict(&x, Some(&lengths)).unwrap();
        assert_close(&out.output.to_array(), fixture.get(&format!("{name}.output")).unwrap(), name);
        let h_n: Vec<ArrayD<f32>> = out.states.iter().map(|s| s.h.to_array()).collect();
        let h_n = ndarray::stack(Axis(0), &h_n.iter().map(|h| h.view()).collect::<Vec<_>>()).unwrap();
        assert_close(&h_n, fixture.get(&format!("{name}.h_n")).unwrap(), &format!("{name} h_n"));
        if kind == CellKind::Lstm {
            let c_n: Vec<ArrayD<f32>> = out.states.iter().map(|s| s.c.as_ref().unwrap().to_array()).collect();
            let c_n = ndarray::stack(Axis(0), &c_n.iter().map(|c| c.view()).collect::<Vec<_>>()).unwrap();
            assert_close(&c_n, fixture.get("lstm.c_n").unwrap(), "lstm c_n");
        }
    }
}

fn random_input(shape: &[usize], seed: u64) -> ArrayD<f32> {
    malmoi_tensor::nn::init::normal(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed)).unwrap()
}

#[test]
fn padding_never_influences_outputs_or_gradients() {
    let lengths = [5, 2, 3];
    for kind in [CellKind::Rnn, CellKind::Lstm, CellKind::Gru] {
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
/// and length masks); the kernels' weight gradients are checked in malmoi-tensor.
#[test]
fn stacks_pass_gradient_checks() {
    for kind in [CellKind::Rnn, CellKind::Lstm, CellKind::Gru] {
        let layer = bidirectional(kind, 3, 2, 2);
        let report = check_gradients(
            |tensors| {
                let out = layer.forward(&tensors[0], Some(&[4, 2]), None).map_err(into_tensor_error)?;
                out.output.mul(&out.output)?.sum().add(&out.last_hidden(2).map_err(into_tensor_error)?.sum())
            },
            &[random_input(&[2, 4, 3], 3)],
            GradCheckOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(report.checked, 24, "{kind:?}");
    }
}

fn into_tensor_error(error: malmoi_seq::Error) -> malmoi_tensor::Error {
    match error {
        malmoi_seq::Error::Tensor(e) => e,
        other => panic!("unexpected error: {other}"),
    }
}

#[test]
fn initial_states_are_used_and_checked() {
    let config = RecurrentConfig::new(CellKind::Lstm, 3, 4);
    let layer = Recurrent::new(config, &mut StdRng::seed_from_u64(0)).unwrap();
    let x = Tensor::constant(random_input(&[2, 3, 3], 5));
    let zeros = State { h: Tensor::zeros(&[2, 4]), c: Some(Tensor::zeros(&[2, 4])) };
    let ones = State { h: Tensor::constant(ArrayD::ones(&[2, 4][..])), c: Some(Tensor::zeros(&[2, 4])) };
    let default = layer.predict(&x, None).unwrap().output.to_array();
    let from_zeros = no_grad(|| layer.forward(&x, None, Some(&[zeros]))).unwrap().output.to_array();
    let from_ones = no_grad(|| layer.forward(&x, None, Some(&[ones]))).unwrap().output.to_array();
    assert_close(&default, &from_zeros, "zero initial state");
    assert!(default.iter().zip(&from_ones).any(|(a, b)| (a - b).abs() > 1e-3));
    let gru_state = State { h: Tensor::zeros(&[2, 4]), c: None };
    assert!(layer.forward(&x, None, Some(&[gru_state])).is_err(), "an LSTM needs a cell state");
}

#[test]
fn bad_shapes_are_errors() {
    let layer = bidirectional(CellKind::Gru, 3, 4, 1);
    let x = Tensor::constant(ArrayD::zeros(&[2, 5, 3][..]));
    assert!(layer.forward(&Tensor::constant(ArrayD::zeros(&[2, 5, 4][..])), None, None).is_err());
    assert!(layer.forward(&x, Some(&[5, 6]), None).is_err());
    assert!(layer.forward(&x, Some(&[5]), None).is_err());
    assert!(layer.forward(&x, None, Some(&[])).is_err());
}

/// `predict` is inference even on a stack left in training mode: no dropout between layers.
#[test]
fn predict_never_drops_out() {
    let config = RecurrentConfig { num_layers: 2, dropout: 0.5, ..RecurrentConfig::new(CellKind::Lstm, 3, 4) };
    let mut stack = Recurrent::new(config, &mut StdRng::seed_from_u64(1)).unwrap();
    let x = Tensor::constant(random_input(&[2, 5, 3], 2));
    let first = stack.predict(&x, None).unwrap().output.to_array();
    assert_eq!(first, stack.predict(&x, None).unwrap().output.to_array());
    stack.set_training(false);
    assert_eq!(first, no_grad(|| stack.forward(&x, None, None)).unwrap().output.to_array());
    stack.set_training(true);
    assert_ne!(first, no_grad(|| stack.forward(&x, None, None)).unwrap().output.to_array(), "training mode drops");
}
