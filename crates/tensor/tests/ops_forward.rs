//! Forward values, typed errors for bad shapes and arguments, and autograd
//! semantics (accumulation, no_grad, detach, deep graphs, threads).

use approx::assert_abs_diff_eq;
use malmoi_tensor::{Error, Tensor, clip_grad_norm, no_grad};
use ndarray::{ArrayD, IxDyn, array};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn t(a: ArrayD<f32>) -> Tensor {
    Tensor::constant(a)
}

#[test]
fn broadcasting_add_matches_numpy() {
    let a = t(array![[1.0_f32], [2.0], [3.0]].into_dyn());
    let b = t(array![[10.0_f32, 20.0, 30.0, 40.0]].into_dyn());
    let c = a.add(&b).unwrap();
    assert_eq!(c.shape(), vec![3, 4]);
    assert_eq!(c.data()[[2, 1]], 23.0);
    assert_eq!(Tensor::ones(&[2]).add(&Tensor::full(&[2], 0.5)).unwrap().to_array(), array![1.5_f32, 1.5].into_dyn());
    let s = Tensor::scalar(2.0).mul(&a).unwrap();
    assert_eq!(s.to_array(), array![[2.0_f32], [4.0], [6.0]].into_dyn());
}

#[test]
fn mismatched_shapes_are_typed_errors() {
    let a = Tensor::zeros(&[2, 3]);
    let b = Tensor::zeros(&[4, 3]);
    assert!(matches!(a.add(&b), Err(Error::Shape { op: "add", .. })));
    assert!(matches!(a.mul(&Tensor::zeros(&[2])), Err(Error::Shape { op: "mul", .. })));
    assert!(matches!(a.matmul(&b), Err(Error::Shape { op: "matmul", .. })));
    assert!(matches!(a.matmul(&Tensor::zeros(&[3])), Err(Error::Invalid { op: "matmul", .. })));
    assert!(matches!(
        Tensor::zeros(&[2, 2, 3]).matmul(&Tensor::zeros(&[3, 3, 1])),
        Err(Error::Shape { op: "matmul", .. })
    ));
    assert!(matches!(a.reshape(&[5]), Err(Error::Shape { op: "reshape", .. })));
    assert!(matches!(a.permute(&[0, 0]), Err(Error::Invalid { op: "permute", .. })));
    assert!(matches!(a.narrow(1, 2, 2), Err(Error::Invalid { op: "narrow", .. })));
    assert!(matches!(a.sum_axes(&[2], false), Err(Error::Invalid { .. })));
    assert!(matches!(a.sum_axes(&[1, -1], false), Err(Error::Invalid { .. })));
    assert!(matches!(Tensor::cat(&[a.clone(), Tensor::zeros(&[2, 2, 1])], 0), Err(Error::Shape { op: "cat", .. })));
    assert!(matches!(Tensor::cat(&[a.clone(), b.clone()], 1), Err(Error::Shape { op: "cat", .. })));
    assert!(matches!(Tensor::stack(&[a.clone(), b.clone()], 0), Err(Error::Shape { op: "stack", .. })));
    assert!(matches!(Tensor::cat(&[], 0), Err(Error::Invalid { .. })));
    assert!(matches!(a.mse_loss(&b), Err(Error::Shape { .. })));
    assert!(matches!(a.binary_cross_entropy_with_logits(&b), Err(Error::Shape { .. })));
    let mask = ArrayD::from_elem(IxDyn(&[4]), true);
    assert!(matches!(a.masked_fill(&mask, 0.0), Err(Error::Shape { op: "masked_fill", .. })));
    assert!(matches!(a.layer_norm(Some(&Tensor::zeros(&[2])), None, 1e-5), Err(Error::Shape { .. })));
    assert!(matches!(a.set_data(ArrayD::zeros(IxDyn(&[3, 2]))), Err(Error::Shape { op: "set_data", .. })));
    assert!(matches!(Tensor::from_vec(&[2, 2], vec![1.0; 3]), Err(Error::Shape { .. })));
}

