//! [`GenerationConfig`]: every knob of `transformers`' `generate` and the OpenAI Playground.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Most beams beam search keeps: its memory and time grow with the beams times the vocabulary.
pub const MAX_BEAMS: usize = 64;
/// Most tokens one generation may add.
pub const MAX_NEW_TOKENS: usize = 1 << 20;
/// Most alternatives reported per token (OpenAI's bound on `top_logprobs`).
pub const MAX_TOP_LOGPROBS: usize = 20;
/// Most stop sequences.
pub const MAX_STOP_SEQUENCES: usize = 16;

/// The file of a checkpoint's generation defaults.
pub const GENERATION_CONFIG_FILE: &str = "generation_config.json";

/// How to continue a prompt.
///
/// The defaults are greedy decoding of up to 50 tokens. `temperature == 0` also means greedy
/// (the OpenAI convention); with `do_sample` the next token is drawn from the processed
/// distribution with a generator seeded by `seed`.
///
/// The logits of each step pass through, in this order (`transformers`' order, with OpenAI's
/// penalties next to the repetition penalty): repetition penalty, frequency and presence
/// penalties, no-repeat n-grams, then temperature, top-k and top-p.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerationConfig {
    /// Most tokens to add.
    pub max_new_tokens: usize,
    /// Sample (`true`) or take the most probable token (`false`).
    pub do_sample: bool,
    /// Divides the logits; below 1 sharpens, above 1 flattens; 0 means greedy.
    pub temperature: f32,
    /// Keep only the `k` most probable tokens (0: off).
    pub top_k: usize,
    /// Keep the smallest set of most probable tokens whose probability reaches `top_p` (1: off).
    pub top_p: f32,
    /// `transformers`' repetition penalty over prompt and output: a seen token's positive
    /// logit is divided by it, a negative one multiplied (1: off).
    pub repetition_penalty: f32,
    /// OpenAI's frequency penalty: subtracts `count · penalty` from each token generated so far.
    pub frequency_penalty: f32,
    /// OpenAI's presence penalty: subtracts `penalty` from each token generated at least once.
    pub presence_penalty: f32,
    /// Never repeat an n-gram of this size (0: off).
    pub no_repeat_ngram_size: usize,
    /// Beam search with this many beams (1: no beam search).
    pub num_beams: usize,
    /// Beam scores are `sum log p / length^length_penalty`.
    pub length_penalty: f32,
    /// Beam search stops as soon as `num_beams` hypotheses are finished.
    pub early_stopping: bool,
    /// The tokens that end a text (`transformers`' `eos_token_id`: one id, a list, or none).
    #[serde(deserialize_with = "one_or_many")]
    pub eos_token_id: Vec<u32>,
    /// Ids never to generate (`transformers`' `suppress_tokens`).
    pub suppress_tokens: Vec<u32>,
    /// Text that ends the output when generated (not included in it).
    pub stop: Vec<String>,
    /// Seed of the sampling generator.
    pub seed: u64,
    /// How many alternatives (with log-probabilities) to report per generated token.
    pub top_logprobs: usize,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        GenerationConfig {
            max_new_tokens: 50,
            do_sample: false,
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            repetition_penalty: 1.0,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            no_repeat_ngram_size: 0,
            num_beams: 1,
            length_penalty: 1.0,
            early_stopping: false,
            eos_token_id: Vec::new(),
            suppress_tokens: Vec::new(),
            stop: Vec::new(),
            seed: 0,
            top_logprobs: 0,
        }
    }
}

impl GenerationConfig {
    /// Greedy decoding of up to `max_new_tokens`.
    pub fn greedy(max_new_tokens: usize) -> Self {
        GenerationConfig { max_new_tokens, ..Self::default() }
    }

    /// Sampling at `temperature` with `seed`.
    pub fn sampling(max_new_tokens: usize, temperature: f32, seed: u64) -> Self {
        GenerationConfig { max_new_tokens, do_sample: true, temperature, seed, ..Self::default() }
    }

