//! [`AddedToken`]: a token matched in text before the model runs (`<|endoftext|>`, `[CLS]`…).

/// A token of `tokenizer.json`'s `added_tokens`, with its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedToken {
    /// Its id.
    pub id: u32,
    /// Its text.
    pub content: String,
    /// Special tokens can be skipped when decoding and are not recognised in untrusted text.
    pub special: bool,
    /// Only matched as a whole word.
    pub single_word: bool,
    /// Swallows the whitespace on its left.
    pub lstrip: bool,
    /// Swallows the whitespace on its right.
    pub rstrip: bool,
    /// Matched in the normalized text rather than the raw text.
    pub normalized: bool,
}

impl AddedToken {
    /// Converts `tokenizers`' token, which does not carry its id.
    pub(crate) fn from_hf(id: u32, token: &tokenizers::AddedToken) -> Self {
        Self {
            id,
            content: token.content.clone(),
            special: token.special,
            single_word: token.single_word,
            lstrip: token.lstrip,
            rstrip: token.rstrip,
            normalized: token.normalized,
        }
    }
}