#[test]
fn matmul_matches_naive_product() {
    let a = ArrayD::from_shape_fn(IxDyn(&[2, 5, 7]), |i| (i[0] * 35 + i[1] * 7 + i[2]) as f32 * 0.01 - 0.3);
    let b = ArrayD::from_shape_fn(IxDyn(&[7, 3]), |i| (i[0] * 3 + i[1]) as f32 * 0.02 - 0.1);
    let c = t(a.clone()).matmul(&t(b.clone())).unwrap();
    for (batch, row, col) in [(0, 0, 0), (1, 4, 2), (1, 2, 1)] {
        let expected: f32 = (0..7).map(|k| a[[batch, row, k]] * b[[k, col]]).sum();
        assert_abs_diff_eq!(c.data()[[batch, row, col]], expected, epsilon = 1e-5);
    }
    // Batched with a broadcast batch axis gives the same per-batch product.
    let b3 = t(b.clone().insert_axis(ndarray::Axis(0)));
    let c3 = t(a).matmul(&b3).unwrap();
    assert_eq!(c3.shape(), vec![2, 5, 3]);
    c3.data().iter().zip(c.data().iter()).for_each(|(x, y)| assert_abs_diff_eq!(x, y, epsilon = 1e-5));
}

#[test]
fn large_matmul_matches_ndarray_dot() {
    let a = ndarray::Array2::from_shape_fn((67, 129), |(i, j)| ((i * 31 + j * 17) % 23) as f32 / 23.0 - 0.5);
    let b = ndarray::Array2::from_shape_fn((129, 95), |(i, j)| ((i * 7 + j * 13) % 19) as f32 / 19.0 - 0.5);
    let expected = a.dot(&b);
    let got = t(a.into_dyn()).matmul(&t(b.into_dyn())).unwrap();
    got.data().iter().zip(expected.iter()).for_each(|(x, y)| assert_abs_diff_eq!(x, y, epsilon = 1e-4));
}

#[test]
fn reductions_and_max() {
    let x = t(array![[1.0_f32, 5.0, 3.0], [4.0, 2.0, 6.0]].into_dyn());
    assert_eq!(x.sum().item().unwrap(), 21.0);
    assert_eq!(x.mean().item().unwrap(), 3.5);
    assert_eq!(x.sum_axes(&[0], false).unwrap().to_array(), array![5.0_f32, 7.0, 9.0].into_dyn());
    assert_eq!(x.mean_axes(&[1], true).unwrap().to_array(), array![[3.0_f32], [4.0]].into_dyn());
    assert_eq!(x.max_axis(1, false).unwrap().to_array(), array![5.0_f32, 6.0].into_dyn());
    assert_eq!(x.max_axis(0, true).unwrap().to_array(), array![[4.0_f32, 5.0, 6.0]].into_dyn());
}

#[test]
fn shape_ops_move_values() {
    let x = t(ArrayD::from_shape_fn(IxDyn(&[2, 3]), |i| (i[0] * 3 + i[1]) as f32));
    assert_eq!(x.transpose(0, 1).unwrap().to_array(), array![[0.0_f32, 3.0], [1.0, 4.0], [2.0, 5.0]].into_dyn());
    assert_eq!(x.narrow(1, 1, 2).unwrap().to_array(), array![[1.0_f32, 2.0], [4.0, 5.0]].into_dyn());
    assert_eq!(x.reshape(&[3, 2]).unwrap().data()[[2, 0]], 4.0);
    assert_eq!(x.unsqueeze(-1).unwrap().shape(), vec![2, 3, 1]);
    let cat = Tensor::cat(&[x.clone(), x.clone()], 0).unwrap();
    assert_eq!(cat.shape(), vec![4, 3]);
    let stack = Tensor::stack(&[x.clone(), x.clone()], 1).unwrap();
    assert_eq!(stack.shape(), vec![2, 2, 3]);
    assert_eq!(stack.data()[[1, 1, 2]], 5.0);
}

