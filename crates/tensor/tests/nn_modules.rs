//! Layers, the parameter-naming pattern and initialisers.

use malmoi_tensor::nn::init::{self, Fan, Nonlinearity};
use malmoi_tensor::nn::{Dropout, Embedding, LayerNorm, Linear, Module, RmsNorm, prefixed};
use malmoi_tensor::{GradCheckOptions, Result, Tensor, VarBuilder, check_gradients};
use ndarray::{ArrayD, IxDyn, array};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Checks the gradients of `f` at `inputs` with the default options.
fn gradcheck(f: impl Fn(&[Tensor]) -> Result<Tensor>, inputs: &[ArrayD<f32>]) {
    check_gradients(f, inputs, GradCheckOptions::default()).unwrap();
}

/// A `(3, 4)` input with mean 2 and spread 3 drawn from `seed`, and `norm` of it.
fn normalise(norm: impl Fn(&Tensor) -> Result<Tensor>, seed: u64) -> (ArrayD<f32>, ArrayD<f32>) {
    let x = init::normal(&[3, 4], 2.0, 3.0, &mut rng(seed)).unwrap();
    let y = norm(&Tensor::constant(x.clone())).unwrap().to_array();
    (x, y)
}

#[test]
fn linear_computes_x_w_transpose_plus_b() {
    let layer = Linear::from_weights(
        array![[1.0_f32, 2.0], [0.0, -1.0], [3.0, 0.5]].into_dyn(),
        Some(array![0.1_f32, 0.2, 0.3].into_dyn()),
    )
    .unwrap();
    let y = layer.forward(&Tensor::constant(array![[1.0_f32, 1.0], [2.0, -1.0]].into_dyn())).unwrap();
    let expected = array![[3.1_f32, -0.8, 3.8], [0.1, 1.2, 5.8]].into_dyn();
    assert!((&*y.data() - &expected).iter().all(|d| d.abs() < 1e-6));
    assert_eq!((layer.in_features(), layer.out_features()), (2, 3));
}

#[test]
fn linear_gradients_pass_gradcheck() {
    let inputs = vec![
        init::uniform(&[2, 3, 4], -1.0, 1.0, &mut rng(1)).unwrap(),
        init::uniform(&[5, 4], -1.0, 1.0, &mut rng(2)).unwrap(),
        init::uniform(&[5], -1.0, 1.0, &mut rng(3)).unwrap(),
    ];
    gradcheck(
        |t| {
            let layer = Linear::from_tensors(t[1].clone(), Some(t[2].clone()))?;
            layer.forward(&t[0])
        },
        &inputs,
    );
}

#[test]
fn linear_without_bias_and_with_constant_input_passes_gradcheck() {
    let x = Tensor::constant(init::uniform(&[3, 4], -1.0, 1.0, &mut rng(8)).unwrap());
    let weight = init::uniform(&[2, 4], -1.0, 1.0, &mut rng(9)).unwrap();
    gradcheck(|t| Linear::from_tensors(t[0].clone(), None)?.forward(&x), &[weight]);
    let layer = Linear::new(4, 2, false, VarBuilder::fresh(0)).unwrap();
    assert!(layer.forward(&Tensor::constant(ArrayD::zeros(IxDyn(&[3, 5])))).is_err(), "wrong feature count");
    assert_eq!(layer.forward(&Tensor::constant(ArrayD::zeros(IxDyn(&[0, 4])))).unwrap().shape(), vec![0, 2]);
}

#[test]
fn linear_default_init_is_pytorchs_bound() {
    let layer = Linear::new(64, 32, true, VarBuilder::fresh(0)).unwrap();
    let bound = 1.0 / 8.0;
    assert!(layer.weight.data().iter().all(|v| v.abs() <= bound));
    let max = layer.weight.data().iter().fold(0.0_f32, |m, v| m.max(v.abs()));
    assert!(max > 0.9 * bound, "uses the whole range");
    assert!(layer.bias.as_ref().unwrap().data().iter().all(|v| v.abs() <= bound));
    assert!(Linear::new(0, 3, true, VarBuilder::fresh(0)).is_err());
    assert!(Linear::from_weights(ArrayD::zeros(IxDyn(&[3, 2])), Some(ArrayD::zeros(IxDyn(&[2])))).is_err());
}

