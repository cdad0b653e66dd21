//! [`Generator`]: a GPT with its byte-level BPE tokenizer, from text to text, with stop
//! sequences and streaming.

use std::ops::ControlFlow;
use std::path::Path;

use malmoi_tensor::checkpoint::Precision;
use malmoi_tokenize::ByteLevelBpe;

use super::{FinishReason, GeneratedToken, GenerationConfig};
use crate::error::{Error, Result};
use crate::gpt::Gpt;
use crate::hf::read_config;

/// The tokenizer file of a model directory.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// GPT-2's end-of-text token, which also opens a text when the prompt is empty.
pub const END_OF_TEXT: &str = "<|endoftext|>";

/// The result of [`Generator::generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct TextGeneration {
    /// The generated text (the prompt excluded; a stop sequence and what follows it removed).
    pub text: String,
    /// The generated tokens.
    pub tokens: Vec<GeneratedToken>,
    /// Why it ended.
    pub finish_reason: FinishReason,
}

/// `pipeline("text-generation")`: a [`Gpt`] and its tokenizer.
///
/// ```no_run
/// use malmoi_transformer::generation::{GenerationConfig, Generator};
/// let generator = Generator::from_dir("models/gpt")?;
/// let config = GenerationConfig { max_new_tokens: 30, do_sample: true, temperature: 0.8, top_p: 0.95, ..Default::default() };
/// println!("{}", generator.generate("영화가", &config)?.text);
/// # Ok::<(), malmoi_transformer::Error>(())
/// ```
#[derive(Debug)]
pub struct Generator {
    /// The language model.
    pub model: Gpt,
    /// Its tokenizer.
    pub tokenizer: ByteLevelBpe,
}

impl Generator {
    /// Pairs a model and a tokenizer.
    ///
    /// # Errors
    /// [`Error::Config`] if the tokenizer has ids the model has no embedding for.
    pub fn new(model: Gpt, tokenizer: ByteLevelBpe) -> Result<Self> {
        if tokenizer.vocab_size() > model.config().vocab_size {
            return Err(Error::Config(format!(
                "the tokenizer has {} tokens but the model only {}",
                tokenizer.vocab_size(),
                model.config().vocab_size
            )));
        }
        Ok(Generator { model, tokenizer })
    }

