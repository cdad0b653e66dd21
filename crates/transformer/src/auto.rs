//! Loading whatever decoder a Hugging Face model directory holds — `AutoModelForCausalLM` —
//! by its `config.json`'s `model_type`: GPT-2 ([`Gpt`]), the Llama family and GPT-NeoX
//! ([`Decoder`]).
//!
//! ```no_run
//! use malmoi_transformer::auto::load_causal_lm;
//! use malmoi_transformer::generation::{GenerationConfig, generate_ids};
//! let model = load_causal_lm("Qwen2.5-0.5B")?; // a folder from `huggingface-cli download`
//! let out = generate_ids(model.as_ref(), &[9707], &GenerationConfig::greedy(10), |_| std::ops::ControlFlow::Continue(()))?;
//! # Ok::<(), malmoi_transformer::Error>(())
//! ```

use std::path::Path;

use serde_json::Value;

use malmoi_tensor::VarBuilder;

use crate::causal_lm::CausalLm;
use crate::decoder::Decoder;
use crate::error::{Error, Result};
use crate::gpt::Gpt;
use crate::hf::CONFIG_FILE;
use crate::{gpt_neox, llama};

/// The decoder families this crate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// GPT-2 (`gpt2`; KoGPT2 is one).
    Gpt2,
    /// Llama, Qwen2, Mistral.
    Llama,
    /// GPT-NeoX (polyglot-ko, Pythia).
    GptNeox,
}

/// A model directory's parsed `config.json` and the family it names.
///
/// # Errors
/// [`Error::Io`] / [`Error::Json`] naming the file; [`Error::UnsupportedConfigKey`] naming
/// `model_type` (and the `architectures` it lists) for a family this crate does not run.
pub fn read_family(dir: &Path) -> Result<(Family, Value)> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
    let json: Value = serde_json::from_str(&text).map_err(Error::json(&path))?;
    let model_type = json.get("model_type").and_then(Value::as_str).unwrap_or("");
    let family = match model_type {
        "gpt2" | "malmoi-gpt" => Family::Gpt2,
        "gpt_neox" => Family::GptNeox,
        t if llama::MODEL_TYPES.contains(&t) => Family::Llama,
        other => {
            let architectures = json.get("architectures").map_or("none".into(), Value::to_string);
            return Err(Error::UnsupportedConfigKey {
                key: "model_type".into(),
                reason: format!(
                    "{other:?} (architectures {architectures}) is not supported: this crate runs gpt2, {}, gpt_neox",
                    llama::MODEL_TYPES.join(", ")
                ),
            });
        }
    };
    Ok((family, json))
}

impl Decoder {
    /// Loads a Llama-family or GPT-NeoX model directory (`config.json`, `model.safetensors`
    /// or its shards), in inference mode, building each layer from the stored tensors.
    ///
    /// # Errors
    /// [`read_family`]'s errors; [`Error::UnsupportedConfigKey`] for a GPT-2 directory (load it
    /// with [`Gpt::from_pretrained`]) or a key that is not implemented; tensor errors naming
    /// the tensor.
    pub fn from_pretrained(dir: impl AsRef<Path>) -> Result<Decoder> {
        let dir = dir.as_ref();
        let (family, json) = read_family(dir)?;
        let (config, names, ignorable): (_, _, fn(&str) -> bool) = match family {
            Family::Llama => {
                let (config, _) = llama::read_config(json)?;
                (config, llama::NAMES, |name| name.ends_with("rotary_emb.inv_freq"))
            }
            Family::GptNeox => {
                let (config, _) = gpt_neox::read_config(json)?;
                (config, gpt_neox::NAMES, gpt_neox::is_buffer)
            }
            Family::Gpt2 => {
                return Err(Error::UnsupportedConfigKey {
                    key: "model_type".into(),
                    reason: "a GPT-2 directory: load it with Gpt::from_pretrained or load_causal_lm".into(),
                });
            }
        };
        let vb = VarBuilder::from_dir(dir)?;
        Decoder::from_var_builder(config, names, &vb, ignorable).map_err(crate::hf::naming_file(&vb))
    }
}

/// Loads any decoder directory this crate runs, ready to generate.
///
/// # Errors
/// As [`Decoder::from_pretrained`] and [`Gpt::from_pretrained`].
pub fn load_causal_lm(dir: impl AsRef<Path>) -> Result<Box<dyn CausalLm>> {
    let dir = dir.as_ref();
    Ok(match read_family(dir)?.0 {
        Family::Gpt2 => Box::new(Gpt::from_pretrained(dir)?),
        Family::Llama | Family::GptNeox => Box::new(Decoder::from_pretrained(dir)?),
    })
}
