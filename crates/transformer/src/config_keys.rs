//! What a checkpoint's `config.json` may hold besides the keys a model reads.
//!
//! Real checkpoints carry metadata (`author`, `license`, `created_date`, `_num_labels`,
//! `task_specific_params`, `transformers_version`, …) that changes nothing: such keys are
//! accepted and reported as ignored. Keys that change the computation in some architecture
//! (`rope_scaling`, `rotary_pct`, `sliding_window`, `alibi`, …) are refused by name when the
//! model being loaded does not honour them, so a checkpoint is never run wrongly in silence.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, Result};

/// Keys that change what a model computes in at least one architecture `transformers` knows.
/// A model that does not read one of them refuses a config that sets it (to anything but
/// its neutral value, see [`is_neutral`]).
pub const COMPUTATION_KEYS: &[&str] = &[
    "activation_function",
    "add_cross_attention",
    "alibi",
    "attention_bias",
    "attention_multiplier",
    "attn_logit_softcapping",
    "clip_qkv",
    "embedding_multiplier",
    "embedding_size",
    "final_logit_softcapping",
    "head_dim",
    "hidden_act",
    "intermediate_size",
    "layer_norm_eps",
    "layer_norm_epsilon",
    "layer_types",
    "logits_scaling",
    "max_window_layers",
    "mlp_bias",
    "multi_query",
    "n_inner",
    "new_decoder_architecture",
    "num_experts",
    "num_experts_per_tok",
    "num_key_value_heads",
    "num_local_experts",
    "parallel_attn",
    "partial_rotary_factor",
    "position_embedding_type",
    "qk_layernorm",
    "quantization_config",
    "query_pre_attn_scalar",
    "residual_multiplier",
    "rms_norm_eps",
    "rope_parameters",
    "rope_scaling",
    "rope_theta",
    "rotary_dim",
    "rotary_emb_base",
    "rotary_pct",
    "scale_attn_by_inverse_layer_idx",
    "scale_attn_weights",
    "sliding_window",
    "type_vocab_size",
    "use_alibi",
    "use_parallel_residual",
    "use_qk_norm",
    "use_sliding_window",
];

/// True for a value that asks for nothing: `null`, `false`, `0`, or an empty list / object
/// (`"sliding_window": null`, `"use_sliding_window": false`, `"rope_scaling": null`).
pub fn is_neutral(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Checks the keys a model did not read: refuses the first that changes the computation
/// (naming it), and returns the others — metadata — sorted, to be reported as ignored.
///
/// # Errors
/// [`Error::UnsupportedConfigKey`] for a [`COMPUTATION_KEYS`] entry with a non-neutral value.
pub fn ignored_keys(model_type: &str, rest: &BTreeMap<String, Value>) -> Result<Vec<String>> {
    if let Some((key, value)) = rest.iter().find(|(k, v)| COMPUTATION_KEYS.contains(&k.as_str()) && !is_neutral(v)) {
        return Err(Error::UnsupportedConfigKey {
            key: key.clone(),
            reason: format!("{value} changes the computation and is not implemented for {model_type}"),
        });
    }
    Ok(rest.keys().cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_ignored_and_computation_keys_are_refused() {
        let rest: BTreeMap<String, Value> = serde_json::from_str(
            r#"{"author": "x", "license": "CC", "_num_labels": 1, "sliding_window": null, "use_sliding_window": false}"#,
        )
        .unwrap();
        assert_eq!(
            ignored_keys("gpt2", &rest).unwrap(),
            ["_num_labels", "author", "license", "sliding_window", "use_sliding_window"]
        );
        let rest: BTreeMap<String, Value> = serde_json::from_str(r#"{"author": "x", "rotary_dim": 64}"#).unwrap();
        assert!(
            matches!(ignored_keys("gpt2", &rest), Err(Error::UnsupportedConfigKey { key, .. }) if key == "rotary_dim")
        );
    }
}
