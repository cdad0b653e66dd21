//! Attention read in place from a fused `(B, T, 3C)` projection (`qkv_attention`): equal to
//! splitting the heads out, the `(B, heads, T, D)` kernel and merging them back, forward and
//! backward; equal to a plain f64 definition; gradients against finite differences; masks,
//! odd sizes (one-wide heads, sequences that end inside a tile of query rows) and bad input.

mod kernels_support;

use kernels_support::random;
use malmoi_tensor::kernels::{AttentionMask, qkv_attention, scaled_dot_product_attention, split_qkv};
use malmoi_tensor::{GradCheckOptions, Tensor, check_gradients};
use ndarray::{Array2, Array3, ArrayD, Axis, Ix3, s};

/// `(B, T, C) → (B, heads, T, D)` with the generic tensor ops, as the transformer crate's
/// `split_heads` does.
fn split(x: &Tensor, n_head: usize) -> Tensor {
    let shape = x.shape();
    let (b, t, c) = (shape[0], shape[1], shape[2]);
    x.reshape(&[b, t, n_head, c / n_head]).unwrap().permute(&[0, 2, 1, 3]).unwrap()
}

/// The unfused path: narrow, split, attend, merge.
fn unfused(qkv: &Tensor, n_head: usize, mask: &AttentionMask) -> Tensor {
    let c = qkv.shape()[2] / 3;
    let part = |i: usize| split(&qkv.narrow(-1, i * c, c).unwrap(), n_head);
    let y = scaled_dot_product_attention(&part(0), &part(1), &part(2), mask, None).unwrap();
    let shape = y.shape();
    y.permute(&[0, 2, 1, 3]).unwrap().reshape(&[shape[0], shape[2], c]).unwrap()
}

/// The definition in f64: softmax over the keys each query sees, zero when it sees none.
fn reference(qkv: &ArrayD<f32>, n_head: usize, mask: &AttentionMask) -> Array3<f64> {
    let qkv = qkv.view().into_dimensionality::<Ix3>().unwrap();
    let (batch, t, width) = qkv.dim();
    let (c, d) = (width / 3, width / 3 / n_head);
    let scale = 1.0 / (d as f64).sqrt();
    let mut y = Array3::zeros((batch, t, c));
    for b in 0..batch {
        for h in 0..n_head {
            let col = |part: usize, i: usize, e: usize| qkv[[b, i, part * c + h * d + e]] as f64;
            for i in 0..t {
                let hidden = |j: usize| (mask.causal && j > i) || mask.key_padding.is_some_and(|pad| pad[[b, j]]);
                let scores: Vec<Option<f64>> = (0..t)
                    .map(|j| (!hidden(j)).then(|| scale * (0..d).map(|e| col(0, i, e) * col(1, j, e)).sum::<f64>()))
                    .collect();
                let max = scores.iter().flatten().copied().fold(f64::NEG_INFINITY, f64::max);
                let weights: Vec<f64> = scores.iter().map(|s| s.map_or(0.0, |s| (s - max).exp())).collect();
                let total: f64 = weights.iter().sum();
                for e in 0..d {
                    let value: f64 = (0..t).map(|j| weights[j] * col(2, j, e)).sum();
                    y[[b, i, h * d + e]] = if total > 0.0 { value / total } else { 0.0 };
                }
            }
        }
    }
    y
}

/// Largest `|a − b| / max(1, |b|)`.
fn max_error(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / y.abs().max(1.0)).fold(0.0, f32::max)
}

/// Padding with holes in a different place in each batch element (key 0 of element 1, so its
/// first query sees nothing under the causal mask), and every key of the last element when
/// `hide_all`.
fn padding(batch: usize, t: usize, hide_all: bool) -> Array2<bool> {
    Array2::from_shape_fn((batch, t), |(b, j)| (hide_all && b + 1 == batch) || (7 * j + 3 * b) % 5 == 3)
}

/// Forward and backward of the fused op against the unfused path (to 1e-5) and the forward
/// against the f64 definition, for `(B, T, heads, D)` under every mask.
fn compare(batch: usize, t: usize, n_head: usize, d: usize, seed: u64) {
    let qkv = random(&[batch, t, 3 * n_head * d], 2.0, seed);
    let probe = random(&[batch, t, n_head * d], 1.0, seed + 1);
    let pad = padding(batch, t, batch > 2);
    for (causal, key_padding) in [(true, None), (false, Some(pad.view())), (true, Some(pad.view())), (false, None)] {
        let mask = AttentionMask { key_padding, causal };
        let what = format!("B={batch} T={t} heads={n_head} D={d} causal={causal} padding={}", key_padding.is_some());
        let (fused_in, unfused_in) = (Tensor::parameter(qkv.clone()), Tensor::parameter(qkv.clone()));
        let fused = qkv_attention(&fused_in, n_head, &mask, None).unwrap();
        let plain = unfused(&unfused_in, n_head, &mask);
        assert!(max_error(&fused.to_array(), &plain.to_array()) <= 1e-5, "forward, {what}");
        let exact = reference(&qkv, n_head, &mask).mapv(|v| v as f32).into_dyn();
        assert!(max_error(&fused.to_array(), &exact) <= 1e-5, "forward against f64, {what}");
        fused.backward_with(probe.clone()).unwrap();
        plain.backward_with(probe.clone()).unwrap();
        let (g_fused, g_plain) = (fused_in.grad().unwrap(), unfused_in.grad().unwrap());
        assert!(max_error(&g_fused, &g_plain) <= 1e-5, "backward, {what}: {}", max_error(&g_fused, &g_plain));
    }
}

