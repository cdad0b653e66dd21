//! Optimisers against PyTorch's and Keras' own implementations (fixture from
//! benches/reference/torch_fixtures.py), resumable state, and schedules.

use std::path::Path;

use malmoi_tensor::checkpoint::{Checkpoint, load};
use malmoi_tensor::optim::{Adam, AdamW, Optimizer, OptimizerState, ParamGroup, RmsProp, Schedule, Sgd};
use malmoi_tensor::{Error, Tensor};
use ndarray::{ArrayD, IxDyn, array};

fn fixture() -> Checkpoint {
    load(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/optimizers.safetensors")).unwrap()
}

/// `Σ scale·(w − target)² + Σ sin(w)`, the fixture's loss.
fn loss(w: &Tensor, f: &Checkpoint) -> Tensor {
    let target = Tensor::constant(f.get("target").unwrap().clone());
    let scale = Tensor::constant(f.get("scale").unwrap().clone());
    let diff = w.sub(&target).unwrap();
    diff.mul(&diff).unwrap().mul(&scale).unwrap().sum().add(&w.sin_sum()).unwrap()
}

/// `Σ sin(w)`: the crate has no `sin` op, so the fixture's non-quadratic
/// term (which makes each step's gradient depend on the trajectory) gets its
/// own small autograd node.
trait SinSum {
    fn sin_sum(&self) -> Tensor;
}

impl SinSum for Tensor {
    fn sin_sum(&self) -> Tensor {
        struct SinBackward;
        impl malmoi_tensor::Backward for SinBackward {
            fn name(&self) -> &'static str {
                "sin_sum"
            }
            fn backward(&self, grad: &ArrayD<f32>, parents: &[Tensor]) -> Vec<Option<ArrayD<f32>>> {
                let g = grad.iter().next().copied().unwrap_or(0.0);
                vec![Some(parents[0].data().mapv(|x| g * x.cos()))]
            }
        }
        let value = self.data().mapv(f32::sin).sum();
        Tensor::from_op(ArrayD::from_elem(IxDyn(&[]), value), vec![self.clone()], SinBackward)
    }
}

/// Runs `steps` updates of `optimizer` on the fixture's loss from `w0`.
fn descend(mut make: impl FnMut(Vec<(String, Tensor)>) -> Box<dyn Optimizer>, f: &Checkpoint) -> ArrayD<f32> {
    let w = Tensor::parameter(f.get("w0").unwrap().clone());
    let mut optimizer = make(vec![("w".to_string(), w.clone())]);
    let steps: usize = f.metadata()["steps"].parse().unwrap();
    for _ in 0..steps {
        optimizer.zero_grad();
        loss(&w, f).backward().unwrap();
        optimizer.step().unwrap();
    }
    w.to_array()
}

fn assert_matches(actual: &ArrayD<f32>, expected: &ArrayD<f32>, what: &str) {
    for (k, (&a, &b)) in actual.iter().zip(expected.iter()).enumerate() {
        assert!((a - b).abs() <= 2e-6 + 1e-5 * b.abs(), "{what}[{k}]: {a} vs reference {b}");
    }
}

#[test]
fn sgd_nesterov_with_weight_decay_matches_pytorch() {
    let f = fixture();
    let w = descend(
        |p| {
            Box::new(Sgd::new(p, 0.05).unwrap().with_momentum(0.9, 0.0, true).unwrap().with_weight_decay(0.01).unwrap())
        },
        &f,
    );
    assert_matches(&w, f.get("sgd_nesterov.final").unwrap(), "sgd nesterov");
}

#[test]
fn sgd_momentum_with_dampening_matches_pytorch() {
    let f = fixture();
    let w = descend(|p| Box::new(Sgd::new(p, 0.05).unwrap().with_momentum(0.8, 0.3, false).unwrap()), &f);
    assert_matches(&w, f.get("sgd_dampening.final").unwrap(), "sgd dampening");
}

#[test]
fn adam_with_l2_matches_pytorch() {
    let f = fixture();
    let w = descend(|p| Box::new(Adam::new(p, 0.02).unwrap().with_weight_decay(0.1).unwrap()), &f);
    assert_matches(&w, f.get("adam.final").unwrap(), "adam");
}

#[test]
fn adamw_matches_pytorch() {
    let f = fixture();
    let w = descend(|p| Box::new(AdamW::new(p, 0.02).unwrap().with_weight_decay(0.1).unwrap()), &f);
    assert_matches(&w, f.get("adamw.final").unwrap(), "adamw");
    assert_ne!(w, descend(|p| Box::new(Adam::new(p, 0.02).unwrap().with_weight_decay(0.1).unwrap()), &f));
}

#[test]
fn rmsprop_defaults_match_keras() {
    let f = fixture();
    let w = descend(|p| Box::new(RmsProp::new(p).unwrap()), &f);
    assert_matches(&w, f.get("keras_rmsprop.final").unwrap(), "keras rmsprop");
}

