//! Multi-head attention: GPT's fused causal self-attention with a key/value cache, and the
//! encoder's / decoder's multi-head attention over itself or another sequence.
//!
//! Shapes follow nanoGPT: `B` batch, `T` time, `C` channels (`n_embd`), `nh` heads,
//! `hs = C / nh` head size. GPT's training and full-sequence pass read the heads in place from
//! the fused `(B, T, 3C)` projection (malmoi-tensor's `qkv_attention`); the other paths split
//! them as `(B, T, C) → (B, nh, T, hs)`, attend with the scaled-dot-product kernel and merge
//! them back to `(B, T, C)`.

use ndarray::{Array4, ArrayD, ArrayView2, ArrayView4, Ix3, Ix4, s};

use malmoi_tensor::kernels::{
    AttentionMask, attention_forward, qkv_attention, scaled_dot_product_attention, split_qkv,
};
use malmoi_tensor::nn::{Linear, Module, named_children};
use malmoi_tensor::{Tensor, VarBuilder, grad_needed};

use crate::error::{Error, Result};
use crate::init::{STD, conv1d, linear};

/// `(B, T, C) → (B, nh, T, hs)`.
pub fn split_heads(x: &Tensor, n_head: usize) -> Result<Tensor> {
    let shape = x.shape();
    let [b, t, c] = shape[..] else { return Err(Error::Input(format!("expected (B, T, C), got {shape:?}"))) };
    Ok(x.reshape(&[b, t, n_head, c / n_head])?.permute(&[0, 2, 1, 3])?)
}

/// `(B, nh, T, hs) → (B, T, C)`.
pub fn merge_heads(y: &Tensor) -> Result<Tensor> {
    let shape = y.shape();
    let [b, nh, t, hs] = shape[..] else { return Err(Error::Input(format!("expected (B, nh, T, hs), got {shape:?}"))) };
    Ok(y.permute(&[0, 2, 1, 3])?.reshape(&[b, t, nh * hs])?)
}

fn view4(a: &ndarray::ArrayD<f32>) -> ArrayView4<'_, f32> {
    a.view().into_dimensionality::<Ix4>().expect("split_heads gives 4-D tensors")
}

/// Attention of `(B, nh, Tq, hs)` queries over `(B, nh, Tk, hs)` keys and values.
///
/// With `keep_weights` the attention weights `(B, nh, Tq, Tk)` come back too; that is an
/// inference-only path (run it under [`no_grad`](malmoi_tensor::no_grad)).
///
/// # Errors
/// Shape errors from the kernel; [`Error::Input`] for `keep_weights` while gradients are
/// recorded.
pub fn attend(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &AttentionMask,
    keep_weights: bool,
) -> Result<(Tensor, Option<Array4<f32>>)> {
    if !keep_weights {
        return Ok((scaled_dot_product_attention(q, k, v, mask, None)?, None));
    }
    if grad_needed(&[q, k, v]) {
        return Err(Error::Input("attention weights are returned only under no_grad".into()));
    }
    let (out, cache) = {
        let (q, k, v) = (q.data(), k.data(), v.data());
        attention_forward(view4(&q), view4(&k), view4(&v), mask, None)?
    };
    Ok((Tensor::constant(out.into_dyn()), Some(cache.probs)))
}

/// One layer's cached keys and values, `(B, heads, allocated, hs)` each, of which the first
/// `len` positions are filled. The buffers grow geometrically up to `capacity` positions, so a
/// model with a long context allocates only what a generation uses.
#[derive(Debug, Clone)]
pub struct LayerCache {
    keys: Array4<f32>,
    values: Array4<f32>,
    len: usize,
    capacity: usize,
}

impl LayerCache {
    /// An empty cache for `batch` sequences of at most `capacity` positions.
    pub fn new(batch: usize, n_head: usize, capacity: usize, head_size: usize) -> Self {
        let keys = Array4::zeros((batch, n_head, 0, head_size));
        LayerCache { values: keys.clone(), keys, len: 0, capacity }
    }

