//! The Llama family's checkpoints — Llama 2 / 3, Qwen2 / 2.5, Mistral — read into a
//! [`Decoder`](crate::Decoder): RMSNorm, rotary positions with every `rope_scaling` type `transformers`
//! defines, a SwiGLU MLP, grouped-query attention, tied or untied embeddings, and the
//! attention biases Qwen2 adds.
//!
//! `config.json` keys follow `LlamaConfig` / `Qwen2Config` / `MistralConfig`, from
//! `transformers` 4 (`rope_theta`, `rope_scaling`) or 5 (`rope_parameters`); tensor names are
//! `LlamaForCausalLM`'s (`model.layers.{i}.self_attn.q_proj.weight`, …).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::config_keys::ignored_keys;
use crate::decoder::{DecoderConfig, MlpKind, NormKind, QkvLayout, TensorNames};
use crate::error::{Error, Result};
use crate::rope::{Rope, RopeScaling};

/// `LlamaForCausalLM`'s tensor names (Qwen2 and Mistral use the same).
pub const NAMES: TensorNames = TensorNames {
    embed: "model.embed_tokens",
    layers: "model.layers",
    final_norm: "model.norm",
    lm_head: "lm_head",
    attn_norm: "input_layernorm",
    mlp_norm: "post_attention_layernorm",
    attn: "self_attn",
    qkv: ["q_proj", "k_proj", "v_proj"],
    o_proj: "o_proj",
    mlp: "mlp",
    mlp_proj: ["gate_proj", "up_proj", "down_proj"],
};

/// The `model_type`s this module reads.
pub const MODEL_TYPES: &[&str] = &["llama", "qwen2", "mistral"];

/// `config.json` of a Llama-family model; defaults are `LlamaConfig`'s.
#[derive(Debug, Deserialize)]
struct RawConfig {
    model_type: String,
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    #[serde(default = "max_positions")]
    max_position_embeddings: usize,
    #[serde(default = "rms_eps")]
    rms_norm_eps: f32,
    #[serde(default = "silu")]
    hidden_act: String,
    #[serde(default)]
    tie_word_embeddings: Option<bool>,
    rope_theta: Option<f64>,
    rope_scaling: Option<Value>,
    rope_parameters: Option<Value>,
    #[serde(default)]
    attention_bias: Option<bool>,
    #[serde(default)]
    mlp_bias: bool,
    #[serde(default)]
    use_sliding_window: bool,
    sliding_window: Option<Value>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

fn max_positions() -> usize {
    2048
}
fn rms_eps() -> f32 {
    1e-6
}
fn silu() -> String {
    "silu".into()
}

/// Reads a Llama-family `config.json` (already parsed) into a [`DecoderConfig`]; returns it
/// with the metadata keys that were ignored.
///
/// # Errors
/// [`Error::UnsupportedConfigKey`] naming a key whose meaning is not implemented (an
/// activation other than SiLU, a sliding window on, an unknown RoPE type, …);
/// [`Error::Config`] for inconsistent sizes.
pub fn read_config(json: Value) -> Result<(DecoderConfig, Vec<String>)> {
    let raw: RawConfig = serde_json::from_value(json).map_err(|e| Error::Config(format!("config.json: {e}")))?;
    let refuse = |key: &str, reason: String| Error::UnsupportedConfigKey { key: key.into(), reason };
    if !MODEL_TYPES.contains(&raw.model_type.as_str()) {
        return Err(refuse("model_type", format!("{:?} is not a Llama-family model", raw.model_type)));
    }
    if raw.hidden_act != "silu" {
        return Err(refuse("hidden_act", format!("{:?} (only silu)", raw.hidden_act)));
    }
    let qwen2 = raw.model_type == "qwen2";
    if qwen2 && raw.use_sliding_window {
        return Err(refuse("use_sliding_window", "sliding-window attention is not implemented".into()));
    }
    // Mistral attends within a window: equal to full attention for sequences that fit it, so
    // the context is capped there.
    let window = if raw.model_type == "mistral" { raw.sliding_window.as_ref().and_then(Value::as_u64) } else { None };
    let trained = window.map_or(raw.max_position_embeddings, |w| raw.max_position_embeddings.min(w as usize));
    let heads = raw.num_attention_heads;
    if heads == 0 || raw.hidden_size == 0 {
        return Err(Error::Config("config.json: zero hidden_size or num_attention_heads".into()));
    }
    let head_dim = raw.head_dim.unwrap_or(raw.hidden_size / heads);
    let parameters = raw.rope_parameters.as_ref();
    let theta = raw
        .rope_theta
        .or_else(|| parameters.and_then(|p| p.get("rope_theta")).and_then(Value::as_f64))
        .unwrap_or(10_000.0);
    let scaling = RopeScaling::from_config(raw.rope_scaling.as_ref().or(parameters), raw.max_position_embeddings)?;
    let max_positions = scaling.context_for(trained);
    let config = DecoderConfig {
        vocab_size: raw.vocab_size,
        hidden_size: raw.hidden_size,
        intermediate_size: raw.intermediate_size,
        num_layers: raw.num_hidden_layers,
        num_heads: heads,
        num_kv_heads: raw.num_key_value_heads.unwrap_or(heads),
        head_dim,
        max_positions,
        norm: NormKind::Rms,
        norm_eps: raw.rms_norm_eps,
        mlp: MlpKind::SwiGlu,
        qkv: QkvLayout::Separate,
        // Qwen2 always has q/k/v biases and none on o_proj; Llama's attention_bias sets all four.
        qkv_bias: qwen2 || raw.attention_bias.unwrap_or(false),
        o_bias: !qwen2 && raw.attention_bias.unwrap_or(false),
        mlp_bias: raw.mlp_bias,
        parallel_residual: false,
        tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(false),
        rope: Rope::new(head_dim, head_dim, theta, scaling, raw.max_position_embeddings)?,
    };
    config.validate()?;
    let mut rest = raw.rest;
    if !raw.use_sliding_window {
        // Which layers would use the window: nothing when the window is off.
        rest.remove("max_window_layers");
    }
    take_full_attention_layer_types(&mut rest)?;
    Ok((config, ignored_keys(&raw.model_type, &rest)?))
}

/// `transformers` 5 lists each layer's attention kind in `layer_types`; all `full_attention`
/// is what this crate computes (the key is then consumed), anything else is refused.
fn take_full_attention_layer_types(rest: &mut BTreeMap<String, Value>) -> Result<()> {
    let Some(types) = rest.get("layer_types") else { return Ok(()) };
    let all_full = types.as_array().is_some_and(|t| t.iter().all(|k| k.as_str() == Some("full_attention")));
    if !all_full {
        return Err(Error::UnsupportedConfigKey {
            key: "layer_types".into(),
            reason: format!("{types}: only full_attention layers are implemented"),
        });
    }
    rest.remove("layer_types");
    Ok(())
}
