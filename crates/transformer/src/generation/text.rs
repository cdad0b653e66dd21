//! [`Generator`]: a causal language model with its tokenizer, chat template and generation
//! defaults — `pipeline("text-generation")` — from text (or a conversation) to text, with stop
//! sequences and streaming of whole characters.

use std::ops::ControlFlow;
use std::path::Path;

use malmoi_tensor::checkpoint::{Precision, write_atomically};
use malmoi_tokenize::chat_template::{ChatMessage, TokenizerConfig};
use malmoi_tokenize::tokenizer::Tokenizer;

use super::{FinishReason, GeneratedToken, GenerationConfig, config::GENERATION_CONFIG_FILE, generate_ids};
use crate::causal_lm::CausalLm;
use crate::error::{Error, Result};
use crate::gpt::Gpt;

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

/// `pipeline("text-generation")`: a language model, its tokenizer, the chat template and
/// special tokens of `tokenizer_config.json`, and the defaults of `generation_config.json`.
///
/// `Generator` (the default type parameter) holds a [`Gpt`], which the training code tunes;
/// `Generator<Box<dyn CausalLm>>` holds any architecture [`load_causal_lm`](crate::load_causal_lm)
/// reads, from [`Generator::from_pretrained`].
///
/// ```no_run
/// use malmoi_transformer::generation::{GenerationConfig, Generator};
/// let generator = Generator::from_dir("models/gpt")?;
/// let config = GenerationConfig { max_new_tokens: 30, do_sample: true, temperature: 0.8, top_p: 0.95, ..Default::default() };
/// println!("{}", generator.generate("영화가", &config)?.text);
/// # Ok::<(), malmoi_transformer::Error>(())
/// ```
#[derive(Debug)]
pub struct Generator<M = Gpt> {
    /// The language model.
    pub model: M,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Chat template, special tokens and `add_bos_token` from `tokenizer_config.json`.
    pub tokenizer_config: TokenizerConfig,
    /// The checkpoint's generation defaults (`generation_config.json`), if it has them.
    pub defaults: Option<GenerationConfig>,
}

impl<M: CausalLm> Generator<M> {
    /// Pairs a model and a tokenizer.
    ///
    /// # Errors
    /// [`Error::Config`] if the tokenizer has ids the model has no embedding for.
    pub fn new(model: M, tokenizer: Tokenizer) -> Result<Self> {
        check_vocabulary(&model, &tokenizer, None)?;
        Ok(Generator { model, tokenizer, tokenizer_config: TokenizerConfig::default(), defaults: None })
    }

    /// Pairs `model` with the tokenizer, tokenizer config and generation defaults in `dir`.
    fn with_files(model: M, dir: &Path) -> Result<Self> {
        let path = dir.join(TOKENIZER_FILE);
        let tokenizer = Tokenizer::from_file(&path)?;
        check_vocabulary(&model, &tokenizer, Some(&path))?;
        let tokenizer_config = TokenizerConfig::from_dir(dir)?;
        let defaults = GenerationConfig::from_pretrained(dir)?;
        Ok(Generator { model, tokenizer, tokenizer_config, defaults })
    }

    /// The ids that end a text: the generation defaults' `eos_token_id`, else the tokenizer
    /// config's `eos_token`, else `<|endoftext|>`.
    pub fn eos_ids(&self) -> Vec<u32> {
        if let Some(ids) = self.defaults.as_ref().map(|d| &d.eos_token_id).filter(|ids| !ids.is_empty()) {
            return ids.clone();
        }
        let named = self.tokenizer_config.special_tokens.get("eos_token").map_or(END_OF_TEXT, String::as_str);
        self.tokenizer.token_to_id(named).into_iter().collect()
    }

    /// The id of `<|endoftext|>` (or the tokenizer config's EOS token), if the tokenizer has it.
    pub fn end_of_text(&self) -> Option<u32> {
        self.eos_ids().first().copied()
    }

    /// Prompt ids: the text encoded with the tokenizer's special tokens (Llama's `<s>`);
    /// an empty prompt becomes the BOS token, or `<|endoftext|>` (GPT-2's start of a text).
    ///
    /// # Errors
    /// [`Error::Input`] for an empty prompt when the tokenizer has neither.
    pub fn prompt_ids(&self, prompt: &str) -> Result<Vec<u32>> {
        self.with_start(self.tokenizer.encode_ids(prompt, true)?)
    }