    /// The defaults a checkpoint ships in `generation_config.json` (`transformers`' keys:
    /// `do_sample`, `temperature`, `top_k`, `top_p`, `repetition_penalty`,
    /// `no_repeat_ngram_size`, `num_beams`, `length_penalty`, `early_stopping`, `eos_token_id`
    /// — one id or a list — and `max_new_tokens`), over this crate's defaults; `None` when the
    /// directory has no such file. Other keys (`bos_token_id`, `pad_token_id`, `max_length`,
    /// `transformers_version`, …) change nothing here and are ignored.
    ///
    /// # Errors
    /// [`Error::Io`] / [`Error::Json`] naming the file; [`Error::Config`] naming the key whose
    /// value has the wrong type or range.
    pub fn from_pretrained(dir: impl AsRef<std::path::Path>) -> Result<Option<Self>> {
        let path = dir.as_ref().join(GENERATION_CONFIG_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(Error::json(&path))?;
        let mut config = GenerationConfig::default();
        let bad = |key: &str, value: &serde_json::Value| {
            Error::Config(format!("{}: {key} = {value} is not valid", path.display()))
        };
        let Some(map) = json.as_object() else {
            return Err(Error::Config(format!("{}: not a JSON object", path.display())));
        };
        for (key, value) in map {
            let float = || value.as_f64().map(|v| v as f32).ok_or_else(|| bad(key, value));
            let count = || value.as_u64().map(|v| v as usize).ok_or_else(|| bad(key, value));
            match key.as_str() {
                "do_sample" => config.do_sample = value.as_bool().ok_or_else(|| bad(key, value))?,
                "temperature" => config.temperature = float()?,
                "top_k" => config.top_k = count()?,
                "top_p" => config.top_p = float()?,
                "repetition_penalty" => config.repetition_penalty = float()?,
                "no_repeat_ngram_size" => config.no_repeat_ngram_size = count()?,
                "num_beams" => config.num_beams = count()?,
                "length_penalty" => config.length_penalty = float()?,
                "max_new_tokens" if !value.is_null() => config.max_new_tokens = count()?,
                "suppress_tokens" if !value.is_null() => {
                    config.suppress_tokens = one_or_many(value.clone()).map_err(|_| bad(key, value))?;
                }
                // `"never"` is transformers' third setting; like `false` it keeps searching.
                "early_stopping" => config.early_stopping = value.as_bool().unwrap_or(false),
                "eos_token_id" => {
                    config.eos_token_id = one_or_many(value.clone()).map_err(|_| bad(key, value))?;
                }
                _ => {}
            }
        }
        config.validate().map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Ok(Some(config))
    }

    /// True when `id` ends a text.
    pub fn is_eos(&self, id: u32) -> bool {
        self.eos_token_id.contains(&id)
    }

    /// True when the next token is the most probable one rather than a draw.
    pub fn is_greedy(&self) -> bool {
        !self.do_sample || self.temperature == 0.0
    }

    /// Checks every knob's range.
    ///
    /// # Errors
    /// [`Error::Config`] naming the knob.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Config(what));
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return bad(format!("temperature must be ≥ 0, got {}", self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad(format!("top_p must be in (0, 1], got {}", self.top_p));
        }
        if !(self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite()) {
            return bad(format!("repetition_penalty must be > 0, got {}", self.repetition_penalty));
        }
        if !(self.frequency_penalty.is_finite() && self.presence_penalty.is_finite() && self.length_penalty.is_finite())
        {
            return bad("penalties must be finite".into());
        }
        if self.num_beams == 0 || self.num_beams > MAX_BEAMS {
            return bad(format!("num_beams must be 1 to {MAX_BEAMS}, got {}", self.num_beams));
        }
        if self.max_new_tokens > MAX_NEW_TOKENS {
            return bad(format!("max_new_tokens must be at most {MAX_NEW_TOKENS}, got {}", self.max_new_tokens));
        }
        if self.top_logprobs > MAX_TOP_LOGPROBS {
            return bad(format!("top_logprobs must be at most {MAX_TOP_LOGPROBS}, got {}", self.top_logprobs));
        }
        if self.stop.len() > MAX_STOP_SEQUENCES {
            return bad(format!("at most {MAX_STOP_SEQUENCES} stop sequences, got {}", self.stop.len()));
        }
        if self.num_beams > 1 && self.do_sample {
            return bad("beam search is deterministic: set do_sample to false".into());
        }
        if self.stop.iter().any(String::is_empty) {
            return bad("a stop sequence is empty".into());
        }
        Ok(())
    }
}

/// `null`, one id or a list of ids, as `transformers` writes `eos_token_id`.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Vec<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ids {
        One(u32),
        Many(Vec<u32>),
    }
    Ok(match Option::<Ids>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(Ids::One(id)) => vec![id],
        Some(Ids::Many(ids)) => ids,
    })
}