#[test]
fn rmsprop_keras_formula_with_momentum_and_centering() {
    // one step by hand: v = 0.1·g², a = 0.1·g, Δ = η·g/√(v − a² + ε), m = Δ
    let w = Tensor::parameter(array![1.0_f32, -1.0].into_dyn());
    let mut rmsprop = RmsProp::new(vec![("w".into(), w.clone())])
        .unwrap()
        .with_learning_rate(0.01)
        .unwrap()
        .with_momentum(0.5, true)
        .unwrap();
    w.mul(&Tensor::constant(array![2.0_f32, 0.5].into_dyn())).unwrap().sum().backward().unwrap();
    rmsprop.step().unwrap();
    for (k, (&g, &w0)) in [2.0_f32, 0.5].iter().zip(&[1.0_f32, -1.0]).enumerate() {
        let (v, a) = (0.1 * g * g, 0.1 * g);
        let expected = w0 - 0.01 * g / (v - a * a + 1e-7).sqrt();
        assert!((w.data()[k] - expected).abs() < 1e-6, "{} vs {expected}", w.data()[k]);
    }
    // second step with the same gradient: m = 0.5·m + Δ
    let before = w.to_array();
    rmsprop.step().unwrap();
    let g = 2.0_f32;
    let (v1, a1) = (0.1 * g * g, 0.1 * g);
    let (v2, a2) = (0.9 * v1 + 0.1 * g * g, 0.9 * a1 + 0.1 * g);
    let m1 = 0.01 * g / (v1 - a1 * a1 + 1e-7).sqrt();
    let m2 = 0.5 * m1 + 0.01 * g / (v2 - a2 * a2 + 1e-7).sqrt();
    assert!((w.data()[0] - (before[0] - m2)).abs() < 1e-6);
}

#[test]
fn resuming_from_saved_state_continues_the_same_trajectory() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("adam.safetensors");
    let w0 = f.get("w0").unwrap().clone();

    // uninterrupted: 6 steps
    let w = Tensor::parameter(w0.clone());
    let mut adam = Adam::new(vec![("layer.w".into(), w.clone())], 0.02).unwrap();
    for _ in 0..6 {
        adam.zero_grad();
        loss(&w, &f).backward().unwrap();
        adam.step().unwrap();
    }

    // interrupted after 3 steps, state saved, resumed in a fresh optimiser
    let resumed = Tensor::parameter(w0);
    let mut first = Adam::new(vec![("layer.w".into(), resumed.clone())], 0.02).unwrap();
    for _ in 0..3 {
        first.zero_grad();
        loss(&resumed, &f).backward().unwrap();
        first.step().unwrap();
    }
    first.set_learning_rate(0.02);
    first.state().save(&path).unwrap();
    let state = OptimizerState::load(&path).unwrap();
    assert_eq!(state.steps["layer.w"], 3);
    assert!(state.buffers.contains_key("exp_avg.layer.w") && state.buffers.contains_key("exp_avg_sq.layer.w"));
    let mut second = Adam::new(vec![("layer.w".into(), resumed.clone())], 1.0).unwrap();
    second.load_state(&state).unwrap();
    assert_eq!(second.learning_rate(), 0.02);
    for _ in 0..3 {
        second.zero_grad();
        loss(&resumed, &f).backward().unwrap();
        second.step().unwrap();
    }
    assert_eq!(resumed.to_array(), w.to_array(), "bias correction and moments resume exactly");

    // the wrong optimiser or parameter set is refused
    let mut sgd = Sgd::new(vec![("layer.w".into(), resumed.clone())], 0.1).unwrap();
    assert!(matches!(sgd.load_state(&state), Err(Error::Invalid { .. })));
    let other = Tensor::parameter(ArrayD::zeros(IxDyn(&[2])));
    let mut wrong_shape = Adam::new(vec![("layer.w".into(), other.clone())], 0.1).unwrap();
    assert!(matches!(wrong_shape.load_state(&state), Err(Error::CheckpointShape { .. })));
    let mut wrong_name = Adam::new(vec![("layer.v".into(), other)], 0.1).unwrap();
    assert!(matches!(wrong_name.load_state(&state), Err(Error::MissingTensor { .. })));
}

#[test]
fn parameters_without_gradients_are_left_alone() {
    let used = Tensor::parameter(array![1.0_f32].into_dyn());
    let unused = Tensor::parameter(array![5.0_f32].into_dyn());
    let mut adam = AdamW::new(vec![("used".into(), used.clone()), ("unused".into(), unused.clone())], 0.1).unwrap();
    used.sum().backward().unwrap();
    adam.step().unwrap();
    assert_eq!(unused.data()[0], 5.0, "no gradient, no update (not even weight decay)");
    assert!(used.data()[0] < 1.0);
    assert_eq!(adam.state().steps["unused"], 0);
}