    /// Positions filled.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first [`append`](Self::append).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends keys and values `(B, heads, T, hs)`.
    ///
    /// # Errors
    /// [`Error::Input`] when they do not fit.
    pub fn append(&mut self, keys: ArrayView4<f32>, values: ArrayView4<f32>) -> Result<()> {
        let (b, nh, t, hs) = keys.dim();
        let (cb, cnh, allocated, chs) = self.keys.dim();
        if (b, nh, hs) != (cb, cnh, chs) || values.dim() != keys.dim() {
            return Err(Error::Input(format!("cache holds ({cb}, {cnh}, _, {chs}), got {:?}", keys.shape())));
        }
        if self.len + t > self.capacity {
            return Err(Error::Input(format!(
                "{} cached + {t} new positions exceed the context of {}",
                self.len, self.capacity
            )));
        }
        if self.len + t > allocated {
            self.grow((self.len + t).max(2 * allocated).min(self.capacity));
        }
        let new = s![.., .., self.len..self.len + t, ..];
        self.keys.slice_mut(new).assign(&keys);
        self.values.slice_mut(new).assign(&values);
        self.len += t;
        Ok(())
    }

    /// Reallocates the buffers to hold `positions`, keeping what is filled.
    fn grow(&mut self, positions: usize) {
        let (b, nh, _, hs) = self.keys.dim();
        let filled = s![.., .., ..self.len, ..];
        for buffer in [&mut self.keys, &mut self.values] {
            let mut larger = Array4::zeros((b, nh, positions, hs));
            larger.slice_mut(filled).assign(&buffer.slice(filled));
            *buffer = larger;
        }
    }

    /// The cache of the sequences `rows` (in that order, repeats allowed): how beam search
    /// follows the beams it keeps.
    pub fn select(&self, rows: &[usize]) -> LayerCache {
        let axis = ndarray::Axis(0);
        LayerCache {
            keys: self.keys.select(axis, rows),
            values: self.values.select(axis, rows),
            len: self.len,
            capacity: self.capacity,
        }
    }

    /// Number of sequences.
    pub fn batch(&self) -> usize {
        self.keys.dim().0
    }

    /// The filled keys and values.
    pub fn filled(&self) -> (ArrayView4<'_, f32>, ArrayView4<'_, f32>) {
        let filled = s![.., .., ..self.len, ..];
        (self.keys.slice(filled), self.values.slice(filled))
    }
}

/// The key/value caches of every layer of a model, for generating one token at a time.
#[derive(Debug, Clone)]
pub struct KvCache {
    pub(crate) layers: Vec<LayerCache>,
}

impl KvCache {
    /// `n_layer` empty layer caches of `batch` sequences, `heads` key/value heads of
    /// `head_size` channels, at most `capacity` positions.
    pub fn new(n_layer: usize, batch: usize, heads: usize, capacity: usize, head_size: usize) -> Self {
        KvCache { layers: vec![LayerCache::new(batch, heads, capacity, head_size); n_layer] }
    }

    /// Positions cached so far.
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, LayerCache::len)
    }

    /// True before the first forward pass.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of sequences.
    pub fn batch(&self) -> usize {
        self.layers.first().map_or(0, LayerCache::batch)
    }

    /// The caches of the sequences `rows`, in that order (repeats allowed).
    ///
    /// # Errors
    /// [`Error::Input`] for a row that is not in the cache.
    pub fn select(&self, rows: &[usize]) -> Result<KvCache> {
        let batch = self.batch();
        if let Some(&bad) = rows.iter().find(|&&r| r >= batch) {
            return Err(Error::Input(format!("cache row {bad} of {batch}")));
        }
        Ok(KvCache { layers: self.layers.iter().map(|l| l.select(rows)).collect() })
    }
}

/// GPT-2's causal self-attention: one fused projection to queries, keys and values
/// (`c_attn`, `C → 3C`), attention with a causal mask, and the output projection `c_proj`.
#[derive(Debug, Clone)]
pub struct CausalSelfAttention {
    /// `C → 3C`, queries then keys then values.
    pub c_attn: Linear,
    /// `C → C`.
    pub c_proj: Linear,
    n_head: usize,
}