#[test]
fn softmax_is_stable_for_huge_logits() {
    let x = t(array![[1000.0_f32, 1001.0, 999.0], [-1000.0, -1000.0, -1000.0]].into_dyn());
    let p = x.softmax(-1).unwrap();
    assert!(p.data().iter().all(|v| v.is_finite()));
    assert_abs_diff_eq!(p.data()[[1, 0]], 1.0 / 3.0, epsilon = 1e-6);
    p.sum_axes(&[1], false).unwrap().data().iter().for_each(|&s| assert_abs_diff_eq!(s, 1.0, epsilon = 1e-6));
    let lp = x.log_softmax(-1).unwrap();
    assert_abs_diff_eq!(lp.data()[[0, 1]], -(1.0 + (-1.0_f32).exp() + (-2.0_f32).exp()).ln(), epsilon = 1e-5);
    // Fully masked rows stay finite-free of NaN only when some entry is finite:
    let masked = x.masked_fill(&array![[false, true, true]].into_dyn(), f32::NEG_INFINITY).unwrap();
    assert_eq!(masked.softmax(-1).unwrap().data()[[0, 0]], 1.0);
}

#[test]
fn gelu_matches_pytorch_values() {
    // torch.nn.functional.gelu(torch.tensor([-1., 0.5, 1., 2.])) and approximate='tanh'.
    let x = t(array![-1.0_f32, 0.5, 1.0, 2.0].into_dyn());
    let exact = [-0.158_655_26_f32, 0.345_731_2, 0.841_344_7, 1.954_499_7];
    let tanh = [-0.158_808_01_f32, 0.345_714_28, 0.841_191_95, 1.954_597_7];
    x.gelu().data().iter().zip(exact).for_each(|(&g, e)| assert_abs_diff_eq!(g, e, epsilon = 1e-6));
    x.gelu_tanh().data().iter().zip(tanh).for_each(|(&g, e)| assert_abs_diff_eq!(g, e, epsilon = 1e-6));
    // torch.nn.functional.silu of the same values.
    let silu = [-0.268_941_43_f32, 0.311_229_68, 0.731_058_6, 1.761_594_2];
    x.silu().data().iter().zip(silu).for_each(|(&g, e)| assert_abs_diff_eq!(g, e, epsilon = 1e-6));
}

#[test]
fn layer_norm_normalises_rows() {
    let x = t(array![[1.0_f32, 2.0, 3.0, 4.0], [10.0, 10.0, 10.0, 14.0]].into_dyn());
    let y = x.layer_norm(None, None, 1e-5).unwrap();
    for row in y.data().outer_iter() {
        assert_abs_diff_eq!(row.sum(), 0.0, epsilon = 1e-5);
        assert_abs_diff_eq!(row.mapv(|v| v * v).mean().unwrap(), 1.0, epsilon = 1e-3);
    }
    let w = t(array![2.0_f32, 2.0, 2.0, 2.0].into_dyn());
    let b = t(array![1.0_f32, 1.0, 1.0, 1.0].into_dyn());
    let affine = x.layer_norm(Some(&w), Some(&b), 1e-5).unwrap();
    assert_abs_diff_eq!(affine.data()[[0, 0]], 2.0 * y.data()[[0, 0]] + 1.0, epsilon = 1e-6);
}

