//! [`DecodeStream`]: decoding ids one at a time, emitting only final text.

use super::error::{Result, TokenizerError};
use super::pipeline::Tokenizer;
use crate::bpe::byte_level::symbols_to_bytes;

/// The replacement character decoders put where bytes do not (yet) form a character.
const REPLACEMENT: char = '\u{FFFD}';

/// Decodes ids as they arrive (generation), so that everything emitted, concatenated, equals
/// [`Tokenizer::decode`] of all the ids, and no U+FFFD is emitted for a character that later
/// ids complete.
///
/// A tokenizer whose decoder is GPT-2's ByteLevel (GPT-2, Qwen, Llama 3…) decodes the bytes of
/// all tokens as one UTF-8 string, so the stream keeps bytes: it emits everything but a trailing
/// incomplete character, in time linear in the number of ids. For every other decoder, each
/// [`step`](Self::step) decodes the ids since a short context (the last emitted tokens) and emits
/// what that adds to the context's text, so Metaspace's leading space, WordPiece's `##` joining
/// and the Strip decoder come out as in a full decode; text is held back while it ends in U+FFFD
/// and, for decoders with SentencePiece's byte fallback, while the last token is a byte token
/// (`tokenizers` turns a whole run of byte tokens into U+FFFDs if any byte of it is invalid).
/// [`finish`](Self::finish) returns what is still held back.
///
/// ```
/// use malmoi_tokenize::tokenizer::Tokenizer;
///
/// let json = r#"{"version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": null,
///   "post_processor": null, "decoder": {"type": "ByteFallback"},
///   "model": {"type": "BPE", "vocab": {"<0xED>": 0, "<0x95>": 1, "<0x9C>": 2, "a": 3}, "merges": []}}"#;
/// let tokenizer = Tokenizer::from_json_str(json)?;
/// let mut stream = tokenizer.decode_stream(false);
/// assert_eq!(stream.step(3)?.as_deref(), Some("a"));
/// assert_eq!(stream.step(0)?, None); // 0xED starts a three-byte character
/// assert_eq!(stream.step(1)?, None);
/// assert_eq!(stream.step(2)?, None); // "한" is complete, but a byte run is final only when it ends
/// assert_eq!(stream.step(3)?.as_deref(), Some("한a"));
/// assert_eq!(stream.finish()?, "");
/// # Ok::<(), malmoi_tokenize::tokenizer::TokenizerError>(())
/// ```
#[derive(Debug)]
pub struct DecodeStream<'t> {
    tokenizer: &'t Tokenizer,
    skip_special_tokens: bool,
    state: State,
}

/// What a stream keeps between steps.
#[derive(Debug)]
enum State {
    /// ByteLevel decoder: the bytes not emitted yet (an incomplete character's start).
    Bytes(Vec<u8>),
    /// Any other decoder: the context (ids whose text was emitted) followed by the ids not
    /// emitted yet, and the decoding of the context, which the decoding of `ids` starts with.
    Window { ids: Vec<u32>, prefix: String },
}

impl Tokenizer {
    /// A decoder for ids arriving one at a time (generation), emitting text only once it is final.
    pub fn decode_stream(&self, skip_special_tokens: bool) -> DecodeStream<'_> {
        DecodeStream::new(self, skip_special_tokens)
    }
}

impl<'t> DecodeStream<'t> {
    fn new(tokenizer: &'t Tokenizer, skip_special_tokens: bool) -> Self {
        let state = if tokenizer.has_plain_byte_level_decoder() {
            State::Bytes(Vec::new())
        } else {
            State::Window { ids: Vec::new(), prefix: String::new() }
        };
        Self { tokenizer, skip_special_tokens, state }
    }

    /// Adds one id; returns the text it completes, or `None` while there is nothing final to emit.
    ///
    /// An id outside the vocabulary is an error (the stream is left as before); so is a decoder
    /// that rewrites text already emitted, which none of `tokenizers`' decoders does.
    pub fn step(&mut self, id: u32) -> Result<Option<String>> {
        if !self.tokenizer.is_known(id) {
            return Err(TokenizerError::UnknownId { id, max_token_id: self.tokenizer.max_token_id() });
        }
        let text = match &mut self.state {
            State::Bytes(pending) => byte_step(self.tokenizer, self.skip_special_tokens, pending, id),
            State::Window { ids, prefix } => {
                ids.push(id);
                window_step(self.tokenizer, self.skip_special_tokens, ids, prefix, id)?
            }
        };
        Ok(text.filter(|text| !text.is_empty()))
    }

    /// Ends the stream, returning the text still held back (an incomplete character's U+FFFD…).
    pub fn finish(self) -> Result<String> {
        match self.state {
            State::Bytes(pending) => Ok(String::from_utf8_lossy(&pending).into_owned()),
            State::Window { ids, prefix } => {
                let text = self.tokenizer.decode(&ids, self.skip_special_tokens)?;
                added_text(&text, &prefix, ids.last().copied().unwrap_or_default())
            }
        }
    }
}