#[test]
fn embedding_padding_row_is_zero_and_gets_no_gradient() {
    let table = Embedding::new(6, 3, Some(1), VarBuilder::fresh(4)).unwrap();
    assert!(table.weight.data().index_axis(ndarray::Axis(0), 1).iter().all(|&v| v == 0.0));
    let ids = array![[2_u32, 1, 2], [1, 5, 0]].into_dyn();
    let out = table.forward(&ids).unwrap();
    assert_eq!(out.shape(), vec![2, 3, 3]);
    assert_eq!(out.data().slice(ndarray::s![0, 0, ..]).into_dyn(), table.weight.data().index_axis(ndarray::Axis(0), 2));
    out.mul(&out).unwrap().sum().backward().unwrap();
    let grad = table.weight.grad().unwrap();
    assert!(grad.index_axis(ndarray::Axis(0), 1).iter().all(|&v| v == 0.0), "padding row gets no gradient");
    assert!(grad.index_axis(ndarray::Axis(0), 2).iter().any(|&v| v != 0.0));
    assert!(grad.index_axis(ndarray::Axis(0), 3).iter().all(|&v| v == 0.0), "unused row");
    assert!(table.forward(&array![[6_u32]].into_dyn()).is_err());
    assert!(Embedding::new(6, 3, Some(6), VarBuilder::fresh(4)).is_err());
}

#[test]
fn layer_norm_normalises_and_passes_gradcheck() {
    let norm = LayerNorm::new(4, 1e-5, VarBuilder::fresh(0)).unwrap();
    let (x, y) = normalise(|x| norm.forward(x), 5);
    for row in y.rows() {
        assert!(row.mean().unwrap().abs() < 1e-5);
        assert!((row.mapv(|v| v * v).mean().unwrap() - 1.0).abs() < 1e-3);
    }
    let inputs =
        vec![x, init::normal(&[4], 1.0, 0.5, &mut rng(6)).unwrap(), init::normal(&[4], 0.0, 0.5, &mut rng(7)).unwrap()];
    gradcheck(|t| LayerNorm { weight: t[1].clone(), bias: t[2].clone(), eps: 1e-5 }.forward(&t[0]), &inputs);
    assert_eq!(norm.named_parameters().len(), 2);
}

#[test]
fn rms_norm_gives_unit_root_mean_square_and_passes_gradcheck() {
    let norm = RmsNorm::new(4, 1e-6, VarBuilder::fresh(0)).unwrap();
    let (x, y) = normalise(|x| norm.forward(x), 8);
    for row in y.rows() {
        assert!((row.mapv(|v| v * v).mean().unwrap() - 1.0).abs() < 1e-4);
    }
    let inputs = vec![x, init::normal(&[4], 1.0, 0.5, &mut rng(9)).unwrap()];
    gradcheck(|t| RmsNorm { weight: t[1].clone(), eps: 1e-6 }.forward(&t[0]), &inputs);
    assert!(norm.forward(&Tensor::constant(ArrayD::ones(IxDyn(&[2, 3])))).is_err());
    assert!(RmsNorm::new(0, 1e-6, VarBuilder::fresh(0)).is_err());
    assert_eq!(norm.named_parameters().len(), 1);
}

#[test]
fn dropout_is_seeded_and_off_in_eval_mode() {
    let x = Tensor::constant(ArrayD::ones(IxDyn(&[1000])));
    let first = Dropout::new(0.3, 9).unwrap().forward(&x).unwrap().to_array();
    let second = Dropout::new(0.3, 9).unwrap().forward(&x).unwrap().to_array();
    assert_eq!(first, second, "same seed, same mask");
    let dropped = first.iter().filter(|&&v| v == 0.0).count();
    assert!((230..370).contains(&dropped), "{dropped} dropped of 1000 at p = 0.3");
    assert!(first.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
    let mut dropout = Dropout::new(0.3, 9).unwrap();
    dropout.set_training(false);
    assert!(!dropout.is_training());
    assert_eq!(dropout.forward(&x).unwrap().to_array(), x.to_array());
    assert!(Dropout::new(1.0, 0).is_err());
}

#[test]
fn prefixed_names_nest() {
    let layer = Linear::new(2, 2, false, VarBuilder::fresh(0)).unwrap();
    let names: Vec<_> =
        prefixed("encoder", prefixed("proj", layer.named_parameters())).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["encoder.proj.weight"]);
}

