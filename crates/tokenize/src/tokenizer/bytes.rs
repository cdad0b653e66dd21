//! [`Tokenizer::token_bytes`]: the raw bytes one token stands for (OpenAI's `logprobs.bytes`).

use super::pipeline::Tokenizer;
use super::stream::byte_fallback_value;
use crate::bpe::byte_level::symbols_to_bytes;

impl Tokenizer {
    /// The bytes token `id` adds to a text, which may be part of a character: an added token's
    /// content; a byte-level token's bytes (`"íķ"` → `ED 95`); a byte-fallback token's byte
    /// (`<0xED>`); otherwise what the token adds after another token when decoding (a Metaspace
    /// `▁영화` gives `" 영화"`, a WordPiece `##다` gives `"다"`). `None` for an unknown id.
    ///
    /// ```
    /// use malmoi_tokenize::tokenizer::Tokenizer;
    ///
    /// let json = r#"{"version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": null,
    ///   "post_processor": null, "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
    ///   "model": {"type": "BPE", "vocab": {"▁영화": 0, "다": 1}, "merges": []}}"#;
    /// let tokenizer = Tokenizer::from_json_str(json)?;
    /// assert_eq!(tokenizer.token_bytes(0).unwrap(), " 영화".as_bytes());
    /// assert_eq!(tokenizer.token_bytes(1).unwrap(), "다".as_bytes());
    /// assert_eq!(tokenizer.token_bytes(2), None);
    /// # Ok::<(), malmoi_tokenize::tokenizer::TokenizerError>(())
    /// ```
    pub fn token_bytes(&self, id: u32) -> Option<Vec<u8>> {
        let token = self.id_to_token(id)?;
        if self.added_tokens().iter().any(|added| added.id == id) {
            return Some(token.into_bytes());
        }
        if self.has_byte_level_decoder() {
            return Some(symbols_to_bytes(&token).unwrap_or_else(|| token.into_bytes()));
        }
        if let Some(byte) = byte_fallback_value(&token).filter(|_| self.has_byte_fallback_decoder()) {
            return Some(vec![byte]);
        }
        let alone = self.decode(&[id], false).ok()?;
        let twice = self.decode(&[id, id], false).ok()?;
        Some(twice.strip_prefix(alone.as_str()).map_or(alone.clone(), str::to_owned).into_bytes())
    }
}