#[test]
fn cross_entropy_values_and_errors() {
    let logits = t(array![[[1.0_f32, 2.0, 3.0], [0.0, 0.0, 0.0]]].into_dyn());
    let targets = array![[2_usize, 0]].into_dyn();
    let expected = ((1.0_f32.exp() + 2.0_f32.exp() + 3.0_f32.exp()).ln() - 3.0 + 3.0_f32.ln()) / 2.0;
    assert_abs_diff_eq!(logits.cross_entropy(&targets, None).unwrap().item().unwrap(), expected, epsilon = 1e-6);
    // Extreme logits: exact, no overflow and no log(0).
    let extreme = t(array![[1000.0_f32, 0.0], [-1000.0, 1000.0]].into_dyn());
    let loss = extreme.cross_entropy(&array![1_usize, 0].into_dyn(), None).unwrap().item().unwrap();
    assert_abs_diff_eq!(loss, 1500.0, epsilon = 1e-3);
    let all_ignored = array![[7_usize, 7]].into_dyn();
    assert_eq!(logits.cross_entropy(&all_ignored, Some(7)).unwrap().item().unwrap(), 0.0);
    assert!(matches!(
        logits.cross_entropy(&array![[3_usize, 0]].into_dyn(), None),
        Err(Error::IndexOutOfRange { index: 3, size: 3, .. })
    ));
    assert!(matches!(logits.cross_entropy(&array![2_usize, 0].into_dyn(), None), Err(Error::Shape { .. })));
}

#[test]
fn bce_with_logits_is_stable() {
    let x = t(array![100.0_f32, -100.0, 0.0].into_dyn());
    let y = t(array![0.0_f32, 1.0, 1.0].into_dyn());
    let loss = x.binary_cross_entropy_with_logits(&y).unwrap().item().unwrap();
    assert_abs_diff_eq!(loss, (100.0 + 100.0 + 2.0_f32.ln()) / 3.0, epsilon = 1e-4);
    let mse = x.mse_loss(&y).unwrap().item().unwrap();
    assert_abs_diff_eq!(mse, (10000.0 + 10201.0 + 1.0) / 3.0, epsilon = 1e-2);
}

#[test]
fn gather_rows_checks_indices() {
    let table = t(ArrayD::zeros(IxDyn(&[3, 2])));
    assert!(matches!(
        table.gather_rows(&array![0_usize, 3].into_dyn()),
        Err(Error::IndexOutOfRange { index: 3, size: 3, .. })
    ));
    assert!(matches!(Tensor::zeros(&[3]).gather_rows(&array![0_usize].into_dyn()), Err(Error::Invalid { .. })));
}

#[test]
fn dropout_is_seeded_and_unbiased() {
    let x = t(ArrayD::ones(IxDyn(&[10_000])));
    let a = x.dropout(0.25, &mut StdRng::seed_from_u64(3)).unwrap();
    let b = x.dropout(0.25, &mut StdRng::seed_from_u64(3)).unwrap();
    assert_eq!(a.to_array(), b.to_array());
    assert_abs_diff_eq!(a.mean().item().unwrap(), 1.0, epsilon = 0.03);
    assert!(matches!(x.dropout(1.0, &mut StdRng::seed_from_u64(3)), Err(Error::Invalid { .. })));
}

#[test]
fn gradients_accumulate_until_zeroed() {
    let w = Tensor::parameter(array![1.0_f32, 2.0].into_dyn());
    let loss = || w.mul(&w).unwrap().sum();
    loss().backward().unwrap();
    loss().backward().unwrap();
    assert_eq!(w.grad().unwrap(), array![4.0_f32, 8.0].into_dyn());
    w.zero_grad();
    assert!(w.grad().is_none());
}

#[test]
fn no_grad_records_nothing() {
    let w = Tensor::parameter(array![1.0_f32, 2.0].into_dyn());
    let y = no_grad(|| w.mul_scalar(3.0).sum());
    assert!(!y.requires_grad());
    assert!(y.op_name().is_none());
    assert!(matches!(y.backward(), Err(Error::NoGrad)));
    assert!(w.mul_scalar(3.0).sum().requires_grad(), "grad mode is restored");
}

#[test]
fn backward_needs_a_scalar_and_detach_cuts_the_graph() {
    let w = Tensor::parameter(array![1.0_f32, 2.0].into_dyn());
    assert!(matches!(w.mul_scalar(2.0).backward(), Err(Error::NotScalar { .. })));
    let y = w.detach().mul(&w).unwrap().sum();
    y.backward().unwrap();
    assert_eq!(w.grad().unwrap(), array![1.0_f32, 2.0].into_dyn());
    assert!(matches!(w.item(), Err(Error::NotScalar { .. })));
}