/// Sample mean and standard deviation.
fn moments(a: &ArrayD<f32>) -> (f32, f32) {
    let mean = a.mean().unwrap();
    (mean, (a.mapv(|v| (v - mean) * (v - mean)).mean().unwrap()).sqrt())
}

#[test]
fn initialisers_have_their_documented_spread() {
    let shape = [200, 300];
    let (fan_in, fan_out) = init::fans(&shape).unwrap();
    assert_eq!((fan_in, fan_out), (300, 200));
    assert_eq!(init::fans(&[8, 4, 3, 3]).unwrap(), (36, 72));
    assert!(init::fans(&[5]).is_err());

    let xavier_std = (2.0 / 500.0_f32).sqrt();
    let (_, std) = moments(&init::xavier_normal(&shape, 1.0, &mut rng(1)).unwrap());
    assert!((std / xavier_std - 1.0).abs() < 0.03, "xavier normal std {std}");
    let (_, std) = moments(&init::xavier_uniform(&shape, 1.0, &mut rng(2)).unwrap());
    assert!((std / xavier_std - 1.0).abs() < 0.03, "xavier uniform std {std}");

    let he_std = (2.0 / 300.0_f32).sqrt();
    let (_, std) = moments(&init::kaiming_normal(&shape, Fan::In, Nonlinearity::Relu, &mut rng(3)).unwrap());
    assert!((std / he_std - 1.0).abs() < 0.03, "kaiming normal std {std}");
    let (_, std) = moments(&init::kaiming_uniform(&shape, Fan::Out, Nonlinearity::Relu, &mut rng(4)).unwrap());
    assert!((std / (2.0 / 200.0_f32).sqrt() - 1.0).abs() < 0.03, "kaiming uniform fan_out std {std}");

    let (mean, std) = moments(&init::normal(&shape, 0.5, 0.02, &mut rng(5)).unwrap());
    assert!((mean - 0.5).abs() < 1e-3 && (std / 0.02 - 1.0).abs() < 0.03);
    assert!(init::normal(&shape, 0.0, -1.0, &mut rng(5)).is_err());
    assert!(init::uniform(&shape, 1.0, 1.0, &mut rng(5)).is_err());
    assert!(init::zeros(&[2, 2]).iter().all(|&v| v == 0.0));
    assert!((Nonlinearity::Tanh.gain() - 5.0 / 3.0).abs() < 1e-6);
    assert!((Nonlinearity::LeakyRelu(0.0).gain() - 2f32.sqrt()).abs() < 1e-6);
}

#[test]
fn reseeded_dropout_draws_the_masks_of_a_layer_built_with_that_seed() {
    let x = Tensor::constant(ArrayD::ones(&[64][..]));
    let used = Dropout::new(0.5, 1).unwrap();
    used.forward(&x).unwrap(); // advance its generator
    used.reseed(9);
    let fresh = Dropout::new(0.5, 9).unwrap();
    assert_eq!(*used.forward(&x).unwrap().data(), *fresh.forward(&x).unwrap().data());
    assert_eq!(*used.forward(&x).unwrap().data(), *fresh.forward(&x).unwrap().data(), "and after");
}

#[test]
fn a_frozen_leaf_gets_no_gradient_and_only_leaves_freeze() {
    let table = Embedding::new(5, 3, None, VarBuilder::fresh(2)).unwrap();
    let layer = Linear::new(3, 2, true, VarBuilder::fresh(3)).unwrap();
    table.weight.set_requires_grad(false).unwrap();
    let out = layer.forward(&table.forward(&array![[1_u32, 4]].into_dyn()).unwrap()).unwrap();
    out.sum().backward().unwrap();
    assert!(table.weight.grad().is_none(), "the frozen table");
    assert!(layer.weight.grad().is_some(), "the layer above it still trains");
    assert!(out.set_requires_grad(false).is_err(), "a result of an operation is not a leaf");
    table.weight.set_requires_grad(true).unwrap();
    layer.forward(&table.forward(&array![[1_u32]].into_dyn()).unwrap()).unwrap().sum().backward().unwrap();
    assert!(table.weight.grad().is_some(), "thawed, it takes a gradient again");
}