#[test]
fn equals_the_unfused_path_at_odd_sizes() {
    compare(2, 5, 3, 1, 1);
    compare(3, 7, 2, 2, 3);
    compare(1, 1, 1, 4, 5);
}

#[test]
fn equals_the_unfused_path_across_tiles_of_query_rows() {
    // 64-row tiles: T = 64 is one whole tile, 65 starts a second, 130 ends inside a third.
    compare(2, 64, 2, 3, 7);
    compare(2, 65, 1, 5, 9);
    compare(1, 130, 3, 2, 11);
}

#[test]
fn passes_gradcheck_with_masks() {
    let (batch, t, n_head, d) = (2, 67, 2, 2);
    let inputs = vec![random(&[batch, t, 3 * n_head * d], 1.0, 21)];
    let pad = padding(batch, t, false);
    for (causal, key_padding) in [(true, None), (true, Some(pad.view())), (false, Some(pad.view()))] {
        let mask = AttentionMask { key_padding, causal };
        let report =
            check_gradients(|x| qkv_attention(&x[0], n_head, &mask, Some(0.8)), &inputs, GradCheckOptions::default())
                .unwrap();
        assert_eq!(report.checked, inputs[0].len());
    }
}

#[test]
fn fully_masked_queries_give_zero_output_and_gradient() {
    let qkv = Tensor::parameter(random(&[2, 4, 6], 1.0, 31));
    let pad = Array2::from_shape_fn((2, 4), |(b, _)| b == 1);
    let mask = AttentionMask { key_padding: Some(pad.view()), causal: true };
    let y = qkv_attention(&qkv, 1, &mask, None).unwrap();
    assert!(y.to_array().index_axis(Axis(0), 1).iter().all(|&v| v == 0.0));
    assert!(y.to_array().index_axis(Axis(0), 0).iter().any(|&v| v != 0.0));
    y.sum().backward().unwrap();
    assert!(qkv.grad().unwrap().index_axis(Axis(0), 1).iter().all(|&g| g == 0.0));
}

#[test]
fn reads_strided_input_and_split_views_match_the_copies() {
    let (batch, t, n_head, d) = (2, 9, 3, 2);
    let qkv = random(&[batch, t, 3 * n_head * d], 1.0, 41);
    // the same values stored with the last two axes swapped
    let mut transposed = ArrayD::zeros(vec![batch, 3 * n_head * d, t]);
    transposed.assign(&qkv.view().permuted_axes(vec![0, 2, 1]));
    let strided = transposed.permuted_axes(vec![0, 2, 1]);
    assert!(!strided.is_standard_layout());
    let mask = AttentionMask { key_padding: None, causal: true };
    let a = qkv_attention(&Tensor::constant(qkv.clone()), n_head, &mask, None).unwrap().to_array();
    let b = qkv_attention(&Tensor::constant(strided), n_head, &mask, None).unwrap().to_array();
    assert_eq!(a, b);

    let qkv3 = qkv.view().into_dimensionality::<Ix3>().unwrap();
    let views = split_qkv(qkv3, n_head).unwrap();
    let c = n_head * d;
    for (part, view) in views.iter().enumerate() {
        let copy =
            split(&Tensor::constant(qkv.slice(s![.., .., part * c..(part + 1) * c]).to_owned().into_dyn()), n_head);
        assert_eq!(view.to_owned().into_dyn(), copy.to_array(), "part {part}");
    }
    assert!(split_qkv(qkv3.reversed_axes(), 1).is_err(), "not standard layout");
}

#[test]
fn rejects_bad_widths_and_masks() {
    let mask = AttentionMask::default();
    let x = |shape: &[usize]| Tensor::constant(ArrayD::zeros(shape.to_vec()));
    assert!(qkv_attention(&x(&[2, 3, 12]), 0, &mask, None).is_err(), "no heads");
    assert!(qkv_attention(&x(&[2, 3, 12]), 3, &mask, None).is_err(), "12 is not 3 × 3 × D");
    assert!(qkv_attention(&x(&[2, 3, 0]), 1, &mask, None).is_err(), "D = 0");
    assert!(qkv_attention(&x(&[2, 0, 12]), 2, &mask, None).is_err(), "no keys");
    assert!(qkv_attention(&x(&[2, 3, 4, 12]), 2, &mask, None).is_err(), "not 3-D");
    let pad = Array2::from_elem((2, 4), false);
    let mask = AttentionMask { key_padding: Some(pad.view()), causal: false };
    assert!(qkv_attention(&x(&[2, 3, 12]), 2, &mask, None).is_err(), "padding of 4 keys for 3");
    assert!(qkv_attention(&x(&[2, 4, 12]), 2, &mask, None).is_ok());
}