#[test]
fn deep_graphs_backpropagate_and_drop_without_recursion() {
    // 200 000 recorded ops: recursion per node would overflow the stack.
    let w = Tensor::parameter(array![1.0_f32].into_dyn());
    let mut h = w.clone();
    for _ in 0..200_000 {
        h = h.mul_scalar(1.0).add_scalar(0.0);
    }
    h.sum().backward().unwrap();
    assert_eq!(w.grad().unwrap(), array![1.0_f32].into_dyn());
    drop(h);
}

#[test]
fn tensors_cross_threads() {
    let w = Tensor::parameter(array![1.0_f32, -1.0].into_dyn());
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let w = w.clone();
            std::thread::spawn(move || w.mul(&w).unwrap().sum().backward().unwrap())
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(w.grad().unwrap(), array![4.0_f32, -4.0].into_dyn());
}

#[test]
fn clip_grad_norm_scales_to_max_norm() {
    let a = Tensor::parameter(array![3.0_f32].into_dyn());
    let b = Tensor::parameter(array![[4.0_f32]].into_dyn());
    a.mul(&a).unwrap().sum().add(&b.mul(&b).unwrap().sum()).unwrap().mul_scalar(0.5).backward().unwrap();
    let norm = clip_grad_norm(&[a.clone(), b.clone()], 2.5).unwrap();
    assert_abs_diff_eq!(norm, 5.0, epsilon = 1e-6);
    assert_abs_diff_eq!(a.grad().unwrap()[[0]], 1.5, epsilon = 1e-5);
    assert_abs_diff_eq!(b.grad().unwrap()[[0, 0]], 2.0, epsilon = 1e-5);
    // Below the limit nothing changes.
    assert_abs_diff_eq!(clip_grad_norm(std::slice::from_ref(&a), 10.0).unwrap(), 1.5, epsilon = 1e-5);
    assert_abs_diff_eq!(a.grad().unwrap()[[0]], 1.5, epsilon = 1e-5);
    a.update_grad(|g| g.fill(f32::NAN));
    assert!(matches!(clip_grad_norm(&[a], 1.0), Err(Error::NonFinite { .. })));
}

#[test]
fn large_tensors_take_the_parallel_path_with_the_same_results() {
    // 256 × 160 elements is above the parallel threshold; one row is below it.
    let (rows, cols) = (256, 160);
    let x = ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |i| ((i[0] * 7 + i[1] * 13) % 29) as f32 / 7.0 - 2.0);
    let c = ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |i| ((i[0] + 3 * i[1]) % 11) as f32 / 11.0 - 0.5);
    let targets: ArrayD<usize> = ArrayD::from_shape_fn(IxDyn(&[rows]), |i| (i[0] * 31) % cols);
    type RowOp = fn(&Tensor, &ArrayD<usize>) -> Tensor;
    let ops: [(&str, RowOp); 5] = [
        ("softmax", |t, _| t.softmax(-1).unwrap()),
        ("log_softmax", |t, _| t.log_softmax(-1).unwrap()),
        ("layer_norm", |t, _| t.layer_norm(None, None, 1e-5).unwrap()),
        ("tanh", |t, _| t.tanh()),
        ("cross_entropy", |t, y| t.cross_entropy(y, None).unwrap().mul_scalar(y.len() as f32)),
    ];
    for (name, op) in ops {
        let full_param = Tensor::parameter(x.clone());
        let full = op(&full_param, &targets);
        let weights = if full.ndim() == 0 { Tensor::scalar(1.0) } else { Tensor::constant(c.clone()) };
        full.mul(&weights).unwrap().sum().backward().unwrap();

        let row_param = Tensor::parameter(x.clone());
        let mut total = Tensor::scalar(0.0);
        for i in 0..rows {
            let row = row_param.narrow(0, i, 1).unwrap();
            let row_targets = targets.slice(ndarray::s![i..i + 1]).to_owned().into_dyn();
            let out = op(&row, &row_targets);
            let weight = if out.ndim() == 0 {
                Tensor::scalar(1.0)
            } else {
                Tensor::constant(c.slice(ndarray::s![i..i + 1, ..]).to_owned().into_dyn())
            };
            total = total.add(&out.mul(&weight).unwrap().sum()).unwrap();
            if out.ndim() > 0 {
                let full_row = full.data().slice(ndarray::s![i..i + 1, ..]).to_owned().into_dyn();
                out.data().iter().zip(full_row.iter()).for_each(|(a, b)| assert_abs_diff_eq!(a, b, epsilon = 1e-5));
            }
        }
        total.backward().unwrap();
        let (a, b) = (full_param.grad().unwrap(), row_param.grad().unwrap());
        let worst = a.iter().zip(b.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-4, "{name}: parallel and per-row gradients differ by {worst}");
    }
}

