//! Text to [`Sequence`]s: a prompt rendered through the template, a completion followed by
//! `<|endoftext|>`, both within the model's context.
//!
//! Prompt and completion are encoded separately, as generation sees them: the model is given
//! the rendered prompt's tokens and continues from there.

use malmoi_tokenize::tokenizer::Tokenizer;
use malmoi_transformer::generation::Generator;

use crate::batch::Sequence;
use crate::error::{Error, Result};
use crate::template::PromptTemplate;

/// Encodes prompts and completions for one model.
#[derive(Debug, Clone, Copy)]
pub struct Encoder<'a> {
    tokenizer: &'a Tokenizer,
    template: &'a PromptTemplate,
    block_size: usize,
    end_of_text: u32,
}

/// A completion encoded after its prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The tokens.
    pub sequence: Sequence,
    /// True when the completion was cut to fit the context (its `<|endoftext|>` is then lost).
    pub truncated: bool,
}

impl<'a> Encoder<'a> {
    /// An encoder for `generator`'s tokenizer and context, rendering prompts with `template`.
    ///
    /// # Errors
    /// [`Error::Input`] if the tokenizer has no `<|endoftext|>`.
    pub fn new(generator: &'a Generator, template: &'a PromptTemplate) -> Result<Self> {
        let end_of_text =
            generator.end_of_text().ok_or_else(|| Error::Input("the tokenizer has no <|endoftext|> token".into()))?;
        let block_size = generator.model.config().block_size;
        Ok(Self { tokenizer: &generator.tokenizer, template, block_size, end_of_text })
    }

    /// The id of `<|endoftext|>`, which ends every completion and pads batches.
    pub fn end_of_text(&self) -> u32 {
        self.end_of_text
    }

    /// The rendered prompt's tokens.
    ///
    /// # Errors
    /// [`Error::Input`] for an empty (or all-whitespace) prompt, or one that leaves no room in
    /// the context for a single response token.
    pub fn prompt(&self, prompt: &str) -> Result<Vec<u32>> {
        if prompt.trim().is_empty() {
            return Err(Error::Input("empty prompt".into()));
        }
        let ids = self.ids(&self.template.render(prompt))?;
        if ids.len() >= self.block_size {
            return Err(Error::Input(format!(
                "prompt of {} tokens leaves no room in the context of {}: {:?}",
                ids.len(),
                self.block_size,
                truncate_chars(prompt, 40)
            )));
        }
        Ok(ids)
    }

    /// The prompt and `completion` + `<|endoftext|>`, the completion cut to fit the context.
    ///
    /// # Errors
    /// As [`prompt`](Self::prompt); [`Error::Input`] for an empty completion.
    pub fn pair(&self, prompt: &str, completion: &str) -> Result<Encoded> {
        if completion.trim().is_empty() {
            return Err(Error::Input(format!("empty completion for prompt {:?}", truncate_chars(prompt, 40))));
        }
        let prompt = self.prompt(prompt)?;
        let mut response = self.ids(completion)?;
        response.push(self.end_of_text);
        let room = self.block_size - prompt.len();
        let truncated = response.len() > room;
        response.truncate(room);
        Ok(Encoded { sequence: Sequence::new(prompt, response)?, truncated })
    }

    /// The text of response ids (special tokens dropped).
    ///
    /// # Errors
    /// Ids outside the vocabulary.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        decode_ids(self.tokenizer, ids)
    }

    fn ids(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode_ids(text, true).map_err(|e| Error::Transformer(e.into()))
    }
}

/// The text of `ids` under `tokenizer`, special tokens dropped.
pub(crate) fn decode_ids(tokenizer: &Tokenizer, ids: &[u32]) -> Result<String> {
    tokenizer.decode(ids, true).map_err(|e| Error::Transformer(e.into()))
}

/// The first `n` characters of `text`, for error messages.
pub(crate) fn truncate_chars(text: &str, n: usize) -> String {
    text.chars().take(n).collect()
}