impl CausalSelfAttention {
    /// A layer of width `n_embd` with `n_head` heads: `c_attn` and `c_proj` under `vb`, stored
    /// as GPT-2's `Conv1D`s (`(in, out)`); fresh ones initialised as GPT-2 (normal, std 0.02;
    /// the output projection scaled by `1/√(2·n_layer)`; zero biases).
    ///
    /// ```
    /// use malmoi_tensor::VarBuilder;
    /// use malmoi_transformer::attention::CausalSelfAttention;
    /// let attn = CausalSelfAttention::new(8, 2, true, 1, VarBuilder::fresh(0))?;
    /// assert_eq!(attn.c_attn.out_features(), 24);
    /// # Ok::<(), malmoi_transformer::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] if `n_embd` is not a multiple of `n_head`; a tensor `vb` lacks or
    /// holds in another shape.
    pub fn new(n_embd: usize, n_head: usize, bias: bool, n_layer: usize, vb: VarBuilder) -> Result<Self> {
        if n_head == 0 || !n_embd.is_multiple_of(n_head) {
            return Err(Error::Config(format!("n_embd {n_embd} is not a multiple of n_head {n_head}")));
        }
        let proj_std = STD / (2.0 * n_layer as f32).sqrt();
        let c_attn = conv1d(n_embd, 3 * n_embd, bias, STD, vb.pp("c_attn"))?;
        let c_proj = conv1d(n_embd, n_embd, bias, proj_std, vb.pp("c_proj"))?;
        Self::from_parts(c_attn, c_proj, n_head)
    }

    /// From trained projections `c_attn (C → 3C)` and `c_proj (C → C)`.
    ///
    /// # Errors
    /// [`Error::Config`] if the widths disagree or do not split into `n_head` heads.
    pub fn from_parts(c_attn: Linear, c_proj: Linear, n_head: usize) -> Result<Self> {
        let c = c_proj.out_features();
        if n_head == 0 || !c.is_multiple_of(n_head) || c_attn.out_features() != 3 * c || c_attn.in_features() != c {
            return Err(Error::Config(format!("attention projections of width {c} do not split into {n_head} heads")));
        }
        Ok(CausalSelfAttention { c_attn, c_proj, n_head })
    }

    /// `x (B, T, C) → (B, T, C)`. With a `cache` the new keys and values are appended and the
    /// queries (the last `T` positions) attend to everything cached; `weights` receives the
    /// attention weights `(B, nh, T, T_total)` when given (inference only).
    ///
    /// Without either, attention reads the heads straight from `c_attn`'s `(B, T, 3C)` output
    /// and writes them merged for `c_proj` ([`qkv_attention`]): no head is copied out.
    ///
    /// # Errors
    /// Shape errors; a full cache; [`Error::Input`] for `weights` while gradients are recorded
    /// (without a cache).
    pub fn forward(
        &self,
        x: &Tensor,
        cache: Option<&mut LayerCache>,
        weights: Option<&mut Vec<Array4<f32>>>,
    ) -> Result<Tensor> {
        let qkv = self.c_attn.forward(x)?;
        let mask = AttentionMask { key_padding: None, causal: true };
        let y = match (cache, weights) {
            (None, None) => qkv_attention(&qkv, self.n_head, &mask, None)?,
            (cache, weights) => {
                if cache.is_none() && grad_needed(&[&qkv]) {
                    return Err(Error::Input("attention weights are returned only under no_grad".into()));
                }
                let (y, probs) = self.attend_inference(&qkv.data(), cache, &mask)?;
                if let Some(weights) = weights {
                    weights.push(probs);
                }
                y
            }
        };
        Ok(self.c_proj.forward(&y)?)
    }

    /// Attention over `qkv (B, T, 3C)` without gradients: the new keys and values join `cache`
    /// first when there is one. Returns the merged output `(B, T, C)` and the weights.
    fn attend_inference(
        &self,
        qkv: &ArrayD<f32>,
        cache: Option<&mut LayerCache>,
        mask: &AttentionMask,
    ) -> Result<(Tensor, Array4<f32>)> {
        let qkv =
            qkv.view().into_dimensionality::<Ix3>().map_err(|_| Error::Input("c_attn output is not 3-D".into()))?;
        let qkv = qkv.as_standard_layout();
        let [q, k, v] = split_qkv(qkv.view(), self.n_head)?;
        let (out, kernel_cache) = match cache {
            None => attention_forward(q, k, v, mask, None)?,
            Some(cache) => {
                cache.append(k, v)?;
                let (keys, values) = cache.filled();
                attention_forward(q, keys, values, mask, None)?
            }
        };
        let (b, nh, t, hs) = out.dim();
        let merged = out.permuted_axes([0, 2, 1, 3]).as_standard_layout().into_owned();
        let merged = merged.into_shape_with_order((b, t, nh * hs)).expect("standard layout");
        Ok((Tensor::constant(merged.into_dyn()), kernel_cache.probs))
    }
}