    /// Loads a model directory: `config.json`, `model.safetensors` and `tokenizer.json`.
    ///
    /// # Errors
    /// The loaders' errors.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        read_config(dir)?;
        let tokenizer = ByteLevelBpe::from_file(dir.join(TOKENIZER_FILE))?;
        Self::new(Gpt::from_pretrained(dir)?, tokenizer)
    }

    /// Writes the model (f32) and tokenizer into `dir`, loadable by
    /// [`from_dir`](Self::from_dir) and by `transformers` (`<|endoftext|>` recorded as its
    /// `bos_token_id` / `eos_token_id`).
    ///
    /// # Errors
    /// Write errors.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        self.save_with(dir, Precision::F32)
    }

    /// [`save`](Self::save) with the weights stored in `precision`.
    ///
    /// # Errors
    /// Write errors.
    pub fn save_with(&self, dir: impl AsRef<Path>, precision: Precision) -> Result<()> {
        let dir = dir.as_ref();
        self.model.write_pretrained(dir, precision, self.end_of_text())?;
        self.tokenizer.save(dir.join(TOKENIZER_FILE))?;
        Ok(())
    }

    /// The id of `<|endoftext|>`, if the tokenizer has it.
    pub fn end_of_text(&self) -> Option<usize> {
        self.tokenizer.token_to_id(END_OF_TEXT).map(|id| id as usize)
    }

    /// Prompt ids; an empty prompt becomes `<|endoftext|>`, GPT-2's start of a text.
    ///
    /// # Errors
    /// [`Error::Input`] for an empty prompt when the tokenizer has no `<|endoftext|>`.
    pub fn prompt_ids(&self, prompt: &str) -> Result<Vec<usize>> {
        let ids: Vec<usize> = self.tokenizer.encode_ids(prompt)?.into_iter().map(|id| id as usize).collect();
        if !ids.is_empty() {
            return Ok(ids);
        }
        self.end_of_text().map(|id| vec![id]).ok_or_else(|| Error::Input("empty prompt and no <|endoftext|> token".into()))
    }

    /// The text each of `ids` adds, so that the pieces concatenate to the decoded text. A
    /// byte-level token that ends inside a character adds nothing; the token that completes
    /// the character carries it. Special tokens appear as themselves.
    ///
    /// # Errors
    /// Ids outside the vocabulary.
    pub fn token_pieces(&self, ids: &[usize]) -> Result<Vec<String>> {
        let ids: Vec<u32> = ids.iter().map(|&id| id as u32).collect();
        let mut pieces = Vec::with_capacity(ids.len());
        let mut done = 0;
        for end in 1..=ids.len() {
            let text = self.tokenizer.decode(&ids[..end])?;
            let complete = if end == ids.len() { text.as_str() } else { text.trim_end_matches('\u{FFFD}') };
            let boundary = complete.len().max(done);
            pieces.push(text.get(done..boundary).unwrap_or_default().to_string());
            done = boundary;
        }
        Ok(pieces)
    }

    /// Continues `prompt`; the whole text at once.
    ///
    /// # Errors
    /// As [`generate_stream`](Self::generate_stream).
    pub fn generate(&self, prompt: &str, config: &GenerationConfig) -> Result<TextGeneration> {
        self.generate_stream(prompt, config, |_, _| ControlFlow::Continue(()))
    }

    /// Continues `prompt`, calling `on_text(piece, token)` as text becomes final: pieces hold
    /// whole characters only, and text that might begin a stop sequence is held back until
    /// it is known not to. Returning [`ControlFlow::Break`] stops the generation.
    ///
    /// Unless `config.eos_token_id` is set, `<|endoftext|>` ends the text.
    ///
    /// # Errors
    /// [`Gpt::generate_ids`]' errors.
    pub fn generate_stream(
        &self,
        prompt: &str,
        config: &GenerationConfig,
        mut on_text: impl FnMut(&str, &GeneratedToken) -> ControlFlow<()>,
    ) -> Result<TextGeneration> {
        let mut config = config.clone();
        config.eos_token_id = config.eos_token_id.or(self.end_of_text());
        let prompt = self.prompt_ids(prompt)?;
        let mut ids: Vec<u32> = Vec::new();
        let mut emitted = 0; // bytes of `text` already given to `on_text`
        let mut stopped = false;
        let mut failure = None;
        let generation = self.model.generate_ids(&prompt, &config, |token| {
            if config.eos_token_id == Some(token.id) {
                return ControlFlow::Continue(());
            }
            ids.push(token.id as u32);
            let text = match self.tokenizer.decode_skip_special(&ids) {
                Ok(text) => text,
                Err(e) => {
                    failure = Some(e);
                    return ControlFlow::Break(());
                }
            };
            let (end, stop) = final_prefix(&text, &config.stop);
            if end > emitted {
                if on_text(&text[emitted..end], token).is_break() {
                    return ControlFlow::Break(());
                }
                emitted = end;
            }
            stopped = stop;
            if stop { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })?;
        if let Some(e) = failure {
            return Err(e.into());
        }
        let text = self.tokenizer.decode_skip_special(&ids)?;
        let (end, _) = final_prefix(&text, &config.stop);
        let text = if stopped { text[..end].to_string() } else { text };
        if !stopped && text.len() > emitted {
            let last = generation.tokens.last().expect("text came from tokens");
            let _ = on_text(&text[emitted..], last);
        }
        let finish_reason = if stopped { FinishReason::Stop } else { generation.finish_reason };
        Ok(TextGeneration { text, tokens: generation.tokens, finish_reason })
    }
}

/// How much of `text` is final — it ends before an incomplete character (U+FFFD at the end)
/// and before any suffix that could begin a stop sequence — and whether a stop sequence
/// occurs (then the prefix ends where it begins).
fn final_prefix(text: &str, stops: &[String]) -> (usize, bool) {
    if let Some(at) = stops.iter().filter_map(|s| text.find(s.as_str())).min() {
        return (at, true);
    }
    let complete = text.trim_end_matches('\u{FFFD}').len();
    let held = stops
        .iter()
        .flat_map(|stop| stop.char_indices().skip(1).map(move |(i, _)| &stop[..i]))
        .filter(|prefix| text[..complete].ends_with(prefix))
        .map(str::len)
        .max()
        .unwrap_or(0);
    (complete - held, false)
}

#[cfg(test)]
mod tests {
    use super::final_prefix;

    #[test]
    fn holds_back_what_may_start_a_stop_sequence() {
        let stops = vec!["\n\n".to_string(), "끝.".to_string()];
        assert_eq!(final_prefix("좋은 영화\n", &stops), ("좋은 영화".len(), false));
        assert_eq!(final_prefix("좋은 영화\n\n다음", &stops), ("좋은 영화".len(), true));
        assert_eq!(final_prefix("재미 끝", &stops), ("재미 ".len(), false));
        assert_eq!(final_prefix("재미\u{FFFD}", &[]), ("재미".len(), false));
    }
}
