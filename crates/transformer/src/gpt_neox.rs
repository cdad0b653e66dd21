//! GPT-NeoX checkpoints (EleutherAI's Pythia, polyglot-ko) read into a [`Decoder`](crate::Decoder): LayerNorm,
//! rotary positions on the first `rotary_pct` of each head's channels, one fused
//! `query_key_value` projection laid out head by head, a GELU MLP, and the parallel residual
//! `x + attn(ln₁(x)) + mlp(ln₂(x))` (or the sequential one).
//!
//! Keys follow `GPTNeoXConfig` (`transformers` 4, or 5 with `rope_parameters`); tensor names
//! are `GPTNeoXForCausalLM`'s (`gpt_neox.layers.{i}.attention.query_key_value.weight`, …).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::config_keys::ignored_keys;
use crate::decoder::{DecoderConfig, MlpKind, NormKind, QkvLayout, TensorNames};
use crate::error::{Error, Result};
use crate::rope::{Rope, RopeScaling};

/// `GPTNeoXForCausalLM`'s tensor names.
pub const NAMES: TensorNames = TensorNames {
    embed: "gpt_neox.embed_in",
    layers: "gpt_neox.layers",
    final_norm: "gpt_neox.final_layer_norm",
    lm_head: "embed_out",
    attn_norm: "input_layernorm",
    mlp_norm: "post_attention_layernorm",
    attn: "attention",
    qkv: ["query_key_value", "", ""],
    o_proj: "dense",
    mlp: "mlp",
    mlp_proj: ["dense_h_to_4h", "dense_4h_to_h", ""],
};

/// Buffers that GPT-NeoX files store beside the weights (causal masks, rotary frequencies).
pub fn is_buffer(name: &str) -> bool {
    ["attention.bias", "attention.masked_bias", "rotary_emb.inv_freq"].iter().any(|b| name.ends_with(b))
}

/// `config.json` of a GPT-NeoX model; defaults are `GPTNeoXConfig`'s.
#[derive(Debug, Deserialize)]
struct RawConfig {
    model_type: String,
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    #[serde(default = "gelu")]
    hidden_act: String,
    rotary_pct: Option<f64>,
    rotary_emb_base: Option<f64>,
    #[serde(default = "max_positions")]
    max_position_embeddings: usize,
    #[serde(default = "layer_norm_eps")]
    layer_norm_eps: f32,
    #[serde(default)]
    tie_word_embeddings: bool,
    #[serde(default = "yes")]
    use_parallel_residual: bool,
    #[serde(default = "yes")]
    attention_bias: bool,
    rope_scaling: Option<Value>,
    rope_parameters: Option<Value>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

fn gelu() -> String {
    "gelu".into()
}
fn max_positions() -> usize {
    2048
}
fn layer_norm_eps() -> f32 {
    1e-5
}
fn yes() -> bool {
    true
}

/// Reads a GPT-NeoX `config.json` (already parsed) into a [`DecoderConfig`]; returns it with
/// the metadata keys that were ignored.
///
/// # Errors
/// [`Error::UnsupportedConfigKey`] naming a key whose meaning is not implemented;
/// [`Error::Config`] for inconsistent sizes.
pub fn read_config(json: Value) -> Result<(DecoderConfig, Vec<String>)> {
    let raw: RawConfig = serde_json::from_value(json).map_err(|e| Error::Config(format!("config.json: {e}")))?;
    let refuse = |key: &str, reason: String| Error::UnsupportedConfigKey { key: key.into(), reason };
    if raw.model_type != "gpt_neox" {
        return Err(refuse("model_type", format!("{:?} is not gpt_neox", raw.model_type)));
    }
    let mlp = match raw.hidden_act.as_str() {
        "gelu" => MlpKind::Gelu,
        "gelu_new" | "gelu_pytorch_tanh" => MlpKind::GeluTanh,
        other => return Err(refuse("hidden_act", format!("{other:?} (only gelu, gelu_new)"))),
    };
    let heads = raw.num_attention_heads;
    if heads == 0 || !raw.hidden_size.is_multiple_of(heads) {
        return Err(Error::Config(format!("hidden_size {} does not split into {heads} heads", raw.hidden_size)));
    }
    let head_dim = raw.hidden_size / heads;
    let parameters = raw.rope_parameters.as_ref();
    let from_parameters = |key: &str| parameters.and_then(|p| p.get(key)).and_then(Value::as_f64);
    let fraction = raw.rotary_pct.or_else(|| from_parameters("partial_rotary_factor")).unwrap_or(0.25);
    let theta = raw.rotary_emb_base.or_else(|| from_parameters("rope_theta")).unwrap_or(10_000.0);
    let scaling = RopeScaling::from_config(raw.rope_scaling.as_ref().or(parameters), raw.max_position_embeddings)?;
    let rotary_dim = (head_dim as f64 * fraction) as usize;
    let config = DecoderConfig {
        vocab_size: raw.vocab_size,
        hidden_size: raw.hidden_size,
        intermediate_size: raw.intermediate_size,
        num_layers: raw.num_hidden_layers,
        num_heads: heads,
        num_kv_heads: heads,
        head_dim,
        max_positions: scaling.context_for(raw.max_position_embeddings),
        norm: NormKind::Layer,
        norm_eps: raw.layer_norm_eps,
        mlp,
        qkv: QkvLayout::FusedPerHead,
        qkv_bias: raw.attention_bias,
        o_bias: raw.attention_bias,
        mlp_bias: true,
        parallel_residual: raw.use_parallel_residual,
        tie_word_embeddings: raw.tie_word_embeddings,
        rope: Rope::new(head_dim, rotary_dim, theta, scaling.clone(), raw.max_position_embeddings)?,
    };
    config.validate()?;
    Ok((config, ignored_keys(&raw.model_type, &raw.rest)?))
}