    /// [`prompt_ids`](Self::prompt_ids) for text a user wrote (a server's request): special
    /// tokens spelled in it (`<|endoftext|>`) are encoded as text, as OpenAI's API treats them.
    ///
    /// # Errors
    /// As [`prompt_ids`](Self::prompt_ids).
    pub fn untrusted_prompt_ids(&self, prompt: &str) -> Result<Vec<u32>> {
        self.with_start(self.tokenizer.encode_ids_untrusted(prompt, true)?)
    }

    /// `ids`, or for an empty prompt the token that starts a text.
    fn with_start(&self, ids: Vec<u32>) -> Result<Vec<u32>> {
        if !ids.is_empty() {
            return Ok(ids);
        }
        let bos = self.tokenizer_config.special_tokens.get("bos_token").and_then(|t| self.tokenizer.token_to_id(t));
        bos.or(self.end_of_text())
            .map(|id| vec![id])
            .ok_or_else(|| Error::Input("empty prompt and no BOS or <|endoftext|> token".into()))
    }

    /// The ids of a conversation rendered by the checkpoint's chat template, ending where the
    /// assistant's turn begins when `add_generation_prompt`. What users and the system wrote
    /// never becomes a special token: text like `<|im_end|>` inside a message is encoded as
    /// text; only the template's own markup yields special tokens.
    ///
    /// # Errors
    /// [`Error::ChatTemplate`] when the checkpoint has no template or the template refuses
    /// the conversation.
    pub fn chat_ids(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<Vec<u32>> {
        let template = self.tokenizer_config.template(None)?;
        let text = template.render(messages, add_generation_prompt, &self.tokenizer_config.special_tokens)?;
        encode_rendered(&self.tokenizer, &text, messages)
    }

    /// The text each of `ids` adds, so that the pieces concatenate to the decoded text. A
    /// token that ends inside a character adds nothing; the token that completes the character
    /// carries it. Special tokens appear as themselves.
    ///
    /// # Errors
    /// Ids outside the vocabulary.
    pub fn token_pieces(&self, ids: &[u32]) -> Result<Vec<String>> {
        let mut stream = self.tokenizer.decode_stream(false);
        let mut pieces = Vec::with_capacity(ids.len());
        for &id in ids {
            pieces.push(stream.step(id)?.unwrap_or_default());
        }
        if let Some(last) = pieces.last_mut() {
            last.push_str(&stream.finish()?);
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
    /// Unless `config.eos_token_id` is set, [`eos_ids`](Self::eos_ids) end the text. Ids the
    /// model scores but the tokenizer has no token for (an embedding padded past the
    /// vocabulary) are never generated.
    ///
    /// # Errors
    /// [`generate_ids`]' errors.
    pub fn generate_stream(
        &self,
        prompt: &str,
        config: &GenerationConfig,
        on_text: impl FnMut(&str, &GeneratedToken) -> ControlFlow<()>,
    ) -> Result<TextGeneration> {
        self.continue_ids(&self.prompt_ids(prompt)?, config, on_text)
    }

    /// [`generate_stream`](Self::generate_stream) from prompt ids (a chat prompt from
    /// [`chat_ids`](Self::chat_ids), say).
    ///
    /// # Errors
    /// [`generate_ids`]' errors.
    pub fn continue_ids(
        &self,
        prompt: &[u32],
        config: &GenerationConfig,
        mut on_text: impl FnMut(&str, &GeneratedToken) -> ControlFlow<()>,
    ) -> Result<TextGeneration> {
        let mut config = config.clone();
        if config.eos_token_id.is_empty() {
            config.eos_token_id = self.eos_ids();
        }
        // Checkpoints pad the embedding past the tokenizer (Qwen2: 151,936 rows, 151,665 tokens):
        // an id without a token could not be shown, so it is never generated.
        let vocab = u32::try_from(self.model.vocab_size()).unwrap_or(u32::MAX);
        config.suppress_tokens.extend((0..vocab).filter(|&id| !self.tokenizer.is_known(id)));
        let mut stream = self.tokenizer.decode_stream(true);
        let mut text = String::new();
        let mut emitted = 0; // bytes of `text` already given to `on_text`
        let mut stopped = false;
        let mut failure = None;
        let generation = generate_ids(&self.model, prompt, &config, |token| {
            if config.is_eos(token.id) {
                return ControlFlow::Continue(());
            }
            match stream.step(token.id) {
                Ok(piece) => text.push_str(piece.as_deref().unwrap_or_default()),
                Err(e) => {
                    failure = Some(e);
                    return ControlFlow::Break(());
                }
            }
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
        text.push_str(&stream.finish()?);
        let (end, _) = final_prefix(&text, &config.stop);
        if stopped {
            text.truncate(end);
        } else if text.len() > emitted {
            let last = generation.tokens.last().expect("text came from tokens");
            let _ = on_text(&text[emitted..], last);
        }
        let finish_reason = if stopped { FinishReason::Stop } else { generation.finish_reason };
        Ok(TextGeneration { text, tokens: generation.tokens, finish_reason })
    }
}

impl Generator<Gpt> {
    /// Loads a GPT-2-layout model directory: `config.json`, `model.safetensors`,
    /// `tokenizer.json`, and `tokenizer_config.json` / `generation_config.json` when present.
    ///
    /// # Errors
    /// The loaders' errors, naming the file.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        Self::with_files(Gpt::from_pretrained(dir)?, dir)
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
        let end_of_text = self.end_of_text();
        self.model.write_pretrained(dir, precision, end_of_text)?;
        self.tokenizer.save(dir.join(TOKENIZER_FILE))?;
        if let Some(id) = end_of_text {
            let generation = serde_json::json!({ "bos_token_id": id, "eos_token_id": id });
            write_atomically(&dir.join(GENERATION_CONFIG_FILE), generation.to_string().as_bytes())?;
        }
        Ok(())
    }
}

impl Generator<Box<dyn CausalLm>> {
    /// Loads any model directory this crate runs (GPT-2, Llama, Qwen2, Mistral, GPT-NeoX —
    /// a folder from `huggingface-cli download`) with its tokenizer, chat template and
    /// generation defaults.
    ///
    /// # Errors
    /// The loaders' errors, naming the file; [`Error::Config`] when `tokenizer.json` has ids
    /// the model has no embedding for.
    pub fn from_pretrained(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        Self::with_files(crate::load_causal_lm(dir)?, dir)
    }
}

/// Refuses a tokenizer whose ids the model cannot embed, naming the tokenizer file.
fn check_vocabulary(model: &impl CausalLm, tokenizer: &Tokenizer, path: Option<&Path>) -> Result<()> {
    let Some(max) = tokenizer.max_token_id() else { return Ok(()) };
    if max as usize >= model.vocab_size() {
        let file = path.map_or(String::new(), |p| format!("{}: ", p.display()));
        return Err(Error::Config(format!(
            "{file}the tokenizer has ids up to {max} but the model embeds only {} tokens",
            model.vocab_size()
        )));
    }
    Ok(())
}

/// Encodes a rendered chat prompt. When a message's text contains a special token's spelling,
/// that message is encoded as untrusted text (special tokens not recognised) and the
/// template's markup around it as usual; otherwise the whole prompt is encoded at once, exactly
/// as `transformers` does.
fn encode_rendered(tokenizer: &Tokenizer, text: &str, messages: &[ChatMessage]) -> Result<Vec<u32>> {
    let specials: Vec<String> = tokenizer.special_tokens().map(|t| t.content.clone()).collect();
    let hostile = |content: &str| specials.iter().any(|s| !s.is_empty() && content.contains(s.as_str()));
    if !messages.iter().any(|m| hostile(&m.content)) {
        return Ok(tokenizer.encode_ids(text, false)?);
    }
    let mut ids = Vec::new();
    let mut at = 0;
    for message in messages.iter().filter(|m| hostile(&m.content)) {
        let content = message.content.trim();
        let Some(found) = text[at..].find(content).map(|i| at + i) else { continue };
        ids.extend(tokenizer.encode_ids(&text[at..found], false)?);
        ids.extend(tokenizer.encode_ids_untrusted(content, false)?);
        at = found + content.len();
    }
    ids.extend(tokenizer.encode_ids(&text[at..], false)?);
    Ok(ids)
}

/// How much of `text` is final — it ends before any suffix that could begin a stop sequence —
/// and whether a stop sequence occurs (then the prefix ends where it begins).
fn final_prefix(text: &str, stops: &[String]) -> (usize, bool) {
    if let Some(at) = stops.iter().filter_map(|s| text.find(s.as_str())).min() {
        return (at, true);
    }
    let held = stops
        .iter()
        .flat_map(|stop| stop.char_indices().skip(1).map(move |(i, _)| &stop[..i]))
        .filter(|prefix| text.ends_with(prefix))
        .map(str::len)
        .max()
        .unwrap_or(0);
    (text.len() - held, false)
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
    }
}