/// A step of the ByteLevel stream: the token's bytes join the pending ones, and all of them but
/// a trailing incomplete character are emitted.
fn byte_step(tokenizer: &Tokenizer, skip_special: bool, pending: &mut Vec<u8>, id: u32) -> Option<String> {
    if skip_special && tokenizer.is_special(id) {
        return None;
    }
    let token = tokenizer.id_to_token(id)?;
    // `tokenizers`' ByteLevel decoder: a token whose characters all stand for bytes is those
    // bytes, any other token its own UTF-8.
    pending.extend(symbols_to_bytes(&token).unwrap_or_else(|| token.into_bytes()));
    let ready = pending.len() - incomplete_tail(pending);
    let text = String::from_utf8_lossy(&pending[..ready]).into_owned();
    pending.drain(..ready);
    Some(text)
}

/// Length of the incomplete character that ends `bytes` (a lead byte and fewer continuation
/// bytes than it announces), which later bytes may complete; 0 when `bytes` ends with a whole
/// character or with bytes that can never become one.
fn incomplete_tail(bytes: &[u8]) -> usize {
    let Some(last) = bytes.utf8_chunks().last() else {
        return 0;
    };
    let invalid = last.invalid();
    match std::str::from_utf8(invalid) {
        Err(e) if e.error_len().is_none() => invalid.len(),
        _ => 0,
    }
}

/// A step of the window stream (`ids` already holds the new id).
fn window_step(
    tokenizer: &Tokenizer,
    skip_special: bool,
    ids: &mut Vec<u32>,
    prefix: &mut String,
    id: u32,
) -> Result<Option<String>> {
    if tokenizer.has_byte_fallback_decoder() && is_byte_token(tokenizer, id) {
        return Ok(None);
    }
    let text = tokenizer.decode(ids, skip_special)?;
    if text.ends_with(REPLACEMENT) {
        return Ok(None);
    }
    let new = added_text(&text, prefix, id)?;
    if !new.is_empty() {
        shrink_context(tokenizer, skip_special, ids, prefix, text)?;
    }
    Ok(Some(new))
}

/// What `text` (the decoding of all ids) adds to the context's text `prefix`.
fn added_text(text: &str, prefix: &str, id: u32) -> Result<String> {
    match text.strip_prefix(prefix) {
        Some(new) => Ok(new.to_owned()),
        None => Err(TokenizerError::StreamDiverged { id, emitted: prefix.to_owned(), decoded: text.to_owned() }),
    }
}

/// After emitting all of `text`, keeps as context the shortest run of last ids (1, 2, 4…)
/// whose own decoding is non-empty and ends `text`: such a run decodes in place as it does
/// alone, so the next ids decode after it as after the whole text.
fn shrink_context(
    tokenizer: &Tokenizer,
    skip_special: bool,
    ids: &mut Vec<u32>,
    prefix: &mut String,
    text: String,
) -> Result<()> {
    let mut keep = 1;
    while keep < ids.len() {
        let start = ids.len() - keep;
        let context = tokenizer.decode(&ids[start..], skip_special)?;
        if !context.is_empty() && text.ends_with(&context) {
            ids.drain(..start);
            *prefix = context;
            return Ok(());
        }
        keep *= 2;
    }
    *prefix = text;
    Ok(())
}

/// Whether the token is one of SentencePiece's `<0xE2>` byte tokens, as `tokenizers`' ByteFallback decoder sees it.
fn is_byte_token(tokenizer: &Tokenizer, id: u32) -> bool {
    tokenizer.id_to_token(id).is_some_and(|token| byte_fallback_value(&token).is_some())
}

/// The byte of a `<0xE2>` byte-fallback token (as `tokenizers`' ByteFallback decoder reads it).
pub(crate) fn byte_fallback_value(token: &str) -> Option<u8> {
    let hex = token.strip_prefix("<0x")?.strip_suffix('>')?;
    if token.len() == 6 { u8::from_str_radix(hex, 16).ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_tails_are_held_invalid_bytes_are_not() {
        assert_eq!(incomplete_tail("가".as_bytes()), 0);
        assert_eq!(incomplete_tail(&[b'a', 0xED, 0x95]), 2);
        assert_eq!(incomplete_tail(&[0xF0, 0x9F, 0x98]), 3);
        assert_eq!(incomplete_tail(&[0x80]), 0);
        assert_eq!(incomplete_tail(&[0xED, 0x41]), 0);
        assert_eq!(incomplete_tail(&[0xE0, 0x80]), 0); // E0 must be followed by A0..BF
        assert_eq!(incomplete_tail(&[]), 0);
    }
}