impl Module for CausalSelfAttention {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        named_children(&[("c_attn", &self.c_attn), ("c_proj", &self.c_proj)])
    }
}

/// Multi-head attention with separate query, key and value projections (BERT's
/// `attention.self.{query,key,value}` and `attention.output.dense`): self-attention when no
/// `context` is given, cross-attention over `context` (an encoder's output) otherwise.
#[derive(Debug, Clone)]
pub struct MultiHeadAttention {
    /// `C → C`.
    pub query: Linear,
    /// `C_context → C`.
    pub key: Linear,
    /// `C_context → C`.
    pub value: Linear,
    /// `C → C`.
    pub output: Linear,
    n_head: usize,
}

impl MultiHeadAttention {
    /// A layer of width `n_embd`, `n_head` heads, attending over sequences of width
    /// `context_dim` (`n_embd` for self-attention): `query`, `key`, `value` and `output` under
    /// `vb`, fresh ones normal with std 0.02 and zero biases.
    ///
    /// # Errors
    /// [`Error::Config`] if `n_embd` is not a multiple of `n_head`; a tensor `vb` lacks or
    /// holds in another shape.
    pub fn new(n_embd: usize, context_dim: usize, n_head: usize, vb: VarBuilder) -> Result<Self> {
        if n_head == 0 || !n_embd.is_multiple_of(n_head) {
            return Err(Error::Config(format!("n_embd {n_embd} is not a multiple of n_head {n_head}")));
        }
        let names = ["query", "key", "value", "output"];
        let [query, key, value, output] = names.map(|name| vb.pp(name));
        Self::from_parts(
            linear(n_embd, n_embd, true, STD, query)?,
            linear(context_dim, n_embd, true, STD, key)?,
            linear(context_dim, n_embd, true, STD, value)?,
            linear(n_embd, n_embd, true, STD, output)?,
            n_head,
        )
    }

    /// From four trained projections.
    ///
    /// # Errors
    /// [`Error::Config`] if the widths disagree or are not a multiple of `n_head`.
    pub fn from_parts(query: Linear, key: Linear, value: Linear, output: Linear, n_head: usize) -> Result<Self> {
        let c = query.out_features();
        if n_head == 0 || !c.is_multiple_of(n_head) || key.out_features() != c || value.out_features() != c {
            return Err(Error::Config(format!("attention projections of width {c} do not split into {n_head} heads")));
        }
        Ok(MultiHeadAttention { query, key, value, output, n_head })
    }

    /// `x (B, Tq, C)` attends over `context (B, Tk, C_context)` (or itself); `key_padding`
    /// `(B, Tk)` marks keys to ignore; `causal` hides later positions. Returns `(B, Tq, C)`
    /// and, with `keep_weights` (inference only), the weights `(B, nh, Tq, Tk)`.
    ///
    /// # Errors
    /// Shape errors from the projections or the kernel.
    pub fn forward(
        &self,
        x: &Tensor,
        context: Option<&Tensor>,
        key_padding: Option<ArrayView2<bool>>,
        causal: bool,
        keep_weights: bool,
    ) -> Result<(Tensor, Option<Array4<f32>>)> {
        let source = context.unwrap_or(x);
        let q = split_heads(&self.query.forward(x)?, self.n_head)?;
        let k = split_heads(&self.key.forward(source)?, self.n_head)?;
        let v = split_heads(&self.value.forward(source)?, self.n_head)?;
        let (y, weights) = attend(&q, &k, &v, &AttentionMask { key_padding, causal }, keep_weights)?;
        Ok((self.output.forward(&merge_heads(&y)?)?, weights))
    }
}

impl Module for MultiHeadAttention {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        named_children(&[("query", &self.query), ("key", &self.key), ("value", &self.value), ("output", &self.output)])
    }
}