#[test]
fn minimum_maximum_clamp_and_gather_values() {
    let a = t(array![[1.0_f32, -2.0], [3.0, 0.5]].into_dyn());
    let b = t(array![0.5_f32, 0.5].into_dyn());
    assert_eq!(a.minimum(&b).unwrap().to_array(), array![[0.5_f32, -2.0], [0.5, 0.5]].into_dyn());
    assert_eq!(a.maximum(&b).unwrap().to_array(), array![[1.0_f32, 0.5], [3.0, 0.5]].into_dyn());
    assert!(matches!(a.minimum(&Tensor::zeros(&[3])), Err(Error::Shape { op: "minimum", .. })));
    assert_eq!(a.clamp(-1.0, 1.0).unwrap().to_array(), array![[1.0_f32, -1.0], [1.0, 0.5]].into_dyn());
    assert!(matches!(a.clamp(1.0, -1.0), Err(Error::Invalid { op: "clamp", .. })));

    // Ties split the gradient evenly, as torch.maximum does.
    let x = Tensor::parameter(array![2.0_f32].into_dyn());
    let y = Tensor::parameter(array![2.0_f32].into_dyn());
    x.maximum(&y).unwrap().sum().backward().unwrap();
    assert_eq!((x.grad().unwrap()[[0]], y.grad().unwrap()[[0]]), (0.5, 0.5));

    let picked = a.gather(1, &array![[1_usize, 1, 0], [0, 1, 1]].into_dyn()).unwrap();
    assert_eq!(picked.to_array(), array![[-2.0_f32, -2.0, 1.0], [3.0, 0.5, 0.5]].into_dyn());
    assert!(matches!(a.gather(1, &array![[2_usize]].into_dyn()), Err(Error::IndexOutOfRange { index: 2, .. })));
    assert!(matches!(a.gather(0, &array![0_usize].into_dyn()), Err(Error::Shape { op: "gather", .. })));
    assert!(matches!(a.gather(1, &array![[0_usize], [0], [1]].into_dyn()), Err(Error::Shape { op: "gather", .. })));
    assert_eq!(a.gather(0, &array![[0_usize], [1], [1]].into_dyn()).unwrap().shape(), vec![3, 1]);
}

#[test]
fn empty_dimensions_are_handled() {
    let a = Tensor::parameter(ArrayD::zeros(IxDyn(&[2, 3, 0])));
    let b = Tensor::parameter(ArrayD::zeros(IxDyn(&[0, 4])));
    let c = a.matmul(&b).unwrap();
    assert_eq!(c.shape(), vec![2, 3, 4]);
    assert!(c.data().iter().all(|&v| v == 0.0));
    c.sum().backward().unwrap();
    assert_eq!(a.grad().unwrap().shape(), &[2, 3, 0]);
    assert_eq!(b.grad().unwrap().shape(), &[0, 4]);
    let rows = Tensor::zeros(&[0, 5]).matmul(&Tensor::zeros(&[5, 2])).unwrap();
    assert_eq!(rows.shape(), vec![0, 2]);
}
