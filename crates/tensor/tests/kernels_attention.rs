//! Scaled dot-product attention kernel: gradients against central finite
//! differences, and the meaning of the padding and causal masks.

mod kernels_support;

use kernels_support::{assert_close, numeric_grad, random};
use malmoi_tensor::kernels::{AttentionMask, attention_backward, attention_forward};
use ndarray::{Array2, ArrayD, Ix4, s};

const B: usize = 2;
const HEADS: usize = 2;
const TQ: usize = 3;
const TK: usize = 4;
const D: usize = 3;
const DV: usize = 2;

fn padding() -> Array2<bool> {
    // batch 0 sees all keys, batch 1 only the first two
    Array2::from_shape_fn((B, TK), |(b, j)| b == 1 && j >= 2)
}

fn attend(inputs: &[ArrayD<f32>], mask: &AttentionMask) -> ArrayD<f32> {
    let view = |k: usize| inputs[k].view().into_dimensionality::<Ix4>().unwrap();
    attention_forward(view(0), view(1), view(2), mask, None).unwrap().0.into_dyn()
}

fn check_gradients(mask: &AttentionMask, seed: u64) {
    let inputs = vec![
        random(&[B, HEADS, TQ, D], 1.0, seed),
        random(&[B, HEADS, TK, D], 1.0, seed + 1),
        random(&[B, HEADS, TK, DV], 1.0, seed + 2),
    ];
    let probe = random(&[B, HEADS, TQ, DV], 1.0, seed + 3);
    let view = |k: usize| inputs[k].view().into_dimensionality::<Ix4>().unwrap();
    let (_, cache) = attention_forward(view(0), view(1), view(2), mask, None).unwrap();
    let grads =
        attention_backward(&cache, view(0), view(1), view(2), probe.view().into_dimensionality().unwrap()).unwrap();
    let analytic = [grads.query.into_dyn(), grads.key.into_dyn(), grads.value.into_dyn()];
    for (index, analytic) in analytic.iter().enumerate() {
        let numeric = numeric_grad(|inputs| (attend(inputs, mask) * &probe).sum(), &inputs, index);
        assert_close(analytic, &numeric, 2e-3, &format!("attention input {index}"));
    }
}

#[test]
fn gradients_match_finite_differences_unmasked() {
    check_gradients(&AttentionMask::default(), 1);
}

#[test]
fn gradients_match_finite_differences_with_padding_and_causal_mask() {
    let pad = padding();
    check_gradients(&AttentionMask { key_padding: Some(pad.view()), causal: true }, 11);
}

#[test]
fn masked_keys_do_not_influence_outputs() {
    let pad = padding();
    let mask = AttentionMask { key_padding: Some(pad.view()), causal: true };
    let mut inputs = vec![
        random(&[B, HEADS, TQ, D], 1.0, 5),
        random(&[B, HEADS, TK, D], 1.0, 6),
        random(&[B, HEADS, TK, DV], 1.0, 7),
    ];
    let before = attend(&inputs, &mask);
    // change padded keys of batch 1 and the last key (hidden from query 0 by causality)
    inputs[1].slice_mut(s![1, .., 2.., ..]).fill(9.0);
    inputs[2].slice_mut(s![1, .., 2.., ..]).fill(-9.0);
    inputs[2].slice_mut(s![0, .., 3, ..]).fill(5.0);
    let after = attend(&inputs, &mask);
    assert_close(
        &after.slice(s![1, .., .., ..]).to_owned().into_dyn(),
        &before.slice(s![1, .., .., ..]).to_owned().into_dyn(),
        1e-6,
        "padded keys",
    );
    // causal with Tq=3, Tk=4: query i sees keys j ≤ i + 1, so queries 0 and 1 never see key 3
    assert_close(
        &after.slice(s![0, .., ..2, ..]).to_owned().into_dyn(),
        &before.slice(s![0, .., ..2, ..]).to_owned().into_dyn(),
        1e-6,
        "future key",
    );
    assert!(
        (&after.slice(s![0, .., 2, ..]) - &before.slice(s![0, .., 2, ..])).iter().any(|d| d.abs() > 1e-3),
        "the last query does see key 3"
    );
}

#[test]
fn fully_masked_queries_output_zero_and_softmax_is_stable() {
    let pad = Array2::from_elem((B, TK), true);
    let mask = AttentionMask { key_padding: Some(pad.view()), causal: false };
    let inputs = vec![
        random(&[B, HEADS, TQ, D], 1.0, 8),
        random(&[B, HEADS, TK, D], 1.0, 9),
        random(&[B, HEADS, TK, DV], 1.0, 10),
    ];
    assert!(attend(&inputs, &mask).iter().all(|&v| v == 0.0));
    // huge scores must not overflow
    let huge = vec![inputs[0].mapv(|v| v * 1e4), inputs[1].mapv(|v| v * 1e4), inputs[2].clone()];
    assert!(attend(&huge, &AttentionMask::default()).iter().all(|v| v.is_finite()));
}

#[test]
fn rejects_bad_shapes() {
    let q = random(&[B, HEADS, TQ, D], 1.0, 1).into_dimensionality::<Ix4>().unwrap();
    let k = random(&[B, HEADS, TK, D + 1], 1.0, 2).into_dimensionality::<Ix4>().unwrap();
    let v = random(&[B, HEADS, TK, DV], 1.0, 3).into_dimensionality::<Ix4>().unwrap();
    assert!(attention_forward(q.view(), k.view(), v.view(), &AttentionMask::default(), None).is_err());
    let long_q = random(&[B, HEADS, TK + 1, D], 1.0, 1).into_dimensionality::<Ix4>().unwrap();
    let k = random(&[B, HEADS, TK, D], 1.0, 2).into_dimensionality::<Ix4>().unwrap();
    let causal = AttentionMask { key_padding: None, causal: true };
    assert!(attention_forward(long_q.view(), k.view(), v.view(), &causal, None).is_err());
    let bad_pad = Array2::from_elem((B, TK + 1), false);
    let mask = AttentionMask { key_padding: Some(bad_pad.view()), causal: false };
    assert!(attention_forward(q.view(), k.view(), v.view(), &mask, None).is_err());
}