#[test]
fn bad_hyperparameters_are_typed_errors() {
    let p = || vec![("w".to_string(), Tensor::parameter(array![1.0_f32].into_dyn()))];
    assert!(Sgd::new(p(), -0.1).is_err());
    assert!(Sgd::new(p(), 0.1).unwrap().with_momentum(0.0, 0.0, true).is_err());
    assert!(Sgd::new(p(), 0.1).unwrap().with_momentum(0.9, 0.1, true).is_err());
    assert!(Adam::new(p(), 0.1).unwrap().with_betas(1.0, 0.999, 1e-8).is_err());
    assert!(RmsProp::new(p()).unwrap().with_rho_epsilon(0.9, 0.0).is_err());
    let w = Tensor::parameter(array![1.0_f32].into_dyn());
    assert!(Adam::new(vec![("w".into(), w.clone()), ("w".into(), w.clone())], 0.1).is_err(), "repeated name");
    let mut sgd = Sgd::new(vec![("w".into(), w.clone())], 0.1).unwrap();
    sgd.set_learning_rate(f32::NAN);
    assert!(matches!(sgd.step(), Err(Error::NonFinite { .. })));
}

#[test]
fn schedules_follow_hugging_face_formulas() {
    assert_eq!(Schedule::Constant.factor(1_000_000), 1.0);
    let warm = Schedule::warmup_constant(4, 12).unwrap();
    assert_eq!((0..6).map(|s| warm.factor(s)).collect::<Vec<_>>(), [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]);
    assert_eq!(warm.factor(1_000), 1.0);
    assert!(Schedule::warmup_constant(13, 12).is_err());
    let linear = Schedule::warmup_linear(4, 12).unwrap();
    let factors: Vec<f32> = (0..14).map(|s| linear.factor(s)).collect();
    assert_eq!(factors, [0.0, 0.25, 0.5, 0.75, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0.0, 0.0]);

    let cosine = Schedule::warmup_cosine(2, 10, 0.0).unwrap();
    assert_eq!(cosine.factor(1), 0.5);
    assert_eq!(cosine.factor(2), 1.0);
    assert!((cosine.factor(6) - 0.5).abs() < 1e-6, "half-way down the cosine");
    assert!(cosine.factor(10).abs() < 1e-6);
    assert!(cosine.factor(50).abs() < 1e-6, "stays at the floor");
    let floored = Schedule::warmup_cosine(0, 10, 0.1).unwrap();
    assert_eq!(floored.factor(0), 1.0);
    assert!((floored.factor(10) - 0.1).abs() < 1e-6);
    assert!((floored.learning_rate(3e-4, 5) - 3e-4 * 0.55).abs() < 1e-9);
    assert!((1..10).all(|s| floored.factor(s) < floored.factor(s - 1)), "monotone decay");

    assert!(Schedule::warmup_linear(5, 4).is_err());
    assert!(Schedule::warmup_cosine(1, 4, 1.5).is_err());
    assert_eq!(Schedule::warmup_linear(0, 0).unwrap().factor(0), 0.0);
}

#[test]
fn parameter_groups_equal_one_optimiser_per_group() {
    let f = fixture();
    let make = || Tensor::parameter(f.get("w0").unwrap().clone());
    let (matrix, bias) = (make(), make());
    let grouped = vec![
        ParamGroup::new(vec![("matrix".into(), matrix.clone())]).with_weight_decay(0.3),
        ParamGroup::new(vec![("bias".into(), bias.clone())]).with_weight_decay(0.0),
    ];
    let mut one = AdamW::groups(grouped, 0.02).unwrap();
    let (matrix_alone, bias_alone) = (make(), make());
    let mut decayed =
        AdamW::new(vec![("matrix".into(), matrix_alone.clone())], 0.02).unwrap().with_weight_decay(0.3).unwrap();
    let mut plain =
        AdamW::new(vec![("bias".into(), bias_alone.clone())], 0.02).unwrap().with_weight_decay(0.0).unwrap();
    for _ in 0..20 {
        one.zero_grad();
        loss(&matrix, &f).add(&loss(&bias, &f)).unwrap().backward().unwrap();
        one.step().unwrap();
        for (optimizer, w) in [(&mut decayed, &matrix_alone), (&mut plain, &bias_alone)] {
            optimizer.zero_grad();
            loss(w, &f).backward().unwrap();
            optimizer.step().unwrap();
        }
    }
    assert_eq!(matrix.to_array(), matrix_alone.to_array());
    assert_eq!(bias.to_array(), bias_alone.to_array());
    assert_ne!(matrix.to_array(), bias.to_array(), "the groups' decays differ");
    let state = one.state();
    assert_eq!(state.steps.len(), 2, "one state for both groups");
    assert!(AdamW::groups(vec![ParamGroup::new(vec![]).with_weight_decay(-1.0)], 0.1).is_err());
}
